import t from 'tap';
import { startHarness, waitFor } from '../support/engine-harness.ts';

t.test('the chart keeps a sample per evaluation that changed something, newest last, and series(pool, 1) is the newest', async (t) => {
  const h = await startHarness({ emulator: { delays: { startMs: 20, bootMs: 50, deployMs: 5_000 } }, pool: { interval: '60s' } });
  t.teardown(async () => { await h.close(); });
  const signal = (workload: number): void => {
    const now = Date.now();
    h.engine.alertSignal({ pool: 'test/t1', direction: 'up', workload, atMs: now, expiresMs: now + 120_000 });
  };
  signal(3);
  await waitFor('a sample with workload 3', () => h.engine.series('test/t1').some((p) => p.workload === 3));
  signal(5);
  await waitFor('a sample with workload 5', () => h.engine.series('test/t1').at(-1)?.workload === 5);
  const all = h.engine.series('test/t1');
  t.ok(all.every((p, k) => k === 0 || p.atMs >= (all[k - 1]?.atMs ?? 0)), 'oldest first');
  t.same(h.engine.series('test/t1', 1), [all.at(-1)], 'the newest sample alone');
  t.same(h.engine.series('no/such-pool'), [], 'an unknown pool has no samples');
});
