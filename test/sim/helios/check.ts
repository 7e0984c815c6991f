import t from 'tap';
import { DEFAULT_WAIT_BUDGET, runSimulation } from '../../../src/sim/simulate.ts';
import { loadTrace } from '../../../src/sim/trace.ts';
import { shippedPool } from '../../../src/simulate-command.ts';

// The shipped default (the config's default pool) on the four Helios virtual clusters, May 2020 (44,640 minutes each).
// Goal (issue 13): waiting within the default budget (0.25 % of demand GPU-minutes) AND cost <= 1.05 x the exact oracle.
// Both are held on all four (at most 1.03x, docs/policy.md); the cost assertion is the goal itself, 1.05x, on each. A baseline already within the budget is a cheaper answer the policy must find
// (it may not cost more than it); a baseline over the budget must wait more than the policy.
// One trace a file (test/sim/helios/<trace>.test.ts): a trace took ~50 s on a loaded 2-core CI machine (before the
// strategy replayed only the minutes each close adds), so four in one file outran tap's 120 s per-file timeout.
export function checkTrace(name: string): void {
  t.test(`the default policy keeps its budget on Helios ${name}: it waits less than a baseline over budget, costs no more than one within it`, async (t) => {
    const trace = await loadTrace(new URL(`../../fixtures/traces/${name}.csv.gz`, import.meta.url).pathname);
    const report = runSimulation(trace, shippedPool(trace));
    const get = (policy: string) => report.policies.find((p) => p.name === policy);
    const ours = get('salt-autoscaler');
    const seed = get('seed-threshold');
    const tracking = get('target-tracking');
    if (ours === undefined || seed === undefined || tracking === undefined) throw new Error('a policy is missing');
    t.ok(ours.withinBudget && ours.unmetShare <= DEFAULT_WAIT_BUDGET, `waiting ${(100 * ours.unmetShare).toFixed(3)}% <= 0.25%`);
    t.ok(ours.costRatio <= 1.05, `cost ${ours.costRatio.toFixed(3)} x oracle <= 1.05`);
    for (const baseline of [seed, tracking]) {
      if (baseline.unmetShare > DEFAULT_WAIT_BUDGET) {
        t.ok(ours.unmetShare < baseline.unmetShare, `${baseline.name} is over budget (${(100 * baseline.unmetShare).toFixed(3)}%): ours waits less`);
      } else {
        t.ok(ours.costRatio <= baseline.costRatio * 1.01, `${baseline.name} is within budget at ${baseline.costRatio.toFixed(3)}x: ours costs no more (${ours.costRatio.toFixed(3)}x)`);
      }
    }
  });
}
