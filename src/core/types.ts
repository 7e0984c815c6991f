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
  | { readonly kind: 'adaptive'; readonly perInstance: number; readonly peakWindowMs?: number }
  /** budget: spends the pool's waitBudget at the lowest cost (strategies/budget.ts); the default. */
  | { readonly kind: 'budget'; readonly perInstance: number };

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
  /**
   * waitBudget: the share of the pool's demand (workload-unit minutes) that may wait for ready capacity, as a
   * fraction (0.0025 = 0.25%; 0 = never wait). Absent: DEFAULT_WAIT_BUDGET (strategies/budget.ts).
   */
  readonly waitBudget?: number;
  /** waitWindowMs: the rolling window the waiting share is measured over. Absent: DEFAULT_WAIT_WINDOW_MS (7 days). */
  readonly waitWindowMs?: number;
  /**
   * waitWindowStrict: plan so that every rolling window keeps the budget (the aim is capped by what the windows
   * ending within the next waitWindow can still spend), at some cost, rather than the window's share on average.
   * Absent: false.
   */
  readonly waitWindowStrict?: boolean;
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
  /**
   * startFailedMs: per instance, when it last failed to start or to become ready (dropped once it is ready): the
   * reserve is tried least recently failed first, so one broken VM is not started again and again while others wait.
   */
  readonly startFailedMs?: Readonly<Record<string, number>>;
  /** policy: opaque strategy memory (e.g. recent workload samples), reduced by the strategy itself. */
  readonly policy?: PolicyMemory;
  /**
   * startLatenciesMs: the pool's most recent start-to-ready times (start issued -> ready), newest last, at most
   * START_LATENCY_SAMPLES of them: the budget strategy's lead time is measured, not assumed.
   */
  readonly startLatenciesMs?: readonly number[];
  /** budget: the budget strategy's memory (bucketed demand and waiting, its price and choice; strategies/budget.ts). */
  readonly budget?: BudgetMemory;
}

/**
 * IntBuckets is a column of bucket values held as the narrowest integer typed array that holds every value exactly
 * (strategies/budget.ts, compactBuckets): 1, 2 or 4 bytes a value where a plain array takes 8. It serializes as the
 * plain JSON array it stands for (`toJSON`), so what is saved does not depend on how it was held.
 */
export type IntBuckets = (Uint8Array | Uint16Array | Int32Array) & { toJSON(): number[] };

/** Buckets is a column of bucket values: a plain array (as JSON loads it) or, held in memory, IntBuckets. */
export type Buckets = readonly number[] | IntBuckets;

/**
 * BudgetMemory is the budget strategy's bounded memory (JSON: it is saved with the pool's state, in SQLite and, with
 * ha, in etcd). Buckets are indexed by `floor(atMs / bucketMs)`; columns end with the bucket now open.
 */
export interface BudgetMemory {
  /** peakStart: bucket index of `peaks[0]`; peaks: the highest workload of each PEAK_BUCKET_MS bucket (recurrence). */
  readonly peakStart: number;
  readonly peaks: Buckets;
  /** fineStart / fine: the highest workload of each FINE_BUCKET_MS bucket (the hold and the candidates' scores). */
  readonly fineStart: number;
  readonly fine: Buckets;
  /** waitBucketMs / waitStart: the window's buckets; demand / waiting: workload-unit minutes per bucket. */
  readonly waitBucketMs: number;
  readonly waitStart: number;
  readonly demand: Buckets;
  readonly waiting: Buckets;
  /** last: the previous observation (its workload, ready capacity and queued work hold until this one). */
  readonly last?: { readonly atMs: number; readonly workload: number; readonly capacity?: number; readonly queued?: number };
  /**
   * hourStart / hours: the highest workload of each hour (HOUR_BUCKETS of them, 4 weeks): weekly recurrence. Absent in
   * a memory written before they were kept: they start with the next observation.
   */
  readonly hourStart?: number;
  readonly hours?: Buckets;
  /**
   * period: the recurrence found at the last hourly search, in peak buckets (a weekly one: 2016); absent = none found.
   * A period the 5-min peaks cannot hold three times is read from the hourly peaks.
   */
  readonly period?: number;
  /**
   * scores: per (hold, spare) candidate, in HOLD_CANDIDATES_MIN x SPARE_CANDIDATES order, its replayed cost and waiting
   * (instance-minutes), two numbers each, summed over the peak buckets closed so far and decayed over the window;
   * then one last number, the demand (instance-minutes) summed and decayed the same way: what the waiting is a share of.
   */
  readonly scores?: readonly number[];
  /**
   * misses: the controller's record of its own under-planning (instance-minutes, decayed like the scores): the sum of
   * squared miss lumps and the open miss lump (budget.ts, trackMisses). A memory written before may hold two more
   * numbers (a largest and an open waiting lump, no longer read).
   */
  readonly misses?: readonly number[];
  /**
   * lumps: per candidate, in the scores' order, the largest waiting lump its replay planned (what one rise cost under
   * it, decayed like the scores) and its open lump (budget.ts, trackLumps); absent in a memory written before.
   */
  readonly lumps?: readonly number[];
  /** aim: the share of demand the last choice planned at (the budget less the margin aimOf keeps free). */
  readonly aim?: number;
  /** holdMin / spare: the candidate chosen at the last bucket close. */
  readonly holdMin: number;
  readonly spare: number;
  /** waitedSinceClose: waiting (workload-unit minutes) measured since the last peak-bucket close. */
  readonly waitedSinceClose?: number;
  /**
   * bias: the replay's estimated waiting of the candidates in effect and the waiting measured meanwhile (instance-minutes),
   * decayed like the scores: their ratio corrects every candidate's estimate for what the replay does not model.
   */
  readonly bias?: readonly [number, number];
  /** apart: the replay has told the candidates apart on waiting once (before that the cold hold stays). */
  readonly apart?: true;
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
  /** waitBudget: the pool's budget (fraction) and waitingShare: its realised waiting share over waitWindowMs (budget strategy only). */
  readonly waitBudget?: number;
  readonly waitingShare?: number;
  readonly waitWindowMs?: number;
  /** waitWindowCovered: the share of waitWindowMs the waiting share covers so far (1 once a whole window is measured). */
  readonly waitWindowCovered?: number;
  /** waitWindowStrict: true when the pool plans so that every rolling window keeps its budget (absent otherwise). */
  readonly waitWindowStrict?: true;
  /** startLeadMs: the p90 of the pool's last start-to-ready times, the lead its rises wait (absent before any start is seen). */
  readonly startLeadMs?: number;
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

/** DecisionRecord is one decision kept for `GET /api/decisions` (contract shape, `at` as epoch ms). */
export interface DecisionRecord {
  readonly pool: string;
  readonly atMs: number;
  readonly decision: Decision;
  readonly dryRun: boolean;
}

/** IdleResult is what an idle check says; an unreachable minion is never idle. */
export type IdleResult = 'idle' | 'busy' | 'unreachable';
