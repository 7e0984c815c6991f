import t from 'tap';
import { POOL_DEFAULTS } from '../../src/config/schema.ts';
import { oracleOf, runSimulation, simPolicies, simulatePolicy } from '../../src/sim/simulate.ts';
import { parseTrace } from '../../src/sim/trace.ts';
import { shippedPool } from '../../src/simulate-command.ts';
import type { PolicyResult } from '../../src/sim/simulate.ts';

// Ten minutes, 8 GPUs per instance, ready 4 minutes (start 60 s + deploy 180 s) after the decision.
const csv = ['time,running_gpus,pending_gpus', ...[8, 8, 20, 20, 20, 20, 20, 20, 0, 0].map((d, n) => `2020-05-01 00:0${n}:00,${d - (d > 8 ? 4 : 0)},${d > 8 ? 4 : 0}`)].join('\n');
const trace = parseTrace('tiny', csv);
const shipped = shippedPool(trace);

const byName = (results: readonly PolicyResult[], name: string): PolicyResult => {
  const found = results.find((p) => p.name === name);
  if (found === undefined) throw new Error(`no policy ${name}`);
  return found;
};

const traceOf = (name: string, demand: readonly number[]) =>
  parseTrace(name, ['time,running_gpus,pending_gpus', ...demand.map((d, n) => `m${n},${d},0`)].join('\n'));

t.test('reads demand as running + pending GPUs', async (t) => {
  t.same(trace.demandGpus, [8, 8, 20, 20, 20, 20, 20, 20, 0, 0]);
  t.same(trace.pendingGpus, [0, 0, 4, 4, 4, 4, 4, 4, 0, 0]);
});

t.test('the oracle pays ceil(demand / 8) each minute plus the 4-minute lead of every start', async (t) => {
  // needed = 1,1,3,3,3,3,3,3,0,0 -> 20 instance-minutes; 2 starts x 4 lead minutes = 8.
  t.same(oracleOf(trace), { instanceMinutes: 28, unmet: Array(10).fill(0), starts: 2, stops: 3 });
});

t.test('the salt-autoscaler row runs the pool the shipped config defaults make', async (t) => {
  t.equal(shipped.intervalMs, POOL_DEFAULTS.intervalMs, 'the service default interval (270 s), not a sim constant');
  t.equal(shipped.upCooldownMs, POOL_DEFAULTS.intervalMs);
  t.equal(shipped.provisionTimeoutMs, POOL_DEFAULTS.provisionTimeoutMs);
  t.equal(shipped.strategy.kind, POOL_DEFAULTS.strategy);
  t.same(shipped.strategy, { kind: POOL_DEFAULTS.strategy, perInstance: 8 }, 'workload in GPUs: perInstance = GPUs per instance');
  t.equal(shipped.max, 3, 'sized for the peak: ceil(20 / 8)');
  const policies = simPolicies(shipped);
  t.same(policies.find((p) => p.name === 'salt-autoscaler')?.pool, shipped);
  t.equal(shippedPool(trace, { patch: { interval: 60_000 } }).downCooldownMs, 60_000, 'cooldowns follow the interval as in the config');
});

t.test('reports every policy with the numbers worked out by hand', async (t) => {
  const report = runSimulation(trace, shipped);
  t.same(report.policies.map((p) => p.name), ['oracle', 'static-max', 'seed-threshold', 'target-tracking', 'salt-autoscaler']);
  t.equal(report.demandGpuMinutes, 136);
  t.equal(report.minutes, 10);
  t.equal(report.waitBudget, 0.0025);
  t.same(byName(report.policies, 'static-max'), {
    name: 'static-max', instanceMinutes: 30, unmetGpuMinutes: 0, unmetShare: 0, withinBudget: true, starts: 0, stops: 0, failedStarts: 0,
    p95UnmetGpus: 0, maxUnmetGpus: 0, p95WaitMinutes: 0, maxWaitMinutes: 0, costRatio: 30 / 28,
    worstWindowShare: 0, alertHours: 0,
  });
  // jobs: 8 GPUs on the warm instance; at minute 2 jobs of 8 and 4 queue until the two started at minute 2 are ready at 6
  // adaptive: +2 at minute 2 (12 waiting x 4 minutes), keeps 3 through the drop (peak window).
  t.same(byName(report.policies, 'salt-autoscaler'), {
    name: 'salt-autoscaler', instanceMinutes: 26, unmetGpuMinutes: 48, unmetShare: 48 / 136, withinBudget: false, starts: 2, stops: 0, failedStarts: 0,
    p95UnmetGpus: 12, maxUnmetGpus: 12, p95WaitMinutes: 4, maxWaitMinutes: 4, costRatio: 26 / 28,
    worstWindowShare: 48 / 136, alertHours: 0,
  });
  // target tracking: same start, then drains all 3 at minute 8 (270 s after minute 2 has passed), each idle (no job left).
  t.same(byName(report.policies, 'target-tracking'), {
    name: 'target-tracking', instanceMinutes: 20, unmetGpuMinutes: 48, unmetShare: 48 / 136, withinBudget: false, starts: 2, stops: 3, failedStarts: 0,
    p95UnmetGpus: 12, maxUnmetGpus: 12, p95WaitMinutes: 4, maxWaitMinutes: 4, costRatio: 20 / 28,
    worstWindowShare: 48 / 136, alertHours: 0,
  });
  // seed: +1 at minute 2 (ready at 6: the 8-GPU job runs, the 4-GPU one waits), +1 at minute 7 (cooldown 270 s);
  // 12 x 4 + 4 + 4 waiting; the 4-GPU job ends at minute 8 having waited 6 minutes; no drain inside the cooldown.
  t.same(byName(report.policies, 'seed-threshold'), {
    name: 'seed-threshold', instanceMinutes: 21, unmetGpuMinutes: 56, unmetShare: 56 / 136, withinBudget: false, starts: 2, stops: 0, failedStarts: 0,
    p95UnmetGpus: 12, maxUnmetGpus: 12, p95WaitMinutes: 6, maxWaitMinutes: 6, costRatio: 21 / 28,
    worstWindowShare: 56 / 136, alertHours: 0,
  });
  t.ok(runSimulation(trace, shipped, { waitBudget: 0.5 }).policies.every((p) => p.withinBudget), 'a 50 % budget covers every policy');
});

