/**
 * simulate: a discrete-event simulator (one step per trace minute) that drives the REAL decide() and the
 * lifecycle (through instances.ts) against a demand trace, and compares policies with an oracle.
 *
 *   each minute t:
 *     deliver due events (minion-start, instance-ready, cloud stopped)
 *       -> measure: unmet = max(0, demand - ready * gpusPerInstance)
 *       -> idle check: an instance is idle while ready capacity exceeds demand by its GPUs
 *       -> workload (demand, or the simulated queue for the seed) -> observe -> decide -> issue commands
 *       -> pay: every instance between its start command and its stop command
 *
 * Latencies (defaults): reserved start 60 s to minion start, create 240 s to minion start, deploy 180 s
 * to ready, stop 60 s. The oracle knows the future: exactly ceil(demand / gpusPerInstance) ready each
 * minute, each start issued (start + deploy) earlier and paid from then.
 */
import { decide } from '../core/decide.ts';
import { afterDecision, afterTransition, EMPTY_HISTORY, observeWorkload, withIdleChecks } from '../core/bookkeeping.ts';
import { ADAPTIVE_PEAK_WINDOW_MS } from '../core/strategies/adaptive.ts';
import type { Instance, PoolHistory, PoolSpec } from '../core/types.ts';
import { applyInput, cloudStopped, instanceReady, minionStart, newSimInstance, type SimInput } from './instances.ts';
import { exactOracle } from './oracle.ts';
import type { Trace } from './trace.ts';

const MINUTE_MS = 60_000;
const PAID_STATES: ReadonlySet<string> = new Set(['creating', 'starting', 'booted', 'deploying', 'ready', 'draining']);

/** PoolOverrides are the pool settings a simulation may take from a config file (durations in ms). */
export type PoolOverrides = Partial<Pick<PoolSpec, 'min' | 'max' | 'upThreshold' | 'downThreshold' | 'intervalMs' | 'upCooldownMs' | 'downCooldownMs' | 'step' | 'canCreate'>>;

/** SimOptions configure one simulation run (all optional). */
export interface SimOptions {
  /** gpusPerInstance: GPUs one instance serves (default 8). */
  readonly gpusPerInstance?: number;
  readonly startLatencyMs?: number;
  readonly deployLatencyMs?: number;
  readonly createLatencyMs?: number;
  readonly stopLatencyMs?: number;
  /** pool: overrides of the simulated pool; by default max = ceil(peak demand / gpusPerInstance), reserve = max. */
  readonly pool?: PoolOverrides;
  /** reserved: size of the stopped reserve (default: the pool's max). */
  readonly reserved?: number;
  /** timelinePolicy: the policy whose per-minute series runSimulationWithTimeline returns (default salt-autoscaler). */
  readonly timelinePolicy?: string;
}

/** PolicyResult is one policy's outcome on one trace. */
export interface PolicyResult {
  readonly name: string;
  /** instanceMinutes: paid minutes, from each start command to its stop command. */
  readonly instanceMinutes: number;
  /** unmetGpuMinutes: demand above READY capacity, summed over minutes. */
  readonly unmetGpuMinutes: number;
  /** unmetShare: unmetGpuMinutes / demandGpuMinutes. */
  readonly unmetShare: number;
  readonly starts: number;
  readonly stops: number;
  readonly p95UnmetGpus: number;
  readonly maxUnmetGpus: number;
  /** costRatio: instanceMinutes / the oracle's instanceMinutes. */
  readonly costRatio: number;
}

/** SimReport is the JSON result of `salt-autoscaler simulate --json`. */
export interface SimReport {
  readonly trace: string;
  readonly minutes: number;
  readonly gpusPerInstance: number;
  readonly demandGpuMinutes: number;
  readonly policies: readonly PolicyResult[];
}

/** Timeline is one policy's per-minute series, in GPUs, for the chart. */
export interface Timeline {
  readonly policy: string;
  readonly demandGpus: readonly number[];
  readonly readyGpus: readonly number[];
  readonly paidGpus: readonly number[];
}

