/**
 * ports: every interface the engine needs from the outside world, in one place. Adapters implement them and may
 * import this file (types only) and core/, nothing else of the engine; main.ts (the composition root) wires them;
 * the engine's port-level tests pass fakes.
 *
 * ```
 *   look                         decide (core/)            act                          remember / coordinate
 *   EventSource  (salt-api bus)  decide, poolWish,         CloudTarget (start, create,  StateStore (instances, intents,
 *   WorkloadSource (PromQL)      bookkeeping               stop, destroy, list)         decisions, pool state)
 *   alertSignal (Alertmanager)                             MinionOps (idle check,       Leadership (may I act now,
 *                                                          grains, presence, events)    acquire, keep, release, lost)
 *   Clock (now and timers) · EngineLogger · EngineObserver (metrics) are used by every role.
 * ```
 * A new cloud (libvirt), workload source (Datadog) or leadership (etcd) is one adapter implementing one port here.
 */
import type { SaltEventKind, StreamItem } from '../core/salt-event.ts';
import type { AlertSignal, Decision, DecisionRecord, IdleResult, Instance, PoolView, Transition, Workload } from '../core/types.ts';

export type { AlertSignal, DecisionRecord, IdleResult };

// ---------------------------------------------------------------- act: the cloud target

/** CloudInstance is the cloud's view of one VM (salt-cloud `cloud.query`). */
export interface CloudInstance {
  readonly id: string;
  /** state as the cloud reports it, lower-cased: `running`, `stopped`, `pending`, … */
  readonly state: string;
  readonly provider: string;
}

/** CloudTarget is where instances come from and go to (salt-cloud through salt-api today). Every method rejects with an AutoscalerError. */
export interface CloudTarget {
  /**
   * start starts a stopped instance (`cloud.action func=start instances=[id, …]`: a list, never a string: Salt 3006
   * splits strings; the salt-api adapter sends a start at once when none is in flight, and the starts asked while
   * one is in flight together in one call at the end of the turn, each settled on its own).
   */
  start(id: string): Promise<void>;
  /**
   * create creates a new instance from a profile (`cloud.profile prof=<profile> instances=[id]`), waiting up to
   * `waitMs` for it (the pool's provisionTimeout: salt-cloud answers once the VM is up and bootstrapped).
   */
  create(id: string, profile: string, waitMs?: number): Promise<void>;
  /** stop stops a running instance (`cloud.action func=stop instances=[id]`). */
  stop(id: string): Promise<void>;
  /** destroy removes an instance (`cloud.destroy instances=[id]`). */
  destroy(id: string): Promise<void>;
  /** cloudInstances lists the instances of all providers, or of the given ones. */
  cloudInstances(providers?: readonly string[]): Promise<readonly CloudInstance[]>;
}

// ---------------------------------------------------------------- act and look: the minions

/** ReadyGrain is the `salt_autoscaler` grain the deploy orchestrate sets (`deployedAtMs` from `deployed_at` seconds). */
export interface ReadyGrain {
  readonly ready: boolean;
  readonly deployedAtMs?: number;
  readonly draining: boolean;
}

/** MinionOps is what the engine asks of the running minions (the Salt master through salt-api today). Every method rejects with an AutoscalerError. */
export interface MinionOps {
  /** idleCheck runs the pool's idle check function on the minion; retcode 0 = idle, absent minion = unreachable. */
  idleCheck(id: string, fun: string, args: readonly unknown[]): Promise<IdleResult>;
  /** readyGrains reads `salt_autoscaler` on the listed minions; a missing minion or grain is absent from the map. */
  readyGrains(ids: readonly string[]): Promise<ReadonlyMap<string, ReadyGrain>>;
  /** minionsUp says which of these minions answer (all of the master's when omitted). */
  minionsUp(ids?: readonly string[]): Promise<readonly string[]>;
  /** setDraining sets (true) or clears (false) `salt_autoscaler:draining` on the minion. */
  setDraining(id: string, draining: boolean): Promise<void>;
  /** fireEvent puts one event on the master's bus. */
  fireEvent(tag: string, data: Readonly<Record<string, unknown>>): Promise<void>;
}

