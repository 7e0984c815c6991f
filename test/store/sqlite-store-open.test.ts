import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import { openStore } from '../../src/store/sqlite-store.ts';
import { MIGRATIONS, SCHEMA_VERSION, migrate, schemaVersion } from '../../src/store/migrations.ts';
import { AutoscalerError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';

const quiet = createLogger({ level: 'silent' });

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'asc-store-open-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function raw(t: Test, path: string): BetterSqlite3.Database {
  const db = new BetterSqlite3(path);
  t.teardown(() => db.close());
  return db;
}

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof AutoscalerError) return { code: err.code, message: err.message };
    return { code: `not an AutoscalerError: ${String(err)}`, message: '' };
  }
  return { code: 'no error', message: '' };
}

/** V1_SCHEMA is the schema as release 1 wrote it, typed out by hand (not taken from MIGRATIONS). */
const V1_SCHEMA = `
  CREATE TABLE schema_version (version INTEGER NOT NULL);
  INSERT INTO schema_version (version) VALUES (1);
  CREATE TABLE instances (id TEXT PRIMARY KEY, pool TEXT NOT NULL, state TEXT NOT NULL, since_ms INTEGER NOT NULL, reason TEXT NOT NULL,
    last_start_ms INTEGER, ready_ms INTEGER, deploy_jid TEXT, created INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE transitions (seq INTEGER PRIMARY KEY AUTOINCREMENT, instance TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,
    at_ms INTEGER NOT NULL, reason TEXT NOT NULL);
  CREATE INDEX transitions_by_instance ON transitions (instance, seq);
  CREATE TABLE intents (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, instance TEXT NOT NULL, pool TEXT NOT NULL,
    created_ms INTEGER NOT NULL, status TEXT NOT NULL CHECK (status IN ('open', 'done', 'failed')), detail TEXT);
  CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, pool TEXT NOT NULL, at_ms INTEGER NOT NULL, kind TEXT NOT NULL,
    count INTEGER NOT NULL, targets TEXT NOT NULL, reason TEXT NOT NULL, dry_run INTEGER NOT NULL);
`;

t.test('a version 1 database is migrated to the current schema and keeps its data', async (t) => {
  const path = join(tempDir(t), 'state.db');
  const v1 = new BetterSqlite3(path);
  v1.exec(V1_SCHEMA);
  v1.prepare(`INSERT INTO instances VALUES ('gpu-prod-1', 'prod/type1', 'ready', 50, 'ready event', 10, 50, 'J1', 0)`).run();
  v1.prepare(`INSERT INTO transitions (instance, from_state, to_state, at_ms, reason) VALUES ('gpu-prod-1', 'deploying', 'ready', 50, 'ready event')`).run();
  v1.prepare(`INSERT INTO intents (kind, instance, pool, created_ms, status) VALUES ('stop', 'gpu-prod-1', 'prod/type1', 60, 'open')`).run();
  v1.prepare(`INSERT INTO decisions (pool, at_ms, kind, count, targets, reason, dry_run) VALUES ('prod/type1', 40, 'scaleUp', 1, '[{"kind":"start","id":"gpu-prod-1"}]', 'up', 0)`).run();
  v1.close();

  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }) });
  const store = openStore(path, { logger, nowMs: () => 70 });
  t.teardown(() => store.close());
  t.same(store.loadInstances(), [{ id: 'gpu-prod-1', pool: 'prod/type1', state: 'ready', sinceMs: 50, reason: 'ready event', lastStartMs: 10, readyMs: 50, deployJid: 'J1', created: false }]);
  t.same(store.history('gpu-prod-1'), [{ from: 'deploying', to: 'ready', atMs: 50, reason: 'ready event' }]);
  const [intent] = store.openIntents();
  t.equal(intent?.kind, 'stop');
  t.same(store.decisions('prod/type1')[0]?.decision, { kind: 'scaleUp', count: 1, targets: [{ kind: 'start', id: 'gpu-prod-1' }], reason: 'up' });
  // what version 2 added works
  store.setPoolState('prod/type1', { paused: true });
  t.same(store.poolState('prod/type1'), { paused: true });
  store.finishIntent(intent!.id, 'done');
  t.same(store.openIntents(), []);
  // and what version 3 added (the lease) works
  t.equal(store.tryLease('me', 100, 15_000).owner, 'me');
  t.match(lines.join(''), new RegExp(`"from":1,"to":${SCHEMA_VERSION},"msg":"state database migrated"`));
  const check = raw(t, path);
  t.equal(check.prepare('SELECT version FROM schema_version').pluck().get(), SCHEMA_VERSION);
  t.equal(check.prepare('SELECT finished_ms FROM intents').pluck().get(), 70);
});