t.test('drives the lifecycle without a single refused input', async (t) => {
  for (const policy of simPolicies(shipped)) {
    t.same(simulatePolicy(trace, policy).ignored, [], policy.name);
    t.same(simulatePolicy(trace, policy, { latencyJitter: 0.5, failureShare: 0.5 }).ignored, [], `${policy.name}, jitter and failures`);
  }
});

t.test('does not drain an instance while a job runs on it, whatever its free GPUs', async (t) => {
  // 9 GPUs on two warm instances: a job of 8 and a job of 1. Capacity 16, demand 9: target tracking wants 2 and holds;
  // the threshold (seed) on the empty queue wants one instance fewer, but each instance holds a job: none is idle.
  const busy = traceOf('busy', Array<number>(12).fill(9));
  const seed = simPolicies(shippedPool(busy, { patch: { interval: 60_000 } })).find((p) => p.name === 'seed-threshold');
  if (seed === undefined) throw new Error('no seed policy');
  const run = simulatePolicy(busy, seed);
  t.equal(run.stops, 0, 'no stop: both instances run a job');
  t.equal(run.instanceMinutes, 24);
  // once the 1-GPU job ends (demand 8), its instance is idle and is drained
  const ends = traceOf('ends', [...Array<number>(6).fill(9), ...Array<number>(6).fill(8)]);
  t.equal(simulatePolicy(ends, { ...seed, pool: { ...seed.pool, name: 'sim/ends' } }).stops, 1);
});

t.test('a failed start is stopped and backs the pool off through the engine bookkeeping', async (t) => {
  const rising = traceOf('rising', [0, ...Array<number>(29).fill(8)]);
  const pool = shippedPool(rising, { patch: { interval: 60_000 } });
  const adaptive = simPolicies(pool).find((p) => p.name === 'salt-autoscaler');
  if (adaptive === undefined) throw new Error('no default policy');
  const clean = simulatePolicy(rising, adaptive);
  t.equal(clean.starts, 1);
  t.equal(clean.failedStarts, 0);
  const failing = simulatePolicy(rising, adaptive, { failureShare: 1 });
  t.ok(failing.failedStarts >= 2, `${failing.failedStarts} failed starts`);
  t.equal(failing.starts, failing.failedStarts, 'every start failed, none became ready');
  // back-off 1 min, 2, 4, 8 ... after each failure (4 minutes to fail): far fewer than one start per minute
  t.ok(failing.starts <= 5, `${failing.starts} starts in 30 minutes: the back-off holds the pool`);
  t.equal(failing.unmet.reduce((a, b) => a + b, 0), 8 * 29, 'nothing ever served');
  t.same(failing.ignored, []);
});

t.test('draws latencies and failures from the seed: the same seed gives the same run, another seed another one', async (t) => {
  const vc = traceOf('wavy', Array.from({ length: 600 }, (_, n) => (Math.floor(n / 40) % 2 === 0 ? 64 : 8)));
  const pool = shippedPool(vc);
  const adaptive = simPolicies(pool).find((p) => p.name === 'salt-autoscaler');
  if (adaptive === undefined) throw new Error('no default policy');
  const options = { latencyJitter: 0.5, failureShare: 0.2 };
  const a = simulatePolicy(vc, adaptive, { ...options, seed: 7 });
  const b = simulatePolicy(vc, adaptive, { ...options, seed: 7 });
  const c = simulatePolicy(vc, adaptive, { ...options, seed: 8 });
  t.same(a.unmet, b.unmet);
  t.equal(a.instanceMinutes, b.instanceMinutes);
  t.not(a.unmet.join(), c.unmet.join(), 'another seed, other draws');
  t.ok(a.failedStarts > 0, 'a 20 % failure share fails some starts');
  const slow = simulatePolicy(vc, adaptive, { startLatencyMs: 360_000 });
  const plain = simulatePolicy(vc, adaptive);
  t.ok(slow.unmet.reduce((x, y) => x + y, 0) > plain.unmet.reduce((x, y) => x + y, 0), 'a slower start leaves more waiting');
});

t.test('rejects a trace without the demand columns or with a bad row', async (t) => {
  t.throws(() => parseTrace('bad', 'time,gpus\n2020,1'), { code: 'ASC_ERR_SIM_TRACE' });
  t.throws(() => parseTrace('bad', 'time,running_gpus,pending_gpus\n2020,1,x'), { code: 'ASC_ERR_SIM_TRACE', message: /line 2/ });
});
