import t from 'tap';
import { adaptive, ADAPTIVE_PEAK_WINDOW_MS, observe, peakOf } from '../../src/core/strategies/adaptive.ts';
import { target } from '../../src/core/strategies/target.ts';
import { threshold } from '../../src/core/strategies/threshold.ts';
import type { StrategyInput } from '../../src/core/strategies/strategy.ts';
import type { PolicyMemory, PoolSpec } from '../../src/core/types.ts';

const pool = {
  name: 'prod/type1', env: 'prod', instanceType: 'type1', min: 0, max: 10, upThreshold: 4, downThreshold: 1,
  intervalMs: 60_000, upCooldownMs: 60_000, downCooldownMs: 60_000, step: 2, strategy: { kind: 'threshold' },
  provisionTimeoutMs: 900_000, drainTimeoutMs: 600_000, scaleIn: 'stop', canCreate: false, signalMaxAgeMs: 600_000,
  failureBackoffBaseMs: 60_000, failureBackoffMaxMs: 1_800_000, dryRun: false, paused: false,
} satisfies PoolSpec;

const input = (workload: number, size: number, memory?: PolicyMemory, nowMs = 0): StrategyInput =>
  ({ pool, size, workload, nowMs, memory });

t.test('threshold adds step at upThreshold, removes step at downThreshold, keeps the size in between', async (t) => {
  t.same(threshold(input(4, 3)), { desired: 5, reason: 'workload 4 >= upThreshold 4' });
  t.same(threshold(input(1, 3)), { desired: 1, reason: 'workload 1 <= downThreshold 1' });
  t.equal(threshold(input(2, 3)).desired, 3);
});

t.test('target wants ceil(workload / perInstance)', async (t) => {
  t.same(target(input(17, 0), 8), { desired: 3, reason: 'workload 17 / perInstance 8 wants 3' });
  t.equal(target(input(16, 5), 8).desired, 2);
  t.equal(target(input(0, 5), 8).desired, 0);
});

t.test('adaptive keeps capacity for the peak of the window and releases it once the peak leaves the window', async (t) => {
  let memory: PolicyMemory | undefined;
  for (const [minute, value] of [[0, 20], [1, 40], [2, 9], [3, 8]] as const) {
    memory = observe(memory, { value, atMs: minute * 60_000, source: 't' }, minute * 60_000);
  }
  t.equal(adaptive(input(8, 5, memory, 3 * 60_000), 8).desired, 5, 'peak 40 -> 5 instances');
  t.match(adaptive(input(8, 5, memory, 3 * 60_000), 8).reason, 'peak 40 in the last 30 min');
  const later = 60_000 + ADAPTIVE_PEAK_WINDOW_MS + 60_000;
  t.equal(adaptive(input(8, 5, memory, later), 8).desired, 2, 'peak 9 still in the window after 40 left it');
  t.equal(adaptive(input(8, 5, memory, 10 * ADAPTIVE_PEAK_WINDOW_MS), 8).desired, 1, 'only the workload now once the window is empty');
});

t.test('observe keeps only samples that can still be the maximum, and ignores out-of-order ones', async (t) => {
  let memory: PolicyMemory | undefined;
  for (let minute = 0; minute < 500; minute += 1) {
    memory = observe(memory, { value: minute % 50, atMs: minute * 60_000, source: 't' }, minute * 60_000);
  }
  t.ok((memory?.samples.length ?? 0) <= 31, 'at most one sample per minute of the window');
  t.equal(peakOf(memory, 499 * 60_000, ADAPTIVE_PEAK_WINDOW_MS), 49);
  const late = observe(memory, { value: 99, atMs: 0, source: 't' }, 499 * 60_000);
  t.equal(late, memory);
});

t.test('adaptive says a peak window under a minute in seconds', async (t) => {
  const memory = observe(undefined, { value: 9, atMs: 0, source: 'test' }, 0, 45_000);
  t.equal(adaptive(input(2, 5, memory, 30_000), 1, 45_000).reason, 'workload 2, peak 9 in the last 45 s / perInstance 1 wants 9');
});
