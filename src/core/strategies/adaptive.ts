/**
 * adaptive: salt-autoscaler's default strategy. Target tracking on the PEAK workload of a recent window.
 *
 *   workload samples --observe()--> monotonic deque of (atMs, value) over the last peakWindowMs
 *                                    |
 *   desired = ceil(max(peak in window, workload now) / perInstance)
 *
 * Why: starting an instance takes minutes (start + deploy), stopping one takes one decision. Scaling up
 * by the whole gap at once (not +1) fixes a shortage in one provisioning lead; holding capacity for the
 * highest demand seen in the window is the scale-in hysteresis: an instance is only released after the
 * demand stayed one instance below capacity for a whole window, so a dip shorter than the window does
 * not cost a stop + a paid restart + minutes of unmet demand. One constant, the window, with a default
 * of several provisioning leads (30 min vs. ~4 min to ready).
 */
import type { PolicyMemory, Workload } from '../types.ts';
import type { StrategyInput, StrategyResult } from './strategy.ts';

/** ADAPTIVE_PEAK_WINDOW_MS is the default window (30 minutes) over which capacity follows the peak workload. */
export const ADAPTIVE_PEAK_WINDOW_MS = 30 * 60_000;

/** EMPTY_POLICY_MEMORY is the memory of a pool that has seen no workload yet. */
export const EMPTY_POLICY_MEMORY: PolicyMemory = { samples: [] };

/**
 * observe folds one workload sample into the memory: it keeps only samples inside the window that could
 * still be the window's maximum (values strictly decreasing with time), so the memory stays small.
 * Samples older than the newest one already kept are ignored (out of order).
 */
export function observe(
  memory: PolicyMemory | undefined,
  workload: Workload,
  nowMs: number,
  peakWindowMs: number = ADAPTIVE_PEAK_WINDOW_MS,
): PolicyMemory {
  const previous = memory?.samples ?? [];
  const last = previous[previous.length - 1];
  if (last !== undefined && workload.atMs < last.atMs) return memory ?? EMPTY_POLICY_MEMORY;
  const kept = previous.filter((s) => nowMs - s.atMs <= peakWindowMs && s.value > workload.value);
  return { ...memory, samples: [...kept, { atMs: workload.atMs, value: workload.value }] };
}

/** peakOf returns the highest workload in the memory within the window ending at nowMs (0 when none). */
export function peakOf(memory: PolicyMemory | undefined, nowMs: number, peakWindowMs: number): number {
  let peak = 0;
  for (const s of memory?.samples ?? []) {
    if (nowMs - s.atMs <= peakWindowMs && s.atMs <= nowMs && s.value > peak) peak = s.value;
  }
  return peak;
}

/** adaptive returns ceil(max(recent peak, workload) / perInstance). */
export function adaptive(input: StrategyInput, perInstance: number, peakWindowMs = ADAPTIVE_PEAK_WINDOW_MS): StrategyResult {
  const per = perInstance > 0 ? perInstance : 1;
  const peak = Math.max(peakOf(input.memory, input.nowMs, peakWindowMs), input.workload);
  const desired = Math.max(0, Math.ceil(peak / per));
  const window = peakWindowMs < 60_000 ? `${Math.round(peakWindowMs / 1000)} s` : `${Math.round(peakWindowMs / 60_000)} min`;
  const peakWords = peak > input.workload ? `, peak ${peak} in the last ${window}` : '';
  return { desired, reason: `workload ${input.workload}${peakWords} / perInstance ${per} wants ${desired}` };
}
