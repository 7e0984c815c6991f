/**
 * bench/sim-budget: the shipped default policy (the simulator's `salt-autoscaler` row: the config's default pool)
 * against the hindsight-tuned family (bench/family.ts) on every trace of the repo and their transforms
 * (bench/trace-transforms.ts), at waiting budgets 0.1 %, 0.25 %, 0.5 % and 1 %, and at twice the start latency.
 *
 * ```
 *   traces ──► per trace and latency: oracle · shipped policy (per budget, once PoolSpec carries it) · family tuned per budget
 *          ──► rows (trace, latency, budget, waiting vs budget, cost / oracle, family's) ──► verdict per row + overall
 * ```
 * Target (issue 13), at the default budget (0.25 %), at 1x and 2x the start latency: within budget on every trace,
 * cost <= the tuned family's on every trace, total cost <= 1.05x the total oracle over all traces (the synthetic
 * recurring one aside); the recurring trace < 1 % waiting at <= 1.3x the oracle.
 * Each row also gives the policy's worst 7-day share and the hours the shipped over-budget alert would fire
 * (src/sim/window-share.ts): the budget is promised over the rolling window; the verdict stays the issue's (whole trace).
 * The synthetic weekly trace (weekdays 08-20 h, nights and two days a week empty, 6 weeks) shows the weekly pre-warm;
 * it is judged row by row but left out of the overall cost, as the recurring one is.
 * `npx tsx bench/sim-budget.ts [--full] [--traces NAME,...] [--latency 1x|2x] [--budgets default] [--window-strict]`: the default run
 * takes the four traces, their reversed and shuffled transforms and the two synthetic ones at both latencies; `--full`
 * adds every other transform. The filters are for iterating on a few rows: `--traces` keeps the traces whose name
 * contains one of the given parts, `--latency` one latency, `--budgets default` the default budget only (the
 * overall line then covers only the rows run, so it is not the yardstick's figure).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { DEFAULT_WAIT_BUDGET, resultOf, simPolicies, simulatePolicy, yardstickOf, type PolicyResult, type SimOptions } from '../src/sim/simulate.ts';
import type { Trace } from '../src/sim/trace.ts';
import { shippedPool } from '../src/simulate-command.ts';
import { LATENCY_OPTIONS, tuneFamily, type Tuned } from './family.ts';
import { loadHeliosTraces, recurring, transformsOf, weekly } from './trace-transforms.ts';

/** BUDGETS are the waiting budgets of the bench (fractions). */
export const BUDGETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01];

/** LEARNED_FROM_MINUTE: the weekly trace's fourth week starts here (three weeks of hours come before a week is found). */
const LEARNED_FROM_MINUTE = 21 * 1440;

/** shareFrom is the share of the trace's demand (GPU-minutes) from minute `from` on that waited. */
function shareFrom(trace: Trace, unmet: readonly number[], from: number): number {
  let waited = 0;
  let demand = 0;
  for (let m = from; m < trace.demandGpus.length; m += 1) {
    waited += unmet[m] ?? 0;
    demand += trace.demandGpus[m] ?? 0;
  }
  return demand > 0 ? waited / demand : 0;
}

/** Latency is one latency setting: the simulator's defaults, or every start-to-ready latency doubled. */
interface Latency {
  readonly name: '1x' | '2x';
  readonly options: SimOptions;
}

const LATENCIES: readonly Latency[] = (['1x', '2x'] as const).map((name) => ({ name, options: LATENCY_OPTIONS[name] }));

/** BudgetRow is one trace at one latency and budget: the shipped policy and the family tuned for it. */
export interface BudgetRow {
  readonly trace: string;
  readonly latency: '1x' | '2x';
  readonly budget: number;
  readonly oracleMinutes: number;
  readonly policy: PolicyResult;
  readonly family: Tuned;
  readonly withinBudget: boolean;
  /** cheaperThanFamily: the policy pays no more than the family (true when no member keeps the budget). */
  readonly cheaperThanFamily: boolean;
}

/** SimBudgetBench is the outcome: the rows, the overall figures and whether the target is met. */
export interface SimBudgetBench {
  readonly rows: readonly BudgetRow[];
  readonly table: string;
  /** overallCostRatio: total paid / total oracle at the default budget, 1x latency, the synthetic traces aside. */
  readonly overallCostRatio: number;
  readonly familyOverallCostRatio: number;
  readonly defaultRowsOk: number;
  readonly defaultRows: number;
  readonly recurringOk: boolean;
  readonly targetMet: boolean;
  readonly traces: number;
  readonly runs: number;
  readonly runtimeMs: number;
}

const pct = (share: number): string => `${(100 * share).toFixed(3)}`;

