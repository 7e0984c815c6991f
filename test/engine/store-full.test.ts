/**
 * store-full: the state database fills up under a running engine (a real SQLite SQLITE_FULL, from `max_page_count` on
 * the engine's own connection). No action may go to salt-api without its intent durable: the engine stops acting,
 * says so (/readyz 503 with a reason, `salt_autoscaler_store_writable 0`, a log line), and resumes by itself once a
 * probe write succeeds.
 */
import t, { type Test } from 'tap';
import BetterSqlite3 from 'better-sqlite3';
import { buildApp } from '../../src/http/app.ts';
import { metricsObserver } from '../../src/main.ts';
import { createMetrics, exposition, type Metrics } from '../../src/prometheus/metrics.ts';
import type { CallRecord } from '../../src/emulator/index.ts';
import type { SqliteStore } from '../../src/store/sqlite-store.ts';
import { capturingLogger, startHarness, waitFor, type Harness } from '../support/engine-harness.ts';

/** ACTION_FUNS are the salt-api functions that change the fleet (what an intent guards; the draining event is checked on the bus). */
const ACTION_FUNS = new Set(['cloud.action', 'cloud.profile', 'cloud.destroy', 'grains.setval']);
const actionCalls = (h: Harness, since: number): CallRecord[] =>
  h.emu.calls.slice(since).filter((c) => c.fun !== undefined && ACTION_FUNS.has(c.fun));
const drainingEvents = (h: Harness): number => h.emu.events.filter((e) => /^salt-autoscaler\/instance\/.*\/draining$/.test(e.tag)).length;

/** fillStore caps the file at its size and writes intent-sized rows until SQLite says it is full. */
function fillStore(store: SqliteStore): number {
  store.capPages(true);
  for (let n = 0; ; n += 1) {
    try {
      const filler = store.openIntent('start', 'gpu-t1-9', 'test/t1', Date.now());
      store.finishIntent(filler.id, 'done', 'filler');
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_FULL') throw err;
      return n;
    }
  }
}

async function withMetrics(t: Test, emulator: Parameters<typeof startHarness>[0]): Promise<{ h: Harness; metrics: Metrics; readyz: () => Promise<{ status: number; body: Record<string, unknown> }> }> {
  const metrics = createMetrics({ defaultMetrics: false });
  const h = await startHarness({ ...emulator, store: { storeCheckIntervalMs: 100, observer: metricsObserver(metrics, { now: () => Date.now() }) } });
  const app = buildApp({ engine: h.engine, metrics: exposition(metrics), config: { bodyLimit: 1_048_576 }, logger: capturingLogger([]) });
  t.teardown(async () => { await app.close(); await h.close(); });
  const readyz = async (): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    return { status: res.statusCode, body: res.json() };
  };
  return { h, metrics, readyz };
}

t.test('a full store: a scale-up sends no start, the service says why, and it starts once a write succeeds again', async (t) => {
  const { h, metrics, readyz } = await withMetrics(t, { pool: { interval: '200ms' } });
  await waitFor('the event stream is up', () => h.engine.health().stream);
  t.equal((await readyz()).status, 200, 'ready before the disk fills');
  const filled = fillStore(h.store);
  t.ok(filled >= 0, `the file is full after ${filled} more intents`);
  const before = h.emu.calls.length;

  h.engine.alertSignal({ pool: 'test/t1', direction: 'up', workload: 2, atMs: Date.now(), expiresMs: Date.now() + 60_000 });
  await waitFor('the engine notices the failed write', () => !h.engine.health().store);
  // several evaluate intervals (1 s) with the need standing: any action would show now
  await new Promise((r) => setTimeout(r, 2_500));
  t.same(actionCalls(h, before).map((c) => `${c.fun} ${JSON.stringify(c.kwarg ?? c.arg)}`), [], 'actions sent during disk-full: 0');
  const ready = await readyz();
  t.equal(ready.status, 503, '/readyz is unready');
  t.match(ready.body, { store: false, failed: ['store'], reason: /database or disk is full/ }, 'and says why');
  t.match(await metrics.registry.metrics(), /^salt_autoscaler_store_writable 0$/m, 'salt_autoscaler_store_writable is 0');
  t.match(await metrics.registry.metrics(), /^salt_autoscaler_store_faults_total\{fault="write"\} [1-9]/m, 'the write fault is counted');
  t.ok(h.logs.some((l) => l.includes('state store not writable') && l.includes('ASC_ERR_STORE_WRITE')), 'a log line says it stops acting');
  t.notOk(h.logs.some((l) => l.includes('no such intent')), 'no intent is finished that was never written');

  h.store.capPages(false); // space is freed
  await waitFor('a probe write succeeds', () => h.engine.health().store, 20_000);
  t.ok(h.logs.some((l) => l.includes('state store writable again')), 'a log line says it acts again');
  const started = (): number => actionCalls(h, before).filter((c) => c.fun === 'cloud.action').flatMap((c) => (c.kwarg as { instances?: string[] }).instances ?? []).length;
  await waitFor('two starts after the store is writable again (one cloud.action may carry both)', () => started() === 2, 10_000);
  t.equal((await readyz()).status, 200, 'ready again');
  t.match(await metrics.registry.metrics(), /^salt_autoscaler_store_writable 1$/m);
  const db = new BetterSqlite3(h.config.store.path, { readonly: true });
  t.teardown(() => db.close());
  for (const call of actionCalls(h, before).filter((c) => c.fun === 'cloud.action')) {
    for (const id of (call.kwarg as { instances?: string[] }).instances ?? []) {
      const row = db.prepare(`SELECT created_ms FROM intents WHERE kind = 'start' AND instance = ? AND detail IS NOT 'filler'`).get(id) as { created_ms: number } | undefined;
      t.ok(row !== undefined && row.created_ms <= call.atMs, `the start of ${id} was sent after its intent was written`);
    }
  }
});

t.test('a full store: a scale-down neither marks nor stops anything, and the instance keeps serving', async (t) => {
  const { h } = await withMetrics(t, {
    emulator: { instances: [{ id: 'gpu-t1-1', state: 'running' }, { id: 'gpu-t1-2' }, { id: 'gpu-t1-3' }] },
    pool: { interval: '200ms' },
  });
  await waitFor('adopted as ready', () => h.engine.instances().find((i) => i.id === 'gpu-t1-1')?.state === 'ready');
  fillStore(h.store);
  const before = h.emu.calls.length;
  h.engine.alertSignal({ pool: 'test/t1', direction: 'down', workload: 0, atMs: Date.now(), expiresMs: Date.now() + 60_000 });
  await waitFor('the engine notices the failed write', () => !h.engine.health().store);
  await new Promise((r) => setTimeout(r, 2_500));
  t.same(actionCalls(h, before).map((c) => `${c.fun} ${JSON.stringify(c.kwarg ?? c.arg)}`), [], 'no drain mark, draining event, undrain or stop was sent');
  t.equal(drainingEvents(h), 0, 'no draining event was fired');
  t.equal(h.emu.world.instance('gpu-t1-1')?.state, 'running', 'the instance still runs');
  t.equal(h.engine.instances().find((i) => i.id === 'gpu-t1-1')?.state, 'ready', 'and serves');

  h.store.capPages(false);
  await waitFor('the idle instance is drained and stopped once the store takes writes', () => h.emu.world.instance('gpu-t1-1')?.state === 'stopped', 10_000);
  t.ok(actionCalls(h, before).some((c) => c.fun === 'grains.setval'), 'the drain went out after the store recovered');
});
