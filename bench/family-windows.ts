/**
 * bench/family-windows: the yardstick judged by the promise the service makes. `waitBudget` is a share over a rolling
 * `waitWindow` (7 days by default), while bench/sim-budget judges the share over the whole trace (a month). This prints,
 * per trace at the default budget, the shipped policy's and the hindsight-tuned family's whole-trace share and their
 * worst 7-day share, and the family tuned in hindsight to keep EVERY 7-day window within the budget.
 *
 * ```
 *   trace ──► policy (shipped pool) ─────────────────────► cost/oracle, share, worst 7-day share
 *         ──► family (H, S), binary search per S as bench/family.ts, judged on its worst 7-day share ──► the same
 * ```
 * `npx tsx bench/family-windows.ts [--traces NAME,...] [--latency 1x|2x]` (default: the four traces, their reversed and
 * shuffled transforms, 1x). Not part of `npm run bench`: it answers where the policy's cost goes against the family.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_WAIT_BUDGET, resultOf, simPolicies, simulatePolicy, yardstickOf, type SimOptions } from '../src/sim/simulate.ts';
import { windowShares } from '../src/sim/window-share.ts';
import type { Trace } from '../src/sim/trace.ts';
import { shippedPool } from '../src/simulate-command.ts';
import { cheapestMember, familyPolicy, LATENCY_OPTIONS } from './family.ts';
import { loadHeliosTraces, transformsOf } from './trace-transforms.ts';

/** WINDOW_MINUTES is the default waitWindow (7 days), in trace minutes. */
const WINDOW_MINUTES = 7 * 1440;

/** worstWindowShare is the highest share of demand that waited over any `window` consecutive minutes (0 for a shorter trace). */
export function worstWindowShare(demand: readonly number[], unmet: readonly number[], window = WINDOW_MINUTES): number {
  return demand.length < window ? 0 : windowShares(demand, unmet, window, Number.POSITIVE_INFINITY).worstShare;
}

/** Run is one policy on one trace: cost / oracle, whole-trace share, worst 7-day share. */
interface Run {
  readonly costRatio: number;
  readonly share: number;
  readonly worst: number;
}

function rowsOf(trace: Trace, options: SimOptions, budget: number): string {
  const pool = shippedPool(trace);
  const yardstick = yardstickOf(trace, options);
  const runs = new Map<string, Run>();
  const member = (h: number, s: number): Run => {
    const raw = simulatePolicy(trace, familyPolicy(pool, h, s, options.gpusPerInstance ?? 8), options);
    const r = resultOf(`${h}/${s}`, raw, yardstick);
    return { costRatio: r.costRatio, share: r.unmetShare, worst: worstWindowShare(trace.demandGpus, raw.unmet) };
  };
  const run = (h: number, s: number): Run => {
    const key = `${h}/${s}`;
    const known = runs.get(key) ?? member(h, s);
    runs.set(key, known);
    return known;
  };
  const tune = (keeps: (r: Run) => boolean): { h: number; s: number; run: Run } | undefined => {
    const best = cheapestMember(run, keeps, (r) => r.costRatio);
    return best === undefined ? undefined : { h: best.holdMinutes, s: best.spare, run: best.result };
  };
  const shipped = simPolicies(pool, options).find((p) => p.name === 'salt-autoscaler');
  if (shipped === undefined) throw new Error('the simulator has no salt-autoscaler row');
  const raw = simulatePolicy(trace, shipped, options);
  const policy = resultOf(shipped.name, raw, yardstick);
  const pct = (x: number): string => (100 * x).toFixed(3);
  const cell = (t: { h: number; s: number; run: Run } | undefined): string =>
    t === undefined ? 'none keeps it | - | - | -' : `${t.h}m, ${t.s} | ${t.run.costRatio.toFixed(3)} | ${pct(t.run.share)} | ${pct(t.run.worst)}`;
  const whole = tune((r) => r.share <= budget);
  const windows = tune((r) => r.worst <= budget);
  return `| ${trace.name} | ${policy.costRatio.toFixed(3)} | ${pct(policy.unmetShare)} | ${pct(worstWindowShare(trace.demandGpus, raw.unmet))} | ${cell(whole)} | ${cell(windows)} |`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { traces: { type: 'string' }, latency: { type: 'string', default: '1x' } }, strict: true });
  if (values.latency !== '1x' && values.latency !== '2x') throw new Error(`--latency expects 1x or 2x, got ${values.latency}`);
  const options = LATENCY_OPTIONS[values.latency];
  const helios = await loadHeliosTraces();
  const wanted = values.traces?.split(',').filter((t) => t !== '');
  const traces = [...helios, ...transformsOf(helios, 'core')].filter((t) => wanted === undefined || wanted.some((part) => t.name.includes(part)));
  process.stdout.write([
    `budget ${(100 * DEFAULT_WAIT_BUDGET).toFixed(2)} %, ${values.latency} latency; shares in %, worst = the highest share over any 7 days`,
    '| trace | policy cost/oracle | policy share | policy worst 7 d | family (whole trace) (H, S) | cost/oracle | share | worst 7 d | family (every 7 d) (H, S) | cost/oracle | share | worst 7 d |',
    '|---|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|',
    '',
  ].join('\n'));
  for (const trace of traces) process.stdout.write(`${rowsOf(trace, options, DEFAULT_WAIT_BUDGET)}\n`);
}
