/**
 * drain-back: an instance draining (busy, waiting for its idle check) holds its slot of max; when the workload comes
 * back, the engine undrains it — the deployed, paid instance is the fastest capacity — instead of waiting out the
 * drain timeout or starting another VM above max.
 */
import t from 'tap';
import { startHarness, startCalls, stateOf, waitFor } from '../support/engine-harness.ts';

t.test('a busy draining instance is undrained when the workload comes back, and nothing is started above max', async (t) => {
  const h = await startHarness({
    emulator: { instances: [{ id: 'gpu-t1-1', state: 'running' }, { id: 'gpu-t1-2' }, { id: 'gpu-t1-3' }] },
    pool: { max: 1, strategy: 'target', perInstance: 1, drainTimeout: '10m', interval: '1s' },
  });
  t.teardown(() => h.close());
  await waitFor('gpu-t1-1 ready', () => stateOf(h, 'gpu-t1-1') === 'ready', 10_000);
  // the drain's grain write is slow: the instance picks up work between the drain decision and the idle check after it
  h.emu.faults.delayNext(1, 1_500, { fun: 'grains.setval' });
  h.engine.alertSignal({ pool: 'test/t1', direction: 'down', workload: 0, atMs: Date.now() });
  await waitFor('gpu-t1-1 draining', () => stateOf(h, 'gpu-t1-1') === 'draining', 10_000);
  h.emu.world.setBusy('gpu-t1-1', true);
  h.engine.alertSignal({ pool: 'test/t1', direction: 'up', workload: 1, atMs: Date.now() });
  await waitFor('gpu-t1-1 back to ready', () => stateOf(h, 'gpu-t1-1') === 'ready', 10_000);
  t.match(h.engine.history('gpu-t1-1').at(-1)?.reason, 'the pool wants capacity again', 'undrained because the pool wants it');
  t.equal(h.emu.world.instance('gpu-t1-1')?.state, 'running', 'never stopped');
  t.equal(startCalls(h.emu, 'gpu-t1-2') + startCalls(h.emu, 'gpu-t1-3'), 0, 'no other instance started (max 1)');
  await waitFor('the draining grain cleared', () => (h.emu.world.instance('gpu-t1-1')?.grains['salt_autoscaler'] as { draining?: boolean } | undefined)?.draining === false, 10_000);
  t.pass('salt_autoscaler:draining is false again on the minion');
});
