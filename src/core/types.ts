/**
 * types: the domain of salt-autoscaler, shared by core, engine, adapters and simulator.
 * Time is epoch milliseconds passed in (`nowMs`); core never reads a clock.
 */

/** InstanceState is one state of the instance lifecycle (contract: `GET /api/instances` `state`). */
export type InstanceState =
  | 'stopped' | 'creating' | 'starting' | 'booted' | 'deploying' | 'ready' | 'draining' | 'stopping' | 'failed';

/** INSTANCE_STATES lists every state, in lifecycle order. */
export const INSTANCE_STATES: readonly InstanceState[] = [
  'stopped', 'creating', 'starting', 'booted', 'deploying', 'ready', 'draining', 'stopping', 'failed',
];

/** IN_FLIGHT_STATES are on their way to ready: they count toward the pool's size. */
export const IN_FLIGHT_STATES: readonly InstanceState[] = ['creating', 'starting', 'booted', 'deploying'];

/** Transition records one state change, with when and why. */
export interface Transition {
  readonly from: InstanceState;
  readonly to: InstanceState;
  readonly atMs: number;
  readonly reason: string;
}

/** Instance is one salt-cloud VM (= one minion id) managed by a pool. */
export interface Instance {
  readonly id: string;
  readonly pool: string;
  readonly state: InstanceState;
  /** sinceMs: when the instance entered `state`. */
  readonly sinceMs: number;
  /** reason: why it entered `state`, in words. */
  readonly reason: string;
  /** lastStartMs: when the last start/create was issued; a ready grain older than this is from a previous life. */
  readonly lastStartMs?: number;
  /** readyMs: when it became ready in its current life; dropped when it stops. */
  readonly readyMs?: number;
  /** deployJid: the jid of the deploy orchestrate seen for the current life. */
  readonly deployJid?: string;
  /** created: true when the instance was created from a profile (not one of the reserve). */
  readonly created: boolean;
}

/** Strategy is how a pool turns its workload into a wanted size. */
export type Strategy =
  | { readonly kind: 'threshold' }
  | { readonly kind: 'target'; readonly perInstance: number }
  /** adaptive: target on the peak workload of the last `peakWindowMs` (default ADAPTIVE_PEAK_WINDOW_MS in strategies/adaptive.ts). */
  | { readonly kind: 'adaptive'; readonly perInstance: number; readonly peakWindowMs?: number };

/** PoolSpec is the core's view of one pool's configuration (durations in ms). */
export interface PoolSpec {
  readonly name: string;
  readonly env: string;
  readonly instanceType: string;
  readonly min: number;
  readonly max: number;
  readonly upThreshold: number;
  readonly downThreshold: number;
  readonly intervalMs: number;
  /** upCooldownMs / downCooldownMs: minimum time after an action before the next up / down (default: intervalMs). */
  readonly upCooldownMs: number;
  readonly downCooldownMs: number;
  readonly step: number;
  readonly strategy: Strategy;
  readonly provisionTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly scaleIn: 'stop' | 'destroy';
  /** canCreate: a salt-cloud profile is configured for creating instances when no reserved one is left. */
  readonly canCreate: boolean;
  /** signalMaxAgeMs: a workload older than this is stale (hold). */
  readonly signalMaxAgeMs: number;
  readonly failureBackoffBaseMs: number;
  readonly failureBackoffMaxMs: number;
  readonly dryRun: boolean;
  readonly paused: boolean;
}

/** Workload is the pool's demand signal at a point in time. `undefined` workload = missing. */
export interface Workload {
  readonly value: number;
  readonly atMs: number;
  readonly source: string;
}

/** StartTarget says how one new instance is obtained: start a stopped reserved one, or create from the profile. */
export type StartTarget = { readonly kind: 'start'; readonly id: string } | { readonly kind: 'create' };

/** Decision is the outcome of one pool evaluation (a value; "hold" does not start a cooldown). */
export type Decision =
  | { readonly kind: 'hold'; readonly reason: string }
  | { readonly kind: 'scaleUp'; readonly count: number; readonly targets: readonly StartTarget[]; readonly reason: string }
  | { readonly kind: 'scaleDown'; readonly count: number; readonly targets: readonly string[]; readonly reason: string };

/** PoolHistory is the per-pool memory decide() needs (kept by the engine / simulator, passed in). */
export interface PoolHistory {
  readonly lastUpMs?: number;
  readonly lastDownMs?: number;
  /** consecutiveFailures: instances of this pool that failed to become ready since the last success. */
  readonly consecutiveFailures: number;
  readonly lastFailureMs?: number;
  /** idleSinceMs: per ready instance, since when the idle check has confirmed it idle (absent = not known idle). */
  readonly idleSinceMs: Readonly<Record<string, number>>;
  /** policy: opaque strategy memory (e.g. recent workload samples), reduced by the strategy itself. */
  readonly policy?: PolicyMemory;
}

/** PolicyMemory is the adaptive strategy's pure memory: recent workload samples and learned levels. */
export interface PolicyMemory {
  readonly samples: readonly { readonly atMs: number; readonly value: number }[];
  readonly [key: string]: unknown;
}

