/**
 * The engine's behaviour through its ports, on a fake clock: whole scale-up, drain and failure sequences run in
 * milliseconds. The emulator and process tests (test/engine/*.test.ts, test/e2e) stay the adapter and end-to-end layer.
 */
import t from 'tap';
import { startWorld, states } from '../../support/engine-ports.ts';

t.test('a workload of 20 starts three reserved instances once, and they count as capacity only when ready', async (t) => {
  const w = await startWorld();
  w.signal(20);
  await w.clock.advance(1_000);
  t.equal(w.salt.count('start'), 3, 'ceil(20 / 8) = 3 starts');
  t.same(states(w), { starting: 3, stopped: 1 });
  t.equal(w.engine.pools()[0]?.ready, 0, 'started is not ready');
  await w.clock.advance(30_000);
  t.same(states(w), { booted: 3, stopped: 1 }, 'minions started: booted, still not capacity');
  await w.clock.advance(60_000);
  t.same(states(w), { ready: 3, stopped: 1 });
  await w.clock.advance(10 * 60_000);
  t.equal(w.salt.count('start'), 3, 'no start beyond the need while it holds');
  t.equal(w.store.openIntents().length, 0, 'every intent closed');
  await w.engine.stop();
});

t.test('a workload that falls away drains idle instances after the peak window and stops them; a busy one is kept', async (t) => {
  const w = await startWorld();
  w.signal(32);
  await w.clock.advance(2 * 60_000);
  t.same(states(w), { ready: 4 });
  const busy = 'gpu-prod-type1-01';
  const vm = w.salt.vms.get(busy);
  if (vm !== undefined) vm.busy = true;
  w.signal(0);
  await w.clock.advance(30 * 60_000);
  const stops = w.salt.calls.filter((c) => c.fn === 'stop');
  t.equal(stops.length, 3, 'the three idle instances stopped');
  t.notOk(stops.some((c) => c.id === busy), 'the busy instance was never stopped');
  t.notOk(stops.some((c) => c.busy === true), 'no stop reached a busy VM');
  t.equal(w.engine.instances().find((i) => i.id === busy)?.state, 'ready');
  t.same(states(w), { ready: 1, stopped: 3 });
  for (const s of stops) {
    const drainedAt = w.salt.calls.find((c) => c.fn === 'drain' && c.id === s.id)?.atMs;
    t.ok(drainedAt !== undefined && drainedAt <= s.atMs, `${s.id} was marked draining before its stop`);
  }
  await w.engine.stop();
});

t.test('an instance that turns busy while it drains is undrained, not stopped', async (t) => {
  const w = await startWorld({ spec: { max: 1, step: 1 } });
  w.signal(8);
  await w.clock.advance(2 * 60_000);
  t.same(states(w), { ready: 1, stopped: 3 });
  w.signal(0);
  // the drain starts after the peak window; the job arrives just after it is marked
  for (let i = 0; i < 40 && w.salt.count('drain') === 0; i += 1) await w.clock.advance(30_000);
  t.equal(w.salt.count('drain'), 1, 'a drain was started');
  const vm = w.salt.vms.get('gpu-prod-type1-01');
  if (vm !== undefined) vm.busy = true;
  // the first idle check after the mark may already have said idle: only a mark that met a busy VM can be kept
  await w.clock.advance(10 * 60_000);
  const stopped = w.salt.calls.filter((c) => c.fn === 'stop');
  t.notOk(stopped.some((c) => c.busy === true), 'no stop reached the busy VM');
  if (stopped.length === 0) {
    t.equal(w.salt.count('undrain'), 1, 'undrained after drainTimeout');
    t.equal(w.engine.instances().find((i) => i.id === 'gpu-prod-type1-01')?.state, 'ready');
  }
  await w.engine.stop();
});

