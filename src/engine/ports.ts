/**
 * ports: the narrow interfaces the engine needs from the outside world. Adapters implement them
 * (salt/ for SaltActions and EventSource, store/ for StateStore); main.ts wires them; tests and the
 * simulator may pass their own.
 */
import type { AlertSignal, Decision, DecisionRecord, Instance, Intent, IntentKind, PoolView, StateStore } from '../core/types.ts';
import type { StreamItem } from '../core/salt-event.ts';

/** CloudInstanceState is salt-cloud's view of one VM (`cloud.query` / `cloud.full_query`). */
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
  /** minionsUp runs `manage.up`. */
  minionsUp(): Promise<readonly string[]>;
  /** readyGrains runs `grains.item salt_autoscaler` on the listed minions; a missing minion or grain is absent from the map. */
  readyGrains(ids: readonly string[]): Promise<ReadonlyMap<string, ReadyGrain>>;
}

/** EventSource is the salt-api event stream (SSE or websocket), already typed. */
export interface EventSource {
  /** items yields typed events and gap signals until close(); it never throws for a malformed frame. */
  items(): AsyncIterable<StreamItem>;
  /** connected is true while a stream is open and its last heartbeat came back in time. */
  readonly connected: boolean;
  close(): Promise<void>;
}

/** IntentKind, Intent, DecisionRecord and StateStore are defined in core/types.ts (the store adapter may import core, not engine) and re-exported here. */
export type { DecisionRecord, Intent, IntentKind, StateStore };

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
  decisions(pool?: string, limit?: number): readonly DecisionRecord[];
  /** workloadSeries: recent (atMs, workload, ready, paid) samples per pool for the status page chart. */
  series(pool: string): readonly { readonly atMs: number; readonly workload?: number; readonly ready: number; readonly total: number }[];
  /** alertSignal feeds one pool's signal from an Alertmanager notification and triggers an evaluation. */
  alertSignal(signal: AlertSignal): void;
  pause(pool: string): boolean;
  resume(pool: string): boolean;
  /** scale asks for a manual scale of `delta` instances (positive up, negative down), through the usual caps. */
  scale(pool: string, delta: number): Promise<Decision | undefined>;
  health(): { readonly stream: boolean; readonly store: boolean };
}
