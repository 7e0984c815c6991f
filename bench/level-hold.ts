/**
 * bench/level-hold: is a per-level hold structurally cheaper than the yardstick family (bench/family.ts) at the same
 * waiting budget? The family holds EVERY instance level for the same H minutes; a per-level hold treats each level as
 * the exact oracle does (src/sim/oracle.ts) and holds level k through an idle gap for its own T_k minutes, chosen by a
 * ski-rental rule over the level's gaps with a price lambda on waiting. Both run through the same simulator, pool
 * (shipped, target strategy at G GPUs per instance), oracle and cost; only the signal differs.
 *
 * ```
 *   level k demanded at t  <=>  need(t) = ceil(demand(t) / G) >= k;  a gap of level k: the minutes between two of its runs
 *
 *   T_k = argmin over T in {0} U {gaps} (cap 360) of  sum over gaps g of  min(g, T) + (g > T ? L x (1 + lambda) : 0)
 *         (L = lead, start + deploy: a release pays ~L minutes of start and ~L x G GPU-minutes of waiting)
 *     online:    the level's last 64 completed gaps, T_k = L before its first gap (the break-even of ski rental)
 *     hindsight: every gap of the level over the whole trace (an upper bound of what learning T_k could reach)
 *
 *   signal(t) = (max(need(t), max{k : t - lastDemanded_k <= T_k}) + (demand(t) > 0 ? S : 0)) x G
 *
 *   tune(trace): every lambda of the grid (0 .. 1024, 23 values) and S in {0, 1}, in hindsight: the cheapest run whose
 *                waiting <= 0.25 % (a run takes ~0.1 s, so no binary search). The family is tuned by tuneFamily (bench/family.ts).
 * ```
 * Each row also gives each policy's cost on its frontier at the budget (frontierCost: the lower envelope of its whole
 * grid, so a coarse grid does not decide the comparison), and splits the waiting of the tuned family's and the tuned
 * online per-level run (waitingSplit): "packing" waited while the ready GPUs covered the demand (whole-GPU jobs that no
 * ready instance holds: only spares help), "fresh" waited above the highest level demanded in the 360 minutes before
 * the last L minutes (a rise no hold of <= 360 min keeps ready), the rest came back to a level a hold had released.
 * `npx tsx bench/level-hold.ts [--latency 1x|2x] [--traces NAME,...]` (default: the four Helios traces, reversed and
 * shuffled by 2 h blocks, as bench/sim-budget's default rows, at 1x). Not part of `npm run bench`: it answers a question.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { PoolSpec } from '../src/core/types.ts';
import { DEFAULT_WAIT_BUDGET, leadMinutes, resultOf, simulatePolicy, yardstickOf, type PolicyResult, type SignalSource, type SimPolicy } from '../src/sim/simulate.ts';
import type { Trace } from '../src/sim/trace.ts';
import { shippedPool } from '../src/simulate-command.ts';
import { cheapestMember, familyPolicy, HOLD_MINUTES, LATENCY_OPTIONS, SPARE_INSTANCES, tuneFamily, type Tuned } from './family.ts';
import { loadHeliosTraces, transformsOf } from './trace-transforms.ts';

/** LAMBDAS is the grid of the price on waiting (instance-minutes per instance-minute of waiting). */
export const LAMBDAS: readonly number[] = [0, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024];

/** LEVEL_SPARES is the range of S of the per-level policy. */
export const LEVEL_SPARES: readonly number[] = [0, 1];

/** MAX_HOLD_MINUTES caps T_k (the family's longest H). */
export const MAX_HOLD_MINUTES = 360;

/** RECENT_GAPS is how many of a level's last completed gaps the online rule learns from. */
export const RECENT_GAPS = 64;

