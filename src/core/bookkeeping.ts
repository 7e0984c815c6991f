/**
 * bookkeeping: the per-pool memory that decide() reads, kept by one set of pure rules for the engine and the
 * simulator alike (neither keeps its own copy).
 *
 * ```
 *   decision  ──afterDecision──►  lastUpMs / lastDownMs (cooldowns); a drained instance loses its idle confirmation
 *   transition ─afterTransition─► in flight → failed: consecutiveFailures + 1, lastFailureMs (back-off, core/safety)
 *                                 in flight → failed, or a start that ended stopped: startFailedMs (the reserve's order)
 *                                 → ready (not from draining): consecutiveFailures = 0
 *                                 left ready: its idle confirmation is dropped
 *   idle checks ─withIdleChecks─► idleSinceMs keeps the first time each still-idle instance was seen idle
 *   no drain wanted ─withoutIdle─► idle confirmations dropped (an idle time counts from a check made while one was)
 *   workload ──observeWorkload──► the strategy's memory (adaptive: recent peak samples; budget: bucketed demand and
 *                                 waiting above the READY capacity, its price and (hold, spare) choice)
 *   in flight → ready: its start-to-ready time (startLatenciesMs: the budget strategy's measured lead)
 *   alert + pulled ─mergeSignals─► the pool's current workload (a fresh pulled value wins, then the alert's level)
 * ```
 */
import { ADAPTIVE_PEAK_WINDOW_MS, observe } from './strategies/adaptive.ts';
import { observeBudget, withStartLatency } from './strategies/budget.ts';
import { MANUAL_SOURCE } from './decide.ts';
import { IN_FLIGHT_STATES, type AlertSignal, type Decision, type IdleResult, type Instance, type InstanceState, type PoolHistory, type PoolSpec, type Workload } from './types.ts';

/** EMPTY_HISTORY is the memory of a pool that has done nothing yet. */
export const EMPTY_HISTORY: PoolHistory = { consecutiveFailures: 0, idleSinceMs: {} };

/** afterDecision stamps the cooldown of an action; a scale-down also drops its targets' idle confirmations. A hold changes nothing. */
export function afterDecision(history: PoolHistory, decision: Decision, nowMs: number): PoolHistory {
  switch (decision.kind) {
    case 'hold':
      return history;
    case 'scaleUp':
      return { ...history, lastUpMs: nowMs };
    case 'scaleDown': {
      const idleSinceMs = { ...history.idleSinceMs };
      for (const id of decision.targets) delete idleSinceMs[id];
      return { ...history, lastDownMs: nowMs, idleSinceMs };
    }
    default:
      return decision satisfies never;
  }
}

/**
 * TransitionEffect is the history after one instance transition, whether it was a provisioning failure (a metric, and
 * the back-off), and, for an instance that became ready from a start, its start-to-ready time (a metric too).
 */
export interface TransitionEffect {
  readonly history: PoolHistory;
  readonly provisioningFailed: boolean;
  readonly startToReadyMs?: number;
}

/**
 * afterTransition keeps the failure count and the idle confirmations in step with one instance's move from `from`
 * to `instance.state`: an instance that never became ready backs the pool off (a failed stop says nothing of
 * provisioning), the first one ready again clears it, and only a ready instance can be confirmed idle.
 */
export function afterTransition(history: PoolHistory, instance: Instance, from: InstanceState, nowMs: number): TransitionEffect {
  let next = history;
  let provisioningFailed = false;
  let startToReadyMs: number | undefined;
  if (instance.state === 'failed' && IN_FLIGHT_STATES.includes(from)) {
    provisioningFailed = true;
    next = { ...next, consecutiveFailures: next.consecutiveFailures + 1, lastFailureMs: nowMs };
  } else if (instance.state === 'ready' && from !== 'draining' && next.consecutiveFailures !== 0) {
    next = { ...next, consecutiveFailures: 0 };
  }
  if (instance.state === 'ready' && IN_FLIGHT_STATES.includes(from) && instance.lastStartMs !== undefined) {
    startToReadyMs = nowMs - instance.lastStartMs;
    next = withStartLatency(next, startToReadyMs);
  }
  const startFailed = instance.state === 'failed' ? IN_FLIGHT_STATES.includes(from) : instance.state === 'stopped' && (from === 'starting' || from === 'creating');
  if (startFailed) {
    next = { ...next, startFailedMs: { ...next.startFailedMs, [instance.id]: nowMs } };
  } else if (instance.state === 'ready' && next.startFailedMs?.[instance.id] !== undefined) {
    const { [instance.id]: _ok, ...others } = next.startFailedMs;
    next = { ...next, startFailedMs: others };
  }
  if (instance.state !== 'ready' && next.idleSinceMs[instance.id] !== undefined) {
    const { [instance.id]: _gone, ...rest } = next.idleSinceMs;
    next = { ...next, idleSinceMs: rest };
  }
  return { history: next, provisioningFailed, ...(startToReadyMs === undefined ? {} : { startToReadyMs }) };
}

