/**
 * orphan-start: a start whose call failed just before a crash leaves the instance `starting` in the store with its
 * intent closed as failed. After the restart, the engine puts it back in the reserve one confirm window after the
 * start (Salt still reports it stopped), instead of counting it as capacity until the provision timeout and then
 * backing the pool off. Found by the chaos suite (seed 134430).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { openStore } from '../../src/store/sqlite-store.ts';
import { startHarness, stateOf, waitFor } from '../support/engine-harness.ts';

t.test('a starting instance with no open intent and still stopped in Salt goes back to the reserve after the confirm window', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-orphan-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // the previous process: start issued, the call answered 500, the intent closed as failed, then SIGKILL
  const issuedMs = Date.now() - 500;
  const before = openStore(join(dir, 'state.db'), { logger: pino({ level: 'silent' }) });
  before.saveInstance(
    { id: 'gpu-t1-1', pool: 'test/t1', state: 'starting', sinceMs: issuedMs, reason: 'start issued', lastStartMs: issuedMs, created: false },
    { from: 'stopped', to: 'starting', atMs: issuedMs, reason: 'start issued' },
  );
  const intent = before.openIntent('start', 'gpu-t1-1', 'test/t1', issuedMs);
  before.finishIntent(intent.id, 'failed', 'salt-api answered 500');
  before.close();

  const startedMs = Date.now();
  const h = await startHarness({ dir, engine: { startConfirmWindow: '2s' }, pool: { provisionTimeout: '10m' } });
  t.teardown(() => h.close());
  t.equal(stateOf(h, 'gpu-t1-1'), 'starting', 'inside the confirm window the start may still show up in Salt');
  await waitFor('gpu-t1-1 back in the reserve', () => stateOf(h, 'gpu-t1-1') === 'stopped', 10_000);
  const tookMs = Date.now() - startedMs;
  t.ok(tookMs < 8_000, `released after the confirm window, not the 10 min provision timeout (${tookMs} ms)`);
  t.equal(h.engine.pools()[0]?.failed, 0, 'not counted as a failed instance');
  t.equal(h.emu.world.instance('gpu-t1-1')?.state, 'stopped', 'Salt agrees');
  t.match(h.engine.history('gpu-t1-1').at(-1), { from: 'starting', to: 'stopped' });
});