/** skiRentalHold is the T minimising the gaps' cost: hold min(g, T), or release past T and pay lead x (1 + lambda). */
export function skiRentalHold(gaps: readonly number[], lead: number, lambda: number, cap = MAX_HOLD_MINUTES): number {
  const sorted = [...gaps].sort((a, b) => a - b);
  const release = lead * (1 + lambda);
  let best = 0;
  let bestCost = sorted.length * release;
  let below = 0; // sum of the gaps <= T
  for (let i = 0; i < sorted.length; i += 1) {
    const g = sorted[i] ?? 0;
    if (g > cap) break;
    below += g;
    if ((sorted[i + 1] ?? Number.POSITIVE_INFINITY) === g) continue;
    const above = sorted.length - i - 1;
    const cost = below + above * (g + release);
    if (cost < bestCost) {
      best = g;
      bestCost = cost;
    }
  }
  return best;
}

/** needsOf is the instances each minute needs (ceil(demand / G)). */
function needsOf(trace: Trace, gpusPerInstance: number): number[] {
  return trace.demandGpus.map((d) => Math.ceil(d / gpusPerInstance));
}

/** gapsByLevel lists, per level (index k - 1), the lengths of the idle gaps between its runs over the whole trace. */
export function gapsByLevel(needs: readonly number[]): number[][] {
  const top = needs.reduce((a, b) => Math.max(a, b), 0);
  const last: (number | undefined)[] = Array<number | undefined>(top).fill(undefined);
  const gaps: number[][] = Array.from({ length: top }, () => []);
  needs.forEach((need, t) => {
    for (let k = 1; k <= need; k += 1) {
      const before = last[k - 1];
      if (before !== undefined && before < t - 1) gaps[k - 1]?.push(t - before - 1);
      last[k - 1] = t;
    }
  });
  return gaps;
}

/** HoldRule gives a level's hold: before its first completed gap, and after each (from its recent gaps). */
interface HoldRule {
  readonly initial: (level: number) => number;
  readonly afterGap: (level: number, recentGaps: readonly number[]) => number;
}

/** levelHoldSignal is a fresh per-level hold signal: the instances it wants, as GPUs, as holdPeakSignal returns them. */
export function levelHoldSignal(rule: HoldRule, spare: number, gpusPerInstance: number): SignalSource {
  const last: (number | undefined)[] = [];
  const hold: number[] = [];
  const recent: number[][] = [];
  return (minute, demandGpus) => {
    const need = Math.ceil(demandGpus / gpusPerInstance);
    for (let k = 1; k <= need; k += 1) {
      if (k > hold.length) {
        hold.push(rule.initial(k));
        recent.push([]);
        last.push(undefined);
      }
      const before = last[k - 1];
      if (before !== undefined && before < minute - 1) {
        const gaps = recent[k - 1] ?? [];
        gaps.push(minute - before - 1);
        if (gaps.length > RECENT_GAPS) gaps.shift();
        hold[k - 1] = rule.afterGap(k, gaps);
      }
      last[k - 1] = minute;
    }
    let held = need;
    for (let k = hold.length; k > need; k -= 1) {
      const before = last[k - 1];
      if (before !== undefined && minute - before <= (hold[k - 1] ?? 0)) {
        held = k;
        break;
      }
    }
    return (held + (demandGpus > 0 ? spare : 0)) * gpusPerInstance;
  };
}

/** Variant is how T_k is learnt: online from the level's completed gaps, or in hindsight from all of them. */
export type Variant = 'online' | 'hindsight';

/** ruleOf is the hold rule of a variant at price lambda. */
function ruleOf(variant: Variant, lambda: number, lead: number, allGaps: readonly (readonly number[])[]): HoldRule {
  switch (variant) {
    case 'online':
      return { initial: () => lead, afterGap: (_level, gaps) => skiRentalHold(gaps, lead, lambda) };
    case 'hindsight': {
      const holds = allGaps.map((gaps) => skiRentalHold(gaps, lead, lambda));
      const fixed = (level: number): number => holds[level - 1] ?? 0;
      return { initial: fixed, afterGap: fixed };
    }
  }
}

/** levelPolicy is the per-level hold on the shipped pool, with the target strategy at G GPUs per instance (as familyPolicy). */
export function levelPolicy(shipped: PoolSpec, rule: HoldRule, name: string, spare: number, gpusPerInstance: number): SimPolicy {
  return {
    name,
    pool: { ...shipped, strategy: { kind: 'target', perInstance: gpusPerInstance } },
    signal: levelHoldSignal(rule, spare, gpusPerInstance),
  };
}