t.test('a deploy that fails stops its instance and backs the pool off before the next start', async (t) => {
  const w = await startWorld({ spec: { max: 1, step: 1 }, reserved: 2, salt: { deployFails: new Set(['gpu-prod-type1-01']) } });
  w.signal(8);
  await w.clock.advance(1_000);
  t.equal(w.salt.count('start', 'gpu-prod-type1-01'), 1);
  await w.clock.advance(91_000);
  t.equal(w.salt.count('stop', 'gpu-prod-type1-01'), 1, 'the failed instance was stopped');
  const failedAt = w.salt.calls.find((c) => c.fn === 'stop')?.atMs ?? 0;
  await w.clock.advance(5 * 60_000);
  const next = w.salt.calls.find((c) => c.fn === 'start' && c.id === 'gpu-prod-type1-02');
  t.ok(next !== undefined, 'the other reserved instance was started');
  t.ok((next?.atMs ?? 0) - failedAt >= 60_000, 'not before the failure back-off (60 s)');
  t.equal(w.engine.pools()[0]?.ready, 1);
  await w.engine.stop();
});

t.test('a start call refused by Salt puts the instance back in the reserve and starts another', async (t) => {
  const w = await startWorld({ spec: { max: 1, step: 1 }, reserved: 2, salt: { failStarts: new Set(['gpu-prod-type1-01']) } });
  w.signal(8);
  await w.clock.advance(5 * 60_000);
  t.equal(w.salt.count('start', 'gpu-prod-type1-01'), 1, 'the refused start was not retried blindly');
  t.equal(w.salt.count('start', 'gpu-prod-type1-02'), 1);
  t.equal(w.engine.instances().find((i) => i.id === 'gpu-prod-type1-01')?.state, 'stopped');
  t.equal(w.engine.pools()[0]?.ready, 1);
  await w.engine.stop();
});

t.test('a process that does not lead opens no intent and sends nothing', async (t) => {
  let leads = false;
  const w = await startWorld({ engine: { gate: { mayAct: () => leads } } });
  w.signal(20);
  await w.clock.advance(2 * 60_000);
  t.equal(w.salt.calls.filter((c) => c.fn !== 'idle').length, 0, 'no call');
  t.equal(w.store.openIntents().length, 0, 'no intent');
  leads = true;
  w.signal(20);
  await w.clock.advance(1_000);
  t.equal(w.salt.count('start'), 3, 'acts once it leads');
  await w.engine.stop();
});

t.test('crash after the start intent: the next process resolves it from Salt and starts nothing twice', async (t) => {
  const first = await startWorld({ spec: { max: 2, step: 2 } });
  first.salt.hold = true; // the calls reach Salt (the VMs boot) but never answer: the process dies with its intents open
  first.signal(16);
  await first.clock.advance(1_000);
  t.equal(first.salt.count('start'), 2);
  t.equal(first.store.openIntents().length, 2, 'two open intents when the process dies');
  // the first process is gone: it acts no more (its engine is dropped without a clean stop)
  const second = await startWorld({ spec: { max: 2, step: 2 }, reuse: first });
  second.signal(16);
  await second.clock.advance(3 * 60_000);
  t.equal(second.salt.count('start'), 2, 'one start per need, across the crash');
  t.equal(second.store.openIntents().length, 0, 'the crash leftovers are resolved');
  t.equal(second.engine.pools()[0]?.ready, 2);
  first.salt.release();
  await second.engine.stop();
});

t.test('crash before the start reached Salt: the next process waits out the confirm window, then starts once', async (t) => {
  const first = await startWorld({ spec: { max: 1, step: 1 } });
  first.signal(8);
  // the intent is written, the call never leaves: simulate by writing the intent as the dead process would
  await first.engine.stop();
  const opened = first.store.openIntent('start', 'gpu-prod-type1-02', 'gpu', first.clock.now());
  const inst = first.store.loadInstances().find((i) => i.id === 'gpu-prod-type1-02');
  if (inst !== undefined) first.store.saveInstance({ ...inst, state: 'starting', sinceMs: first.clock.now(), lastStartMs: first.clock.now() });
  const startsBefore = first.salt.count('start');
  const second = await startWorld({ spec: { max: 1, step: 1 }, reuse: first });
  second.signal(8);
  await second.clock.advance(30_000);
  t.equal(second.salt.count('start'), startsBefore, 'nothing started while the open intent may still be carried out');
  await second.clock.advance(3 * 60_000);
  t.ok(second.store.openIntents().every((i) => i.id !== opened.id), 'the leftover intent was resolved');
  t.equal(second.engine.pools()[0]?.ready, 1, 'the need is met');
  t.ok(second.salt.count('start') - startsBefore <= 1, 'with at most one more start');
  await second.engine.stop();
});
