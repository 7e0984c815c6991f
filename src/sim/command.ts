/**
 * command: `salt-autoscaler simulate --trace FILE [--config FILE] [--pool NAME] [--gpus-per-instance N] [--json] [--svg FILE]`.
 *
 * Runs every policy on the trace and prints the table (or the SimReport as JSON); `--svg` also writes the
 * chart of the default policy. With `--config`, the pool's min, max, thresholds, interval, cooldowns, step
 * and reserve come from the service's config file (first pool, or `--pool`).
 */
import { writeFile } from 'node:fs/promises';
import { loadConfig, toPoolSpec } from '../config/load.ts';
import { AutoscalerError } from '../errors.ts';
import { renderSvg, renderTable } from './render.ts';
import { runSimulationWithTimeline, type SimOptions } from './simulate.ts';
import { loadTrace } from './trace.ts';

/** SimulateArgs are the parsed arguments of `simulate`. */
export interface SimulateArgs {
  readonly trace: string;
  readonly config?: string;
  readonly pool?: string;
  readonly gpusPerInstance?: number;
  readonly json: boolean;
  readonly svg?: string;
}

const USAGE = 'usage: salt-autoscaler simulate --trace FILE [--config FILE] [--pool NAME] [--gpus-per-instance N] [--json] [--svg FILE]';

/** parseSimulateArgs reads the command line; it throws ASC_ERR_SIM_ARGS naming what is wrong. */
export function parseSimulateArgs(argv: readonly string[]): SimulateArgs {
  const values: Record<string, string> = {};
  let json = false;
  for (let n = 0; n < argv.length; n += 1) {
    const arg = argv[n] ?? '';
    if (arg === '--json') {
      json = true;
      continue;
    }
    const [flag, inline] = arg.split(/=(.*)/s, 2);
    if (flag !== '--trace' && flag !== '--config' && flag !== '--pool' && flag !== '--svg' && flag !== '--gpus-per-instance') {
      throw new AutoscalerError('ASC_ERR_SIM_ARGS', `simulate: unknown argument '${arg}'\n${USAGE}`);
    }
    const value = inline ?? argv[(n += 1)];
    if (value === undefined || value === '') throw new AutoscalerError('ASC_ERR_SIM_ARGS', `simulate: ${flag} needs a value\n${USAGE}`);
    values[flag.slice(2)] = value;
  }
  const trace = values['trace'];
  if (trace === undefined) throw new AutoscalerError('ASC_ERR_SIM_ARGS', `simulate: --trace FILE is required\n${USAGE}`);
  const gpusText = values['gpus-per-instance'];
  const gpus = gpusText === undefined ? undefined : Number(gpusText);
  if (gpus !== undefined && !(Number.isInteger(gpus) && gpus > 0)) {
    throw new AutoscalerError('ASC_ERR_SIM_ARGS', `simulate: --gpus-per-instance expects a positive integer, got '${gpusText ?? ''}'`);
  }
  return {
    trace,
    json,
    ...(values['config'] === undefined ? {} : { config: values['config'] }),
    ...(values['pool'] === undefined ? {} : { pool: values['pool'] }),
    ...(values['svg'] === undefined ? {} : { svg: values['svg'] }),
    ...(gpus === undefined ? {} : { gpusPerInstance: gpus }),
  };
}

function optionsFromConfig(args: SimulateArgs): SimOptions {
  const base: SimOptions = args.gpusPerInstance === undefined ? {} : { gpusPerInstance: args.gpusPerInstance };
  if (args.config === undefined) return base;
  const config = loadConfig(args.config);
  const pool = args.pool === undefined ? config.pools[0] : config.pools.find((p) => p.name === args.pool);
  if (pool === undefined) {
    throw new AutoscalerError('ASC_ERR_SIM_ARGS', `simulate: ${args.pool === undefined ? 'the config has no pool' : `no pool named '${args.pool}' in the config`}`);
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