/**
 * busyFamilyPolicy is family member (H, S) with its spares only while demand > 0, as the per-level signal keeps them: the
 * control that tells the per-level holds' gain from the spare rule's (familyPolicy keeps its S spares at zero demand too).
 */
export function busyFamilyPolicy(shipped: PoolSpec, holdMinutes: number, spare: number, gpusPerInstance: number): SimPolicy {
  const member = familyPolicy(shipped, holdMinutes, spare, gpusPerInstance);
  const signal = member.signal;
  if (typeof signal !== 'function') throw new Error('familyPolicy has no computed signal');
  return { ...member, name: `${member.name} while busy`, signal: (minute, demandGpus, queuedGpus) => signal(minute, demandGpus, queuedGpus) - (demandGpus > 0 ? 0 : spare * gpusPerInstance) };
}

/** Run is one simulated policy: its result and the per-minute waiting (for the split). */
interface Run {
  readonly result: PolicyResult;
  readonly unmet: readonly number[];
  readonly readyGpus: readonly number[];
}

/** LevelTuned is the cheapest (lambda, S) of one variant within the budget (undefined when none keeps it). */
interface LevelTuned {
  readonly lambda?: number;
  readonly spare?: number;
  readonly run?: Run;
  readonly runs: number;
  /** rises: steps up the lambda grid where waiting rose (the binary search's assumption broken). */
  readonly rises: number;
}

/**
 * tuneLevels: every (lambda, S) of the grid is run (a run takes ~0.1 s) and the cheapest within the budget kept; it also
 * counts the steps of the lambda grid where waiting ROSE with lambda (0 when waiting falls as lambda grows, as assumed).
 */
function tuneLevels(run: (lambda: number, spare: number) => Run, budget: number): Omit<LevelTuned, 'runs'> & { readonly rises: number } {
  let best: { lambda: number; spare: number; run: Run } | undefined;
  let rises = 0;
  for (const spare of LEVEL_SPARES) {
    let before: number | undefined;
    for (const lambda of LAMBDAS) {
      const r = run(lambda, spare);
      if (before !== undefined && r.result.unmetShare > before) rises += 1;
      before = r.result.unmetShare;
      if (r.result.unmetShare > budget) continue;
      if (best === undefined || r.result.instanceMinutes < best.run.result.instanceMinutes) best = { lambda, spare, run: r };
    }
  }
  return { ...best, rises };
}

/** WaitingSplit is where a run's waiting came from, as shares of it (the rest came back to a level a hold had released). */
export interface WaitingSplit {
  /** packing: waiting while the ready GPUs covered the demand (jobs of whole GPUs that no ready instance holds). */
  readonly packing: number;
  /** fresh: waiting above the highest level demanded in the 360 minutes before the last `lead` minutes (no hold keeps it). */
  readonly fresh: number;
}

/** waitingSplit splits a run's waiting minute by minute into packing, fresh and (the rest) released levels. */
export function waitingSplit(needs: readonly number[], run: Run, demandGpus: readonly number[], gpusPerInstance: number, lead: number): WaitingSplit {
  const deque: number[] = []; // minutes, their needs decreasing
  let packing = 0;
  let fresh = 0;
  let total = 0;
  for (let t = 0; t < needs.length; t += 1) {
    const enter = t - lead - 1;
    if (enter >= 0) {
      while (deque.length > 0 && (needs[deque[deque.length - 1] ?? 0] ?? 0) <= (needs[enter] ?? 0)) deque.pop();
      deque.push(enter);
    }
    while (deque.length > 0 && (deque[0] ?? 0) < t - lead - MAX_HOLD_MINUTES) deque.shift();
    const recent = deque.length > 0 ? needs[deque[0] ?? 0] ?? 0 : 0;
    const u = run.unmet[t] ?? 0;
    const demand = demandGpus[t] ?? 0;
    total += u;
    if ((run.readyGpus[t] ?? 0) >= demand) packing += u;
    else fresh += Math.min(u, Math.max(0, demand - recent * gpusPerInstance));
  }
  return total > 0 ? { packing: packing / total, fresh: fresh / total } : { packing: 0, fresh: 0 };
}

