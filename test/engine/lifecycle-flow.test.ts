import t from 'tap';
import type { EngineObserver } from '../../src/engine/ports.ts';
import { startHarness, startCalls, stateOf, testEmulatorOptions, waitFor, type Harness } from '../support/engine-harness.ts';

function up(h: Harness, workload = 1): void {
  h.engine.alertSignal({ pool: 'test/t1', direction: 'up', workload, atMs: Date.now() });
}

function path(h: Harness, id: string): string[] {
  return h.store.history(id, 50).map((tr) => tr.to); // history() is oldest first
}

t.test('a start runs through to ready from events alone', async (t) => {
  const readyAfter: [string, number][] = [];
  const observer: EngineObserver = {
    event: () => {}, ignored: () => {}, decision: () => {}, action: () => {}, instanceFailed: () => {}, correction: () => {}, reconcile: () => {}, openIntents: () => {},
    startToReady: (pool, ms) => { readyAfter.push([pool, ms]); },
  };
  const h = await startHarness({ emulator: { delays: { startMs: 20, bootMs: 80, deployMs: 80 } }, pool: { max: 1 }, store: { observer } });
  t.teardown(() => h.close());
  up(h);
  await waitFor('gpu-t1-1 ready', () => stateOf(h, 'gpu-t1-1') === 'ready');
  // the start-to-ready time the metric gets: from the start issued to ready, as the store's transitions say
  const at = (to: string): number => h.store.history('gpu-t1-1', 50).find((tr) => tr.to === to)?.atMs ?? Number.NaN;
  t.same(readyAfter, [['test/t1', at('ready') - at('starting')]], 'one start-to-ready time, the pool\'s, observed');
  t.ok((readyAfter[0]?.[1] ?? 0) >= 180, `at least the emulator's start, boot and deploy delays (${readyAfter[0]?.[1]} ms)`);
  t.equal(h.engine.pools()[0]?.startLeadMs, readyAfter[0]?.[1], 'the pool\'s lead: the p90 of its one start-to-ready time');
  const saved = h.store.poolState('test/t1') as { history?: { startLatenciesMs?: number[] } } | undefined;
  t.same(saved?.history?.startLatenciesMs, [readyAfter[0]?.[1]], 'the start-to-ready time is saved at once: a restart keeps the lead');
  const states = path(h, 'gpu-t1-1');
  t.same(states.filter((s) => s !== 'stopped'), ['starting', 'booted', 'deploying', 'ready'], 'went through every in-flight state');
  t.equal(startCalls(h.emu, 'gpu-t1-1'), 1, 'one start');
  t.equal(h.engine.pools()[0]?.ready, 1);
  t.equal(h.store.openIntents().length, 0, 'the start intent is closed');
});

t.test('does not scale up again while an instance is still deploying', async (t) => {
  const h = await startHarness({ emulator: { delays: { startMs: 20, bootMs: 50, deployMs: 1500 } }, pool: { interval: '200ms' } });
  t.teardown(() => h.close());
  up(h);
  await waitFor('deploying', () => stateOf(h, 'gpu-t1-1') === 'deploying');
  for (let i = 0; i < 5; i++) { up(h); await new Promise((r) => setTimeout(r, 60)); }
  t.equal(h.engine.pools()[0]?.inFlight, 1, 'only one instance in flight');
  t.equal(startCalls(h.emu, 'gpu-t1-2'), 0, 'no second start for the same need');
});

t.test('a ready event lost during a silent master restart is recovered by the heartbeat gap and reconcile', async (t) => {
  const h = await startHarness({ emulator: { delays: { startMs: 20, bootMs: 50, deployMs: 600 } }, pool: { max: 1 } });
  t.teardown(() => h.close());
  up(h);
  await waitFor('deploying', () => stateOf(h, 'gpu-t1-1') === 'deploying');
  h.emu.faults.masterRestart(1500); // the stream stays open and silent; the ready event is lost
  await waitFor('ready after reconcile', () => stateOf(h, 'gpu-t1-1') === 'ready', 15_000);
  const readyTransition = h.store.history('gpu-t1-1', 50).find((tr) => tr.to === 'ready');
  t.match(readyTransition?.reason ?? '', /grain|reconcile|observ/i, 'ready came from the reconcile, not an event');
  t.equal(startCalls(h.emu, 'gpu-t1-1'), 1);
});