/** SimPolicy is a policy simulated through decide(): a pool spec and which signal it reads. */
export interface SimPolicy {
  readonly name: string;
  readonly pool: PoolSpec;
  /** signal: `demand` (running + pending GPUs) or `pending` (the simulated queue: demand above ready capacity). */
  readonly signal: 'demand' | 'pending';
}

interface Raw {
  readonly instanceMinutes: number;
  readonly unmet: readonly number[];
  readonly starts: number;
  readonly stops: number;
}

interface Settings {
  readonly gpus: number;
  readonly startMs: number;
  readonly deployMs: number;
  readonly createMs: number;
  readonly stopMs: number;
}

function settingsOf(options: SimOptions): Settings {
  return {
    gpus: options.gpusPerInstance ?? 8,
    startMs: options.startLatencyMs ?? 60_000,
    deployMs: options.deployLatencyMs ?? 180_000,
    createMs: options.createLatencyMs ?? 240_000,
    stopMs: options.stopLatencyMs ?? 60_000,
  };
}

/** basePool is the simulated pool before a policy's own settings: sized for the trace's peak. */
export function basePool(trace: Trace, options: SimOptions = {}): PoolSpec {
  const gpus = settingsOf(options).gpus;
  const peak = trace.demandGpus.reduce((a, b) => Math.max(a, b), 0);
  return {
    name: `sim/${trace.name}`,
    env: 'sim',
    instanceType: trace.name,
    min: 0,
    max: Math.max(1, Math.ceil(peak / gpus)),
    upThreshold: 1,
    downThreshold: 0,
    intervalMs: 270_000,
    upCooldownMs: 270_000,
    downCooldownMs: 270_000,
    step: 1,
    strategy: { kind: 'threshold' },
    provisionTimeoutMs: 30 * MINUTE_MS,
    drainTimeoutMs: 30 * MINUTE_MS,
    scaleIn: 'stop',
    canCreate: false,
    signalMaxAgeMs: 10 * MINUTE_MS,
    failureBackoffBaseMs: MINUTE_MS,
    failureBackoffMaxMs: 30 * MINUTE_MS,
    dryRun: false,
    paused: false,
    ...options.pool,
  };
}

/** simPolicies are the policies simulated through decide(): the seed, target tracking and the default (adaptive). */
export function simPolicies(trace: Trace, options: SimOptions = {}): readonly SimPolicy[] {
  const pool = basePool(trace, options);
  const gpus = settingsOf(options).gpus;
  return [
    { name: 'seed-threshold', signal: 'pending', pool: { ...pool, strategy: { kind: 'threshold' } } },
    { name: 'target-tracking', signal: 'demand', pool: { ...pool, strategy: { kind: 'target', perInstance: gpus } } },
    {
      name: 'salt-autoscaler',
      signal: 'demand',
      pool: {
        ...pool,
        strategy: { kind: 'adaptive', perInstance: gpus, peakWindowMs: ADAPTIVE_PEAK_WINDOW_MS },
        intervalMs: MINUTE_MS,
        upCooldownMs: MINUTE_MS,
        downCooldownMs: MINUTE_MS,
        ...options.pool,
      },
    },
  ];
}