/**
 * frontierCost is the lower envelope of a policy's runs (waiting share, cost / oracle) at waiting `budget`: the cheapest
 * run within it, or a mix of one within and a cheaper one over it, interpolated (running each for part of the trace
 * comes close to the mix), so a coarse grid does not decide the comparison. Undefined when no run keeps the budget.
 */
export function frontierCost(runs: Iterable<PolicyResult>, budget: number): number | undefined {
  const points = [...runs];
  let best: number | undefined;
  for (const p of points) {
    if (p.unmetShare > budget) continue;
    best = Math.min(best ?? p.costRatio, p.costRatio);
    for (const q of points) {
      if (q.unmetShare <= budget || q.costRatio >= p.costRatio) continue;
      const mixed = p.costRatio + ((q.costRatio - p.costRatio) * (budget - p.unmetShare)) / (q.unmetShare - p.unmetShare);
      best = Math.min(best, mixed);
    }
  }
  return best;
}

/** LevelRow is one trace at one latency: the tuned family and the two tuned per-level variants. */
export interface LevelRow {
  readonly trace: string;
  readonly latency: '1x' | '2x';
  readonly oracleMinutes: number;
  readonly family: Tuned;
  readonly familyFresh?: WaitingSplit;
  /** the frontier costs at the budget (frontierCost) over the family's whole grid and each variant's whole grid. */
  readonly familyFrontier?: number;
  /** busy: the family with spares only while demand > 0 (busyFamilyPolicy), tuned as the family. */
  readonly busy?: { readonly holdMinutes: number; readonly spare: number; readonly result: PolicyResult };
  readonly busyFrontier?: number;
  readonly onlineFrontier?: number;
  readonly hindsightFrontier?: number;
  readonly online: LevelTuned;
  readonly onlineFresh?: WaitingSplit;
  readonly hindsight: LevelTuned;
  readonly seconds: number;
  readonly runs: number;
}

