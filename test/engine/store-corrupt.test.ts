/**
 * store-corrupt: 16 KiB of garbage land in the state file at offset 8192 while the engine runs. The periodic
 * `PRAGMA quick_check` (on a fresh connection: the engine's page cache would hide it) must find it; the engine then
 * stops acting for good, says so, and tells the service to exit (onStoreLost with ASC_ERR_STORE_CORRUPT).
 */
import t from 'tap';
import BetterSqlite3 from 'better-sqlite3';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { AutoscalerError } from '../../src/errors.ts';
import { startHarness, waitFor } from '../support/engine-harness.ts';

t.test('garbage written into the running state file: the engine stops acting and reports the store lost', async (t) => {
  const lost: AutoscalerError[] = [];
  const h = await startHarness({ pool: { interval: '200ms' }, store: { integrityCheckIntervalMs: 200, onStoreLost: (err) => lost.push(err) } });
  t.teardown(() => h.close());
  await waitFor('the event stream is up', () => h.engine.health().stream);
  // enough rows that the file reaches past 24 KiB, then everything checkpointed into the main file
  for (let i = 0; i < 200; i += 1) h.store.recordDecision({ pool: 'test/t1', atMs: Date.now(), decision: { kind: 'hold', reason: `filler ${i} ${'x'.repeat(100)}` }, dryRun: false });
  const other = new BetterSqlite3(h.config.store.path);
  other.pragma('wal_checkpoint(TRUNCATE)');
  other.close();
  t.ok(statSync(h.config.store.path).size > 8192 + 16384, 'the file is larger than the damaged range');
  await new Promise((r) => setTimeout(r, 500));
  t.equal(lost.length, 0, 'a sound file passes the check');

  const fd = openSync(h.config.store.path, 'r+');
  writeSync(fd, randomBytes(16384), 0, 16384, 8192);
  closeSync(fd);
  await waitFor('the integrity check finds it', () => lost.length > 0, 20_000);
  t.equal(lost[0]?.code, 'ASC_ERR_STORE_CORRUPT', 'the engine reports the store lost as corrupt');
  t.match(h.engine.health(), { store: false, storeProblem: /integrity check/ }, 'health says store false, and why');
  t.ok(h.logs.some((l) => l.includes('state store lost: this process stops acting') && l.includes('ASC_ERR_STORE_CORRUPT')), 'a log line says it');

  const before = h.emu.calls.length;
  h.engine.alertSignal({ pool: 'test/t1', direction: 'up', workload: 2, atMs: Date.now(), expiresMs: Date.now() + 60_000 });
  await new Promise((r) => setTimeout(r, 2_000));
  t.same(h.emu.calls.slice(before).filter((c) => c.fun === 'cloud.action'), [], 'no start is sent on a corrupt store');
  t.equal(lost.length, 1, 'reported once');
});