/** SaltActions is the salt-api adapter's whole surface: the cloud target and the minion operations of one master. */
export interface SaltActions extends CloudTarget, MinionOps {}

// ---------------------------------------------------------------- look: signals in

/**
 * EventInterest says whether the engine reads an event, from what is known before its body is parsed: its kind and
 * the minion it is about: the one its tag names, '' when it names none (job-new, heartbeat, other, a run event that
 * is no orchestrate), undefined when only the body says (auth, key, an orchestrate's run event). Asked as each frame arrives.
 */
export type EventInterest = (kind: SaltEventKind, minion: string | undefined) => boolean;

/** EventSource is the event stream (salt-api SSE or websocket), already typed. */
export interface EventSource {
  /** items yields typed events and gap signals until close(); it never throws for a malformed frame. */
  items(): AsyncIterable<StreamItem>;
  /**
   * setInterest (optional) lets a source skip, without parsing their bodies, the events the engine does not read;
   * it counts them (never drops them silently). A source without it yields every event.
   */
  setInterest?(interest: EventInterest): void;
  /** connected is true while a stream is open and its last heartbeat came back in time. */
  readonly connected: boolean;
  /**
   * pauseReads (optional) stops reading the stream for `ms` from now, or extends the pause going on; false when refused.
   * The source bounds it (a pause ends at the latest at its own cap, a new one only after reading as long as the last
   * one lasted), loses and reorders nothing, and does not count the paused time against its heartbeat.
   */
  pauseReads?(ms: number): boolean;
  close(): Promise<void>;
}

/** WorkloadSource is an optional pull signal (PromQL) for a pool: undefined = no value now. */
export type WorkloadSource = (pool: string) => Promise<Workload | undefined>;

// ---------------------------------------------------------------- remember: the store

/** IntentKind is an action written before it is sent. */
export type IntentKind = 'start' | 'create' | 'stop' | 'destroy' | 'drain' | 'undrain';

/** Intent is one action written to the store before the call, marked done or failed after. */
export interface Intent {
  readonly id: number;
  readonly kind: IntentKind;
  readonly instance: string;
  readonly pool: string;
  readonly createdMs: number;
  readonly status: 'open' | 'done' | 'failed';
  readonly detail?: string;
}

/** StoreFileStatus: the path still names the open file (`same`), names nothing (`missing`) or another file (`replaced`). */
export type StoreFileStatus = 'same' | 'missing' | 'replaced';

/** FileWatch is a running watch of the store's path (StateStore.watchFile); close() ends it. */
export interface FileWatch {
  close(): void;
}

/** LeaseHolder is who holds the single-writer lease on the state file, since and until when. */
export interface LeaseHolder {
  readonly owner: string;
  readonly acquiredMs: number;
  readonly expiresMs: number;
}