/** rowOf tunes the family and both per-level variants on one trace at the default budget. */
export function rowOf(trace: Trace, latency: '1x' | '2x', budget = DEFAULT_WAIT_BUDGET): LevelRow {
  const t0 = performance.now();
  const options = LATENCY_OPTIONS[latency];
  const gpus = options.gpusPerInstance ?? 8;
  const lead = leadMinutes(options);
  const pool = shippedPool(trace);
  const yardstick = yardstickOf(trace, options);
  const needs = needsOf(trace, gpus);
  const allGaps = gapsByLevel(needs);
  const family = tuneFamily(trace, pool, [budget], options);
  const familyTuned = family.tuned[0] ?? { budget };
  // the family's whole grid, for its frontier and the tuned member's per-minute waiting (tuneFamily keeps only results)
  const familyRuns = new Map<string, Run>();
  for (const spare of SPARE_INSTANCES) {
    for (const h of HOLD_MINUTES) {
      const policy = familyPolicy(pool, h, spare, gpus);
      const raw = simulatePolicy(trace, policy, options);
      familyRuns.set(`${h}/${spare}`, { result: resultOf(policy.name, raw, yardstick), unmet: raw.unmet, readyGpus: raw.timeline.readyGpus });
    }
  }
  const familyRun = familyRuns.get(`${familyTuned.holdMinutes ?? -1}/${familyTuned.spare ?? -1}`);
  const familyFresh = familyRun === undefined ? undefined : waitingSplit(needs, familyRun, trace.demandGpus, gpus, lead);
  const familyFrontier = frontierCost([...familyRuns.values()].map((r) => r.result), budget);
  const busyRuns = new Map<string, PolicyResult>();
  for (const spare of SPARE_INSTANCES) {
    for (const h of HOLD_MINUTES) {
      const policy = busyFamilyPolicy(pool, h, spare, gpus);
      busyRuns.set(`${h}/${spare}`, resultOf(policy.name, simulatePolicy(trace, policy, options), yardstick));
    }
  }
  const busyRun = (h: number, spare: number): PolicyResult => {
    const r = busyRuns.get(`${h}/${spare}`);
    if (r === undefined) throw new Error(`no busy family run ${h}/${spare}`);
    return r;
  };
  const busy = cheapestMember(busyRun, (r) => r.unmetShare <= budget, (r) => r.instanceMinutes);
  const busyFrontier = frontierCost(busyRuns.values(), budget);
  const variantRuns = new Map<Variant, Map<string, Run>>();
  const tuneVariant = (variant: Variant): LevelTuned => {
    const cache = new Map<string, Run>();
    const run = (lambda: number, spare: number): Run => {
      const key = `${lambda}/${spare}`;
      const hit = cache.get(key);
      if (hit !== undefined) return hit;
      const name = `level ${variant} lambda ${lambda} + ${spare}`;
      const raw = simulatePolicy(trace, levelPolicy(pool, ruleOf(variant, lambda, lead, allGaps), name, spare, gpus), options);
      const r = { result: resultOf(name, raw, yardstick), unmet: raw.unmet, readyGpus: raw.timeline.readyGpus };
      cache.set(key, r);
      return r;
    };
    variantRuns.set(variant, cache);
    return { ...tuneLevels(run, budget), runs: cache.size };
  };
  const online = tuneVariant('online');
  const hindsight = tuneVariant('hindsight');
  const onlineFresh = online.run === undefined ? undefined : waitingSplit(needs, online.run, trace.demandGpus, gpus, lead);
  const frontierOf = (variant: Variant): number | undefined => frontierCost([...(variantRuns.get(variant)?.values() ?? [])].map((r) => r.result), budget);
  const onlineFrontier = frontierOf('online');
  const hindsightFrontier = frontierOf('hindsight');
  return {
    trace: trace.name, latency, oracleMinutes: yardstick.oracleMinutes, family: familyTuned,
    ...(familyFresh === undefined ? {} : { familyFresh }), online, ...(onlineFresh === undefined ? {} : { onlineFresh }), hindsight,
    ...(familyFrontier === undefined ? {} : { familyFrontier }),
    ...(busy === undefined ? {} : { busy }),
    ...(busyFrontier === undefined ? {} : { busyFrontier }), ...(onlineFrontier === undefined ? {} : { onlineFrontier }),
    ...(hindsightFrontier === undefined ? {} : { hindsightFrontier }),
    seconds: (performance.now() - t0) / 1000, runs: family.runs + familyRuns.size + busyRuns.size + online.runs + hindsight.runs,
  };
}

const pct = (share: number): string => `${(100 * share).toFixed(3)}`;