/** simulatePolicy runs one policy over the trace with the real decide() and lifecycle; `ignored` lists lifecycle inputs it refused (a bug when not empty). */
export function simulatePolicy(
  trace: Trace,
  policy: SimPolicy,
  options: SimOptions = {},
): Raw & { readonly timeline: Timeline; readonly ignored: readonly string[] } {
  const s = settingsOf(options);
  const pool = policy.pool;
  const reserved = options.reserved ?? pool.max;
  const fleet = new Map<string, Instance>();
  for (let n = 1; n <= reserved; n += 1) {
    const id = `${trace.name}-${String(n).padStart(3, '0')}`;
    fleet.set(id, newSimInstance(id, pool.name, 0));
  }
  const due = new Map<number, { id: string; input: SimInput }[]>();
  const schedule = (atMs: number, id: string, input: SimInput): void => {
    const minute = Math.ceil(atMs / MINUTE_MS);
    const list = due.get(minute) ?? [];
    list.push({ id, input });
    due.set(minute, list);
  };
  const ignored: string[] = [];
  let history: PoolHistory = EMPTY_HISTORY;
  const apply = (id: string, input: SimInput, nowMs: number): void => {
    const instance = fleet.get(id);
    if (instance === undefined) return;
    const applied = applyInput(instance, input, nowMs, pool.provisionTimeoutMs);
    if (applied.ignored !== undefined) ignored.push(`${id} at minute ${nowMs / MINUTE_MS}: ${applied.ignored}`);
    else history = afterTransition(history, applied.instance, instance.state, nowMs).history;
    fleet.set(id, applied.instance);
  };
  // Warm start: the fleet serving the first minute's demand is already ready at t = 0 (same for every policy).
  const warm = Math.min(pool.max, Math.ceil((trace.demandGpus[0] ?? 0) / s.gpus));
  for (const id of [...fleet.keys()].slice(0, warm)) {
    for (const input of [{ kind: 'start-issued' } as const, minionStart(id), instanceReady(id)]) apply(id, input, 0);
  }

  let created = 0;
  let starts = 0;
  let stops = 0;
  let instanceMinutes = 0;
  const unmet: number[] = [];
  const readyGpus: number[] = [];
  const paidGpus: number[] = [];

  for (let t = 0; t < trace.demandGpus.length; t += 1) {
    const nowMs = t * MINUTE_MS;
    for (const event of due.get(t) ?? []) apply(event.id, event.input, nowMs);
    due.delete(t);

    const demand = trace.demandGpus[t] ?? 0;
    const ready = [...fleet.values()].filter((i) => i.state === 'ready');
    const missing = Math.max(0, demand - ready.length * s.gpus);
    unmet.push(missing);
    readyGpus.push(ready.length * s.gpus);

    // Simulated idle check: keep the instances already known idle (longest first), add or drop to match.
    const idleCount = Math.max(0, Math.floor((ready.length * s.gpus - demand) / s.gpus));
    const readyIds = new Set(ready.map((i) => i.id));
    const known = Object.entries(history.idleSinceMs)
      .filter(([id]) => readyIds.has(id))
      .sort((a, b) => a[1] - b[1])
      .slice(0, idleCount)
      .map(([id]) => id);
    const idle = new Set(known);
    for (const i of [...ready].reverse()) {
      if (idle.size >= idleCount) break;
      idle.add(i.id);
    }
    history = withIdleChecks(history, ready.map((i) => [i.id, idle.has(i.id) ? 'idle' : 'busy'] as const), nowMs);

    const workload = { value: policy.signal === 'demand' ? demand : missing, atMs: nowMs, source: 'trace' };
    history = observeWorkload(history, pool, workload, nowMs);
    const decision = decide(pool, [...fleet.values()], workload, nowMs, history);

    if (decision.kind === 'scaleUp') {
      for (const target of decision.targets) {
        let id: string;
        let bootMs: number;
        if (target.kind === 'start') {
          id = target.id;
          apply(id, { kind: 'start-issued' }, nowMs);
          bootMs = s.startMs;
        } else {
          created += 1;
          id = `${trace.name}-c${String(created).padStart(3, '0')}`;
          fleet.set(id, newSimInstance(id, pool.name, nowMs));
          apply(id, { kind: 'create-issued' }, nowMs);
          bootMs = s.createMs;
        }
        schedule(nowMs + bootMs, id, minionStart(id));
        schedule(nowMs + bootMs + s.deployMs, id, instanceReady(id));
        starts += 1;
      }
    } else if (decision.kind === 'scaleDown') {
      for (const id of decision.targets) {
        apply(id, { kind: 'drain-issued' }, nowMs);
        apply(id, { kind: 'stop-issued' }, nowMs);
        schedule(nowMs + s.stopMs, id, cloudStopped(id));
        stops += 1;
      }
    }
    history = afterDecision(history, decision, nowMs);

    let paid = 0;
    for (const i of fleet.values()) if (PAID_STATES.has(i.state)) paid += 1;
    instanceMinutes += paid;
    paidGpus.push(paid * s.gpus);
  }
  return {
    instanceMinutes,
    unmet,
    starts,
    stops,
    ignored,
    timeline: { policy: policy.name, demandGpus: trace.demandGpus, readyGpus, paidGpus },
  };
}