/** StateStore is the crash-safe state (SQLite in production). All writes are synchronous and durable on return. */
export interface StateStore {
  loadInstances(): readonly Instance[];
  /** saveInstance upserts the instance and appends the transition to its history when given. */
  saveInstance(instance: Instance, transition?: Transition): void;
  history(id: string, limit?: number): readonly Transition[];
  /** forgetInstance removes an instance and its history (a created instance that was destroyed). */
  forgetInstance(id: string): void;
  openIntent(kind: IntentKind, instance: string, pool: string, nowMs: number): Intent;
  finishIntent(id: number, status: 'done' | 'failed', detail?: string): void;
  openIntents(): readonly Intent[];
  recordDecision(record: DecisionRecord): void;
  decisions(pool?: string, limit?: number): readonly DecisionRecord[];
  /** poolState / setPoolState keep small per-pool runtime values (paused, cooldown stamps) as JSON. */
  poolState(pool: string): Readonly<Record<string, unknown>> | undefined;
  setPoolState(pool: string, value: Readonly<Record<string, unknown>>): void;
  /**
   * atomically runs `fn` in one transaction: every write inside it becomes durable together, with one fsync. The engine
   * writes a decision, its instances' transitions and their intents this way before it calls salt-api.
   */
  atomically<T>(fn: () => T): T;
  /**
   * begin opens a transaction that every write joins until `commit()` (an `atomically` block inside it becomes a
   * savepoint): the engine's group commit of one turn. It throws when a transaction is already open.
   */
  begin(): void;
  /** commit makes the writes since `begin()` durable together (one fsync); when it throws, they are rolled back. */
  commit(): void;
  /**
   * tryLease takes the single-writer lease for `owner` until nowMs + ttlMs when it is free, expired or already
   * `owner`'s, or when `takeOver(holder)` says the holder is gone; it returns the holder after the attempt.
   */
  tryLease(owner: string, nowMs: number, ttlMs: number, takeOver?: (holder: LeaseHolder) => boolean): LeaseHolder;
  /** releaseLease gives the lease up if `owner` holds it (a clean stop, so a standby takes over at once). */
  releaseLease(owner: string): void;
  /**
   * probeWrite makes one small durable write that needs new space (written and removed in one transaction) and
   * throws when it fails: after a failed write (a full disk), it says whether the store can write again.
   */
  probeWrite(nowMs: number): void;
  /** fileStatus compares the file at the store's path with the file it has open: gone, or another file, means another process may act on it. */
  fileStatus(): StoreFileStatus;
  /**
   * watchFile calls `onChange` (from the event loop's poll phase) when the path may name another file than the one
   * open: an entry on the path was renamed, deleted or created; `onBroken` once when the watch stopped by itself (an
   * error of the watch). Undefined when the store cannot watch its path; the caller then asks fileStatus() itself.
   */
  watchFile?(onChange: () => void, onBroken: () => void): FileWatch | undefined;
  /** integrityCheck runs `PRAGMA quick_check` on the file as a fresh open would read it: 'ok', or what is wrong. */
  integrityCheck(): string;
  close(): void;
}

/** NewIntent is an intent to open in the replica (`nowMs` is the engine's clock). */
export interface NewIntent {
  readonly kind: IntentKind;
  readonly instance: string;
  readonly pool: string;
  readonly nowMs: number;
}

/** ReplicaBatch is any mix of writes the replica makes in one fenced step. */
export interface ReplicaBatch {
  readonly open?: readonly NewIntent[];
  /** finish: replica ids of intents that are done or failed (a new leader no longer needs them). */
  readonly finish?: readonly number[];
  /** pools: a pool's new runtime state (as StateStore.setPoolState keeps it). */
  readonly pools?: Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>;
}

/** ReplicaSnapshot is what a new leader reads: the open intents (replica ids) and every pool's runtime state. */
export interface ReplicaSnapshot {
  readonly intents: readonly Intent[];
  readonly pools: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
}

/**
 * StateReplica is where the state a new leader on another host needs is kept when several processes share a fleet
 * (etcd when `ha` is on): open intents and pool runtime state. Every write is fenced by the leadership, so a
 * deposed leader's write fails; an intent reaches the replica before its call is sent.
 */
export interface StateReplica {
  /** commit makes the writes in one fenced step and returns the opened intents with their replica ids, in order; it rejects when this process does not lead. */
  commit(batch: ReplicaBatch): Promise<readonly Intent[]>;
  load(): Promise<ReplicaSnapshot>;
}

// ---------------------------------------------------------------- coordinate: leadership

/** LeaderView is who leads, as `GET /api/leader` shows it (processes named `host:pid…`). */
export interface LeaderView {
  readonly leader?: string;
  readonly self: string;
  readonly isLeader: boolean;
  readonly sinceMs?: number;
  readonly leaseRemainingMs?: number;
}

/** FencedWrite is one key written (`value`) or deleted (no `value`) under the leadership fence. */
export interface FencedWrite {
  readonly key: string;
  readonly value?: string;
}

/**
 * Leadership decides which process acts: the SQLite lease on one host (store/sqlite-lease.ts), an etcd election
 * across hosts. Only the leader evaluates and sends; mayAct() is checked before an intent is opened and again
 * before each call.
 */
