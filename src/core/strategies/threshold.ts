/**
 * threshold: the seed's strategy. workload >= upThreshold -> +step; workload <= downThreshold -> -step;
 * anything in between keeps the size. While an instance it started is still on its way, a firing up
 * signal waits for it: the seed's need is met by that instance, and a second start for the same need
 * is exactly what an autoscaler must not do.
 */
import type { StrategyInput, StrategyResult } from './strategy.ts';

/** threshold returns size + step, size - step or size, by comparing the workload to the pool's thresholds. */
export function threshold(input: StrategyInput): StrategyResult {
  const { pool, size, workload } = input;
  const inFlight = input.inFlight ?? 0;
  if (workload >= pool.upThreshold && inFlight > 0) {
    return { desired: size, reason: `workload ${workload} >= upThreshold ${pool.upThreshold}, waiting for ${inFlight} in flight` };
  }
  if (workload >= pool.upThreshold) {
    return { desired: size + pool.step, reason: `workload ${workload} >= upThreshold ${pool.upThreshold}` };
  }
  if (workload <= pool.downThreshold) {
    return { desired: size - pool.step, reason: `workload ${workload} <= downThreshold ${pool.downThreshold}` };
  }
  return {
    desired: size,
    reason: `workload ${workload} between downThreshold ${pool.downThreshold} and upThreshold ${pool.upThreshold}`,
  };
}
