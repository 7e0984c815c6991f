/**
 * migrations: the ordered schema history of the state database. Migration N brings the schema from version
 * N-1 to N; all pending ones run in one IMMEDIATE transaction together with the `schema_version` update, so a
 * crash mid-way leaves the old version intact. Released migrations are never edited, only appended.
 */
import type { Database } from 'better-sqlite3';
import { AutoscalerError } from '../errors.ts';

/** Migration is one schema step: `version` is the schema version it produces. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

/** MIGRATIONS lists every schema step in order; the last one's version is the current schema. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'instances, transitions, intents, decisions',
    sql: `
      CREATE TABLE schema_version (version INTEGER NOT NULL);
      INSERT INTO schema_version (version) VALUES (0);
      CREATE TABLE instances (
        id TEXT PRIMARY KEY,
        pool TEXT NOT NULL,
        state TEXT NOT NULL,
        since_ms INTEGER NOT NULL,
        reason TEXT NOT NULL,
        last_start_ms INTEGER,
        ready_ms INTEGER,
        deploy_jid TEXT,
        created INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE transitions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        instance TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        reason TEXT NOT NULL
      );
      CREATE INDEX transitions_by_instance ON transitions (instance, seq);
      CREATE TABLE intents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        instance TEXT NOT NULL,
        pool TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'done', 'failed')),
        detail TEXT
      );
      CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pool TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        count INTEGER NOT NULL,
        targets TEXT NOT NULL,
        reason TEXT NOT NULL,
        dry_run INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'pool_state, intent finish time, indexes for open intents and per-pool decisions',
    sql: `
      CREATE TABLE pool_state (pool TEXT PRIMARY KEY, value TEXT NOT NULL);
      ALTER TABLE intents ADD COLUMN finished_ms INTEGER;
      CREATE INDEX intents_open ON intents (status) WHERE status = 'open';
      CREATE INDEX decisions_by_pool ON decisions (pool, id);
    `,
  },
  {
    version: 3,
    description: 'single-writer lease',
    sql: `
      CREATE TABLE lease (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        acquired_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    description: 'intents without AUTOINCREMENT and without the open-intents index (an intent is one page of one B-tree)',
    // The intent written before each salt-api call, in its own commit on the way to the call: with AUTOINCREMENT and
    // the partial index it dirtied three pages (the table's, sqlite_sequence's, the index's), three WAL frames of two
    // pwrites each; now one. The rows keep their ids and order. Ids stay unique without AUTOINCREMENT: a rowid is the
    // largest id + 1, and the store never deletes the newest intent (its prune keeps it; before this version it kept the
    // newest 10,000 finished ones and every open one, so sqlite_sequence never ran ahead of the largest id). Open
    // intents are read from the oldest one that can still be open (SqliteStore.openIntents), not through an index.
    sql: `
      CREATE TABLE intents_v4 (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        instance TEXT NOT NULL,
        pool TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'done', 'failed')),
        detail TEXT,
        finished_ms INTEGER
      );
      INSERT INTO intents_v4 (id, kind, instance, pool, created_ms, status, detail, finished_ms)
        SELECT id, kind, instance, pool, created_ms, status, detail, finished_ms FROM intents ORDER BY id;
      DROP TABLE intents;
      ALTER TABLE intents_v4 RENAME TO intents;
    `,
  },
];

/** SCHEMA_VERSION is the schema this build writes and reads. */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

function tableExists(db: Database, name: string): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
}

/** schemaVersion reads the stored version: 0 for an empty database; refuses a database that is not ours. */
export function schemaVersion(db: Database, path: string): number {
  if (!tableExists(db, 'schema_version')) {
    const any = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' LIMIT 1`).get();
    if (any !== undefined) {
      throw new AutoscalerError('ASC_ERR_STORE_OPEN',
        `${path} is an SQLite database but not a salt-autoscaler state database (tables but no schema_version): refusing to touch it`);
    }
    return 0;
  }
  const row: unknown = db.prepare('SELECT version FROM schema_version').get();
  const version = typeof row === 'object' && row !== null && 'version' in row ? row.version : undefined;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) {
    throw new AutoscalerError('ASC_ERR_STORE_MIGRATE', `${path}: schema_version holds ${JSON.stringify(version)}, expected one non-negative integer`);
  }
  return version;
}

/**
 * migrate brings the database to SCHEMA_VERSION and returns the versions it went from and to. A database newer
 * than this build is refused (ASC_ERR_STORE_MIGRATE), never downgraded; a failing step rolls the whole run back.
 */
export function migrate(db: Database, path: string, migrations: readonly Migration[] = MIGRATIONS): { readonly from: number; readonly to: number } {
  const target = migrations[migrations.length - 1]?.version ?? 0;
  const run = db.transaction(() => {
    const from = schemaVersion(db, path);
    if (from > target) {
      throw new AutoscalerError('ASC_ERR_STORE_MIGRATE',
        `${path} has schema version ${from}, newer than this salt-autoscaler knows (${target}): upgrade salt-autoscaler or restore a backup`);
    }
    for (const m of migrations) {
      if (m.version <= from) continue;
      try {
        db.exec(m.sql);
      } catch (err) {
        throw new AutoscalerError('ASC_ERR_STORE_MIGRATE', `${path}: migration to schema version ${m.version} (${m.description}) failed: ${(err as Error).message}`, { cause: err });
      }
      db.prepare('UPDATE schema_version SET version = ?').run(m.version);
    }
    return { from, to: Math.max(from, target) };
  });
  return run.immediate();
}
