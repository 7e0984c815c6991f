// sim/family: the hindsight search finds what trying every member would (on made-up runs whose waiting falls and cost
// grows with H, as the family's do), and withHindsight adds the cheapest member within the budget to a report.
import fc from 'fast-check';
import t from 'tap';
import type { PoolSpec } from '../../src/core/types.ts';
import { cheapestMember, familyPolicy, HOLD_MINUTES, SPARE_INSTANCES, tuneFamily, withHindsight } from '../../src/sim/family.ts';
import { resultOf, runSimulation, simulatePolicy, yardstickOf, type PolicyResult, type SimOptions } from '../../src/sim/simulate.ts';
import { parseTrace, type Trace } from '../../src/sim/trace.ts';
import { shippedPool } from '../../src/simulate-command.ts';

interface Run { readonly waiting: number; readonly cost: number }

/**
 * table: per S, a run per H on the grid, waiting non-increasing and cost non-decreasing in H (holding longer frees
 * nothing sooner), no member waiting less than a floor (the first rise of a trace waits whatever the member).
 */
const table = fc.tuple(fc.array(
  fc.tuple(fc.array(fc.nat(20), { minLength: HOLD_MINUTES.length, maxLength: HOLD_MINUTES.length }), fc.array(fc.nat(20), { minLength: HOLD_MINUTES.length, maxLength: HOLD_MINUTES.length }), fc.nat(30), fc.nat(40)),
  { minLength: SPARE_INSTANCES.length, maxLength: SPARE_INSTANCES.length },
).map((perSpare) => perSpare.map(([drops, rises, startWaiting, startCost]) => {
  let waiting = startWaiting;
  let cost = startCost;
  return HOLD_MINUTES.map((_, k) => {
    if (k > 0) { waiting = Math.max(0, waiting - (drops[k] ?? 0)); cost += rises[k] ?? 0; }
    return { waiting, cost };
  });
})), fc.nat(40)).map(([runs, floor]) => runs.map((perH) => perH.map((r) => ({ ...r, waiting: Math.max(floor, r.waiting) }))));

t.test('cheapestMember: the binary search over H and the skipped S find the brute force\'s cheapest member within the limit', async (t) => {
  const seen = { none: 0, holds: 0, spares: 0 };
  fc.assert(fc.property(table, fc.nat(25), (runs, limit) => {
    const run = (h: number, s: number): Run => runs[SPARE_INSTANCES.indexOf(s)]?.[HOLD_MINUTES.indexOf(h)] ?? { waiting: Infinity, cost: Infinity };
    const found = cheapestMember(run, (r) => r.waiting <= limit, (r) => r.cost);
    let best: number | undefined;
    for (const s of SPARE_INSTANCES) for (const h of HOLD_MINUTES) {
      const r = run(h, s);
      if (r.waiting <= limit && (best === undefined || r.cost < best)) best = r.cost;
    }
    if (found === undefined) seen.none += 1;
    else {
      if (found.holdMinutes > 0) seen.holds += 1;
      if (found.spare > 0) seen.spares += 1;
    }
    return found === undefined ? best === undefined : found.result.waiting <= limit && found.result.cost === best;
  }), { numRuns: 500 });
  // the generator reaches the cases the search tells apart: no member within, a hold, spares
  t.ok(seen.none > 0 && seen.holds > 0 && seen.spares > 0, `none ${seen.none}, a hold ${seen.holds}, spares ${seen.spares}`);
});

/** twoDays: 60 idle minutes then 30 busy at 64 GPUs, repeated over 2 days. */
function twoDays(): Trace {
  const rows = Array.from({ length: 2 * 1440 }, (_, m) => `m${m},${m % 90 >= 60 ? 64 : 0},0`);
  return parseTrace('two-days', ['time,running_gpus,pending_gpus', ...rows].join('\n'));
}

/** memberRun is one member's run through the simulator, as the search runs it. */
function memberRun(trace: Trace, pool: PoolSpec, h: number, s: number, options: SimOptions): PolicyResult {
  const policy = familyPolicy(pool, h, s, 8);
  return resultOf(policy.name, simulatePolicy(trace, policy, options), yardstickOf(trace, options));
}

t.test('withHindsight adds the cheapest member within the budget as a row, as trying every member finds it', async (t) => {
  const trace = twoDays();
  const pool = shippedPool(trace, { waitBudget: 0.05 });
  const options = { waitBudget: 0.05 };
  const report = withHindsight(runSimulation(trace, pool, options), trace, pool, options);
  const { tuned } = tuneFamily(trace, pool, [0.05], options);
  const best = tuned[0];
  t.ok(best?.result !== undefined, 'some member keeps 5 %');
  t.same(report.hindsight, { holdMinutes: best?.holdMinutes, spare: best?.spare });
  const row = report.policies.at(-1);
  t.equal(row?.name, `hindsight ${best?.holdMinutes}m+${best?.spare}`);
  t.ok((row?.unmetShare ?? 1) <= 0.05 && row?.withinBudget === true, `waits ${row?.unmetShare}`);
  t.same(report.policies.slice(0, -1).map((p) => p.name), ['oracle', 'static-max', 'seed-threshold', 'target-tracking', 'salt-autoscaler'], 'after the other rows');
  // every member of the grid within the budget costs at least as much
  const all = HOLD_MINUTES.flatMap((h) => SPARE_INSTANCES.map((s) => ({ h, s })));
  let cheaper = 0;
  for (const { h, s } of all) {
    const member = memberRun(trace, pool, h, s, options);
    if (member.unmetShare <= 0.05 && member.instanceMinutes < (row?.instanceMinutes ?? 0)) cheaper += 1;
  }
  t.equal(cheaper, 0, `none of the ${all.length} members within the budget is cheaper`);
});

t.test('withHindsight says so when no member keeps the budget', async (t) => {
  const trace = twoDays();
  const pool = shippedPool(trace, { waitBudget: 0 });
  const report = withHindsight(runSimulation(trace, pool, { waitBudget: 0 }), trace, pool, { waitBudget: 0 });
  t.equal(report.hindsight, null, 'the first rise waits its lead under every member');
  t.notOk(report.policies.some((p) => p.name.startsWith('hindsight')), 'and no row is added');
});
