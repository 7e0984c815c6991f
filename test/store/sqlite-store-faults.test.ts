/**
 * sqlite-store-faults: what the store says about itself under faults, on real files: a probe write on a full file,
 * the path deleted or replaced under the open file, and a quick_check that sees garbage the open connection's cache
 * would hide.
 */
import t, { type Test } from 'tap';
import { closeSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openStore, type SqliteStore } from '../../src/store/sqlite-store.ts';
import { createLogger } from '../../src/log.ts';

const quiet = createLogger({ level: 'silent' });

function openTemp(t: Test): { store: SqliteStore; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'asc-store-faults-'));
  const path = join(dir, 'state.db');
  const store = openStore(path, { logger: quiet });
  t.teardown(() => { store.close(); rmSync(dir, { recursive: true, force: true }); });
  return { store, path };
}

t.test('a probe write fails with SQLITE_FULL on a full file and succeeds once there is room', async (t) => {
  const { store } = openTemp(t);
  store.probeWrite(1);
  store.capPages(true);
  store.probeWrite(2); // the pages the first probe freed are room for anyone, itself included
  let written = 0;
  t.throws(() => { for (;;) { store.openIntent('start', 'gpu-p-1', 'p/t', written); written += 1; } }, { code: 'SQLITE_FULL' }, 'intents fill the rest until SQLite says it is full');
  t.throws(() => store.probeWrite(3), { code: 'SQLITE_FULL' }, 'a probe needs new pages, as an intent does');
  store.capPages(false);
  store.probeWrite(4);
  store.openIntent('start', 'gpu-p-1', 'p/t', 0);
  t.equal(store.poolState(''), undefined, 'the probe leaves no row behind');
});

t.test('fileStatus tells the open file from a deleted or replaced one', async (t) => {
  const { store, path } = openTemp(t);
  t.equal(store.fileStatus(), 'same');
  renameSync(path, `${path}.moved`);
  t.equal(store.fileStatus(), 'missing', 'nothing at the path');
  writeFileSync(path, '');
  t.equal(store.fileStatus(), 'replaced', 'another file at the path');
  rmSync(path);
  renameSync(`${path}.moved`, path);
  t.equal(store.fileStatus(), 'same', 'the same inode back at the path');
});

t.test('integrityCheck reads the file as a restart would, past the open connection\'s cache', async (t) => {
  const { store, path } = openTemp(t);
  for (let i = 0; i < 200; i += 1) store.recordDecision({ pool: 'p/t', atMs: i, decision: { kind: 'hold', reason: 'x'.repeat(120) }, dryRun: false });
  const other = new BetterSqlite3(path);
  other.pragma('wal_checkpoint(TRUNCATE)');
  other.close();
  t.equal(store.integrityCheck(), 'ok');
  t.equal(store.decisions('p/t', 1).length, 1, 'the open connection has the pages cached');
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(16384, 0xa5), 0, 16384, 8192);
  closeSync(fd);
  t.not(store.integrityCheck(), 'ok', 'the garbage is found');
});