/** oracleOf is perfect foresight: the exact minimum paid instance-minutes with nothing unmet (src/sim/oracle.ts). */
export function oracleOf(trace: Trace, options: SimOptions = {}): Raw {
  const s = settingsOf(options);
  const leadMinutes = Math.ceil((s.startMs + s.deployMs) / MINUTE_MS);
  const plan = exactOracle(trace.demandGpus.map((d) => Math.ceil(d / s.gpus)), leadMinutes);
  return { ...plan, unmet: trace.demandGpus.map(() => 0) };
}

/** staticMaxOf keeps the pool's max ready all the time. */
export function staticMaxOf(trace: Trace, options: SimOptions = {}): Raw {
  const s = settingsOf(options);
  const max = basePool(trace, options).max;
  return {
    instanceMinutes: max * trace.demandGpus.length,
    unmet: trace.demandGpus.map((d) => Math.max(0, d - max * s.gpus)),
    starts: 0,
    stops: 0,
  };
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
}

function resultOf(name: string, raw: Raw, demandGpuMinutes: number, oracleMinutes: number): PolicyResult {
  const unmetGpuMinutes = raw.unmet.reduce((a, b) => a + b, 0);
  return {
    name,
    instanceMinutes: raw.instanceMinutes,
    unmetGpuMinutes,
    unmetShare: demandGpuMinutes > 0 ? unmetGpuMinutes / demandGpuMinutes : 0,
    starts: raw.starts,
    stops: raw.stops,
    p95UnmetGpus: percentile(raw.unmet, 0.95),
    maxUnmetGpus: raw.unmet.reduce((a, b) => Math.max(a, b), 0),
    costRatio: oracleMinutes > 0 ? raw.instanceMinutes / oracleMinutes : 0,
  };
}

/** runSimulationWithTimeline runs every policy and returns the report plus one policy's per-minute series. */
export function runSimulationWithTimeline(trace: Trace, options: SimOptions = {}): { readonly report: SimReport; readonly timeline: Timeline } {
  const gpus = settingsOf(options).gpus;
  const demandGpuMinutes = trace.demandGpus.reduce((a, b) => a + b, 0);
  const oracle = oracleOf(trace, options);
  const wantTimeline = options.timelinePolicy ?? 'salt-autoscaler';
  const results: PolicyResult[] = [
    resultOf('oracle', oracle, demandGpuMinutes, oracle.instanceMinutes),
    resultOf('static-max', staticMaxOf(trace, options), demandGpuMinutes, oracle.instanceMinutes),
  ];
  let timeline: Timeline | undefined;
  for (const policy of simPolicies(trace, options)) {
    const raw = simulatePolicy(trace, policy, options);
    if (policy.name === wantTimeline) timeline = raw.timeline;
    results.push(resultOf(policy.name, raw, demandGpuMinutes, oracle.instanceMinutes));
  }
  const report = { trace: trace.name, minutes: trace.demandGpus.length, gpusPerInstance: gpus, demandGpuMinutes, policies: results };
  return { report, timeline: timeline ?? { policy: 'none', demandGpus: trace.demandGpus, readyGpus: [], paidGpus: [] } };
}

/** runSimulation runs oracle, static-max, seed-threshold, target-tracking and salt-autoscaler on one trace. */
export function runSimulation(trace: Trace, options: SimOptions = {}): SimReport {
  return runSimulationWithTimeline(trace, options).report;
}