export interface Leadership {
  /** self names this process as leaders are named. */
  readonly self: string;
  /** acquire waits until this process leads (true) or `signal` aborts (false). */
  acquire(signal?: AbortSignal): Promise<boolean>;
  /** keep renews leadership in the background until release(); a loss calls the onLost listeners once. */
  keep(): void;
  /** mayAct: this process leads now, by its own clock (its lease is unexpired). */
  mayAct(): boolean;
  /** release gives leadership up (a clean stop), so another process takes over at once. */
  release(): void | Promise<void>;
  /** onLost registers what to do when another process took over. */
  onLost(listener: (why: string) => void): void;
  view(): LeaderView;
  /**
   * fence writes `writes` only while this process still leads, in one step with that check (on etcd: one transaction
   * that compares this process's own election key); false = not the leader, nothing written, and the action it
   * guards is not sent. The SQLite lease, whose intents live in the same file as the lease, answers mayAct().
   */
  fence(writes: readonly FencedWrite[]): Promise<boolean>;
}

/** ActGate is the slice of Leadership the engine checks: "may I act now". */
export type ActGate = Pick<Leadership, 'mayAct'>;

// ---------------------------------------------------------------- time, logs, metrics

/** Timer is a scheduled callback that can be cancelled. */
export interface Timer {
  cancel(): void;
}

/**
 * Clock is the engine's only source of time: now, and timers. The system clock (engine/system-clock.ts) is the
 * runtime's; the engine's port-level tests drive a fake one.
 */
export interface Clock {
  now(): number;
  /** after runs fn once in ms (never keeping the process alive on its own). */
  after?(ms: number, fn: () => void): Timer;
  /** every runs fn every ms until cancelled. */
  every?(ms: number, fn: () => void): Timer;
  /** yieldTurn resolves after the events already queued have run (the coalescing point of an evaluation). */
  yieldTurn?(): Promise<void>;
}

/** EngineLogger is the subset of pino the engine uses. */
export interface EngineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): EngineLogger;
  /** isLevelEnabled (pino's): a line of a level that does not log is not built (the per-instance lines of a reconcile). */
  isLevelEnabled?(level: string): boolean;
}

/** StoreFault is what went wrong with the store: a failed write, a file deleted or replaced, a failed integrity check. */
export type StoreFault = 'write' | 'replaced' | 'corrupt';

/** EngineObserver receives what the engine does, for metrics (prom-client lives outside the engine). */
export interface EngineObserver {
  event(kind: string, lagMs: number | undefined): void;
  ignored(reason: string): void;
  decision(pool: string, outcome: Decision['kind']): void;
  action(action: IntentKind, result: 'ok' | 'error' | 'dry_run'): void;
  instanceFailed(pool: string): void;
  /** startToReady: an instance of the pool became ready `ms` after its start (or create) was issued. */
  startToReady?(pool: string, ms: number): void;
  correction(pool: string): void;
  reconcile(result: 'ok' | 'error'): void;
  openIntents(n: number): void;
  /** storeWritable: the store became unwritable or lost (false) or writable again (true); said once at start (true). */
  storeWritable?(writable: boolean): void;
  storeFault?(fault: StoreFault): void;
}

// ---------------------------------------------------------------- the engine's own inbound port

/** EngineApi is what the HTTP layer (API, status page, webhook) asks of the running engine. */
export interface EngineApi {
  pools(): readonly PoolView[];
  instances(): readonly Instance[];
  /** history: the newest `limit` transitions of one instance, oldest first (empty for an unknown id). */
  history(id: string, limit?: number): readonly Transition[];
  decisions(pool?: string, limit?: number): readonly DecisionRecord[];
  /** series: recent (atMs, workload, ready, paid) samples of a pool for the status page chart, oldest first; the newest `limit` (default all). */
  series(pool: string, limit?: number): readonly { readonly atMs: number; readonly workload?: number; readonly ready: number; readonly total: number }[];
  /** alertSignal feeds one pool's signal from an Alertmanager notification and triggers an evaluation. */
  alertSignal(signal: AlertSignal): void;
  pause(pool: string): boolean;
  resume(pool: string): boolean;
  /** scale asks for a manual scale of `delta` instances (positive up, negative down), through the usual caps. */
  scale(pool: string, delta: number): Promise<Decision | undefined>;
  /** health: the event stream is live; the store can carry the intent log (else storeProblem says why, and nothing is sent). */
  health(): { readonly stream: boolean; readonly store: boolean; readonly storeProblem?: string };
}
