/**
 * simulate-command: `salt-autoscaler simulate --trace FILE [options]` (flags in commands.ts, `simulate --help`).
 *
 * Runs every policy on the trace and prints the table (or the SimReport as JSON); `--svg` also writes the chart of
 * one policy (`--chart-policy`, default salt-autoscaler).
 * A composition root (top level): it builds the simulated pool the way the service builds a pool from its config
 * (src/config: the shipped defaults, `resolvePools` + `toPoolSpec`) and hands the simulator (`src/sim/`) that PoolSpec
 * and plain options. With `--config`, the pool's min, max, thresholds, interval, cooldowns, step, profile and reserve
 * come from the service's config file (first pool, or `--pool`).
 */
import { writeFile } from 'node:fs/promises';
import { loadConfig, toPoolSpec } from './config/load.ts';
import { parseDurationMs, resolvePools, type ConfigProblem, type PoolPatch } from './config/schema.ts';
import { commandSpec } from './commands.ts';
import { parseCommandLine, stringValue, synopsis, UsageError } from './command-line.ts';
import type { PoolSpec } from './core/types.ts';
import { renderSvg, renderTable } from './sim/render.ts';
import { runSimulationWithTimeline, type SimOptions } from './sim/simulate.ts';
import { loadTrace, type Trace } from './sim/trace.ts';

/** SimulateArgs are the parsed arguments of `simulate`. */
export interface SimulateArgs {
  readonly trace: string;
  readonly config?: string;
  readonly pool?: string;
  readonly json: boolean;
  readonly svg?: string;
  readonly chartPolicy?: string;
  /** intervalMs: the simulated pool's interval (cooldowns and signal age follow it as in the config). */
  readonly intervalMs?: number;
  readonly options: SimOptions;
}

/** parseShare reads a share as a percentage (`0.25%`) or a fraction (`0.0025`); undefined unless within 0..1. */
export function parseShare(text: string): number | undefined {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  const value = percent === null ? Number(text.trim()) : Number(percent[1]) / 100;
  return text.trim() !== '' && Number.isFinite(value) && value >= 0 && value <= 1 ? value : undefined;
}

/** parseSimulateArgs reads the command line with the CLI's one parser; it throws ASC_ERR_SIM_ARGS naming what is wrong. */
export function parseSimulateArgs(argv: readonly string[]): SimulateArgs {
  const spec = commandSpec('simulate');
  if (spec === undefined) throw new Error('no spec for simulate');
  const parsed = parseCommandLine(spec, argv, 'ASC_ERR_SIM_ARGS');
  const trace = stringValue(parsed, 'trace');
  if (trace === undefined) throw new UsageError(`simulate: --trace FILE is required\n${synopsis(spec)}`, 'ASC_ERR_SIM_ARGS');
  const bad = (flag: string, expected: string, got: string): never => {
    throw new UsageError(`simulate: --${flag} expects ${expected}, got '${got}'`, 'ASC_ERR_SIM_ARGS');
  };
  const read = <T>(flag: string, expected: string, parse: (text: string) => T | undefined): T | undefined => {
    const text = stringValue(parsed, flag);
    if (text === undefined) return undefined;
    return parse(text) ?? bad(flag, expected, text);
  };
  const positiveInt = (text: string): number | undefined => (/^\d+$/.test(text) && Number(text) > 0 ? Number(text) : undefined);
  const duration = (text: string): number | undefined => parseDurationMs(text);
  const positiveDuration = (text: string): number | undefined => { const ms = parseDurationMs(text); return ms !== undefined && ms > 0 ? ms : undefined; };
  const DURATION = 'a duration like 60s, 3m or a number of seconds';
  const SHARE = 'a share like 0.25% or 0.0025 (0 to 100%)';
  const values: Record<string, number | undefined> = {
    gpusPerInstance: read('gpus-per-instance', 'a positive integer', positiveInt),
    startLatencyMs: read('start-latency', DURATION, duration),
    deployLatencyMs: read('deploy-latency', DURATION, duration),
    createLatencyMs: read('create-latency', DURATION, duration),
    stopLatencyMs: read('stop-latency', DURATION, duration),
    latencyJitter: read('jitter', SHARE, parseShare),
    failureShare: read('failure-share', SHARE, parseShare),
    waitBudget: read('budget', SHARE, parseShare),
    seed: read('seed', 'a positive integer', positiveInt),
  };
  const options = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as SimOptions;
  const intervalMs = read('interval', `${DURATION} (> 0)`, positiveDuration);
  const config = stringValue(parsed, 'config');
  const pool = stringValue(parsed, 'pool');
  const svg = stringValue(parsed, 'svg');
  const chartPolicy = stringValue(parsed, 'chart-policy');
  return {
    trace,
    json: parsed.values['json'] === true,
    options,
    ...(config === undefined ? {} : { config }),
    ...(pool === undefined ? {} : { pool }),
    ...(svg === undefined ? {} : { svg }),
    ...(chartPolicy === undefined ? {} : { chartPolicy }),
    ...(intervalMs === undefined ? {} : { intervalMs }),
  };
}

