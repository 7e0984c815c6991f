/**
 * target: target tracking. The wanted size is the number of instances that serves the whole workload:
 * desired = ceil(workload / perInstance).
 */
import type { StrategyInput, StrategyResult } from './strategy.ts';

/** target returns ceil(workload / perInstance) (a non-positive perInstance is treated as 1). */
export function target(input: StrategyInput, perInstance: number): StrategyResult {
  const per = perInstance > 0 ? perInstance : 1;
  const desired = Math.max(0, Math.ceil(input.workload / per));
  return { desired, reason: `workload ${input.workload} / perInstance ${per} wants ${desired}` };
}
