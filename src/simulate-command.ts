/**
 * simulate-command: `salt-autoscaler simulate --trace FILE [--config FILE] [--pool NAME] [--gpus-per-instance N] [--json] [--svg FILE]`.
 *
 * Runs every policy on the trace and prints the table (or the SimReport as JSON); `--svg` also writes the
 * chart of the default policy. With `--config`, the pool's min, max, thresholds, interval, cooldowns, step
 * and reserve come from the service's config file (first pool, or `--pool`).
 * A composition root (top level): it reads the config and hands the simulator (`src/sim/`) plain pool options.
 */
import { writeFile } from 'node:fs/promises';
import { loadConfig, toPoolSpec } from './config/load.ts';
import { commandSpec } from './commands.ts';
import { parseCommandLine, stringValue, synopsis, UsageError } from './command-line.ts';
import { renderSvg, renderTable } from './sim/render.ts';
import { runSimulationWithTimeline, type SimOptions } from './sim/simulate.ts';
import { loadTrace } from './sim/trace.ts';

/** SimulateArgs are the parsed arguments of `simulate`. */
export interface SimulateArgs {
  readonly trace: string;
  readonly config?: string;
  readonly pool?: string;
  readonly gpusPerInstance?: number;
  readonly json: boolean;
  readonly svg?: string;
}

/** parseSimulateArgs reads the command line with the CLI's one parser; it throws ASC_ERR_SIM_ARGS naming what is wrong. */
export function parseSimulateArgs(argv: readonly string[]): SimulateArgs {
  const spec = commandSpec('simulate');
  if (spec === undefined) throw new Error('no spec for simulate');
  const parsed = parseCommandLine(spec, argv, 'ASC_ERR_SIM_ARGS');
  const trace = stringValue(parsed, 'trace');
  if (trace === undefined) throw new UsageError(`simulate: --trace FILE is required\n${synopsis(spec)}`, 'ASC_ERR_SIM_ARGS');
  const gpusText = stringValue(parsed, 'gpus-per-instance');
  const gpus = gpusText === undefined ? undefined : Number(gpusText);
  if (gpus !== undefined && !(Number.isInteger(gpus) && gpus > 0)) {
    throw new UsageError(`simulate: --gpus-per-instance expects a positive integer, got '${gpusText ?? ''}'`, 'ASC_ERR_SIM_ARGS');
  }
  const config = stringValue(parsed, 'config');
  const pool = stringValue(parsed, 'pool');
  const svg = stringValue(parsed, 'svg');
  return {
    trace,
    json: parsed.values['json'] === true,
    ...(config === undefined ? {} : { config }),
    ...(pool === undefined ? {} : { pool }),
    ...(svg === undefined ? {} : { svg }),
    ...(gpus === undefined ? {} : { gpusPerInstance: gpus }),
  };
}

function optionsFromConfig(args: SimulateArgs): SimOptions {
  const base: SimOptions = args.gpusPerInstance === undefined ? {} : { gpusPerInstance: args.gpusPerInstance };
  if (args.config === undefined) return base;
  const config = loadConfig(args.config);
  const pool = args.pool === undefined ? config.pools[0] : config.pools.find((p) => p.name === args.pool);
  if (pool === undefined) {
    throw new UsageError(`simulate: ${args.pool === undefined ? 'the config has no pool' : `no pool named '${args.pool}' in the config`}`, 'ASC_ERR_SIM_ARGS');
  }
  const spec = toPoolSpec(pool);
  return {
    ...base,
    pool: {
      min: spec.min,
      max: spec.max,
      upThreshold: spec.upThreshold,
      downThreshold: spec.downThreshold,
      intervalMs: spec.intervalMs,
      upCooldownMs: spec.upCooldownMs,
      downCooldownMs: spec.downCooldownMs,
      step: spec.step,
      canCreate: spec.canCreate,
    },
    ...(pool.reserved.length > 0 ? { reserved: pool.reserved.length } : {}),
  };
}

/** runSimulateCommand runs `simulate` with the arguments after the command name; returns the exit code. */
export async function runSimulateCommand(argv: readonly string[], out: { write(text: string): unknown }): Promise<number> {
  const args = parseSimulateArgs(argv);
  const trace = await loadTrace(args.trace);
  const { report, timeline } = runSimulationWithTimeline(trace, optionsFromConfig(args));
  out.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report));
  if (args.svg !== undefined) await writeFile(args.svg, renderSvg(report, timeline));
  return 0;
}