/** withIdleChecks records one round of idle checks: an instance idle now keeps the time it was first seen idle; busy or unreachable ones are dropped. */
export function withIdleChecks(history: PoolHistory, results: Iterable<readonly [string, IdleResult]>, nowMs: number): PoolHistory {
  const idleSinceMs: Record<string, number> = {};
  for (const [id, result] of results) {
    if (result === 'idle') idleSinceMs[id] = history.idleSinceMs[id] ?? nowMs;
  }
  return { ...history, idleSinceMs };
}

/** withoutIdle drops every idle confirmation (no drain is wanted now, so no idle time accrues). */
export function withoutIdle(history: PoolHistory): PoolHistory {
  return Object.keys(history.idleSinceMs).length === 0 ? history : { ...history, idleSinceMs: {} };
}

/**
 * observeWorkload folds the pool's current workload into its strategy's memory (only strategies with memory keep one).
 * `readyInstances` is the pool's READY count at this evaluation: the budget strategy measures the waiting (workload
 * above ready x perInstance) from it; without it, demand is recorded but no waiting. `queued`, when the pool has a
 * queue signal, is the work its scheduler reports waiting (it also sees jobs that fit no single instance's free slots).
 */
export function observeWorkload(history: PoolHistory, spec: PoolSpec, workload: Workload | undefined, nowMs: number, readyInstances?: number, queued?: number): PoolHistory {
  if (workload === undefined) return history;
  if (spec.strategy.kind === 'budget') {
    if (workload.source === MANUAL_SOURCE) return history;
    const per = spec.strategy.perInstance > 0 ? spec.strategy.perInstance : 1;
    const capacity = readyInstances === undefined ? {} : { readyCapacity: readyInstances * per };
    const waiting = queued === undefined || !Number.isFinite(queued) ? {} : { queued: Math.max(0, queued) };
    return { ...history, budget: observeBudget(history.budget, spec, history, { workload: workload.value, atMs: nowMs, ...capacity, ...waiting }) };
  }
  if (spec.strategy.kind !== 'adaptive') return history;
  return { ...history, policy: observe(history.policy, workload, nowMs, spec.strategy.peakWindowMs ?? ADAPTIVE_PEAK_WINDOW_MS) };
}

/**
 * mergeSignals resolves the pool's current workload from what was pushed (the Alertmanager alert state) and what was
 * pulled (PromQL): a pulled value no older than one interval before the alert wins, else the firing alert's level.
 * A firing alert is a level: while it fires (until its endsAt), its value holds as of now, since Alertmanager re-sends
 * it every repeat_interval; without a `workload` value it stands for the threshold it crossed.
 */
export function mergeSignals(spec: PoolSpec, alert: AlertSignal | undefined, pulled: Workload | undefined, nowMs: number): Workload | undefined {
  let fromAlert: Workload | undefined;
  if (alert !== undefined && alert.direction !== 'none' && (alert.expiresMs === undefined || alert.expiresMs > nowMs)) {
    const value = alert.workload ?? (alert.direction === 'up' ? spec.upThreshold : spec.downThreshold);
    fromAlert = { value, atMs: Math.max(alert.atMs, Math.min(nowMs, alert.expiresMs ?? nowMs)), source: 'alertmanager' };
  }
  if (pulled !== undefined && (fromAlert === undefined || pulled.atMs >= fromAlert.atMs - spec.intervalMs)) return pulled;
  return fromAlert ?? pulled;
}

/** newerAlert says whether a notification's signal replaces the one held (an older notification arriving late does not). */
export function newerAlert(held: AlertSignal | undefined, incoming: AlertSignal): boolean {
  return held === undefined || incoming.atMs >= held.atMs;
}