t.test('a version 3 database (intents with AUTOINCREMENT and the open-intents index) keeps every intent, its id and order', async (t) => {
  const path = join(tempDir(t), 'state.db');
  const v3 = new BetterSqlite3(path);
  migrate(v3, path, MIGRATIONS.filter((m) => m.version <= 3)); // the released steps, as the previous version ran them
  t.match(v3.prepare(`SELECT sql FROM sqlite_master WHERE name = 'intents'`).pluck().get(), /AUTOINCREMENT/, 'built with the old DDL');
  const insert = v3.prepare('INSERT INTO intents (kind, instance, pool, created_ms, status, detail, finished_ms) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const rows: [string, string, string, number, string, string | null, number | null][] = [
    ['start', 'gpu-1', 'prod/type1', 10, 'done', null, 11],
    ['stop', 'gpu-2', 'prod/type1', 20, 'open', null, null],
    ['start', 'gpu-3', 'prod/type2', 30, 'failed', 'salt-api answered 500', 31],
    ['drain', 'gpu-4', 'prod/type1', 40, 'done', null, 41],
    ['create', 'gpu-5', 'prod/type2', 50, 'open', null, null],
    ['start', 'gpu-6', 'prod/type1', 60, 'open', null, null],
    ['undrain', 'gpu-7', 'prod/type1', 70, 'done', null, 71],
  ];
  for (const r of rows) insert.run(...r);
  v3.prepare('DELETE FROM intents WHERE id IN (1, 4)').run(); // gaps, as a prune leaves them
  const before = v3.prepare('SELECT * FROM intents ORDER BY id').all();
  v3.close();

  const store = openStore(path, { logger: quiet, nowMs: () => 100 });
  t.teardown(() => store.close());
  t.same(store.openIntents(), [
    { id: 2, kind: 'stop', instance: 'gpu-2', pool: 'prod/type1', createdMs: 20, status: 'open' },
    { id: 5, kind: 'create', instance: 'gpu-5', pool: 'prod/type2', createdMs: 50, status: 'open' },
    { id: 6, kind: 'start', instance: 'gpu-6', pool: 'prod/type1', createdMs: 60, status: 'open' },
  ], 'the open intents, with their ids, in their order');
  const check = raw(t, path);
  t.same(check.prepare('SELECT * FROM intents ORDER BY id').all(), before, 'every row as it was, finished ones too');
  t.equal(check.prepare('SELECT version FROM schema_version').pluck().get(), SCHEMA_VERSION);
  t.notMatch(check.prepare(`SELECT sql FROM sqlite_master WHERE name = 'intents'`).pluck().get(), /AUTOINCREMENT/, 'the table is rebuilt without AUTOINCREMENT');
  t.same(check.prepare(`SELECT name FROM sqlite_master WHERE tbl_name = 'intents' AND type = 'index'`).pluck().all(), [], 'and without the open-intents index');
  t.same(check.prepare(`SELECT name FROM sqlite_sequence WHERE name = 'intents'`).pluck().all(), [], 'sqlite_sequence keeps no counter for it');
  t.equal(store.openIntent('start', 'gpu-8', 'prod/type1', 80).id, 8, 'the next intent takes the next id');
  store.finishIntent(2, 'done');
  t.same(store.openIntents().map((i) => i.id), [5, 6, 8]);
  t.equal(check.prepare('SELECT quick_check FROM pragma_quick_check').pluck().get(), 'ok');
});

t.test('a database from a newer version is refused with ASC_ERR_STORE_MIGRATE and left as it was', async (t) => {
  const path = join(tempDir(t), 'state.db');
  const store = openStore(path, { logger: quiet });
  store.saveInstance({ id: 'gpu-prod-1', pool: 'prod/type1', state: 'ready', sinceMs: 1, reason: 'r', created: false });
  store.close();
  const db = new BetterSqlite3(path);
  db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 5);
  db.close();
  const err = codeOf(() => openStore(path, { logger: quiet }));
  t.equal(err.code, 'ASC_ERR_STORE_MIGRATE');
  t.match(err.message, `schema version ${SCHEMA_VERSION + 5}, newer than this salt-autoscaler knows (${SCHEMA_VERSION})`);
  t.match(err.message, path);
  const after = raw(t, path);
  t.equal(after.prepare('SELECT version FROM schema_version').pluck().get(), SCHEMA_VERSION + 5, 'never downgraded');
  t.equal(after.prepare('SELECT count(*) FROM instances').pluck().get(), 1, 'data untouched');
});

