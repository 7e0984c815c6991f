/**
 * context: what the engine's roles share — the options, time, the fleet index, the pools, the store guard — and
 * the narrow interface each role offers the others. The roles are wired together in engine.ts; each role file
 * imports this one and never another role, so there is no cycle and each can be read alone.
 *
 * ```
 *   intake (events, signals) ──► fleet.apply ──► evaluator.evaluateSoon ──► executor (intents, calls)
 *        gap / contradiction ──► reconciler.schedule ◄── failed call          │
 *   reconciler (Salt's truth, open intents, confirm window) ──► executor.retryStop / stopFailed / finish
 * ```
 */
import type { AutoscalerError } from '../errors.ts';
import type { LifecycleInput, StepResult } from '../core/lifecycle.ts';
import type { Decision, Instance, Workload } from '../core/types.ts';
import type { Fleet } from './fleet.ts';
import type { IntentLog } from './intent-log.ts';
import type { ManagedPool, PoolRuntime } from './pool-state.ts';
import type {
  ActGate, CloudTarget, Clock, EngineLogger, EngineObserver, EventSource, IdleResult, IntentKind, MinionOps, StateReplica, StateStore, WorkloadSource,
} from './ports.ts';
import type { RunningClock } from './system-clock.ts';
import type { TurnCommit } from './turn-commit.ts';

/** EngineOptions wires the engine; main.ts builds it from the config. */
export interface EngineOptions {
  readonly pools: readonly ManagedPool[];
  readonly cloud: CloudTarget;
  readonly minions: MinionOps;
  readonly store: StateStore;
  readonly clock: Clock;
  readonly logger: EngineLogger;
  readonly observer?: EngineObserver;
  readonly events?: EventSource;
  readonly workloadSource?: WorkloadSource;
  /** queuedSource: the pool's queued work (its waitingQuery), the waiting the budget strategy measures; undefined = none. */
  readonly queuedSource?: WorkloadSource;
  readonly reconcileIntervalMs: number;
  readonly evaluateIntervalMs: number;
  readonly tickIntervalMs?: number;
  /** startConfirmWindowMs: how long a start call that timed out may still show up in Salt before it counts as not done (60 s). */
  readonly startConfirmWindowMs?: number;
  /** gate: the "may I act now" check (the leadership); without it the engine always may. */
  readonly gate?: ActGate;
  /**
   * replica: where open intents and pool state are shared with the other processes (etcd with `ha`). With it, the
   * engine runs as a follower while the gate says no (events, read-only reconciles, no intents), and takeOver()
   * makes it the leader with the replica's state.
   */
  readonly replica?: StateReplica;
  /** storeCheckIntervalMs: how often the store's file is compared with the open one and, while unwritable, a write is probed (1 s). */
  readonly storeCheckIntervalMs?: number;
  /** integrityCheckIntervalMs: how often `PRAGMA quick_check` runs on the store (5 min; also after a failed store call). */
  readonly integrityCheckIntervalMs?: number;
  /** onStoreLost: the state file was deleted, replaced or found corrupt: the engine no longer acts; the service should exit 1. */
  readonly onStoreLost?: (err: AutoscalerError) => void;
}

/** EvaluatorRole is what the other roles ask of the evaluation loop. */
export interface EvaluatorRole {
  evaluateSoon(pool: string): void;
  /** evaluateAll asks for every pool's evaluation, a group of pools a loop turn. */
  evaluateAll(): Promise<void>;
  /** workloadOf is the pool's current merged signal. */
  workloadOf(rt: PoolRuntime, nowMs: number): Workload | undefined;
  /** wantsCapacity says why, when the pool's current signal wants more than its ready and in-flight instances. */
  wantsCapacity(rt: PoolRuntime): string | undefined;
}