/** PoolView is the per-pool summary the engine exposes (contract: `GET /api/pools`). */
export interface PoolView {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly ready: number;
  readonly inFlight: number;
  readonly draining: number;
  readonly failed: number;
  readonly reserved: number;
  readonly paused: boolean;
}

/**
 * AlertSignal is what the Alertmanager receiver learned for one pool from one notification (level-triggered).
 * It lives in core (not engine/ports.ts, which re-exports it) so the alertmanager adapter can use it under the import rule.
 */
export interface AlertSignal {
  readonly pool: string;
  /** direction: which scale alert is firing (`none` once both are resolved). */
  readonly direction: 'up' | 'down' | 'none';
  /** workload: the value of the `workload` annotation/label when present. */
  readonly workload?: number;
  readonly atMs: number;
  /** expiresMs: the firing alert's endsAt; after it the signal is stale. */
  readonly expiresMs?: number;
}

/** IntentKind is a salt-api action written before it is sent. */
export type IntentKind = 'start' | 'create' | 'stop' | 'destroy' | 'drain' | 'undrain';

/** Intent is one action written to the store before the salt-api call, marked done or failed after. */
export interface Intent {
  readonly id: number;
  readonly kind: IntentKind;
  readonly instance: string;
  readonly pool: string;
  readonly createdMs: number;
  readonly status: 'open' | 'done' | 'failed';
  readonly detail?: string;
}

/** DecisionRecord is one decision kept for `GET /api/decisions` (contract shape, `at` as epoch ms). */
export interface DecisionRecord {
  readonly pool: string;
  readonly atMs: number;
  readonly decision: Decision;
  readonly dryRun: boolean;
}

/**
 * StateStore is the crash-safe state (SQLite in production). All writes are synchronous and durable on return.
 * It and its records live in core (not engine/ports.ts, which re-exports them) so the store adapter can implement it under the import rule.
 */
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
  /** integrityCheck runs `PRAGMA quick_check` on the file as a fresh open would read it: 'ok', or what is wrong. */
  integrityCheck(): string;
  close(): void;
}

/** StoreFileStatus: the path still names the open file (`same`), names nothing (`missing`) or another file (`replaced`). */
export type StoreFileStatus = 'same' | 'missing' | 'replaced';

/** LeaseHolder is who holds the single-writer lease on the state file, since and until when. */
export interface LeaseHolder {
  readonly owner: string;
  readonly acquiredMs: number;
  readonly expiresMs: number;
}

/**
 * CloudInstance is salt-cloud's view of one VM (`cloud.query` / `cloud.full_query`).
 * It and the other salt ports live in core (engine/ports.ts re-exports them) so the salt adapter can implement them under the import rule.
 */
export interface CloudInstance {
  readonly id: string;
  /** state as salt-cloud reports it, lower-cased: `running`, `stopped`, `pending`, … */
  readonly state: string;
  readonly provider: string;
}

/** ReadyGrain is the `salt_autoscaler` grain the deploy orchestrate sets (`deployedAtMs` from `deployed_at` seconds). */
export interface ReadyGrain {
  readonly ready: boolean;
  readonly deployedAtMs?: number;
  readonly draining: boolean;
}

/** IdleResult is what an idle check says; an unreachable minion is never idle. */
export type IdleResult = 'idle' | 'busy' | 'unreachable';

/** SaltActions is everything the engine asks of Salt, through salt-api. Every method rejects with an AutoscalerError. */
export interface SaltActions {
  /** start runs `cloud.action func=start instances=[id]` (a list, never a string: Salt 3006 splits strings). */
  start(id: string): Promise<void>;
  /** create runs `cloud.profile prof=<profile> instances=[id]`. */
  create(id: string, profile: string): Promise<void>;
  /** stop runs `cloud.action func=stop instances=[id]`. */
  stop(id: string): Promise<void>;
  /** destroy runs `cloud.destroy instances=[id]`. */
  destroy(id: string): Promise<void>;
  /** setDraining sets (true) or clears (false) `salt_autoscaler:draining` on the minion. */
  setDraining(id: string, draining: boolean): Promise<void>;
  /** fireEvent runs runner `event.send` with the tag and data. */
  fireEvent(tag: string, data: Readonly<Record<string, unknown>>): Promise<void>;
  /** idleCheck runs the pool's idle check function on the minion; retcode 0 = idle, absent minion = unreachable. */
  idleCheck(id: string, fun: string, args: readonly unknown[]): Promise<IdleResult>;
  /** cloudInstances runs `cloud.query` (all providers, or the given ones) and flattens provider/driver/name. */
  cloudInstances(providers?: readonly string[]): Promise<readonly CloudInstance[]>;
  /** minionsUp runs `manage.up` for these minions (all of the master's when omitted) and returns those that answered. */
  minionsUp(ids?: readonly string[]): Promise<readonly string[]>;
  /** readyGrains runs `grains.item salt_autoscaler` on the listed minions; a missing minion or grain is absent from the map. */
  readyGrains(ids: readonly string[]): Promise<ReadonlyMap<string, ReadyGrain>>;
}
