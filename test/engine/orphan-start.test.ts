/**
 * orphan-start: a start whose call failed just before a crash leaves the instance `starting` in the store with its
 * intent closed as failed. After the restart, the engine puts it back in the reserve one confirm window after the
 * start (Salt still reports it stopped), instead of counting it as capacity until the provision timeout and then
 * backing the pool off. Found by the chaos suite (seed 134430).
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { openStore } from '../../src/store/sqlite-store.ts';
import { startCalls, startHarness, stateOf, waitFor } from '../support/engine-harness.ts';

/**
 * crashedStart writes what a previous process left in `dir` when it was killed after issuing a start of gpu-t1-1 at
 * `issuedMs`: the instance `starting`, and its start intent closed as failed (the call answered 500) or still open.
 */
function crashedStart(t: Test, issuedMs: number, intent: 'failed' | 'open'): string {
  const dir = mkdtempSync(join(tmpdir(), 'asc-orphan-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const before = openStore(join(dir, 'state.db'), { logger: pino({ level: 'silent' }) });
  before.saveInstance(
    { id: 'gpu-t1-1', pool: 'test/t1', state: 'starting', sinceMs: issuedMs, reason: 'start issued', lastStartMs: issuedMs, created: false },
    { from: 'stopped', to: 'starting', atMs: issuedMs, reason: 'start issued' },
  );
  const opened = before.openIntent('start', 'gpu-t1-1', 'test/t1', issuedMs);
  if (intent === 'failed') before.finishIntent(opened.id, 'failed', 'salt-api answered 500');
  before.close();
  return dir;
}

t.test('a starting instance with no open intent and still stopped in Salt goes back to the reserve after the confirm window', async (t) => {
  // the previous process: start issued, the call answered 500, the intent closed as failed, then SIGKILL
  const issuedMs = Date.now() - 500;
  const dir = crashedStart(t, issuedMs, 'failed');

  const h = await startHarness({ dir, salt: { timeout: '2s' }, engine: { startConfirmWindow: '2s' }, pool: { provisionTimeout: '10m' } });
  t.teardown(() => h.close());
  // a ceiling far inside the 10 min provision timeout: only the confirm window can release it by then
  await waitFor('gpu-t1-1 back in the reserve', () => stateOf(h, 'gpu-t1-1') === 'stopped', 60_000);
  // when the release came, not the state once startHarness returned: on a loaded machine the start-up alone can
  // outlast the window
  const releasedAfterMs = (h.engine.history('gpu-t1-1').at(-1)?.atMs ?? 0) - issuedMs;
  t.ok(releasedAfterMs >= 2_000, `not released inside the confirm window, while the start may still show up in Salt (${releasedAfterMs} ms after the start)`);
  t.ok(h.logs.some((l) => l.includes('a start no call or intent covers was not carried out: back to the reserve')),
    'released by the reconcile after the confirm window, not by the provision timeout');
  t.equal(h.engine.pools()[0]?.failed, 0, 'not counted as a failed instance');
  t.equal(h.emu.world.instance('gpu-t1-1')?.state, 'stopped', 'Salt agrees');
  t.match(h.engine.history('gpu-t1-1').at(-1), { from: 'starting', to: 'stopped' });
});

t.test('a failed instance whose stop call failed is stopped again by the reconcile, and holds its max slot meanwhile', async (t) => {
  const h = await startHarness({
    emulator: { instances: [{ id: 'gpu-t1-1', failDeploy: true }, { id: 'gpu-t1-2' }, { id: 'gpu-t1-3' }] },
    pool: { max: 1, strategy: 'target', perInstance: 1, failureBackoff: { base: '1s', max: '1s' } },
    engine: { reconcileInterval: '1s' },
  });
  t.teardown(() => h.close());
  h.engine.alertSignal({ pool: 'test/t1', direction: 'up', workload: 1, atMs: Date.now() });
  // the stop after the failed deploy answers 503 twice: the instance stays failed and running in Salt for a while
  await waitFor('gpu-t1-1 deploying', () => h.emu.world.instance('gpu-t1-1')?.phase === 'deploying', 10_000);
  h.emu.faults.failNext(2, 503, { fun: 'cloud.action' });
  await waitFor('gpu-t1-1 failed', () => h.engine.history('gpu-t1-1').some((tr) => tr.to === 'failed'), 10_000);
  await waitFor('gpu-t1-1 stopped in Salt by a resent stop', () => h.emu.world.instance('gpu-t1-1')?.state === 'stopped', 20_000);
  const stops = h.emu.calls.filter((c) => c.fun === 'cloud.action' && (c.kwarg as { func?: string } | undefined)?.func === 'stop');
  t.ok(stops.length >= 3, `the stop was sent again after the two refusals (${stops.length} stop calls)`);
  await waitFor('gpu-t1-1 stopped in the service', () => stateOf(h, 'gpu-t1-1') === 'stopped', 10_000);
  const startOf = (id: string): number => h.emu.calls.find((c) => c.fun === 'cloud.action' && (c.kwarg as { func?: string; instances?: string[] } | undefined)?.func === 'start'
    && ((c.kwarg as { instances?: string[] }).instances ?? []).includes(id))?.atMs ?? Number.POSITIVE_INFINITY;
  const stopSent = stops.filter((c) => c.status === 200).at(-1)?.atMs ?? Number.POSITIVE_INFINITY;
  const replacement = Math.min(startOf('gpu-t1-2'), startOf('gpu-t1-3'));
  t.ok(replacement === Number.POSITIVE_INFINITY || replacement >= stopSent, 'no replacement was started before the failed instance\'s stop went through (max 1)');
});

t.test('a start intent a crash left open for longer than the provision timeout, not in Salt: back to the reserve after the confirm window, not failed, no back-off', async (t) => {
  // the previous process wrote its intent, sent the start (it never reached Salt) and was killed; the restart came
  // 40 s later, past the pool's 30 s provision timeout (a slow host, a service down for a while)
  const dir = crashedStart(t, Date.now() - 40_000, 'open');

  const h = await startHarness({
    dir, salt: { timeout: '2s' }, engine: { startConfirmWindow: '2s' },
    pool: { provisionTimeout: '30s', max: 1, strategy: 'target', perInstance: 1, failureBackoff: { base: '10m', max: '10m' } },
  });
  t.teardown(() => h.close());
  await waitFor('gpu-t1-1 back in the reserve', () => stateOf(h, 'gpu-t1-1') === 'stopped', 10_000);
  const path = h.engine.history('gpu-t1-1').map((tr) => `${tr.to}: ${tr.reason}`);
  t.notOk(path.some((p) => p.startsWith('failed')), `not failed by the provision timeout: Salt never had the start (${path.join(' | ')})`);
  t.equal(h.engine.pools()[0]?.failed, 0, 'not counted as a failed instance');
  // the need is still there: with a 10 min back-off a failed instance would hold it; back in the reserve, it is started
  h.engine.alertSignal({ pool: 'test/t1', direction: 'up', workload: 1, atMs: Date.now() });
  await waitFor('a new start for the need', () => startCalls(h.emu, 'gpu-t1-1') + startCalls(h.emu, 'gpu-t1-2') + startCalls(h.emu, 'gpu-t1-3') === 1, 10_000);
  t.pass('the need got its start without a back-off');
});
