/**
 * ports: the narrow interfaces the engine needs from the outside world. Adapters implement them
 * (salt/ for SaltActions and EventSource, store/ for StateStore); main.ts wires them; tests and the
 * simulator may pass their own.
 */
import type { AlertSignal, Decision, DecisionRecord, Instance, Intent, IntentKind, PoolView, StateStore, Transition } from '../core/types.ts';

/** CloudInstance, ReadyGrain, IdleResult, SaltActions and EventSource are defined in core (the salt adapter may import core, not engine) and re-exported here. */
export type { CloudInstance, IdleResult, ReadyGrain, SaltActions } from '../core/types.ts';
export type { EventSource } from '../core/salt-event.ts';

/** IntentKind, Intent, DecisionRecord and StateStore are defined in core/types.ts (the store adapter may import core, not engine) and re-exported here. */
export type { DecisionRecord, Intent, IntentKind, StateStore };

/** ActGate is the engine's "may I act now" check: false while this process does not hold the store lease. */
export interface ActGate {
  mayAct(): boolean;
}

/** Clock is the engine's only source of time. */
export interface Clock {
  now(): number;
}

/** AlertSignal is defined in core/types.ts (adapters may import core, not engine) and re-exported here. */
export type { AlertSignal };

/** EngineApi is what the HTTP layer (API, status page, webhook) asks of the running engine. */
export interface EngineApi {
  pools(): readonly PoolView[];
  instances(): readonly Instance[];
  /** history: the newest `limit` transitions of one instance, oldest first (empty for an unknown id). */
  history(id: string, limit?: number): readonly Transition[];
  decisions(pool?: string, limit?: number): readonly DecisionRecord[];
  /** workloadSeries: recent (atMs, workload, ready, paid) samples per pool for the status page chart. */
  series(pool: string): readonly { readonly atMs: number; readonly workload?: number; readonly ready: number; readonly total: number }[];
  /** alertSignal feeds one pool's signal from an Alertmanager notification and triggers an evaluation. */
  alertSignal(signal: AlertSignal): void;
  pause(pool: string): boolean;
  resume(pool: string): boolean;
  /** scale asks for a manual scale of `delta` instances (positive up, negative down), through the usual caps. */
  scale(pool: string, delta: number): Promise<Decision | undefined>;
  /** health: the event stream is live; the store can carry the intent log (else storeProblem says why, and nothing is sent). */
  health(): { readonly stream: boolean; readonly store: boolean; readonly storeProblem?: string };
}
