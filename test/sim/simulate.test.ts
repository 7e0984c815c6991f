import t from 'tap';
import { oracleOf, runSimulation, simPolicies, simulatePolicy } from '../../src/sim/simulate.ts';
import { parseTrace } from '../../src/sim/trace.ts';
import type { PolicyResult } from '../../src/sim/simulate.ts';

// Ten minutes, 8 GPUs per instance, ready 4 minutes (start 60 s + deploy 180 s) after the decision.
const csv = ['time,running_gpus,pending_gpus', ...[8, 8, 20, 20, 20, 20, 20, 20, 0, 0].map((d, n) => `2020-05-01 00:0${n}:00,${d - (d > 8 ? 4 : 0)},${d > 8 ? 4 : 0}`)].join('\n');
const trace = parseTrace('tiny', csv);

const byName = (results: readonly PolicyResult[], name: string): PolicyResult => {
  const found = results.find((p) => p.name === name);
  if (found === undefined) throw new Error(`no policy ${name}`);
  return found;
};

t.test('reads demand as running + pending GPUs', async (t) => {
  t.same(trace.demandGpus, [8, 8, 20, 20, 20, 20, 20, 20, 0, 0]);
  t.same(trace.pendingGpus, [0, 0, 4, 4, 4, 4, 4, 4, 0, 0]);
});

t.test('the oracle pays exactly ceil(demand / 8) each minute plus the 4-minute lead of every start', async (t) => {
  // needed = 1,1,3,3,3,3,3,3,0,0 -> 20 instance-minutes; 2 starts x 4 lead minutes = 8.
  t.same(oracleOf(trace), { instanceMinutes: 28, unmet: Array(10).fill(0), starts: 2, stops: 3 });
});

t.test('reports every policy with the numbers worked out by hand', async (t) => {
  const report = runSimulation(trace);
  t.same(report.policies.map((p) => p.name), ['oracle', 'static-max', 'seed-threshold', 'target-tracking', 'salt-autoscaler']);
  t.equal(report.demandGpuMinutes, 136);
  t.equal(report.minutes, 10);
  t.same(byName(report.policies, 'static-max'), {
    name: 'static-max', instanceMinutes: 30, unmetGpuMinutes: 0, unmetShare: 0, starts: 0, stops: 0, p95UnmetGpus: 0, maxUnmetGpus: 0, costRatio: 30 / 28,
  });
  // adaptive: +2 at minute 2, ready at minute 6 (12 unmet x 4 minutes), keeps 3 through the drop (peak window).
  t.same(byName(report.policies, 'salt-autoscaler'), {
    name: 'salt-autoscaler', instanceMinutes: 26, unmetGpuMinutes: 48, unmetShare: 48 / 136, starts: 2, stops: 0, p95UnmetGpus: 12, maxUnmetGpus: 12, costRatio: 26 / 28,
  });
  // target tracking: same start, then drains all 3 at minute 8 (270 s after minute 2 has passed).
  t.same(byName(report.policies, 'target-tracking'), {
    name: 'target-tracking', instanceMinutes: 20, unmetGpuMinutes: 48, unmetShare: 48 / 136, starts: 2, stops: 3, p95UnmetGpus: 12, maxUnmetGpus: 12, costRatio: 20 / 28,
  });
  // seed: +1 at minute 2 (ready at 6), +1 at minute 7 (cooldown 270 s); 12 x 4 + 4 + 4 unmet; no drain inside the cooldown.
  t.same(byName(report.policies, 'seed-threshold'), {
    name: 'seed-threshold', instanceMinutes: 21, unmetGpuMinutes: 56, unmetShare: 56 / 136, starts: 2, stops: 0, p95UnmetGpus: 12, maxUnmetGpus: 12, costRatio: 21 / 28,
  });
});

t.test('drives the lifecycle without a single refused input', async (t) => {
  for (const policy of simPolicies(trace)) t.same(simulatePolicy(trace, policy).ignored, [], policy.name);
});

t.test('rejects a trace without the demand columns or with a bad row', async (t) => {
  t.throws(() => parseTrace('bad', 'time,gpus\n2020,1'), { code: 'ASC_ERR_SIM_TRACE' });
  t.throws(() => parseTrace('bad', 'time,running_gpus,pending_gpus\n2020,1,x'), { code: 'ASC_ERR_SIM_TRACE', message: /line 2/ });
});
