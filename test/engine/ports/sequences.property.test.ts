/**
 * Property: whatever the sequence of workload levels, busy minions (also turning busy mid-drain) and elapsed time, the engine never stops a busy
 * VM, never starts a running one, never runs more than max instances, and ends every intent it opens. Through the
 * ports on a fake clock, so each sequence takes milliseconds.
 */
import t from 'tap';
import fc from 'fast-check';
import { startWorld } from '../../support/engine-ports.ts';

/** Phase: a workload level held for a while, with some VMs busy, and maybe one VM turning busy partway (mid-drain). */
interface Phase {
  readonly workload: number;
  readonly busyMask: number;
  readonly ms: number;
  readonly flip?: { readonly vm: number; readonly afterMs: number } | undefined;
}

const phase: fc.Arbitrary<Phase> = fc.record({
  workload: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 40 }) }),
  busyMask: fc.integer({ min: 0, max: 15 }),
  ms: fc.integer({ min: 1_000, max: 25 * 60_000 }),
  flip: fc.option(fc.record({ vm: fc.integer({ min: 1, max: 4 }), afterMs: fc.integer({ min: 1_000, max: 15 * 60_000 }) }), { nil: undefined }),
}, { requiredKeys: ['workload', 'busyMask', 'ms'] });

t.test('no sequence stops a busy VM, starts a running one, exceeds max or leaves an intent open', async (t) => {
  const seen = { starts: 0, stops: 0, keptBusy: 0 };
  await fc.assert(fc.asyncProperty(fc.array(phase, { minLength: 2, maxLength: 10 }), async (phases) => {
    const w = await startWorld();
    try {
      for (const p of phases) {
        w.signal(p.workload);
        for (let n = 1; n <= 4; n += 1) { const vm = w.salt.vms.get(`gpu-prod-type1-0${n}`); if (vm) vm.busy = (p.busyMask & (1 << (n - 1))) !== 0; }
        if (p.flip !== undefined && p.flip.afterMs < p.ms) {
          await w.clock.advance(p.flip.afterMs);
          const vm = w.salt.vms.get(`gpu-prod-type1-0${p.flip.vm}`);
          if (vm) vm.busy = !vm.busy;
          await w.clock.advance(p.ms - p.flip.afterMs);
        } else {
          await w.clock.advance(p.ms);
        }
        const active = w.engine.instances().filter((i) => i.state !== 'stopped' && i.state !== 'failed').length;
        if (active > w.pool.spec.max) return false;
      }
      await w.clock.advance(10 * 60_000);
      if (w.salt.calls.some((c) => c.fn === 'stop' && c.busy === true)) return false;
      if (w.salt.duplicateStarts > 0) return false;
      if (w.store.openIntents().length > 0) return false;
      seen.starts += w.salt.count('start');
      seen.stops += w.salt.count('stop');
      if (w.salt.calls.some((c) => c.fn === 'idle' && c.busy === true)) seen.keptBusy += 1;
      return true;
    } finally {
      await w.engine.stop();
    }
  }), { numRuns: 40, seed: 20261202 });
  // the generator reaches the cases the property is about
  t.ok(seen.starts >= 40, `scale-ups happen (${seen.starts} starts)`);
  t.ok(seen.stops >= 20, `scale-downs happen (${seen.stops} stops)`);
  t.ok(seen.keptBusy >= 10, `idle checks meet busy VMs (${seen.keptBusy} runs)`);
});
