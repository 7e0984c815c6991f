/**
 * bench/sim: runs the simulator on the four Helios traces and prints, per trace and policy, the cost
 * relative to the exact oracle and the waiting share of demand, plus the runtime. `npx tsx bench/sim.ts`.
 */
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { runSimulation, type SimReport } from '../src/sim/simulate.ts';
import { loadTrace } from '../src/sim/trace.ts';
import { shippedPool } from '../src/simulate-command.ts';

/** HELIOS_TRACES are the traces under test/fixtures/traces. */
export const HELIOS_TRACES = ['vc3sl', 'vc6YE', 'vcJLV', 'vcgkz'] as const;

/** SimBench is the outcome of one bench run: the reports, the rendered table and the runtime. */
export interface SimBench {
  readonly reports: readonly SimReport[];
  readonly table: string;
  readonly runtimeMs: number;
}

/** benchSim simulates every policy on every Helios trace and renders one compact table (cost x oracle / unmet %). */
export async function benchSim(): Promise<SimBench> {
  const started = performance.now();
  const reports: SimReport[] = [];
  for (const name of HELIOS_TRACES) {
    const path = fileURLToPath(new URL(`../test/fixtures/traces/${name}.csv.gz`, import.meta.url));
    const trace = await loadTrace(path);
    reports.push(runSimulation(trace, shippedPool(trace)));
  }
  const runtimeMs = performance.now() - started;
  const policies = reports[0]?.policies.map((p) => p.name) ?? [];
  const header = `| policy | ${HELIOS_TRACES.map((n) => `${n} cost/oracle | ${n} waiting %`).join(' | ')} |`;
  const rule = `|---|${HELIOS_TRACES.map(() => '---:|---:').join('|')}|`;
  const rows = policies.map((policy) => {
    const cells = reports.map((r) => {
      const p = r.policies.find((x) => x.name === policy);
      return p === undefined ? '- | -' : `${p.costRatio.toFixed(3)} | ${(100 * p.unmetShare).toFixed(3)}`;
    });
    return `| ${policy} | ${cells.join(' | ')} |`;
  });
  const table = [header, rule, ...rows, '', `runtime: ${Math.round(runtimeMs)} ms for ${reports.length} traces x ${policies.length} policies`].join('\n');
  return { reports, table, runtimeMs };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await benchSim();
  process.stdout.write(`${result.table}\n`);
}