/** ShippedPoolOptions size the simulated pool and carry what a config file would set on it. */
export interface ShippedPoolOptions {
  readonly gpusPerInstance?: number;
  /** patch: pool fields as a config file writes them (parsed: durations in ms), over the shipped defaults. */
  readonly patch?: PoolPatch;
  /** waitBudget: the pool's budget (fraction); absent: the config's default. */
  readonly waitBudget?: number;
}

/**
 * shippedPool is the simulated pool exactly as the service would build it from a config that sets only what it must
 * (env, instanceType, provider, a reserve, max = ceil(peak / GPUs per instance)) and the workload unit (perInstance =
 * GPUs per instance): every other field is the config's shipped default (POOL_DEFAULTS, through resolvePools), so
 * the simulator's `salt-autoscaler` row is the default a new user gets.
 */
export function shippedPool(trace: Trace, opts: ShippedPoolOptions = {}): PoolSpec {
  const gpus = opts.gpusPerInstance ?? 8;
  const peak = trace.demandGpus.reduce((a, b) => Math.max(a, b), 0);
  const patch: PoolPatch = {
    env: 'sim', instanceType: trace.name, provider: 'sim', reserved: ['sim-reserve'], max: Math.max(1, Math.ceil(peak / gpus)), perInstance: gpus, ...opts.patch,
  };
  const problems: ConfigProblem[] = [];
  const [pool] = resolvePools({ pools: [patch] }, problems);
  if (pool === undefined || problems.length > 0) {
    throw new UsageError(`simulate: the simulated pool is not a valid config pool: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, 'ASC_ERR_SIM_ARGS');
  }
  const spec = toPoolSpec(pool);
  return { ...spec, name: `sim/${trace.name}`, ...(opts.waitBudget === undefined ? {} : { waitBudget: opts.waitBudget }) };
}

/** configPatch takes the pool of `--config` (first, or `--pool`) as the fields the simulator uses from it. */
function configPatch(args: SimulateArgs): { patch: PoolPatch; reserved?: number } {
  if (args.config === undefined) return { patch: {} };
  const config = loadConfig(args.config);
  const pool = args.pool === undefined ? config.pools[0] : config.pools.find((p) => p.name === args.pool);
  if (pool === undefined) {
    throw new UsageError(`simulate: ${args.pool === undefined ? 'the config has no pool' : `no pool named '${args.pool}' in the config`}`, 'ASC_ERR_SIM_ARGS');
  }
  return {
    patch: {
      min: pool.min,
      max: pool.max,
      upThreshold: pool.upThreshold,
      downThreshold: pool.downThreshold,
      interval: pool.intervalMs,
      upCooldown: pool.upCooldownMs,
      downCooldown: pool.downCooldownMs,
      step: pool.step,
      waitBudget: pool.waitBudget,
      waitWindow: pool.waitWindowMs,
      ...(pool.profile === undefined ? {} : { profile: pool.profile }),
    },
    ...(pool.reserved.length > 0 ? { reserved: pool.reserved.length } : {}),
  };
}

/** runSimulateCommand runs `simulate` with the arguments after the command name; returns the exit code. */
export async function runSimulateCommand(argv: readonly string[], out: { write(text: string): unknown }): Promise<number> {
  const args = parseSimulateArgs(argv);
  const trace = await loadTrace(args.trace);
  const fromConfig = configPatch(args);
  const patch: PoolPatch = { ...fromConfig.patch, ...(args.intervalMs === undefined ? {} : { interval: args.intervalMs }) };
  const pool = shippedPool(trace, {
    patch,
    ...(args.options.gpusPerInstance === undefined ? {} : { gpusPerInstance: args.options.gpusPerInstance }),
    ...(args.options.waitBudget === undefined ? {} : { waitBudget: args.options.waitBudget }),
  });
  const options: SimOptions = {
    ...args.options,
    // the budget judged is the simulated pool's: --budget, else the config's, else the default
    ...(pool.waitBudget === undefined ? {} : { waitBudget: pool.waitBudget }),
    ...(fromConfig.reserved === undefined ? {} : { reserved: fromConfig.reserved }),
    ...(args.chartPolicy === undefined ? {} : { timelinePolicy: args.chartPolicy }),
  };
  const { report, timeline } = runSimulationWithTimeline(trace, pool, options);
  out.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report));
  if (args.svg !== undefined) await writeFile(args.svg, renderSvg(report, timeline));
  return 0;
}