/** tableOf renders the rows and the overall figures (sum of cost over sum of oracle, as bench/sim-budget). */
export function tableOf(rows: readonly LevelRow[]): string {
  const cell = (r: PolicyResult | undefined): string => (r === undefined ? 'none keeps it | -' : `${r.costRatio.toFixed(3)} | ${pct(r.unmetShare)}`);
  const lines = [
    '| trace | latency | family (H, S) | family cost/oracle | family waiting % | family waiting packing / fresh % | family, spares while busy (H, S) | busy family cost/oracle | busy family waiting % | per-level online (lambda, S) | online cost/oracle | online waiting % | online waiting packing / fresh % | per-level hindsight (lambda, S) | hindsight cost/oracle | hindsight waiting % | frontier at budget: family / busy family / online / hindsight | waiting rises with lambda | runs | s |',
    '|---|---|---|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---|---:|---:|---|---:|---:|---:|',
    ...rows.map((r) => {
      const f = r.family;
      const member = f.result === undefined ? '-' : `${f.holdMinutes ?? 0}m, ${f.spare ?? 0}`;
      const level = (t: LevelTuned): string => (t.run === undefined ? '-' : `${t.lambda ?? 0}, ${t.spare ?? 0}`);
      const fresh = (split: WaitingSplit | undefined): string => (split === undefined ? '-' : `${(100 * split.packing).toFixed(0)} / ${(100 * split.fresh).toFixed(0)}`);
      return `| ${r.trace.replace(/\|/g, '/')} | ${r.latency} | ${member} | ${cell(f.result)} | ${fresh(r.familyFresh)} | ${r.busy === undefined ? '-' : `${r.busy.holdMinutes}m, ${r.busy.spare}`} | ${cell(r.busy?.result)} | ${level(r.online)} | ${cell(r.online.run?.result)} | ${fresh(r.onlineFresh)} | ${level(r.hindsight)} | ${cell(r.hindsight.run?.result)} | ${[r.familyFrontier, r.busyFrontier, r.onlineFrontier, r.hindsightFrontier].map((c) => (c === undefined ? '-' : c.toFixed(3))).join(' / ')} | ${r.online.rises}, ${r.hindsight.rises} | ${r.runs} | ${r.seconds.toFixed(0)} |`;
    }),
    '',
  ];
  const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
  for (const latency of ['1x', '2x'] as const) {
    const at = rows.filter((r) => r.latency === latency);
    if (at.length === 0) continue;
    const kept = at.filter((r) => r.family.result !== undefined && r.busy !== undefined && r.online.run !== undefined && r.hindsight.run !== undefined);
    const oracle = sum(kept.map((r) => r.oracleMinutes));
    const overall = (cost: (r: LevelRow) => number): string => (sum(kept.map(cost)) / oracle).toFixed(3);
    lines.push(`overall at ${latency} (sum of cost / sum of oracle, ${kept.length} of ${at.length} rows where all four keep the budget): `
      + `family ${overall((r) => r.family.result?.instanceMinutes ?? 0)}x, busy family ${overall((r) => r.busy?.result.instanceMinutes ?? 0)}x, per-level online ${overall((r) => r.online.run?.result.instanceMinutes ?? 0)}x, `
      + `per-level hindsight ${overall((r) => r.hindsight.run?.result.instanceMinutes ?? 0)}x the oracle`);
    const framed = at.filter((r) => r.familyFrontier !== undefined && r.busyFrontier !== undefined && r.onlineFrontier !== undefined && r.hindsightFrontier !== undefined);
    const oracleFramed = sum(framed.map((r) => r.oracleMinutes));
    const onFrontier = (ratio: (r: LevelRow) => number): string => (sum(framed.map((r) => ratio(r) * r.oracleMinutes)) / oracleFramed).toFixed(3);
    lines.push(`overall on the frontier at the budget (${framed.length} of ${at.length} rows): family ${onFrontier((r) => r.familyFrontier ?? 0)}x, busy family ${onFrontier((r) => r.busyFrontier ?? 0)}x, `
      + `per-level online ${onFrontier((r) => r.onlineFrontier ?? 0)}x, per-level hindsight ${onFrontier((r) => r.hindsightFrontier ?? 0)}x the oracle`);
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { latency: { type: 'string', default: '1x' }, traces: { type: 'string' } }, strict: true });
  if (values.latency !== '1x' && values.latency !== '2x') throw new Error(`--latency expects 1x or 2x, got ${values.latency}`);
  const latency = values.latency;
  const started = performance.now();
  const helios = await loadHeliosTraces();
  const wanted = values.traces?.split(',').filter((t) => t !== '');
  const traces = [...helios, ...transformsOf(helios, 'core')].filter((t) => wanted === undefined || wanted.some((part) => t.name.includes(part)));
  if (traces.length === 0) throw new Error(`no trace name contains any of ${JSON.stringify(wanted)}`);
  const rows: LevelRow[] = [];
  for (const trace of traces) {
    const row = rowOf(trace, latency);
    rows.push(row);
    process.stderr.write(`   ${trace.name} (${latency}): ${row.runs} runs in ${row.seconds.toFixed(1)} s\n`);
  }
  process.stdout.write(`${tableOf(rows)}\n\n${rows.length} rows, ${rows.reduce((a, r) => a + r.runs, 0)} simulator runs in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