/** SimBudgetFilter narrows a run to a few rows: trace name parts, one latency, the default budget only. */
export interface SimBudgetFilter {
  readonly traces?: readonly string[];
  readonly latency?: '1x' | '2x';
  readonly defaultBudgetOnly?: boolean;
  /** windowStrict: the policy's pool sets waitWindowStrict (every rolling window keeps the budget). */
  readonly windowStrict?: boolean;
}

/** verdictOf words a row's verdict: `ok`, or what it misses (over its budget, costlier than the family). */
export function verdictOf(r: Pick<BudgetRow, 'withinBudget' | 'cheaperThanFamily'>): string {
  return [r.withinBudget ? '' : 'OVER budget', r.cheaperThanFamily ? '' : 'costlier than family'].filter((w) => w !== '').join(', ') || 'ok';
}

/** Judgement is issue 13's verdict over the rows. */
export interface Judgement {
  /** overallCostRatio / familyOverallCostRatio: total paid over total oracle, at the default budget and 1x, the synthetic traces aside (NaN without such a row). */
  readonly overallCostRatio: number;
  readonly familyOverallCostRatio: number;
  readonly overallTraces: number;
  readonly defaultRowsOk: number;
  readonly defaultRows: number;
  readonly recurringOk: boolean;
  readonly targetMet: boolean;
}

/**
 * judgeRows is issue 13's "Done when" over the rows: at the default budget every row within its budget and no costlier
 * than the family tuned for it (a trace no member keeps counts as cheaper), the total at 1x at most 1.05x the total oracle
 * over the traces that are not synthetic (a family that keeps no member counts at the policy's cost), and the recurring
 * trace under 1 % waiting at no more than 1.3x the oracle at every latency.
 */
export function judgeRows(rows: readonly BudgetRow[], recurringName: string, weeklyName: string): Judgement {
  const judged = rows.filter((r) => r.budget === DEFAULT_WAIT_BUDGET);
  const overall = judged.filter((r) => r.latency === '1x' && r.trace !== recurringName && r.trace !== weeklyName);
  const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
  const oracleTotal = sum(overall.map((r) => r.oracleMinutes));
  const overallCostRatio = sum(overall.map((r) => r.policy.instanceMinutes)) / oracleTotal;
  const familyOverallCostRatio = sum(overall.map((r) => r.family.result?.instanceMinutes ?? r.policy.instanceMinutes)) / oracleTotal;
  const recurringOk = judged.filter((r) => r.trace === recurringName).every((r) => r.policy.unmetShare < 0.01 && r.policy.costRatio <= 1.3);
  const defaultRowsOk = judged.filter((r) => r.withinBudget && r.cheaperThanFamily).length;
  return {
    overallCostRatio, familyOverallCostRatio, overallTraces: overall.length, defaultRowsOk, defaultRows: judged.length, recurringOk,
    targetMet: defaultRowsOk === judged.length && overallCostRatio <= 1.05 && recurringOk,
  };
}

