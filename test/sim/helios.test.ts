import t from 'tap';
import { DEFAULT_WAIT_BUDGET, runSimulation } from '../../src/sim/simulate.ts';
import { loadTrace } from '../../src/sim/trace.ts';
import { shippedPool } from '../../src/simulate-command.ts';

// The shipped default (the config's default pool) on the four Helios virtual clusters, May 2020 (44,640 minutes each).
// Goal (issue 13): waiting within the default budget (0.25 % of demand GPU-minutes) AND cost <= 1.05 x the exact oracle.
const TRACES = ['vc3sl', 'vc6YE', 'vcJLV', 'vcgkz'];

for (const name of TRACES) {
  t.test(`the default policy keeps its budget on Helios ${name} and leaves less demand waiting than the baselines`, async (t) => {
    const trace = await loadTrace(new URL(`../fixtures/traces/${name}.csv.gz`, import.meta.url).pathname);
    const report = runSimulation(trace, shippedPool(trace));
    const get = (policy: string) => report.policies.find((p) => p.name === policy);
    const ours = get('salt-autoscaler');
    const seed = get('seed-threshold');
    const tracking = get('target-tracking');
    if (ours === undefined || seed === undefined || tracking === undefined) throw new Error('a policy is missing');
    t.ok(ours.withinBudget && ours.unmetShare <= DEFAULT_WAIT_BUDGET, `waiting ${(100 * ours.unmetShare).toFixed(3)}% <= 0.25%`);
    t.ok(ours.costRatio <= 1.05, `cost ${ours.costRatio.toFixed(3)} x oracle <= 1.05`);
    t.ok(ours.unmetShare < seed.unmetShare && ours.unmetShare < tracking.unmetShare, 'less demand waiting than seed and target tracking');
  });
}
