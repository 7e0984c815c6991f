// The engine with the real salt-api adapter: the scale-ups of two pools evaluated in one turn reach Salt as one
// `cloud.action start` with both instances, each intent written before the call and finished from its own entry.
import t from 'tap';
import { startHarness, stateOf, waitFor, type Harness } from '../support/engine-harness.ts';

const T2 = {
  name: 'test/t2', env: 'test', instanceType: 't2', min: 0, max: 1, upThreshold: 1, downThreshold: 0,
  interval: '1s', strategy: 'threshold', provider: 'emu-cloud', reserved: ['gpu-t2-1'],
};

async function twoPools(failStart?: string): Promise<Harness> {
  const h = await startHarness({
    emulator: { instances: [{ id: 'gpu-t1-1' }, { id: 'gpu-t2-1' }], delays: { startMs: 20, bootMs: 50, deployMs: 50 } },
    pool: { max: 1, reserved: ['gpu-t1-1'] },
    morePools: [T2],
  });
  if (failStart !== undefined) h.emu.faults.failStart(failStart);
  return h;
}

/** bothAsked signals a scale-up to both pools in the same synchronous block (one notification of two groups does this). */
function bothAsked(h: Harness): void {
  const at = Date.now();
  for (const pool of ['test/t1', 'test/t2']) {
    h.engine.alertSignal({ pool, direction: 'up', workload: 1, atMs: at, expiresMs: at + 120_000 });
  }
}

const startCalls = (h: Harness): unknown[] => h.emu.calls.filter((c) => c.fun === 'cloud.action').map((c) => c.kwarg);
const lines = (h: Harness, msg: string): { minion?: string; err?: { message?: string } }[] =>
  h.logs.map((l) => JSON.parse(l) as { msg: string; minion?: string }).filter((l) => l.msg === msg);

t.test('two pools scaling up in one turn: one cloud.action start with both instances, both become ready', async (t) => {
  const h = await twoPools();
  t.teardown(() => h.close());
  bothAsked(h);
  await waitFor('both ready', () => stateOf(h, 'gpu-t1-1') === 'ready' && stateOf(h, 'gpu-t2-1') === 'ready');
  t.same(startCalls(h), [{ func: 'start', instances: ['gpu-t1-1', 'gpu-t2-1'] }]);
  t.same(lines(h, 'action done').map((l) => l.minion).sort(), ['gpu-t1-1', 'gpu-t2-1'], 'each start is done on its own');
  t.same(h.store.openIntents(), [], 'both intents finished');
});

t.test('one instance failed in the shared answer: its start fails, the other pool\'s starts and becomes ready', async (t) => {
  const h = await twoPools('gpu-t2-1');
  t.teardown(() => h.close());
  bothAsked(h);
  await waitFor('t1 ready and t2 failed', () => stateOf(h, 'gpu-t1-1') === 'ready' && lines(h, 'action failed').length === 1);
  t.same(startCalls(h).slice(0, 1), [{ func: 'start', instances: ['gpu-t1-1', 'gpu-t2-1'] }]);
  const failed = lines(h, 'action failed');
  t.equal(failed[0]?.minion, 'gpu-t2-1');
  t.match(failed[0]?.err?.message, /did not start gpu-t2-1: it answered \{"Error"/);
  t.same(lines(h, 'action done').map((l) => l.minion), ['gpu-t1-1']);
});

t.test('the shared call fails: both starts fail, and both intents are finished failed', async (t) => {
  const h = await twoPools();
  t.teardown(() => h.close());
  h.emu.faults.failNext(1, 500, { fun: 'cloud.action' });
  bothAsked(h);
  await waitFor('both failed', () => lines(h, 'action failed').length === 2);
  t.same(startCalls(h).slice(0, 1), [{ func: 'start', instances: ['gpu-t1-1', 'gpu-t2-1'] }]);
  t.same(lines(h, 'action failed').map((l) => l.minion).sort(), ['gpu-t1-1', 'gpu-t2-1']);
  t.same(lines(h, 'action done'), []);
  await waitFor('no open intent', () => h.store.openIntents().length === 0);
});
