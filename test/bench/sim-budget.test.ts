// bench/sim-budget: issue 13's verdict over hand-made rows (judgeRows, verdictOf), and one real run of the bench on the
// recurring synthetic trace, where each budget's row is judged against its own budget.
import t from 'tap';
import { benchSimBudget, judgeRows, verdictOf, type BudgetRow } from '../../bench/sim-budget.ts';
import type { PolicyResult } from '../../src/sim/simulate.ts';

const RECURRING = 'recurring';
const near = (x: number, y: number): boolean => Math.abs(x - y) < 1e-9;
const WEEKLY = 'weekly';

function result(instanceMinutes: number, oracleMinutes: number, unmetShare: number): PolicyResult {
  return {
    name: 'p', instanceMinutes, unmetGpuMinutes: 0, unmetShare, withinBudget: true, starts: 0, stops: 0, failedStarts: 0,
    p95UnmetGpus: 0, maxUnmetGpus: 0, p95WaitMinutes: 0, maxWaitMinutes: 0, costRatio: instanceMinutes / oracleMinutes,
    worstWindowShare: unmetShare, alertHours: 0,
  };
}

/** row: a trace's row with the policy paying `paid` and waiting `waited`, the family `family` (undefined: no member keeps it). */
function row(trace: string, o: { latency?: '1x' | '2x'; budget?: number; paid: number; waited?: number; family?: number }): BudgetRow {
  const budget = o.budget ?? 0.0025;
  const policy = result(o.paid, 100, o.waited ?? 0.001);
  const family = o.family === undefined ? { budget } : { budget, holdMinutes: 10, spare: 0, result: result(o.family, 100, 0.002) };
  return {
    trace, latency: o.latency ?? '1x', budget, oracleMinutes: 100, policy, family,
    withinBudget: policy.unmetShare <= budget, cheaperThanFamily: family.result === undefined || policy.instanceMinutes <= family.result.instanceMinutes,
  };
}

t.test('judgeRows: the overall ratio is over the real traces at the default budget and 1x; every default-budget row is judged', async (t) => {
  const rows = [
    row('a', { paid: 103, family: 104 }),
    row('b', { paid: 105, family: 106 }),
    row('b', { budget: 0.001, paid: 130, waited: 0.002, family: 120 }), // another budget: shown, not judged
    row('a', { latency: '2x', paid: 110, family: 111 }), // judged row by row, not in the overall ratio
    row(RECURRING, { paid: 120, waited: 0.002, family: 260 }),
    row(WEEKLY, { paid: 111 }), // no member keeps it: the policy counts as cheaper
  ];
  const j = judgeRows(rows, RECURRING, WEEKLY);
  t.equal(j.overallTraces, 2);
  t.ok(near(j.overallCostRatio, 1.04), `(103 + 105) / 200: ${j.overallCostRatio}`);
  t.ok(near(j.familyOverallCostRatio, 1.05), `(104 + 106) / 200: ${j.familyOverallCostRatio}`);
  t.equal(j.defaultRows, 5);
  t.equal(j.defaultRowsOk, 5);
  t.ok(j.recurringOk);
  t.ok(j.targetMet);

  const costlier = judgeRows([...rows.slice(0, 3), row('a', { latency: '2x', paid: 112, family: 111 }), ...rows.slice(4)], RECURRING, WEEKLY);
  t.equal(costlier.defaultRowsOk, 4, 'a row at twice the latency costlier than its family');
  t.notOk(costlier.targetMet);
  t.ok(near(costlier.overallCostRatio, 1.04), 'which is not in the overall ratio');

  const over = judgeRows([row('a', { paid: 103, waited: 0.003, family: 104 }), ...rows.slice(1)], RECURRING, WEEKLY);
  t.equal(over.defaultRowsOk, 4, 'a row over its budget');
  t.notOk(over.targetMet);

  const dear = judgeRows([row('a', { paid: 108, family: 110 }), row('b', { paid: 104, family: 106 }), ...rows.slice(2)], RECURRING, WEEKLY);
  t.equal(dear.defaultRowsOk, 5, 'every row ok');
  t.ok(near(dear.overallCostRatio, 1.06), `${dear.overallCostRatio}`);
  t.notOk(dear.targetMet, 'but 1.06x the oracle overall');

  const recurringDear = judgeRows([...rows.slice(0, 4), row(RECURRING, { paid: 140, waited: 0.002, family: 260 }), rows[5]!], RECURRING, WEEKLY);
  t.notOk(recurringDear.recurringOk, 'the recurring trace at 1.4x the oracle');
  t.notOk(recurringDear.targetMet);
  t.notOk(judgeRows([...rows.slice(0, 4), row(RECURRING, { paid: 120, waited: 0.012, family: 260 }), rows[5]!], RECURRING, WEEKLY).recurringOk, 'or at 1.2 % waiting');
});

t.test('verdictOf names what a row misses', async (t) => {
  t.equal(verdictOf({ withinBudget: true, cheaperThanFamily: true }), 'ok');
  t.equal(verdictOf({ withinBudget: false, cheaperThanFamily: true }), 'OVER budget');
  t.equal(verdictOf({ withinBudget: true, cheaperThanFamily: false }), 'costlier than family');
  t.equal(verdictOf({ withinBudget: false, cheaperThanFamily: false }), 'OVER budget, costlier than family');
});

t.test('the bench on the recurring trace: a row per budget, each judged against its own budget', async (t) => {
  const r = await benchSimBudget({ full: false, filter: { traces: ['recurring'], latency: '1x' } });
  t.same(r.rows.map((x) => x.budget), [0.001, 0.0025, 0.005, 0.01]);
  for (const x of r.rows) {
    t.equal(x.withinBudget, x.policy.unmetShare <= x.budget, `${x.budget}: the verdict is the share against the row's budget`);
    t.equal(x.policy.withinBudget, x.withinBudget, `${x.budget}: so is the simulator's own`);
    if (x.family.result !== undefined) t.ok(x.family.result.unmetShare <= x.budget, `${x.budget}: the family's member keeps the row's budget`);
  }
  // the same waiting is over the tightest budget and within the default one: the alert fires only against the first
  const [tight, fallback] = [r.rows[0]!, r.rows[1]!];
  t.ok(tight.policy.unmetShare > tight.budget && fallback.policy.unmetShare <= fallback.budget, `waiting ${tight.policy.unmetShare} against 0.1 % and 0.25 %`);
  t.ok(tight.policy.alertHours > 0, `the alert fires against 0.1 %: ${tight.policy.alertHours} h`);
  t.equal(fallback.policy.alertHours, 0, 'and not against 0.25 %');
  t.ok(r.recurringOk, 'the recurring trace under 1 % at no more than 1.3x the oracle');
  t.equal(r.defaultRows, 1);
  t.ok(Number.isNaN(r.overallCostRatio), 'no real trace run: no overall ratio');
});
