/**
 * sqlite-store: the crash-safe StateStore on SQLite (better-sqlite3, synchronous).
 *
 * WAL journal with `synchronous=FULL`: every commit (an intent above all) is fsynced before the call returns,
 * so an intent written before a salt-api call survives a crash or SIGKILL right after. A file that is not a
 * readable salt-autoscaler database is refused with ASC_ERR_STORE_OPEN and left untouched (never reset);
 * a schema newer than this build is refused with ASC_ERR_STORE_MIGRATE. Rows read back are checked with zod.
 * Retention: the newest `decisionsPerPool` decisions per pool (read back exactly; the table holds up to 31 more, pruned
 * every 32nd write of the pool), about `transitionsPerInstance` transitions per instance (pruned every 32nd write),
 * and `finishedIntentsKept` finished intents (pruned at open; the newest intent is never pruned, so no id is given twice).
 */
import { mkdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import { z } from 'zod';
import type { Decision, DecisionRecord, Instance, InstanceState, Transition } from '../core/types.ts';
import type { FileWatch, Intent, IntentKind, LeaseHolder, StateStore, StoreFileStatus } from '../engine/ports.ts';
import { INSTANCE_STATES } from '../core/types.ts';
import { AutoscalerError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { migrate, schemaVersion } from './migrations.ts';

/** StoreOptions tunes openStore; only `logger` is required. */
export interface StoreOptions {
  readonly logger: Logger;
  /** nowMs stamps finished intents (default: the system clock). */
  readonly nowMs?: () => number;
  /** decisionsPerPool: decisions kept per pool, newest first (default 1000). */
  readonly decisionsPerPool?: number;
  /** transitionsPerInstance: history rows kept per instance (default 500). */
  readonly transitionsPerInstance?: number;
  /** finishedIntentsKept: done/failed intents kept when the store opens (default 10000; open ones are always kept). */
  readonly finishedIntentsKept?: number;
}

/** InstanceSave is one instance to upsert, with the transition that produced it when there is one. */
export interface InstanceSave {
  readonly instance: Instance;
  readonly transition?: Transition;
}

const INTENT_KINDS = ['start', 'create', 'stop', 'destroy', 'drain', 'undrain'] as const satisfies readonly IntentKind[];
const stateSchema = z.custom<InstanceState>((v) => typeof v === 'string' && (INSTANCE_STATES as readonly string[]).includes(v), 'an instance state');
const int = z.number().int();

const instanceRow = z.object({
  id: z.string(), pool: z.string(), state: stateSchema, since_ms: int, reason: z.string(),
  last_start_ms: int.nullable(), ready_ms: int.nullable(), deploy_jid: z.string().nullable(), created: int,
});
const transitionRow = z.object({ from_state: stateSchema, to_state: stateSchema, at_ms: int, reason: z.string() });
const intentRow = z.object({
  id: int, kind: z.enum(INTENT_KINDS), instance: z.string(), pool: z.string(), created_ms: int,
  status: z.enum(['open', 'done', 'failed']), detail: z.string().nullable(),
});
const startTarget = z.union([z.object({ kind: z.literal('start'), id: z.string() }), z.object({ kind: z.literal('create') })]);
const decisionRow = z.object({
  pool: z.string(), at_ms: int, kind: z.enum(['hold', 'scaleUp', 'scaleDown']), count: int, targets: z.string(), reason: z.string(), dry_run: int,
});
const poolStateValue = z.record(z.string(), z.unknown());
const leaseRow = z.object({ owner: z.string(), acquired_ms: int, expires_ms: int });

function rowError(table: string, row: unknown, err: z.ZodError): AutoscalerError {
  const where = typeof row === 'object' && row !== null && 'id' in row ? ` id=${String(row.id)}` : '';
  return new AutoscalerError('ASC_ERR_STORE_OPEN', `state database row in ${table}${where} is invalid: ${z.prettifyError(err).replace(/\s+/g, ' ')}`, { cause: err });
}

function parseRow<T>(schema: z.ZodType<T>, table: string, row: unknown): T {
  const r = schema.safeParse(row);
  if (!r.success) throw rowError(table, row, r.error);
  return r.data;
}

function toInstance(row: z.infer<typeof instanceRow>): Instance {
  return {
    id: row.id, pool: row.pool, state: row.state, sinceMs: row.since_ms, reason: row.reason, created: row.created !== 0,
    ...(row.last_start_ms === null ? {} : { lastStartMs: row.last_start_ms }),
    ...(row.ready_ms === null ? {} : { readyMs: row.ready_ms }),
    ...(row.deploy_jid === null ? {} : { deployJid: row.deploy_jid }),
  };
}

function toIntent(row: z.infer<typeof intentRow>): Intent {
  return {
    id: row.id, kind: row.kind, instance: row.instance, pool: row.pool, createdMs: row.created_ms, status: row.status,
    ...(row.detail === null ? {} : { detail: row.detail }),
  };
}

function toDecision(row: z.infer<typeof decisionRow>): Decision {
  let targets: unknown;
  try {
    targets = JSON.parse(row.targets);
  } catch (err) {
    throw new AutoscalerError('ASC_ERR_STORE_OPEN', `state database row in decisions has targets that are not JSON: ${(err as Error).message}`, { cause: err });
  }
  switch (row.kind) {
    case 'hold':
      return { kind: 'hold', reason: row.reason };
    case 'scaleUp':
      return { kind: 'scaleUp', count: row.count, targets: parseRow(z.array(startTarget), 'decisions', targets), reason: row.reason };
    case 'scaleDown':
      return { kind: 'scaleDown', count: row.count, targets: parseRow(z.array(z.string()), 'decisions', targets), reason: row.reason };
    default:
      return row.kind satisfies never;
  }
}

/** openFailure wraps whatever SQLite said about an unreadable file into ASC_ERR_STORE_OPEN, saying nothing was reset. */
function openFailure(path: string, err: unknown): AutoscalerError {
  if (err instanceof AutoscalerError) return err;
  const code = typeof err === 'object' && err !== null && 'code' in err ? ` (${String(err.code)})` : '';
  return new AutoscalerError('ASC_ERR_STORE_OPEN',
    `cannot open the state database ${path}: ${(err as Error).message}${code}; the file was left untouched: restore a backup or move it away to start with an empty state`,
    { cause: err });
}

/** PROBE_KEY is the pool_state key of the write probe: no pool is named '' (and the row never outlives its transaction). */
const PROBE_KEY = '';
/** PROBE_PAD: the probe's value is larger than a page, so it needs new pages as an intent on a full file would. */
const PROBE_PAD = 'p'.repeat(8192);

/**
 * PAGE_CACHE_SIZE is the SQLite `cache_size` of every connection the store opens: -2048 = 2 MiB of page cache,
 * SQLite's own default. better-sqlite3 builds SQLite with 16 MB (`SQLITE_DEFAULT_CACHE_SIZE=-16000`), and a month-old
 * store (0.7 GB) fills all of it: the open's `quick_check` reads every page, and the cache stays full for the life of
 * the connection (~12 MiB of the month-old `serve`'s RSS, docs/benchmarks.md, memory). The writes of a turn touch a
 * few pages per pool (the instance row, the tail of the transitions and decisions indexes); the pages a smaller cache
 * drops are read back, from the operating system's file cache while it holds them: a turn's writes on a month-old
 * store measured ~10 % slower (~0.13 ms a pool), its open 2-3 s faster.
 */
const PAGE_CACHE_SIZE = -2048;

/** FileId is what names one file on one filesystem. */
interface FileId { readonly dev: bigint; readonly ino: bigint }

function fileId(path: string): FileId | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return { dev: st.dev, ino: st.ino };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** SqliteStore is the StateStore on one SQLite file; build it with openStore(). Not safe to share across processes that both write. */
export class SqliteStore implements StateStore {
  readonly path: string;
  readonly #db: Database;
  readonly #log: Logger;
  readonly #nowMs: () => number;
  readonly #decisionsPerPool: number;
  readonly #transitionsPerInstance: number;
  readonly #stmt: {
    readonly upsertInstance: Statement;
    readonly insertTransition: Statement;
    readonly pruneTransitions: Statement;
    readonly allInstances: Statement;
    readonly history: Statement;
    readonly insertIntent: Statement;
    readonly finishIntent: Statement;
    readonly openIntentsFrom: Statement;
    readonly lastIntentId: Statement;
    readonly insertDecision: Statement;
    readonly pruneDecisions: Statement;
    readonly decisions: Statement;
    readonly decisionsOfPool: Statement;
    readonly poolState: Statement;
    readonly setPoolState: Statement;
  };
  /** #tx: BEGIN, COMMIT and ROLLBACK of a group commit, prepared once (exec parses its SQL on every call). */
  readonly #tx: { readonly begin: Statement; readonly commit: Statement; readonly rollback: Statement };
  /** #atomically runs a function in a transaction; built once (better-sqlite3 builds four wrappers per `transaction()`). */
  readonly #atomically: (fn: () => unknown) => unknown;
  readonly #saveMany: (entries: readonly InstanceSave[]) => void;
  readonly #recordDecision: (pool: string, atMs: number, kind: string, count: number, targets: string, reason: string, dryRun: number) => void;
  readonly #transitionsSinceOpen = new Map<string, number>();
  readonly #decisionsSinceOpen = new Map<string, number>();
  /**
   * #openFloor: no open intent has a smaller id, now or later (an intent's id is the largest id + 1, and an intent never
   * opens again once finished), so openIntents() reads the ids from it on instead of the whole table: the table holds
   * every intent finished since the store opened, and has no index on `status` (schema 4: an intent is one page).
   */
  #openFloor = 0;
  /** #atomicDepth: > 0 while an `atomically` block runs (its writes need no SAVEPOINT of their own). */
  #atomicDepth = 0;
  /** #file: the device and inode of the file opened (undefined in memory). */
  readonly #file: FileId | undefined;
  #closed = false;

  /** constructor takes an open, migrated database; use openStore(). */
  constructor(db: Database, path: string, opts: StoreOptions) {
    this.#db = db;
    this.path = path;
    this.#log = opts.logger;
    this.#nowMs = opts.nowMs ?? (() => Date.now());
    this.#decisionsPerPool = opts.decisionsPerPool ?? 1000;
    this.#transitionsPerInstance = opts.transitionsPerInstance ?? 500;
    this.#file = path === ':memory:' ? undefined : fileId(path);
    this.#stmt = {
      upsertInstance: db.prepare(`INSERT INTO instances (id, pool, state, since_ms, reason, last_start_ms, ready_ms, deploy_jid, created)
        VALUES (@id, @pool, @state, @since_ms, @reason, @last_start_ms, @ready_ms, @deploy_jid, @created)
        ON CONFLICT (id) DO UPDATE SET pool = excluded.pool, state = excluded.state, since_ms = excluded.since_ms, reason = excluded.reason,
          last_start_ms = excluded.last_start_ms, ready_ms = excluded.ready_ms, deploy_jid = excluded.deploy_jid, created = excluded.created`),
      insertTransition: db.prepare('INSERT INTO transitions (instance, from_state, to_state, at_ms, reason) VALUES (?, ?, ?, ?, ?)'),
      pruneTransitions: db.prepare(`DELETE FROM transitions WHERE instance = ? AND seq <=
        (SELECT seq FROM transitions WHERE instance = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`),
      allInstances: db.prepare('SELECT * FROM instances ORDER BY pool, id'),
      history: db.prepare('SELECT from_state, to_state, at_ms, reason FROM transitions WHERE instance = ? ORDER BY seq DESC LIMIT ?'),
      insertIntent: db.prepare(`INSERT INTO intents (kind, instance, pool, created_ms, status) VALUES (?, ?, ?, ?, 'open')`),
      finishIntent: db.prepare('UPDATE intents SET status = ?, detail = ?, finished_ms = ? WHERE id = ?'),
      openIntentsFrom: db.prepare(`SELECT id, kind, instance, pool, created_ms, status, detail FROM intents WHERE id >= ? AND status = 'open' ORDER BY id`),
      lastIntentId: db.prepare('SELECT max(id) FROM intents').pluck(),
      insertDecision: db.prepare('INSERT INTO decisions (pool, at_ms, kind, count, targets, reason, dry_run) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      pruneDecisions: db.prepare(`DELETE FROM decisions WHERE pool = ? AND id <=
        (SELECT id FROM decisions WHERE pool = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`),
      decisions: db.prepare('SELECT pool, at_ms, kind, count, targets, reason, dry_run FROM decisions ORDER BY id DESC LIMIT ?'),
      decisionsOfPool: db.prepare('SELECT pool, at_ms, kind, count, targets, reason, dry_run FROM decisions WHERE pool = ? ORDER BY id DESC LIMIT ?'),
      poolState: db.prepare('SELECT value FROM pool_state WHERE pool = ?'),
      setPoolState: db.prepare('INSERT INTO pool_state (pool, value) VALUES (?, ?) ON CONFLICT (pool) DO UPDATE SET value = excluded.value'),
    };
    this.#tx = { begin: db.prepare('BEGIN'), commit: db.prepare('COMMIT'), rollback: db.prepare('ROLLBACK') };
    this.#atomically = db.transaction((fn: () => unknown) => fn());
    this.#saveMany = db.transaction((entries: readonly InstanceSave[]) => {
      for (const e of entries) this.#save(e.instance, e.transition);
    });
    this.#recordDecision = db.transaction(this.#insertDecision);
  }

  readonly #insertDecision = (pool: string, atMs: number, kind: string, count: number, targets: string, reason: string, dryRun: number): void => {
    this.#stmt.insertDecision.run(pool, atMs, kind, count, targets, reason, dryRun);
    // prune on the pool's 1st, 33rd, 65th... decision since open: the prune walks `decisionsPerPool` index entries,
    // several times the insert's cost when every evaluation of 1,000 pools records one
    const n = this.#decisionsSinceOpen.get(pool) ?? 0;
    this.#decisionsSinceOpen.set(pool, n + 1);
    if (n % 32 === 0) this.#stmt.pruneDecisions.run(pool, pool, this.#decisionsPerPool);
  };

  #save(instance: Instance, transition: Transition | undefined): void {
    this.#stmt.upsertInstance.run({
      id: instance.id, pool: instance.pool, state: instance.state, since_ms: instance.sinceMs, reason: instance.reason,
      last_start_ms: instance.lastStartMs ?? null, ready_ms: instance.readyMs ?? null, deploy_jid: instance.deployJid ?? null,
      created: instance.created ? 1 : 0,
    });
    if (transition !== undefined) {
      this.#stmt.insertTransition.run(instance.id, transition.from, transition.to, transition.atMs, transition.reason);
      // prune the instance's history on its 32nd, 64th... transition since open, not on every write (nor on the first:
      // a scale-up moves instances that are each at their first transition since open, and a restart left at most 31 over)
      const n = (this.#transitionsSinceOpen.get(instance.id) ?? 0) + 1;
      this.#transitionsSinceOpen.set(instance.id, n);
      if (n % 32 === 0) this.#stmt.pruneTransitions.run(instance.id, instance.id, this.#transitionsPerInstance);
    }
  }

  /** forgetInstance removes an instance and its transitions (intents and decisions stay: they are the record). */
  forgetInstance(id: string): void {
    this.#db.transaction(() => {
      this.#db.prepare('DELETE FROM transitions WHERE instance = ?').run(id);
      this.#db.prepare('DELETE FROM instances WHERE id = ?').run(id);
    })();
    this.#transitionsSinceOpen.delete(id);
  }

  /**
   * atomically runs fn in one transaction: one fsync for all of its writes (inside a group commit, a SAVEPOINT: a
   * throw rolls back fn's writes, not the turn's). The writes of fn, nested `atomically` blocks included, join it
   * without a SAVEPOINT of their own: what one of them wrote before it threw stays in the block.
   */
  atomically<T>(fn: () => T): T {
    if (this.#atomicDepth > 0) return fn();
    this.#atomicDepth += 1;
    try {
      return this.#atomically(fn) as T;
    } finally {
      this.#atomicDepth -= 1;
    }
  }

  /** begin opens the transaction of a group commit (deferred, as `atomically`); it throws when one is open. */
  begin(): void {
    if (this.#db.inTransaction) throw new AutoscalerError('ASC_ERR_STORE_WRITE', 'a group commit was begun inside an open transaction');
    this.#tx.begin.run();
  }

  /** commit ends the group commit's transaction (one fsync); a failed COMMIT is rolled back and rethrown. */
  commit(): void {
    try {
      this.#tx.commit.run();
    } catch (err) {
      this.rollback();
      throw err;
    }
  }

  /** rollback drops the writes since begin() (a no-op without an open transaction). For fault drills and tests. */
  rollback(): void {
    if (this.#db.inTransaction) this.#tx.rollback.run();
  }

  /**
   * tryLease takes or renews the single-writer lease in one IMMEDIATE transaction (the write lock first, so two
   * processes never both see the lease free) and returns the holder afterwards.
   */
  tryLease(owner: string, nowMs: number, ttlMs: number, takeOver?: (holder: LeaseHolder) => boolean): LeaseHolder {
    const run = this.#db.transaction((): LeaseHolder => {
      const row: unknown = this.#db.prepare(`SELECT owner, acquired_ms, expires_ms FROM lease WHERE name = 'writer'`).get();
      const held = row === undefined ? undefined : parseRow(leaseRow, 'lease', row);
      const holder = held === undefined ? undefined : { owner: held.owner, acquiredMs: held.acquired_ms, expiresMs: held.expires_ms };
      const mine = holder?.owner === owner;
      if (holder !== undefined && !mine && holder.expiresMs > nowMs && takeOver?.(holder) !== true) return holder;
      const acquiredMs = mine ? holder.acquiredMs : nowMs;
      this.#db.prepare(`INSERT INTO lease (name, owner, acquired_ms, expires_ms) VALUES ('writer', ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, acquired_ms = excluded.acquired_ms, expires_ms = excluded.expires_ms`)
        .run(owner, acquiredMs, nowMs + ttlMs);
      return { owner, acquiredMs, expiresMs: nowMs + ttlMs };
    });
    return run.immediate();
  }

  /** releaseLease deletes the lease row when `owner` holds it. */
  releaseLease(owner: string): void {
    this.#db.prepare(`DELETE FROM lease WHERE name = 'writer' AND owner = ?`).run(owner);
  }

  /**
   * loadInstances returns every stored instance (ordered by pool, id); an invalid row is ASC_ERR_STORE_OPEN. Each row
   * reads its pool, state and reason as new strings: the instances share one string per distinct value instead (a
   * month-old store's 10,000 instances: a thousand pools, a few states and reasons; ~0.9 MiB of heap as copies).
   */
  loadInstances(): readonly Instance[] {
    const shared = new Map<string, string>();
    const one = <T extends string>(value: T): T => {
      const kept = shared.get(value) as T | undefined;
      if (kept !== undefined) return kept;
      shared.set(value, value);
      return value;
    };
    return this.#stmt.allInstances.all().map((row) => {
      const r = parseRow(instanceRow, 'instances', row);
      return toInstance({ ...r, pool: one(r.pool), state: one(r.state), reason: one(r.reason) });
    });
  }

  /** saveInstance upserts the instance and appends the transition, in one transaction. */
  saveInstance(instance: Instance, transition?: Transition): void {
    if (this.#atomicDepth > 0) this.#save(instance, transition); // joins the block (no SAVEPOINT)
    else this.#saveMany(transition === undefined ? [{ instance }] : [{ instance, transition }]);
  }

  /** saveInstances upserts many instances (e.g. the results of a reconcile pass) in one transaction: one fsync for all. */
  saveInstances(entries: readonly InstanceSave[]): void {
    if (entries.length > 0) this.#saveMany(entries);
  }

  /** history returns the newest `limit` transitions of an instance, oldest first. */
  history(id: string, limit = 100): readonly Transition[] {
    return this.#stmt.history.all(id, limit).map((row) => {
      const r = parseRow(transitionRow, 'transitions', row);
      return { from: r.from_state, to: r.to_state, atMs: r.at_ms, reason: r.reason };
    }).reverse();
  }

  /**
   * openIntent writes an open intent and returns once it is durable (fsynced); the intent returned is the row
   * written (its values and the id SQLite gave it), not read back.
   */
  openIntent(kind: IntentKind, instance: string, pool: string, nowMs: number): Intent {
    const { lastInsertRowid } = this.#stmt.insertIntent.run(kind, instance, pool, nowMs);
    return { id: Number(lastInsertRowid), kind, instance, pool, createdMs: nowMs, status: 'open' };
  }

  /** finishIntent marks an intent done or failed (with a detail); an unknown id is logged, not thrown. */
  finishIntent(id: number, status: 'done' | 'failed', detail?: string): void {
    const r = this.#stmt.finishIntent.run(status, detail ?? null, this.#nowMs(), id);
    if (r.changes === 0) this.#log.warn({ intent: id, status }, 'finishIntent: no such intent');
  }

  /**
   * openIntents lists the intents never marked done or failed (a crash between write and finish, or a call still
   * running), oldest first. It reads from #openFloor on, and raises the floor to the oldest one open, or past the
   * newest intent when none is (that id read first: an intent committed after it, by any connection, has a larger id).
   * Inside a transaction the floor stays: what it wrote may yet be rolled back, and its ids given again.
   */
  openIntents(): readonly Intent[] {
    const last: unknown = this.#stmt.lastIntentId.get();
    const open = this.#stmt.openIntentsFrom.all(this.#openFloor).map((row) => toIntent(parseRow(intentRow, 'intents', row)));
    if (!this.#db.inTransaction) this.#openFloor = open[0]?.id ?? (typeof last === 'number' ? last + 1 : this.#openFloor);
    return open;
  }

  /** recordDecision keeps a decision and, every 32nd of the pool, drops the pool's oldest beyond `decisionsPerPool`. */
  recordDecision(record: DecisionRecord): void {
    const d = record.decision;
    const count = d.kind === 'hold' ? 0 : d.count;
    const targets = d.kind === 'hold' ? [] : d.targets;
    const args = [record.pool, record.atMs, d.kind, count, JSON.stringify(targets), d.reason, record.dryRun ? 1 : 0] as const;
    if (this.#atomicDepth > 0) this.#insertDecision(...args); // joins the block (no SAVEPOINT)
    else this.#recordDecision(...args);
  }

  /** decisions returns the newest decisions first, of one pool or of all (default limit 100). */
  decisions(pool?: string, limit = 100): readonly DecisionRecord[] {
    const rows = pool === undefined ? this.#stmt.decisions.all(limit) : this.#stmt.decisionsOfPool.all(pool, Math.min(limit, this.#decisionsPerPool));
    return rows.map((row) => {
      const r = parseRow(decisionRow, 'decisions', row);
      return { pool: r.pool, atMs: r.at_ms, decision: toDecision(r), dryRun: r.dry_run !== 0 };
    });
  }

  /** poolState reads the pool's JSON runtime values, or undefined when none were saved. */
  poolState(pool: string): Readonly<Record<string, unknown>> | undefined {
    const row: unknown = this.#stmt.poolState.get(pool);
    if (row === undefined) return undefined;
    const { value } = parseRow(z.object({ value: z.string() }), 'pool_state', row);
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (err) {
      throw new AutoscalerError('ASC_ERR_STORE_OPEN', `state database pool_state of ${pool} is not JSON: ${(err as Error).message}`, { cause: err });
    }
    return parseRow(poolStateValue, 'pool_state', parsed);
  }

  /** setPoolState replaces the pool's JSON runtime values. */
  setPoolState(pool: string, value: Readonly<Record<string, unknown>>): void {
    this.#stmt.setPoolState.run(pool, JSON.stringify(value));
  }

  /** probeWrite writes and removes a row larger than a page in one durable transaction; it throws what SQLite says when it cannot. */
  probeWrite(nowMs: number): void {
    this.#db.transaction(() => {
      this.#stmt.setPoolState.run(PROBE_KEY, JSON.stringify({ probeAtMs: nowMs, pad: PROBE_PAD }));
      this.#db.prepare('DELETE FROM pool_state WHERE pool = ?').run(PROBE_KEY);
    })();
  }

  /** fileStatus stats the path and compares its device and inode with those of the file opened. */
  fileStatus(): StoreFileStatus {
    if (this.#file === undefined) return 'same';
    const now = fileId(this.path);
    if (now === undefined) return 'missing';
    return now.dev === this.#file.dev && now.ino === this.#file.ino ? 'same' : 'replaced';
  }

  /**
   * watchFile watches (inotify, through fs.watch) the file's directory and each of its ancestors for a rename, deletion
   * or creation of the next name on the path, and calls `onChange` for each: whatever moves the file, or a directory
   * that holds it, away or replaces it is such an event, read in the next poll phase of the event loop. What inotify
   * does not see (a mount over a directory, a change made by another host on a network filesystem, an ancestor of a
   * symlink's target) is left to the caller's periodic fileStatus(). Undefined in memory, or when a watch cannot be set
   * (e.g. the inotify watches are used up): the caller then stats the path itself. A watch that fails later closes
   * them all and calls `onBroken`.
   */
  watchFile(onChange: () => void, onBroken: () => void): FileWatch | undefined {
    if (this.#file === undefined) return undefined;
    const watchers: FSWatcher[] = [];
    const close = (): void => { for (const w of watchers.splice(0)) w.close(); };
    try {
      let child = resolve(this.path);
      for (let parent = dirname(child); ; child = parent, parent = dirname(parent)) {
        const name = basename(child);
        // 'rename' is inotify's create, delete and move of an entry ('change', a write to it, moves nothing)
        const w = watch(parent, { persistent: false }, (event, filename) => { if (event === 'rename' && (filename === null || filename === name)) onChange(); });
        w.on('error', () => { close(); onBroken(); }); // (node closes a watcher on its error: the path is no longer watched)
        watchers.push(w);
        if (dirname(parent) === parent) break;
      }
    } catch {
      close();
      return undefined;
    }
    return { close };
  }

  /**
   * integrityCheck runs `PRAGMA quick_check` on a fresh read-only connection: this connection's page cache could
   * hide what was written into the file behind its back, a fresh one reads what a restart would.
   */
  integrityCheck(): string {
    if (this.#file === undefined) return String(this.#db.pragma('quick_check', { simple: true }));
    let db: Database | undefined;
    try {
      db = new BetterSqlite3(this.path, { readonly: true, fileMustExist: true });
      db.pragma(`cache_size = ${PAGE_CACHE_SIZE}`); // a walk over every page: a big cache would only be filled, then freed
      const rows = db.pragma('quick_check') as { quick_check?: unknown }[];
      const problems = rows.map((r) => String(r.quick_check));
      return problems.length === 1 && problems[0] === 'ok' ? 'ok' : problems.slice(0, 5).join('; ');
    } catch (err) {
      // a busy file is no verdict (the next check decides); anything else that stops a read of the file is one
      const code = (err as { code?: unknown }).code;
      return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' ? 'ok' : (err as Error).message;
    } finally {
      db?.close();
    }
  }

  /**
   * capPages caps the database at its current size (SQLite `max_page_count` on this connection), or lifts the cap
   * (`false`): a write that needs a new page then fails with SQLITE_FULL, as on a full disk. For fault drills and tests.
   */
  capPages(on: boolean): void {
    this.#db.pragma(`max_page_count = ${on ? 1 : 4294967294}`);
  }

  /** close checkpoints and closes the database; closing twice is a no-op. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

/**
 * openStore opens (creating the file and its parent directories when missing) and migrates the state database.
 * Throws ASC_ERR_STORE_OPEN for an unreadable, corrupt or foreign file and ASC_ERR_STORE_MIGRATE for a newer schema.
 */
export function openStore(path: string, opts: StoreOptions): SqliteStore {
  const log = opts.logger.child({ component: 'store' });
  let db: Database | undefined;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new BetterSqlite3(path);
    db.pragma('busy_timeout = 5000');
    db.pragma(`cache_size = ${PAGE_CACHE_SIZE}`);
    const check: unknown = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
    schemaVersion(db, path); // refuses a foreign database before anything is written to it
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const { from, to } = migrate(db, path);
    if (from !== to) log.info({ path, from, to }, 'state database migrated');
    const keep = opts.finishedIntentsKept ?? 10_000;
    // (never the newest intent: a new intent's id is the largest + 1, so keeping it keeps every id given once)
    db.prepare(`DELETE FROM intents WHERE status != 'open' AND id < (SELECT max(id) FROM intents)
      AND id <= (SELECT id FROM intents WHERE status != 'open' ORDER BY id DESC LIMIT 1 OFFSET ?)`).run(keep);
    return new SqliteStore(db, path, { ...opts, logger: log });
  } catch (err) {
    db?.close();
    throw openFailure(path, err);
  }
}