/** benchSimBudget runs the bench; `full` takes every transform, `filter` (absent: every row) narrows it. */
export async function benchSimBudget(opts: { readonly full: boolean; readonly filter?: SimBudgetFilter; readonly log?: (line: string) => void }): Promise<SimBudgetBench> {
  const started = performance.now();
  const helios = await loadHeliosTraces();
  const synthetic = recurring();
  const week = weekly();
  const wanted = opts.filter?.traces;
  const traces: Trace[] = [...helios, ...transformsOf(helios, opts.full ? 'all' : 'core'), synthetic, week]
    .filter((t) => wanted === undefined || wanted.some((part) => t.name.includes(part)));
  if (traces.length === 0) throw new Error(`no trace name contains any of ${JSON.stringify(wanted)}`);
  const rows: BudgetRow[] = [];
  // the weekly trace's waiting from its fourth week on, per latency: once three weeks of hours tell a week from a day
  const learned = new Map<string, number>();
  let runs = 0;
  for (const latency of LATENCIES.filter((l) => opts.filter?.latency === undefined || l.name === opts.filter.latency)) {
    // at twice the latency the default budget is the one judged (it keeps the run within a few minutes)
    const budgets = latency.name === '1x' && opts.filter?.defaultBudgetOnly !== true ? BUDGETS : [DEFAULT_WAIT_BUDGET];
    for (const trace of traces) {
      const t0 = performance.now();
      const yardstick = yardstickOf(trace, latency.options);
      const family = tuneFamily(trace, shippedPool(trace), budgets, latency.options);
      runs += family.runs;
      const byPool = new Map<string, PolicyResult>();
      for (const [n, budget] of budgets.entries()) {
        const pool = shippedPool(trace, { waitBudget: budget, ...(opts.filter?.windowStrict === true ? { patch: { waitWindowStrict: true } } : {}) });
        const key = JSON.stringify(pool);
        let policy = byPool.get(key);
        if (policy === undefined) {
          const shipped = simPolicies(pool, latency.options).find((p) => p.name === 'salt-autoscaler');
          if (shipped === undefined) throw new Error('the simulator has no salt-autoscaler row');
          const raw = simulatePolicy(trace, shipped, latency.options);
          // the row's alert hours are judged against the row's budget, not the default one
          policy = resultOf(shipped.name, raw, { ...yardstick, waitBudget: budget });
          if (trace === week && budget === DEFAULT_WAIT_BUDGET) learned.set(latency.name, shareFrom(trace, raw.unmet, LEARNED_FROM_MINUTE));
          byPool.set(key, policy);
          runs += 1;
        }
        const tuned = family.tuned[n] ?? { budget };
        rows.push({
          trace: trace.name,
          latency: latency.name,
          budget,
          oracleMinutes: yardstick.oracleMinutes,
          policy,
          family: tuned,
          withinBudget: policy.unmetShare <= budget,
          cheaperThanFamily: tuned.result === undefined || policy.instanceMinutes <= tuned.result.instanceMinutes,
        });
      }
      opts.log?.(`   ${trace.name} (${latency.name}): ${family.runs} family runs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  const { overallCostRatio, familyOverallCostRatio, overallTraces, defaultRowsOk, defaultRows, recurringOk, targetMet } = judgeRows(rows, synthetic.name, week.name);
  const judged = rows.filter((r) => r.budget === DEFAULT_WAIT_BUDGET);
  const recurringRows = judged.filter((r) => r.trace === synthetic.name);
  const weeklyRows = judged.filter((r) => r.trace === week.name);
  const lines = [
    '| trace | latency | budget % | policy waiting % | policy cost/oracle | policy worst 7d % | policy alert h | family (H, S) | family waiting % | family cost/oracle | verdict |',
    '|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|',
    ...rows.map((r) => {
      const f = r.family.result;
      const member = f === undefined ? 'none keeps it' : `${r.family.holdMinutes ?? 0}m, ${r.family.spare ?? 0}`;
      return `| ${r.trace.replace(/\|/g, '/')} | ${r.latency} | ${pct(r.budget)} | ${pct(r.policy.unmetShare)} | ${r.policy.costRatio.toFixed(3)} | ${pct(r.policy.worstWindowShare)} | ${r.policy.alertHours.toFixed(1)} | ${member} | ${f === undefined ? '-' : pct(f.unmetShare)} | ${f === undefined ? '-' : f.costRatio.toFixed(3)} | ${verdictOf(r)} |`;
    }),
    '',
    `overall at the default budget (${pct(DEFAULT_WAIT_BUDGET)} %), 1x latency, ${overallTraces} traces (synthetic ones aside): policy ${overallCostRatio.toFixed(3)}x the oracle, tuned family ${familyOverallCostRatio.toFixed(3)}x`,
    `default budget rows ok (within budget and cost <= family): ${defaultRowsOk}/${defaultRows}; recurring: ${recurringRows.map((r) => `${r.latency} waiting ${pct(r.policy.unmetShare)} % at ${r.policy.costRatio.toFixed(3)}x`).join(', ')} (target < 1 % at <= 1.3x)`,
    `weekly: ${weeklyRows.map((r) => `${r.latency} waiting ${pct(r.policy.unmetShare)} % at ${r.policy.costRatio.toFixed(3)}x (from the fourth week on ${pct(learned.get(r.latency) ?? Number.NaN)} %)`).join(', ')}`,
  ];
  return {
    rows, table: lines.join('\n'), overallCostRatio, familyOverallCostRatio, defaultRowsOk, defaultRows, recurringOk, targetMet,
    traces: traces.length, runs, runtimeMs: performance.now() - started,
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { full: { type: 'boolean', default: false }, traces: { type: 'string' }, latency: { type: 'string' }, budgets: { type: 'string' }, 'window-strict': { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.latency !== undefined && values.latency !== '1x' && values.latency !== '2x') throw new Error(`--latency expects 1x or 2x, got ${values.latency}`);
  if (values.budgets !== undefined && values.budgets !== 'default') throw new Error(`--budgets expects default, got ${values.budgets}`);
  const filter: SimBudgetFilter = {
    ...(values.traces === undefined ? {} : { traces: values.traces.split(',').filter((t) => t !== '') }),
    ...(values.latency === undefined ? {} : { latency: values.latency }),
    ...(values.budgets === undefined ? {} : { defaultBudgetOnly: true }),
    ...(values['window-strict'] ? { windowStrict: true } : {}),
  };
  const log = (line: string): void => { process.stderr.write(`${line}\n`); };
  const r = await benchSimBudget({ full: values.full, filter, log });
  process.stdout.write(`${r.table}\n\n${r.traces} traces, ${r.runs} simulator runs in ${(r.runtimeMs / 1000).toFixed(1)} s; target ${r.targetMet ? 'met' : 'NOT met'}\n`);
}
