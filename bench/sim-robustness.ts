/**
 * bench/sim-robustness: how the shipped policy generalises beyond the four Helios traces it was checked on.
 * Each trace is transformed (demand scaled, time compressed, halves of the month, two traces summed, reversed)
 * and the salt-autoscaler policy is judged against the bar on every variant: unmet <= 0.25 % of demand
 * and cost <= 1.05x the oracle. `npx tsx bench/sim-robustness.ts`.
 */
import { fileURLToPath } from 'node:url';
import { runSimulation } from '../src/sim/simulate.ts';
import { loadTrace, type Trace } from '../src/sim/trace.ts';
import { shippedPool } from '../src/simulate-command.ts';
import { HELIOS_TRACES } from './sim.ts';

const POLICY = 'salt-autoscaler';

/** Variant is a named transformation of a trace. */
interface Variant { readonly name: string; readonly trace: Trace }

function mapDemand(t: Trace, name: string, f: (gpus: number) => number): Trace {
  return { name, demandGpus: t.demandGpus.map(f), pendingGpus: t.pendingGpus.map(f) };
}

function pick(t: Trace, name: string, keep: (i: number) => boolean): Trace {
  return { name, demandGpus: t.demandGpus.filter((_, i) => keep(i)), pendingGpus: t.pendingGpus.filter((_, i) => keep(i)) };
}

/** variantsOf builds the transformations of one trace (and of it summed with the next one). */
export function variantsOf(t: Trace, next: Trace): Variant[] {
  const n = t.demandGpus.length;
  const half = Math.floor(n / 2);
  const sum: Trace = {
    name: `${t.name}+${next.name}`,
    demandGpus: t.demandGpus.map((d, i) => d + (next.demandGpus[i] ?? 0)),
    pendingGpus: t.pendingGpus.map((p, i) => p + (next.pendingGpus[i] ?? 0)),
  };
  return [
    { name: 'as is', trace: t },
    { name: 'demand x0.5', trace: mapDemand(t, `${t.name} x0.5`, (g) => Math.round(g / 2)) },
    { name: 'demand x2', trace: mapDemand(t, `${t.name} x2`, (g) => g * 2) },
    { name: 'demand x4', trace: mapDemand(t, `${t.name} x4`, (g) => g * 4) },
    { name: 'time /2 (twice as fast)', trace: pick(t, `${t.name} fast`, (i) => i % 2 === 0) },
    { name: 'first half', trace: pick(t, `${t.name} h1`, (i) => i < half) },
    { name: 'second half', trace: pick(t, `${t.name} h2`, (i) => i >= half) },
    { name: 'reversed', trace: { name: `${t.name} rev`, demandGpus: [...t.demandGpus].reverse(), pendingGpus: [...t.pendingGpus].reverse() } },
    { name: `summed with ${next.name}`, trace: sum },
  ];
}

/** RobustnessBench is the outcome: the table, how many variants met the bar, and the worst figures. */
export interface RobustnessBench {
  readonly table: string;
  readonly variants: number;
  readonly met: number;
  readonly worstCostRatio: number;
  readonly worstUnmetShare: number;
}

/** benchSimRobustness simulates the shipped policy on every variant of every Helios trace. */
export async function benchSimRobustness(): Promise<RobustnessBench> {
  const traces = await Promise.all(HELIOS_TRACES.map((name) => loadTrace(fileURLToPath(new URL(`../test/fixtures/traces/${name}.csv.gz`, import.meta.url)))));
  const lines = ['| trace | variant | cost/oracle | unmet % | verdict |', '|---|---|---:|---:|---|'];
  let met = 0;
  let variants = 0;
  let worstCostRatio = 0;
  let worstUnmetShare = 0;
  for (const [i, t] of traces.entries()) {
    for (const v of variantsOf(t, traces[(i + 1) % traces.length] ?? t)) {
      const p = runSimulation(v.trace, shippedPool(v.trace)).policies.find((x) => x.name === POLICY);
      if (p === undefined) throw new Error(`no ${POLICY} policy in the report`);
      const ok = p.unmetShare <= 0.0025 && p.costRatio <= 1.05;
      variants += 1;
      if (ok) met += 1;
      worstCostRatio = Math.max(worstCostRatio, p.costRatio);
      worstUnmetShare = Math.max(worstUnmetShare, p.unmetShare);
      lines.push(`| ${t.name} | ${v.name} | ${p.costRatio.toFixed(3)} | ${(100 * p.unmetShare).toFixed(3)} | ${ok ? 'met' : 'MISSED'} |`);
    }
  }
  lines.push('', `${met}/${variants} variants within unmet <= 0.25 % and cost <= 1.05x oracle; worst cost ${worstCostRatio.toFixed(3)}x, worst unmet ${(100 * worstUnmetShare).toFixed(3)} %`);
  return { table: lines.join('\n'), variants, met, worstCostRatio, worstUnmetShare };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(`${(await benchSimRobustness()).table}\n`);
}