t.test('a file of garbage bytes is refused with ASC_ERR_STORE_OPEN and never reset', async (t) => {
  const path = join(tempDir(t), 'state.db');
  const garbage = Buffer.alloc(16_384);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 251;
  writeFileSync(path, garbage);
  const err = codeOf(() => openStore(path, { logger: quiet }));
  t.equal(err.code, 'ASC_ERR_STORE_OPEN');
  t.match(err.message, path);
  t.match(err.message, /not a database/);
  t.match(err.message, /left untouched/);
  t.ok(readFileSync(path).equals(garbage), 'the file still holds the same bytes');
});

t.test('a database with a corrupted page is refused with ASC_ERR_STORE_OPEN', async (t) => {
  const path = join(tempDir(t), 'state.db');
  const store = openStore(path, { logger: quiet });
  store.saveInstances(Array.from({ length: 2000 }, (_, i) => ({
    instance: { id: `gpu-${i}`, pool: 'prod/type1', state: 'stopped' as const, sinceMs: i, reason: 'new instance '.repeat(4), created: false },
  })));
  store.close();
  const bytes = readFileSync(path);
  t.ok(bytes.length > 8 * 4096, 'several pages');
  bytes.fill(0xa5, 2 * 4096 + 8, 6 * 4096);
  writeFileSync(path, bytes);
  const err = codeOf(() => openStore(path, { logger: quiet }));
  t.equal(err.code, 'ASC_ERR_STORE_OPEN');
  t.match(err.message, path);
  t.match(err.message, /malformed|integrity check failed|not a database/);
});

t.test('an SQLite database of another program is refused with ASC_ERR_STORE_OPEN', async (t) => {
  const path = join(tempDir(t), 'other.db');
  const other = new BetterSqlite3(path);
  other.exec('CREATE TABLE users (name TEXT)');
  other.close();
  const err = codeOf(() => openStore(path, { logger: quiet }));
  t.equal(err.code, 'ASC_ERR_STORE_OPEN');
  t.match(err.message, /not a salt-autoscaler state database/);
  const after = raw(t, path);
  t.same(after.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all(), ['users'], 'no table was added');
  t.equal(after.pragma('journal_mode', { simple: true }), 'delete', 'its journal mode was not switched to WAL');
});

t.test('a path that is a directory is refused with ASC_ERR_STORE_OPEN', async (t) => {
  const path = join(tempDir(t), 'state.db');
  mkdirSync(path);
  const err = codeOf(() => openStore(path, { logger: quiet }));
  t.equal(err.code, 'ASC_ERR_STORE_OPEN');
  t.match(err.message, path);
});

t.test('an invalid row is reported with ASC_ERR_STORE_OPEN when loaded', async (t) => {
  const path = join(tempDir(t), 'state.db');
  openStore(path, { logger: quiet }).close();
  const db = new BetterSqlite3(path);
  db.prepare(`INSERT INTO instances VALUES ('gpu-bad', 'prod/type1', 'exploded', 1, 'r', NULL, NULL, NULL, 0)`).run();
  db.close();
  const store = openStore(path, { logger: quiet });
  t.teardown(() => store.close());
  const err = codeOf(() => store.loadInstances());
  t.equal(err.code, 'ASC_ERR_STORE_OPEN');
  t.match(err.message, /instances id=gpu-bad/);
});

t.test('a failing migration rolls every step of the run back', async (t) => {
  const path = join(tempDir(t), 'state.db');
  const db = raw(t, path);
  const broken = [...MIGRATIONS, { version: SCHEMA_VERSION + 1, description: 'broken', sql: 'CREATE TABLE fine (a); SELECT nope FROM missing_table;' }];
  const err = codeOf(() => migrate(db, path, broken));
  t.equal(err.code, 'ASC_ERR_STORE_MIGRATE');
  t.match(err.message, `migration to schema version ${SCHEMA_VERSION + 1} (broken) failed`);
  t.equal(schemaVersion(db, path), 0, 'still an empty database');
  t.same(db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all(), []);
});

t.test('migrating twice is a no-op the second time', async (t) => {
  const path = join(tempDir(t), 'state.db');
  const db = raw(t, path);
  t.same(migrate(db, path), { from: 0, to: SCHEMA_VERSION });
  t.same(migrate(db, path), { from: SCHEMA_VERSION, to: SCHEMA_VERSION });
});

t.test('migrations are numbered 1, 2, 3... without gaps', async (t) => {
  t.same(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1));
});
