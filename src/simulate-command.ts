/**
 * simulate-command: `salt-autoscaler simulate --trace FILE | --prometheus URL [options]` (flags in commands.ts,
 * `simulate --help`).
 *
 * Runs every policy on the demand and prints the table (or the SimReport as JSON); `--svg` also writes the chart of
 * one policy (`--chart-policy`, default salt-autoscaler). The demand is a trace file, or a pool's own history read
 * from Prometheus a minute at a time (src/prometheus/range.ts): `--query`, or with `--config` the pool's workload
 * query in its own unit (its perInstance).
 * A composition root (top level): it builds the simulated pool the way the service builds a pool from its config
 * (src/config: the shipped defaults, `resolvePools` + `toPoolSpec`) and hands the simulator (`src/sim/`) that PoolSpec
 * and plain options. With `--config`, the pool's min, max, thresholds, interval, cooldowns, step, profile and reserve
 * come from the service's config file (first pool, or `--pool`).
 */
import { writeFile } from 'node:fs/promises';
import { loadConfig, toPoolSpec } from './config/load.ts';
import { defaultWorkloadQuery, parseDurationMs, resolvePools, type Config, type ConfigProblem, type PoolConfig, type PoolPatch } from './config/schema.ts';
import { commandSpec } from './commands.ts';
import { parseCommandLine, stringValue, synopsis, UsageError } from './command-line.ts';
import type { PoolSpec } from './core/types.ts';
import { renderSvg, renderTable } from './sim/render.ts';
import { withHindsight } from './sim/family.ts';
import { runSimulationWithTimeline, SIM_POLICY_NAMES, type SimOptions } from './sim/simulate.ts';
import { loadTrace, type Trace } from './sim/trace.ts';
import { fetchDemandRange } from './prometheus/range.ts';

/** PrometheusHistory is where `--prometheus` reads the demand: the server, the query (absent: the config pool's), the span. */
export interface PrometheusHistory {
  readonly url: string;
  readonly query?: string;
  readonly sinceMs: number;
  /** endMs: where the history ends (absent: now). */
  readonly endMs?: number;
}

/** DEFAULT_SINCE_MS: how far back `--prometheus` reads without `--since` (30 days: a month, as the bundled traces). */
export const DEFAULT_SINCE_MS = 30 * 86_400_000;
/** DEFAULT_RANGE_TIMEOUT_MS: one query_range call's timeout without a config (a config's prometheus.timeout wins). */
const DEFAULT_RANGE_TIMEOUT_MS = 60_000;

/** SimulateArgs are the parsed arguments of `simulate`: the demand from a trace file or from Prometheus, never both. */
export interface SimulateArgs {
  readonly trace?: string;
  readonly prometheus?: PrometheusHistory;
  readonly config?: string;
  readonly pool?: string;
  readonly json: boolean;
  readonly svg?: string;
  readonly chartPolicy?: string;
  /** intervalMs: the simulated pool's interval (cooldowns and signal age follow it as in the config). */
  readonly intervalMs?: number;
  /** windowStrict: `--window-strict`, the pool's waitWindowStrict on whatever the config says. */
  readonly windowStrict?: boolean;
  /** hindsight: `--hindsight`, add the family tuned on this demand in hindsight (src/sim/family.ts). */
  readonly hindsight?: boolean;
  readonly options: SimOptions;
}

/** parseShare reads a share as a percentage (`0.25%`) or a fraction (`0.0025`); undefined unless within 0..1. */
export function parseShare(text: string): number | undefined {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  const value = percent === null ? Number(text.trim()) : Number(percent[1]) / 100;
  return text.trim() !== '' && Number.isFinite(value) && value >= 0 && value <= 1 ? value : undefined;
}