/** ExecutorRole is what the other roles ask of the executor (decision -> intents -> calls). */
export interface ExecutorRole {
  /** stopFailed stops an instance that failed to become ready. */
  stopFailed(rt: PoolRuntime, inst: Instance): Promise<void>;
  /** retryStop finishes a stop a crash cut off: idle check, then stop again or undrain. */
  retryStop(rt: PoolRuntime, inst: Instance): Promise<void>;
  /** finishDrain finishes a drain (also one a crash interrupted). */
  finishDrain(rt: PoolRuntime, id: string, failure?: string): Promise<void>;
  /** actionFailed moves the instance on a failed call (`err` says why in its reason). */
  actionFailed(id: string, action: IntentKind, err?: unknown): void;
  /** finish marks an intent done or failed. */
  finish(intentId: number, status: 'done' | 'failed', detail?: string): void;
  /** sending: the intent's call runs in this process now. */
  sending(intentId: number): boolean;
  /** failedStopAtMs: when the stop of a failed instance was last sent. */
  failedStopAtMs(id: string): number | undefined;
  countIntents(): void;
  /** openIntentCount is set by the engine at start (the store's open intents). */
  openIntentCount: number;
}

/** ReconcilerRole is what the other roles ask of reconciliation. */
export interface ReconcilerRole {
  /** schedule asks for a reconcile in delayMs; an earlier pending one stands, a later one is brought forward. */
  schedule(delayMs: number): void;
  /** streamConnected: the event stream (re)connected; a reconcile is due in delayMs unless one reading Salt after it covers it. */
  streamConnected(delayMs: number): void;
  /** startUnconfirmed remembers a failed start call; a timeout or a lost connection leaves Salt time to carry it out. */
  startUnconfirmed(id: string, err: unknown): void;
  /** createUnanswered remembers a create call Salt did not answer: until `untilMs`, absent from the cloud is not gone. */
  createUnanswered(id: string, untilMs: number): void;
  confirmWindowMs(): number;
}

/** EngineContext is shared by every role. Role references are set once, when engine.ts wires them. */
export interface EngineContext {
  readonly opts: EngineOptions;
  readonly clock: RunningClock;
  readonly log: EngineLogger;
  readonly fleet: Fleet;
  readonly intents: IntentLog;
  readonly pools: ReadonlyMap<string, PoolRuntime>;
  /** turn: the group commit of the current turn (the decisions and intents of the pools evaluated together). */
  readonly turn: TurnCommit;
  /** storeCall runs one store call; a failure is logged and reported to the store watch (nothing is sent until it can write again). */
  storeCall<T>(fn: () => T): T | undefined;
  savePool(rt: PoolRuntime): void;
  /** apply feeds one input into an instance's lifecycle (the fleet writes it; the engine reacts to the move). */
  apply(inst: Instance, input: LifecycleInput, nowMs: number, source: string): StepResult;
  /** idleCheck runs the pool's idle check on one minion; a failed check is `unreachable` (never idle). */
  idleCheck(rt: PoolRuntime, id: string): Promise<IdleResult>;
  /** track keeps a background task (awaited on stop; its failure is logged). */
  track(p: Promise<unknown>): void;
  /** scaleUpDecided: a scale-up is being carried out (a burst of them pauses the event stream's reads: read-pause.ts). */
  scaleUpDecided(nowMs: number): void;
  /** sleep waits ms, or less when the engine stops. */
  sleep(ms: number): Promise<void>;
  /** mayAct: this process leads and the store can carry the intent log. */
  mayAct(): boolean;
  notActing(kind: IntentKind, id: string): AutoscalerError;
  /** storeProblem: why the store cannot carry the intent log now (undefined when it can). */
  storeProblem(): string | undefined;
  stopped(): boolean;
  /** takingOver: a takeover is resolving the old leader's state: reconciles may act, evaluations wait. */
  takingOver(): boolean;
  /** following: another process leads (the gate says no, the store is fine): look, never act, leave crash leftovers to the leader. */
  following(): boolean;
  reconciled(): boolean;
  evaluator: EvaluatorRole;
  executor: ExecutorRole;
  reconciler: ReconcilerRole;
}

/** DecisionOutcome is what one evaluation returns (a manual scale shows it). */
export type DecisionOutcome = Decision | undefined;
