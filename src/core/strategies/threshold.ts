/**
 * threshold: the seed's strategy. workload >= upThreshold -> +step; workload <= downThreshold -> -step;
 * anything in between keeps the size.
 */
import type { StrategyInput, StrategyResult } from './strategy.ts';

/** threshold returns size + step, size - step or size, by comparing the workload to the pool's thresholds. */
export function threshold(input: StrategyInput): StrategyResult {
  const { pool, size, workload } = input;
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
