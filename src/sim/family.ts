/**
 * family: the yardstick of issue 13, "hold the peak of the last H minutes, plus S spare instances"
 * (H in 0..360 min, S in 0..4), run through the same simulator as the shipped policy (same pool, cooldowns,
 * latencies, jobs and idle checks: only the signal differs), and tuned per trace IN HINDSIGHT: the cheapest (H, S)
 * whose waiting share is within the budget. `simulate --hindsight` adds it as a row; the policy benches
 * (bench/sim-budget.ts and others) judge the shipped policy against it.
 *
 * ```
 *   member (H, S): workload = (ceil(peak demand of the last H minutes / G) + S) x G  ──► target strategy (G per instance)
 *
 *   tune(trace, budgets):  for each S: binary search of the smallest H on the grid whose waiting <= budget
 *                          (holding longer never frees capacity sooner, so waiting falls as H grows), cost there;
 *                          an S whose H = 0 run already costs more than the best so far is skipped (cost grows with H)
 * ```
 * The grid: H = 0, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 360 minutes.
 */
import type { PoolSpec } from '../core/types.ts';
import { resultOf, simulatePolicy, yardstickOf, type PolicyResult, type SignalSource, type SimOptions, type SimPolicy, type SimReport } from './simulate.ts';
import type { Trace } from './trace.ts';

/** HOLD_MINUTES is the grid of H the family is tuned over. */
export const HOLD_MINUTES: readonly number[] = [0, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 360];

/** SPARE_INSTANCES is the range of S. */
export const SPARE_INSTANCES: readonly number[] = [0, 1, 2, 3, 4];

/** holdPeakSignal is a fresh signal of member (H, S): the instances it wants, as GPUs, from a sliding maximum. */
export function holdPeakSignal(holdMinutes: number, spare: number, gpusPerInstance: number): SignalSource {
  const deque: { minute: number; gpus: number }[] = [];
  return (minute, demandGpus) => {
    while (deque.length > 0 && (deque[deque.length - 1]?.gpus ?? 0) <= demandGpus) deque.pop();
    deque.push({ minute, gpus: demandGpus });
    while (deque.length > 0 && (deque[0]?.minute ?? minute) < minute - holdMinutes) deque.shift();
    const peak = deque[0]?.gpus ?? demandGpus;
    return (Math.ceil(peak / gpusPerInstance) + spare) * gpusPerInstance;
  };
}

/** familyPolicy is member (H, S) on the shipped pool, with the target strategy at G GPUs per instance. */
export function familyPolicy(shipped: PoolSpec, holdMinutes: number, spare: number, gpusPerInstance: number): SimPolicy {
  return {
    name: `hold ${holdMinutes}m + ${spare}`,
    pool: { ...shipped, strategy: { kind: 'target', perInstance: gpusPerInstance } },
    signal: holdPeakSignal(holdMinutes, spare, gpusPerInstance),
  };
}

/** Tuned is the cheapest member within one budget: its H, S and run, all undefined when no member keeps it. */
export interface Tuned {
  readonly budget: number;
  readonly holdMinutes?: number;
  readonly spare?: number;
  readonly result?: PolicyResult;
}

/**
 * cheapestMember is the family's hindsight search: for each S, the smallest H on the grid whose run `keeps` the criterion
 * (holding longer never frees capacity sooner, so a binary search), and the cheapest of those by `cost`; an S whose
 * H = 0 run already costs no less than the best so far is skipped (cost grows with H). Undefined when no member keeps it.
 */
export function cheapestMember<R>(run: (holdMinutes: number, spare: number) => R, keeps: (r: R) => boolean, cost: (r: R) => number): { holdMinutes: number; spare: number; result: R } | undefined {
  let best: { holdMinutes: number; spare: number; result: R } | undefined;
  for (const spare of SPARE_INSTANCES) {
    const cheapest = run(HOLD_MINUTES[0] ?? 0, spare);
    if (best !== undefined && cost(cheapest) >= cost(best.result)) continue;
    let lo = 0;
    let hi = HOLD_MINUTES.length - 1;
    if (!keeps(run(HOLD_MINUTES[hi] ?? 0, spare))) continue;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (keeps(run(HOLD_MINUTES[mid] ?? 0, spare))) hi = mid;
      else lo = mid + 1;
    }
    const holdMinutes = HOLD_MINUTES[lo] ?? 0;
    const result = run(holdMinutes, spare);
    if (best === undefined || cost(result) < cost(best.result)) best = { holdMinutes, spare, result };
  }
  return best;
}

/** tuneFamily finds, for each budget, the cheapest (H, S) whose waiting share is within it, in hindsight. */
export function tuneFamily(trace: Trace, shipped: PoolSpec, budgets: readonly number[], options: SimOptions = {}): { tuned: Tuned[]; runs: number } {
  const gpus = options.gpusPerInstance ?? 8;
  // the shipped pool's window judges the members' worst window and alert hours (the default 7 days when it sets none)
  const yardstick = yardstickOf(trace, options, shipped.waitWindowMs);
  const cache = new Map<string, PolicyResult>();
  const run = (h: number, s: number): PolicyResult => {
    const key = `${h}/${s}`;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const policy = familyPolicy(shipped, h, s, gpus);
    const result = resultOf(policy.name, simulatePolicy(trace, policy, options), yardstick);
    cache.set(key, result);
    return result;
  };
  const tuned = budgets.map((budget): Tuned => {
    const best = cheapestMember(run, (r) => r.unmetShare <= budget, (r) => r.instanceMinutes);
    return best === undefined ? { budget } : { budget, holdMinutes: best.holdMinutes, spare: best.spare, result: best.result };
  });
  return { tuned, runs: cache.size };
}

/** HINDSIGHT_PREFIX starts the name of the hindsight row of a report (`hindsight 10m+0`). */
export const HINDSIGHT_PREFIX = 'hindsight';

/**
 * withHindsight is `simulate --hindsight`: the report with the family tuned on its own trace in hindsight at the
 * report's budget (the same pool, options and window as the other rows). The cheapest member within the budget is a
 * row named `hindsight Hm+S` and the report's `hindsight` says which; `hindsight: null` when no member keeps it.
 */
export function withHindsight(report: SimReport, trace: Trace, shipped: PoolSpec, options: SimOptions = {}): SimReport {
  const tuned = tuneFamily(trace, shipped, [report.waitBudget], { ...options, waitBudget: report.waitBudget }).tuned[0];
  if (tuned?.result === undefined || tuned.holdMinutes === undefined || tuned.spare === undefined) return { ...report, hindsight: null };
  const name = `${HINDSIGHT_PREFIX} ${tuned.holdMinutes}m+${tuned.spare}`;
  return {
    ...report,
    policies: [...report.policies, { ...tuned.result, name }],
    hindsight: { holdMinutes: tuned.holdMinutes, spare: tuned.spare },
  };
}