t.test('a stream cut while deploying ends with the right state after the gap', async (t) => {
  const h = await startHarness({ emulator: { delays: { startMs: 20, bootMs: 50, deployMs: 400 } }, pool: { max: 1 } });
  t.teardown(() => h.close());
  up(h);
  await waitFor('deploying', () => stateOf(h, 'gpu-t1-1') === 'deploying');
  h.emu.faults.cutStreams({ midFrame: true });
  await waitFor('ready', () => stateOf(h, 'gpu-t1-1') === 'ready', 15_000);
  t.ok(h.stream.stats.reconnects >= 1, 'the stream reconnected');
  t.equal(startCalls(h.emu, 'gpu-t1-1'), 1);
});

t.test('a failing deploy orchestrate marks the instance failed and stops it', async (t) => {
  const h = await startHarness({
    emulator: { instances: [{ id: 'gpu-t1-1', failDeploy: true }, { id: 'gpu-t1-2' }, { id: 'gpu-t1-3' }], delays: { startMs: 20, bootMs: 50, deployMs: 50 } },
    pool: { max: 1 },
  });
  t.teardown(() => h.close());
  up(h);
  await waitFor('failed', () => h.store.history('gpu-t1-1', 50).some((tr) => tr.to === 'failed'));
  await waitFor('stopped in the cloud', () => h.emu.world.instance('gpu-t1-1')?.state === 'stopped');
  t.notOk(h.store.history('gpu-t1-1', 50).some((tr) => tr.to === 'ready'), 'never counted as ready');
});

t.test('an instance stuck deploying past its provision timeout becomes failed', async (t) => {
  const h = await startHarness({
    emulator: { delays: { startMs: 20, bootMs: 50, deployMs: 60_000 } },
    pool: { max: 1, provisionTimeout: '1s' },
  });
  t.teardown(() => h.close());
  up(h);
  await waitFor('failed', () => h.store.history('gpu-t1-1', 50).some((tr) => tr.to === 'failed'), 10_000);
  const tr = h.store.history('gpu-t1-1', 50).find((x) => x.to === 'failed');
  t.match(tr?.reason ?? '', /timeout/i);
});

t.test('no evaluation acts before a reconcile has succeeded: Salt failing at startup holds the pool until it answers', async (t) => {
  const { startEmulator } = await import('../../src/emulator/index.ts');
  const emu = await startEmulator(testEmulatorOptions({ instances: [{ id: 'gpu-t1-1', state: 'running' }, { id: 'gpu-t1-2' }, { id: 'gpu-t1-3' }] }));
  emu.faults.failNext(2, 500, { fun: 'cloud.query' }); // the startup and the stream-connect reconciles fail; retry 5 s later
  const h = await startHarness({ emu, pool: { max: 1 } });
  t.teardown(async () => { await h.close(); await emu.close(); });
  up(h, 1);
  const until = Date.now() + 1_500;
  await waitFor('a while before the retry', () => Date.now() > until);
  t.equal(emu.calls.filter((c) => c.fun === 'cloud.action').length, 0, 'no cloud action on the stored (stale) view');
  await waitFor('the retried reconcile adopts the running instance', () => stateOf(h, 'gpu-t1-1') === 'ready', 15_000);
  up(h, 1);
  const later = Date.now() + 1_500;
  await waitFor('a few evaluations', () => Date.now() > later);
  t.equal(emu.calls.filter((c) => c.fun === 'cloud.action').length, 0, 'max 1 is met by the running instance: no start at all');
});
