/**
 * pool-state: one pool as the engine runs it: its configuration, the bookkeeping decide() reads, its signals and
 * the state of its evaluation loop. The bookkeeping rules are core's (core/bookkeeping.ts); this file holds the
 * state and says how it is kept.
 *
 * ```
 *   evaluation loop of one pool (triggers in one loop turn coalesce; one evaluation at a time):
 *
 *     idle ──evaluateSoon──► scheduled ──next turn──► evaluating ──done──► idle
 *                               ▲  evaluateSoon: no-op     │ evaluateSoon: again = true
 *                               │                          ▼
 *                               └──────────────── evaluating again (while `again`)
 *
 *   kept in the store (pool state, survives restarts and reloads): history (cooldown stamps, failures, idle
 *   confirmations, strategy memory) and paused. In memory only: signals (re-sent by Alertmanager / re-pulled),
 *   the chart series, the newest decision's kind and time, the last idle check.
 * ```
 */
import { EMPTY_HISTORY } from '../core/bookkeeping.ts';
import { compactBudgetMemory } from '../core/strategies/budget.ts';
import type { AlertSignal, Decision, PoolHistory, PoolSpec, Workload } from '../core/types.ts';
import type { StateStore } from './ports.ts';
import { SeriesRing } from './series-ring.ts';

export type { SeriesPoint } from './series-ring.ts';

/** ManagedPool is one pool as the engine runs it: the core spec plus where its instances come from. */
export interface ManagedPool {
  readonly spec: PoolSpec;
  readonly provider?: string;
  readonly reserved: readonly string[];
  /** reservedPattern: a glob (`*`, `?`) over cloud instance names that belong to the pool. */
  readonly reservedPattern?: string;
  readonly profile?: string;
  readonly idleCheck: { readonly fun: string; readonly args: readonly unknown[] };
}

/** PoolRuntime is the engine's state of one pool (see the drawing above). */
export interface PoolRuntime {
  readonly managed: ManagedPool;
  /** history: what decide() remembers; kept by core/bookkeeping and saved with `paused` after every change. */
  history: PoolHistory;
  paused: boolean;
  /** alert / pulled: the pushed (Alertmanager) and pulled (PromQL) signal, merged by core's mergeSignals. */
  alert?: AlertSignal;
  pulled?: Workload;
  /** queued: the pulled queued work (waitingQuery), what the budget strategy counts as waiting when it is fresh. */
  queued?: Workload;
  evaluating: boolean;
  again: boolean;
  /** scheduled: an evaluation is queued for the next loop turn (triggers in the same turn coalesce). */
  scheduled: boolean;
  /** series: the chart samples, the newest SERIES_MAX (series-ring.ts: columns of numbers, not one object each). */
  readonly series: SeriesRing;
  /** lastDecision: kind and time of the newest recorded decision (kept here: reading it back per hold costs). */
  lastDecision?: { readonly kind: Decision['kind']; readonly atMs: number };
  lastIdleCheckMs?: number;
}

/** loadPool builds a pool's runtime from its config and what the store kept of it. */
export function loadPool(managed: ManagedPool, store: Pick<StateStore, 'poolState' | 'decisions'>): PoolRuntime {
  const saved = store.poolState(managed.spec.name);
  const kept = (saved?.['history'] as PoolHistory | undefined) ?? EMPTY_HISTORY;
  // the budget memory's columns come as plain arrays (JSON): held compactly, they take a quarter of the heap or less
  const history = kept.budget === undefined ? kept : { ...kept, budget: compactBudgetMemory(kept.budget) };
  const paused = typeof saved?.['paused'] === 'boolean' ? saved['paused'] : managed.spec.paused;
  const last = store.decisions(managed.spec.name, 1)[0];
  return {
    managed, history, paused, evaluating: false, again: false, scheduled: false, series: new SeriesRing(),
    ...(last === undefined ? {} : { lastDecision: { kind: last.decision.kind, atMs: last.atMs } }),
  };
}

/** savedPool is what the store keeps of a pool. */
export function savedPool(rt: PoolRuntime): Readonly<Record<string, unknown>> {
  return { history: rt.history, paused: rt.paused };
}
