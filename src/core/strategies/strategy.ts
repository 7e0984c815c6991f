/**
 * strategy: the common shape of a scaling strategy.
 *
 * A strategy is a pure calculation `(size, workload, config, memory) -> desired size + reason`
 * (nomad-autoscaler's plugins/strategy). It knows nothing of min, max, cooldowns or targets:
 * decide() applies those through safety.ts.
 */
import type { PolicyMemory, PoolHistory, PoolSpec } from '../types.ts';

/** StrategyInput is what every strategy sees: the pool, its current size (ready + in flight), the fresh workload. */
export interface StrategyInput {
  readonly pool: PoolSpec;
  /** size: ready + in-flight instances (the pool's current size). */
  readonly size: number;
  /** inFlight: the part of `size` still on its way to ready (starting, booted, deploying, creating). */
  readonly inFlight?: number;
  readonly workload: number;
  readonly nowMs: number;
  /** memory: the strategy's own memory (only `adaptive` reads it). */
  readonly memory: PolicyMemory | undefined;
  /** history: the pool's budget memory and measured start times (only `budget` reads them). */
  readonly history?: Pick<PoolHistory, 'budget' | 'startLatenciesMs'>;
}

/** StrategyResult is a wanted size (before min/max capping) with the words that explain it. */
export interface StrategyResult {
  readonly desired: number;
  readonly reason: string;
}
