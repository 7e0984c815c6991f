/**
 * desired-size: the dispatch from `PoolSpec.strategy` to one of the pure strategies.
 */
import { adaptive } from './adaptive.ts';
import { budget } from './budget.ts';
import type { StrategyInput, StrategyResult } from './strategy.ts';
import { target } from './target.ts';
import { threshold } from './threshold.ts';

/** desiredSize runs the pool's configured strategy. */
export function desiredSize(input: StrategyInput): StrategyResult {
  const strategy = input.pool.strategy;
  switch (strategy.kind) {
    case 'threshold':
      return threshold(input);
    case 'target':
      return target(input, strategy.perInstance);
    case 'adaptive':
      return adaptive(input, strategy.perInstance, strategy.peakWindowMs);
    case 'budget':
      return budget(input, strategy.perInstance);
    default:
      return strategy satisfies never;
  }
}
