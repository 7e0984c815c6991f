/**
 * bench/budget-gap: where in time the shipped policy pays more than the hindsight-tuned family on a trace. It runs the
 * policy and the family's cheapest member within the default budget (bench/family.ts) through the same simulator and
 * prints, per day, each one's paid instance-minutes and waiting GPU-minutes and the gap, then the 7 days where the
 * policy paid most above the family and what each waited there (the budget is promised over a 7-day window).
 *
 * ```
 *   trace ──► policy (shipped pool) ──────────────┐
 *         ──► family tuned in hindsight (H, S) ───┴─► per day: paid, waiting, policy - family
 *                                                  ──► the costliest 7 days: gap, both shares of that week's demand
 * ```
 * `npx tsx bench/budget-gap.ts [--traces NAME,...] [--latency 1x|2x] [--full]` (exact names; default: every trace of the
 * default run). Not part of `npm run bench`: it answers where the policy's cost goes against the family.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_WAIT_BUDGET, simPolicies, simulatePolicy, yardstickOf } from '../src/sim/simulate.ts';
import { shippedPool } from '../src/simulate-command.ts';
import { familyPolicy, LATENCY_OPTIONS, tuneFamily } from './family.ts';
import { loadHeliosTraces, recurring, transformsOf, weekly } from './trace-transforms.ts';

const DAY = 1440;
/** WEEK is the default waitWindow (7 days), in trace minutes. */
const WEEK = 7 * DAY;

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * costliestWindow is the window (whole days, `window` minutes long) where `paid` exceeds `reference` the most: its first
 * minute and the excess (in the series' unit); undefined for a series shorter than the window.
 */
export function costliestWindow(paid: readonly number[], reference: readonly number[], window = WEEK, step = DAY): { readonly from: number; readonly excess: number } | undefined {
  let best: { from: number; excess: number } | undefined;
  for (let from = 0; from + window <= paid.length; from += step) {
    const excess = sum(paid.slice(from, from + window)) - sum(reference.slice(from, from + window));
    if (best === undefined || excess > best.excess) best = { from, excess };
  }
  return best;
}

/**
 * worstWindow is the window (whole days, `window` minutes long) with the highest share of demand that waited: its
 * first minute and that share; undefined for a series shorter than the window or without demand.
 */
export function worstWindow(demand: readonly number[], unmet: readonly number[], window = WEEK, step = DAY): { readonly from: number; readonly share: number } | undefined {
  let best: { from: number; share: number } | undefined;
  for (let from = 0; from + window <= demand.length; from += step) {
    const wanted = sum(demand.slice(from, from + window));
    const share = wanted > 0 ? sum(unmet.slice(from, from + window)) / wanted : 0;
    if (wanted > 0 && (best === undefined || share > best.share)) best = { from, share };
  }
  return best;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { traces: { type: 'string' }, latency: { type: 'string', default: '1x' }, full: { type: 'boolean', default: false } }, strict: true });
  if (values.latency !== '1x' && values.latency !== '2x') throw new Error(`--latency expects 1x or 2x, got ${values.latency}`);
  const options = LATENCY_OPTIONS[values.latency];
  const gpus = options.gpusPerInstance ?? 8;
  const helios = await loadHeliosTraces();
  const wanted = (values.traces ?? '').split(',').filter((t) => t !== '');
  const traces = [...helios, ...transformsOf(helios, values.full ? 'all' : 'core'), recurring(), weekly()].filter((t) => wanted.length === 0 || wanted.includes(t.name));
  for (const trace of traces) {
    const pool = shippedPool(trace);
    const shipped = simPolicies(pool, options).find((p) => p.name === 'salt-autoscaler');
    if (shipped === undefined) throw new Error('the simulator has no salt-autoscaler row');
    const tuned = tuneFamily(trace, pool, [DEFAULT_WAIT_BUDGET], options).tuned[0];
    const oracle = yardstickOf(trace, options).oracleMinutes;
    process.stdout.write(`\n## ${trace.name} (${values.latency}): oracle ${oracle} instance-min; family ${tuned?.result === undefined ? 'none keeps the budget' : `${tuned.holdMinutes}m + ${tuned.spare}`}\n`);
    if (tuned?.result === undefined) continue;
    const p = simulatePolicy(trace, shipped, options);
    const f = simulatePolicy(trace, familyPolicy(pool, tuned.holdMinutes ?? 0, tuned.spare ?? 0, gpus), options);
    process.stdout.write('| day | demand GPU-min | policy paid | family paid | gap (cumulative) | policy waiting | family waiting |\n|---:|---:|---:|---:|---:|---:|---:|\n');
    let gap = 0;
    for (let d = 0; d * DAY < trace.demandGpus.length; d += 1) {
      const day = (xs: readonly number[]): number => sum(xs.slice(d * DAY, (d + 1) * DAY));
      const [pp, fp] = [day(p.timeline.paidGpus) / gpus, day(f.timeline.paidGpus) / gpus];
      gap += pp - fp;
      process.stdout.write(`| ${d} | ${day(trace.demandGpus)} | ${pp} | ${fp} | ${(pp - fp).toFixed(0)} (${gap.toFixed(0)}) | ${day(p.unmet)} | ${day(f.unmet)} |\n`);
    }
    const share = (unmet: readonly number[], from = 0, to = trace.demandGpus.length): string => (100 * sum(unmet.slice(from, to)) / sum(trace.demandGpus.slice(from, to))).toFixed(3);
    const worst = costliestWindow(p.timeline.paidGpus, f.timeline.paidGpus);
    if (worst !== undefined) {
      const to = worst.from + WEEK;
      process.stdout.write(`costliest 7 days, days ${worst.from / DAY}-${to / DAY - 1}: the policy paid ${(worst.excess / gpus).toFixed(0)} instance-min more than the family (${(p.instanceMinutes - f.instanceMinutes).toFixed(0)} over the trace); waiting there: policy ${share(p.unmet, worst.from, to)} %, family ${share(f.unmet, worst.from, to)} %\n`);
    }
    for (const [name, unmet] of [['policy', p.unmet], ['family', f.unmet]] as const) {
      const w = worstWindow(trace.demandGpus, unmet);
      if (w !== undefined) process.stdout.write(`${name}'s worst 7 days (by whole days): days ${w.from / DAY}-${w.from / DAY + 6}, ${(100 * w.share).toFixed(3)} % waited\n`);
    }
    process.stdout.write(`total: policy ${p.instanceMinutes} (${(p.instanceMinutes / oracle).toFixed(3)}x, waiting ${share(p.unmet)} %), family ${f.instanceMinutes} (${(f.instanceMinutes / oracle).toFixed(3)}x, ${share(f.unmet)} %)\n`);
  }
}
