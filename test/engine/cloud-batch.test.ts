// The engine with the real salt-api adapter: the scale-ups of three pools evaluated in one turn: the first start goes
// to Salt at once, alone; the other two, asked while it is in flight, share one `cloud.action start`; each intent
// is written before its call and finished from its own entry.
import t from 'tap';
import { startHarness, stateOf, waitFor, type Harness } from '../support/engine-harness.ts';

const pool = (n: number): Record<string, unknown> => ({
  name: `test/t${n}`, env: 'test', instanceType: `t${n}`, min: 0, max: 1, upThreshold: 1, downThreshold: 0,
  interval: '1s', strategy: 'threshold', provider: 'emu-cloud', reserved: [`gpu-t${n}-1`],
});

const IDS = ['gpu-t1-1', 'gpu-t2-1', 'gpu-t3-1'];

async function threePools(failStart?: string): Promise<Harness> {
  const h = await startHarness({
    emulator: { instances: IDS.map((id) => ({ id })), delays: { startMs: 20, bootMs: 50, deployMs: 50 } },
    pool: { max: 1, reserved: ['gpu-t1-1'] },
    morePools: [pool(2), pool(3)],
  });
  if (failStart !== undefined) h.emu.faults.failStart(failStart);
  return h;
}

/** allAsked signals a scale-up to the three pools in the same synchronous block (one notification of three groups does this). */
function allAsked(h: Harness): void {
  const at = Date.now();
  for (const name of ['test/t1', 'test/t2', 'test/t3']) {
    h.engine.alertSignal({ pool: name, direction: 'up', workload: 1, atMs: at, expiresMs: at + 120_000 });
  }
}

/** startCalls: each `cloud.action` call as `func: instances`, in the order the emulator answered them. */
const startCalls = (h: Harness): string[] => h.emu.calls.filter((c) => c.fun === 'cloud.action')
  .map((c) => { const k = c.kwarg as { func: string; instances: string[] }; return `${k.func}: ${k.instances.join(',')}`; });
const lines = (h: Harness, msg: string): { minion?: string; err?: { message?: string } }[] =>
  h.logs.map((l) => JSON.parse(l) as { msg: string; minion?: string }).filter((l) => l.msg === msg);

t.test('three pools scaling up in one turn: the first start alone at once, the other two share one cloud.action, all become ready', async (t) => {
  const h = await threePools();
  t.teardown(() => h.close());
  allAsked(h);
  await waitFor('all ready', () => IDS.every((id) => stateOf(h, id) === 'ready'));
  t.same(startCalls(h).sort(), ['start: gpu-t1-1', 'start: gpu-t2-1,gpu-t3-1']);
  t.same(lines(h, 'action done').map((l) => l.minion).sort(), IDS, 'each start is done on its own');
  t.same(h.store.openIntents(), [], 'every intent finished');
});

t.test('one instance failed in the shared answer: its start fails, the other pool\'s in the same call starts and becomes ready', async (t) => {
  const h = await threePools('gpu-t3-1');
  t.teardown(() => h.close());
  allAsked(h);
  await waitFor('t1 and t2 ready and t3 failed', () => stateOf(h, 'gpu-t1-1') === 'ready' && stateOf(h, 'gpu-t2-1') === 'ready' && lines(h, 'action failed').length === 1);
  t.same(startCalls(h).slice(0, 2).sort(), ['start: gpu-t1-1', 'start: gpu-t2-1,gpu-t3-1']);
  const failed = lines(h, 'action failed');
  t.equal(failed[0]?.minion, 'gpu-t3-1');
  t.match(failed[0]?.err?.message, /did not start gpu-t3-1: it answered \{"Error"/);
  t.same(lines(h, 'action done').map((l) => l.minion).sort(), ['gpu-t1-1', 'gpu-t2-1']);
});

t.test('the calls fail: every start in them fails, and every intent is finished failed', async (t) => {
  const h = await threePools();
  t.teardown(() => h.close());
  h.emu.faults.failNext(2, 500, { fun: 'cloud.action' }); // the lone call and the shared one
  allAsked(h);
  await waitFor('all failed', () => lines(h, 'action failed').length === 3);
  t.same(startCalls(h).slice(0, 2).sort(), ['start: gpu-t1-1', 'start: gpu-t2-1,gpu-t3-1']);
  t.same(lines(h, 'action failed').map((l) => l.minion).sort(), IDS);
  t.same(lines(h, 'action done'), []);
  await waitFor('no open intent', () => h.store.openIntents().length === 0);
});