/** parseTime reads a time as RFC 3339 (with a zone) or unix seconds; undefined otherwise. */
export function parseTime(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/** parseSimulateArgs reads the command line with the CLI's one parser; it throws ASC_ERR_SIM_ARGS naming what is wrong. */
export function parseSimulateArgs(argv: readonly string[]): SimulateArgs {
  const spec = commandSpec('simulate');
  if (spec === undefined) throw new Error('no spec for simulate');
  const parsed = parseCommandLine(spec, argv, 'ASC_ERR_SIM_ARGS');
  const trace = stringValue(parsed, 'trace');
  const url = stringValue(parsed, 'prometheus');
  const usage = (message: string): never => { throw new UsageError(`simulate: ${message}\n${synopsis(spec)}`, 'ASC_ERR_SIM_ARGS'); };
  if (trace === undefined && url === undefined) usage('--trace FILE is required, or --prometheus URL to read the demand from Prometheus');
  if (trace !== undefined && url !== undefined) usage('--trace and --prometheus are two sources of the demand: give one');
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
  // the chart draws a policy run minute by minute: a name the run does not have would draw nothing, silently
  if (chartPolicy !== undefined && !(SIM_POLICY_NAMES as readonly string[]).includes(chartPolicy)) bad('chart-policy', `one of ${SIM_POLICY_NAMES.join(', ')}`, chartPolicy);
  const query = stringValue(parsed, 'query');
  const sinceMs = read('since', `${DURATION} (> 0)`, positiveDuration);
  const endMs = read('end', 'a time, RFC 3339 (2026-12-01T00:00:00Z) or unix seconds', parseTime);
  let prometheus: PrometheusHistory | undefined;
  if (url === undefined) {
    if (query !== undefined || sinceMs !== undefined || endMs !== undefined) usage('--query, --since and --end go with --prometheus URL');
  } else {
    if (!/^https?:\/\/[^/\s]+/.test(url) || !URL.canParse(url)) bad('prometheus', 'an http(s) URL like http://127.0.0.1:9090', url);
    if (query === undefined && config === undefined) usage('--prometheus needs --query PROMQL (the demand), or --config to take the pool\'s workloadQuery');
    prometheus = {
      url, sinceMs: sinceMs ?? DEFAULT_SINCE_MS,
      ...(query === undefined ? {} : { query }),
      ...(endMs === undefined ? {} : { endMs }),
    };
  }
  return {
    ...(trace === undefined ? {} : { trace }),
    ...(prometheus === undefined ? {} : { prometheus }),
    json: parsed.values['json'] === true,
    options,
    ...(config === undefined ? {} : { config }),
    ...(pool === undefined ? {} : { pool }),
    ...(svg === undefined ? {} : { svg }),
    ...(chartPolicy === undefined ? {} : { chartPolicy }),
    ...(intervalMs === undefined ? {} : { intervalMs }),
    ...(parsed.values['window-strict'] === true ? { windowStrict: true } : {}),
    ...(parsed.values['hindsight'] === true ? { hindsight: true } : {}),
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

/** configPool is the pool of `--config` (first, or `--pool`) with its config; undefined without `--config`. */
function configPool(args: SimulateArgs): { config: Config; pool: PoolConfig } | undefined {
  if (args.config === undefined) return undefined;
  const config = loadConfig(args.config);
  const pool = args.pool === undefined ? config.pools[0] : config.pools.find((p) => p.name === args.pool);
  if (pool === undefined) {
    throw new UsageError(`simulate: ${args.pool === undefined ? 'the config has no pool' : `no pool named '${args.pool}' in the config`}`, 'ASC_ERR_SIM_ARGS');
  }
  return { config, pool };
}

/** configPatch takes the pool of `--config` as the fields the simulator uses from it. */
function configPatch(pool: PoolConfig | undefined): { patch: PoolPatch; reserved?: number } {
  if (pool === undefined) return { patch: {} };
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
      waitWindowStrict: pool.waitWindowStrict,
      ...(pool.profile === undefined ? {} : { profile: pool.profile }),
    },
    ...(pool.reserved.length > 0 ? { reserved: pool.reserved.length } : {}),
  };
}

/**
 * historyTrace reads the demand of `--prometheus` as a trace: `--query`, else the config pool's workload query, a
 * minute over `--since` up to `--end` (or now). A minute without a sample takes the one before (said on `err`).
 */
async function historyTrace(history: PrometheusHistory, fromConfig: { config: Config; pool: PoolConfig } | undefined, nowMs: number, err: Out): Promise<Trace> {
  const query = history.query ?? (fromConfig === undefined ? undefined : fromConfig.pool.workloadQuery ?? defaultWorkloadQuery(fromConfig.pool));
  if (query === undefined) throw new UsageError('simulate: --prometheus needs --query PROMQL', 'ASC_ERR_SIM_ARGS');
  // no later than now: minutes to come have no sample, and carried forward they would be made up
  const endMs = Math.min(history.endMs ?? nowMs, nowMs);
  const range = await fetchDemandRange({
    url: history.url, query, startMs: endMs - history.sinceMs, endMs, timeoutMs: fromConfig?.config.prometheus?.timeoutMs ?? DEFAULT_RANGE_TIMEOUT_MS,
  });
  const minutes = range.values.length;
  err.write(`simulate: ${minutes} minutes of ${query} from ${history.url}, ${new Date(range.firstMs).toISOString()} on`
    + `${range.filled > 0 ? `; ${range.filled} minutes without a sample took the minute before's value` : ''}\n`);
  return { name: fromConfig?.pool.name ?? 'prometheus', demandGpus: range.values, pendingGpus: new Array<number>(minutes).fill(0) };
}

/**
 * unitOf is the GPUs (workload units) one simulated instance serves: `--gpus-per-instance`; else, for a pool's own
 * history (`--prometheus` with `--config`), the pool's perInstance, in the unit its workload query counts; else 8.
 */
function unitOf(args: SimulateArgs, pool: PoolConfig | undefined): number | undefined {
  if (args.options.gpusPerInstance !== undefined) return args.options.gpusPerInstance;
  if (args.prometheus === undefined || pool === undefined) return undefined;
  if (!Number.isInteger(pool.perInstance)) {
    throw new UsageError(`simulate: pool ${pool.name} serves ${pool.perInstance} workload units an instance; the simulator places whole units: give --gpus-per-instance N`, 'ASC_ERR_SIM_ARGS');
  }
  return pool.perInstance;
}

interface Out { write(text: string): unknown }

/** runSimulateCommand runs `simulate` with the arguments after the command name; returns the exit code. */
export async function runSimulateCommand(argv: readonly string[], out: Out, err: Out = process.stderr, nowMs = Date.now()): Promise<number> {
  const args = parseSimulateArgs(argv);
  const chosen = configPool(args);
  // the unit is checked before the history is read: a pool the simulator cannot place fails at once
  const gpusPerInstance = unitOf(args, chosen?.pool);
  const trace = args.prometheus === undefined ? await loadTrace(args.trace ?? '') : await historyTrace(args.prometheus, chosen, nowMs, err);
  const fromConfig = configPatch(chosen?.pool);
  const patch: PoolPatch = {
    ...fromConfig.patch,
    ...(args.intervalMs === undefined ? {} : { interval: args.intervalMs }),
    ...(args.windowStrict === true ? { waitWindowStrict: true } : {}),
  };
  const pool = shippedPool(trace, {
    patch,
    ...(gpusPerInstance === undefined ? {} : { gpusPerInstance }),
    ...(args.options.waitBudget === undefined ? {} : { waitBudget: args.options.waitBudget }),
  });
  const options: SimOptions = {
    ...args.options,
    ...(gpusPerInstance === undefined ? {} : { gpusPerInstance }),
    // the budget judged is the simulated pool's: --budget, else the config's, else the default
    ...(pool.waitBudget === undefined ? {} : { waitBudget: pool.waitBudget }),
    ...(fromConfig.reserved === undefined ? {} : { reserved: fromConfig.reserved }),
    ...(args.chartPolicy === undefined ? {} : { timelinePolicy: args.chartPolicy }),
  };
  const { report: simulated, timeline } = runSimulationWithTimeline(trace, pool, options);
  const report = args.hindsight === true ? withHindsight(simulated, trace, pool, options) : simulated;
  out.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report));
  if (args.svg !== undefined) await writeFile(args.svg, renderSvg(report, timeline));
  return 0;
}
