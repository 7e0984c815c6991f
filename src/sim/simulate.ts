/**
 * simulate: a discrete-event simulator (one step per trace minute) that drives the REAL decide(), the REAL lifecycle
 * (through instances.ts) and the REAL pool bookkeeping (core/bookkeeping.ts, as the engine's evaluator runs it)
 * against a demand trace, and compares policies with the exact oracle (oracle.ts).
 *
 * ```
 *   each minute t:
 *     deliver due events (minion start, ready or failed, cloud stopped) ─► afterTransition (failures, back-off)
 *       a failed instance: stop issued at once (as the engine does)
 *     jobs follow the demand, queued jobs are placed on ready instances (jobs.ts) ─► waiting = queued GPUs
 *     workload (demand, or the queue for the seed) + the queue ─► observeWorkload ─► poolWish: drain wanted?
 *       yes: idle check of every ready instance (idle = no job on it) ─► withIdleChecks   no: withoutIdle
 *     decide() ─► start / create (latencies drawn, latency.ts) | drain + stop of the confirmed-idle targets
 *     ─► afterDecision ─► pay every instance between its start command and its stop command
 * ```
 *
 * Latencies (defaults): reserved start 60 s to minion start, create 240 s, deploy 180 s to ready, stop 60 s; no jitter,
 * no failed starts. The pool of every policy is the one the composition root hands in (`shipped`: the service's own
 * config defaults, src/simulate-command.ts); the baselines change only their strategy and signal.
 */
import { decide, poolWish } from '../core/decide.ts';
import { DEFAULT_WAIT_BUDGET, DEFAULT_WAIT_WINDOW_MS } from '../core/strategies/budget.ts';
import { afterDecision, afterTransition, EMPTY_HISTORY, observeWorkload, withIdleChecks, withoutIdle } from '../core/bookkeeping.ts';
import { IN_FLIGHT_STATES, type Instance, type PoolHistory, type PoolSpec } from '../core/types.ts';
import { applyInput, cloudStopped, instanceFailed, instanceReady, minionStart, newSimInstance, type SimInput } from './instances.ts';
import { JobBook, waitPercentile } from './jobs.ts';
import { startDraws, type Latencies } from './latency.ts';
import { exactOracle } from './oracle.ts';
import type { Trace } from './trace.ts';
import { windowShares } from './window-share.ts';

const MINUTE_MS = 60_000;
const PAID_STATES: ReadonlySet<string> = new Set(['creating', 'starting', 'booted', 'deploying', 'ready', 'draining']);

/** DEFAULT_WAIT_BUDGET is the share of demand that may wait when no budget is given (the budget strategy's default). */
export { DEFAULT_WAIT_BUDGET };

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
  /** latencyJitter: 0..1, each start's latencies drawn within base x (1 +- jitter) (default 0). */
  readonly latencyJitter?: number;
  /** failureShare: 0..1, the share of starts whose deploy fails (default 0). */
  readonly failureShare?: number;
  /** seed: of the latency and failure draws (default 1). */
  readonly seed?: number;
  /** waitBudget: the share of demand GPU-minutes that may wait, a fraction (default DEFAULT_WAIT_BUDGET). */
  readonly waitBudget?: number;
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
  /** unmetGpuMinutes: GPU-minutes of jobs waiting for an instance. */
  readonly unmetGpuMinutes: number;
  /** unmetShare: unmetGpuMinutes / demandGpuMinutes (the waiting share, against the budget). */
  readonly unmetShare: number;
  /** withinBudget: unmetShare <= the report's waitBudget. */
  readonly withinBudget: boolean;
  readonly starts: number;
  readonly stops: number;
  /** failedStarts: starts that failed (their deploy failed, or they passed the provision timeout). */
  readonly failedStarts: number;
  readonly p95UnmetGpus: number;
  readonly maxUnmetGpus: number;
  /** p95WaitMinutes / maxWaitMinutes: how long jobs waited for an instance (whole minutes). */
  readonly p95WaitMinutes: number;
  readonly maxWaitMinutes: number;
  /** costRatio: instanceMinutes / the oracle's instanceMinutes. */
  readonly costRatio: number;
  /** worstWindowShare: the highest waiting share over any full waitWindow of the trace (the whole trace when shorter). */
  readonly worstWindowShare: number;
  /** alertHours: hours the shipped SaltAutoscalerPoolOverBudget alert would fire (the window's share above the budget for over 1h). */
  readonly alertHours: number;
}

/** SimReport is the JSON result of `salt-autoscaler simulate --json`. */
export interface SimReport {
  readonly trace: string;
  readonly minutes: number;
  readonly gpusPerInstance: number;
  readonly demandGpuMinutes: number;
  readonly waitBudget: number;
  /** waitWindowMs: the rolling window the budget is promised over (the pool's waitWindow). */
  readonly waitWindowMs: number;
  /** waitWindowStrict: the shipped pool plans so that every rolling window keeps the budget (the pool's waitWindowStrict). */
  readonly waitWindowStrict: boolean;
  readonly policies: readonly PolicyResult[];
  /**
   * hindsight (`simulate --hindsight` only): the member of the family "hold the peak of the last H minutes plus S spare
   * instances" that keeps the budget on this trace at the lowest cost, chosen knowing the whole trace (its row is
   * `hindsight Hm+S`); null when no member of the grid keeps it.
   */
  readonly hindsight?: { readonly holdMinutes: number; readonly spare: number } | null;
}

/** Timeline is one policy's per-minute series, in GPUs, for the chart. */
export interface Timeline {
  readonly policy: string;
  readonly demandGpus: readonly number[];
  readonly readyGpus: readonly number[];
  readonly paidGpus: readonly number[];
}

/** SignalSource computes a policy's workload each minute from the demand and the queue (a fresh one per run). */
export type SignalSource = (minute: number, demandGpus: number, queuedGpus: number) => number;

/** SimPolicy is a policy simulated through decide(): a pool spec and which signal it reads. */
export interface SimPolicy {
  readonly name: string;
  readonly pool: PoolSpec;
  /** signal: `demand` (running + pending GPUs), `pending` (the simulated queue) or a computed one. */
  readonly signal: 'demand' | 'pending' | SignalSource;
}

/** Raw is one policy's run before it is set against the oracle. */
export interface Raw {
  readonly instanceMinutes: number;
  readonly unmet: readonly number[];
  readonly starts: number;
  readonly stops: number;
  readonly failedStarts?: number;
  readonly waits?: readonly number[];
}

interface Settings extends Latencies {
  readonly gpus: number;
}

function settingsOf(options: SimOptions): Settings {
  return {
    gpus: options.gpusPerInstance ?? 8,
    startMs: options.startLatencyMs ?? 60_000,
    deployMs: options.deployLatencyMs ?? 180_000,
    createMs: options.createLatencyMs ?? 240_000,
    stopMs: options.stopLatencyMs ?? 60_000,
    jitter: options.latencyJitter ?? 0,
    failureShare: options.failureShare ?? 0,
  };
}

/** leadMinutes is the time from a start command to ready, in whole minutes (start + deploy, no jitter). */
export function leadMinutes(options: SimOptions = {}): number {
  const s = settingsOf(options);
  return Math.ceil((s.startMs + s.deployMs) / MINUTE_MS);
}

/** SIM_POLICY_NAMES name the policies simulated through decide(), in simPolicies' order: those a chart can show. */
export const SIM_POLICY_NAMES = ['seed-threshold', 'target-tracking', 'salt-autoscaler'] as const;

/** simPolicies are the policies simulated through decide(): the seed, target tracking and the shipped default. */
export function simPolicies(shipped: PoolSpec, options: SimOptions = {}): readonly SimPolicy[] {
  const gpus = settingsOf(options).gpus;
  const [seed, target, shippedName] = SIM_POLICY_NAMES;
  return [
    { name: seed, signal: 'pending', pool: { ...shipped, strategy: { kind: 'threshold' } } },
    { name: target, signal: 'demand', pool: { ...shipped, strategy: { kind: 'target', perInstance: gpus } } },
    { name: shippedName, signal: 'demand', pool: shipped },
  ];
}

interface Due {
  readonly id: string;
  readonly input: SimInput;
  /** life: the instance's lastStartMs when the event was scheduled: a VM the engine gave up on sends nothing more. */
  readonly life: number | undefined;
}

/** simulatePolicy runs one policy over the trace; `ignored` lists lifecycle inputs it refused (a bug when not empty). */
export function simulatePolicy(
  trace: Trace,
  policy: SimPolicy,
  options: SimOptions = {},
): Raw & { readonly failedStarts: number; readonly waits: readonly number[]; readonly timeline: Timeline; readonly ignored: readonly string[] } {
  const s = settingsOf(options);
  const pool = policy.pool;
  const draw = startDraws(s, options.seed ?? 1);
  const reserved = options.reserved ?? pool.max;
  const fleet = new Map<string, Instance>();
  for (let n = 1; n <= reserved; n += 1) {
    const id = `${trace.name}-${String(n).padStart(3, '0')}`;
    fleet.set(id, newSimInstance(id, pool.name, 0));
  }
  const due = new Map<number, Due[]>();
  const schedule = (atMs: number, id: string, input: SimInput): void => {
    const minute = Math.ceil(atMs / MINUTE_MS);
    const list = due.get(minute) ?? [];
    list.push({ id, input, life: fleet.get(id)?.lastStartMs });
    due.set(minute, list);
  };
  const ignored: string[] = [];
  let history: PoolHistory = EMPTY_HISTORY;
  let failedStarts = 0;
  let stops = 0;
  // kept in step with every transition: the ready set changed (jobs re-hosted), instances in flight, instances paid
  let readyChanged = true;
  let inFlight = 0;
  let paid = 0;
  const apply = (id: string, input: SimInput, nowMs: number): void => {
    const instance = fleet.get(id);
    if (instance === undefined) return;
    const applied = applyInput(instance, input, nowMs, pool.provisionTimeoutMs);
    fleet.set(id, applied.instance);
    if ((applied.instance.state === 'ready') !== (instance.state === 'ready')) readyChanged = true;
    inFlight += (IN_FLIGHT_STATES.includes(applied.instance.state) ? 1 : 0) - (IN_FLIGHT_STATES.includes(instance.state) ? 1 : 0);
    paid += (PAID_STATES.has(applied.instance.state) ? 1 : 0) - (PAID_STATES.has(instance.state) ? 1 : 0);
    if (applied.ignored !== undefined) {
      if (input.kind !== 'tick') ignored.push(`${id} at minute ${nowMs / MINUTE_MS}: ${applied.ignored}`);
      return;
    }
    const effect = afterTransition(history, applied.instance, instance.state, nowMs);
    history = effect.history;
    if (applied.instance.state === 'failed') {
      // the engine stops a failed instance at once (executor.stopFailed)
      if (effect.provisioningFailed) failedStarts += 1;
      apply(id, { kind: 'stop-issued' }, nowMs);
      schedule(nowMs + s.stopMs, id, cloudStopped(id));
    }
  };
  const deliver = (event: Due, nowMs: number): void => {
    const instance = fleet.get(event.id);
    if (instance === undefined || instance.lastStartMs !== event.life) return;
    const late = event.input.kind !== 'cloud' && !IN_FLIGHT_STATES.includes(instance.state);
    if (!late) apply(event.id, event.input, nowMs);
  };
  const jobs = new JobBook(s.gpus);
  // Warm start: the fleet serving the first minute's demand is already ready at t = 0 (same for every policy).
  const warm = Math.min(pool.max, Math.ceil((trace.demandGpus[0] ?? 0) / s.gpus));
  for (const id of [...fleet.keys()].slice(0, warm)) {
    for (const input of [{ kind: 'start-issued' } as const, minionStart(id), instanceReady(id)]) apply(id, input, 0);
  }

  let created = 0;
  let starts = 0;
  let instanceMinutes = 0;
  const unmet: number[] = [];
  const readyGpus: number[] = [];
  const paidGpus: number[] = [];

  for (let t = 0; t < trace.demandGpus.length; t += 1) {
    const nowMs = t * MINUTE_MS;
    for (const event of due.get(t) ?? []) deliver(event, nowMs);
    due.delete(t);
    if (inFlight > 0) for (const [id, instance] of fleet) if (IN_FLIGHT_STATES.includes(instance.state)) apply(id, { kind: 'tick' }, nowMs);

    const demand = trace.demandGpus[t] ?? 0;
    const instances = [...fleet.values()];
    const ready = instances.filter((i) => i.state === 'ready');
    jobs.follow(demand, t);
    if (readyChanged) jobs.hostsAre(ready.map((i) => i.id));
    readyChanged = false;
    jobs.place(t);
    const queued = jobs.queuedGpus();
    unmet.push(queued);
    readyGpus.push(ready.length * s.gpus);

    const value = policy.signal === 'demand' ? demand : policy.signal === 'pending' ? queued : policy.signal(t, demand, queued);
    const workload = { value, atMs: nowMs, source: 'trace' };
    // as the engine with a waitingQuery: the budget strategy measures the waiting above the READY capacity and the
    // scheduler's queue (the jobs no ready instance takes)
    history = observeWorkload(history, pool, workload, nowMs, ready.length, queued);
    // as the engine's evaluator: the idle check runs only when a drain is wanted, and only above min
    const wish = poolWish(pool, instances, workload, nowMs, history);
    if (pool.paused || wish.desired >= wish.counts.size) history = withoutIdle(history);
    else if (ready.length > pool.min) history = withIdleChecks(history, ready.map((i) => [i.id, jobs.busy(i.id) ? 'busy' : 'idle'] as const), nowMs);
    const decision = decide(pool, instances, workload, nowMs, history);

    if (decision.kind === 'scaleUp') {
      history = afterDecision(history, decision, nowMs);
      for (const target of decision.targets) {
        let id: string;
        if (target.kind === 'start') {
          id = target.id;
          apply(id, { kind: 'start-issued' }, nowMs);
        } else {
          created += 1;
          id = `${trace.name}-c${String(created).padStart(3, '0')}`;
          fleet.set(id, newSimInstance(id, pool.name, nowMs));
          apply(id, { kind: 'create-issued' }, nowMs);
        }
        const fate = draw(target.kind === 'create');
        schedule(nowMs + fate.bootMs, id, minionStart(id));
        schedule(nowMs + fate.bootMs + fate.deployMs, id, fate.fails ? instanceFailed(id, 'simulated deploy failure') : instanceReady(id));
        starts += 1;
      }
    } else if (decision.kind === 'scaleDown') {
      history = afterDecision(history, decision, nowMs);
      for (const id of decision.targets) {
        apply(id, { kind: 'drain-issued' }, nowMs);
        apply(id, { kind: 'stop-issued' }, nowMs);
        schedule(nowMs + s.stopMs, id, cloudStopped(id));
        stops += 1;
      }
    }

    instanceMinutes += paid;
    paidGpus.push(paid * s.gpus);
  }
  jobs.finish(trace.demandGpus.length);
  return {
    instanceMinutes,
    unmet,
    starts,
    stops,
    failedStarts,
    waits: jobs.waits,
    ignored,
    timeline: { policy: policy.name, demandGpus: trace.demandGpus, readyGpus, paidGpus },
  };
}

/** oracleOf is perfect foresight: the exact minimum paid instance-minutes with nothing unmet (src/sim/oracle.ts). */
export function oracleOf(trace: Trace, options: SimOptions = {}): Raw {
  const s = settingsOf(options);
  const plan = exactOracle(trace.demandGpus.map((d) => Math.ceil(d / s.gpus)), leadMinutes(options));
  return { ...plan, unmet: trace.demandGpus.map(() => 0) };
}

/** staticMaxOf keeps `max` instances ready all the time. */
export function staticMaxOf(trace: Trace, max: number, options: SimOptions = {}): Raw {
  const s = settingsOf(options);
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

/** Yardstick is what a policy's run is judged against: the trace's demand, the oracle's cost and the budget. */
export interface Yardstick {
  readonly demandGpuMinutes: number;
  readonly oracleMinutes: number;
  readonly waitBudget: number;
  /** demandGpus: the trace's demand per minute; waitWindowMs: the window the budget is measured over. */
  readonly demandGpus: readonly number[];
  readonly waitWindowMs: number;
}

/** resultOf sets one run against the oracle and the budget. */
export function resultOf(name: string, raw: Raw, yardstick: Yardstick): PolicyResult {
  const unmetGpuMinutes = raw.unmet.reduce((a, b) => a + b, 0);
  const unmetShare = yardstick.demandGpuMinutes > 0 ? unmetGpuMinutes / yardstick.demandGpuMinutes : 0;
  const waits = [...(raw.waits ?? [])];
  const windows = windowShares(yardstick.demandGpus, raw.unmet, yardstick.waitWindowMs / MINUTE_MS, yardstick.waitBudget);
  return {
    name,
    instanceMinutes: raw.instanceMinutes,
    unmetGpuMinutes,
    unmetShare,
    withinBudget: unmetShare <= yardstick.waitBudget,
    starts: raw.starts,
    stops: raw.stops,
    failedStarts: raw.failedStarts ?? 0,
    p95UnmetGpus: percentile(raw.unmet, 0.95),
    maxUnmetGpus: raw.unmet.reduce((a, b) => Math.max(a, b), 0),
    p95WaitMinutes: waitPercentile(waits, 0.95),
    maxWaitMinutes: waits.length === 0 ? 0 : waits.length - 1,
    costRatio: yardstick.oracleMinutes > 0 ? raw.instanceMinutes / yardstick.oracleMinutes : 0,
    worstWindowShare: windows.worstShare,
    alertHours: windows.alertHours,
  };
}

/** yardstickOf is the demand, the oracle's cost and the budget (over `waitWindowMs`, the pool's window) of one trace. */
export function yardstickOf(trace: Trace, options: SimOptions = {}, waitWindowMs = DEFAULT_WAIT_WINDOW_MS): Yardstick {
  return {
    demandGpuMinutes: trace.demandGpus.reduce((a, b) => a + b, 0),
    oracleMinutes: oracleOf(trace, options).instanceMinutes,
    waitBudget: options.waitBudget ?? DEFAULT_WAIT_BUDGET,
    demandGpus: trace.demandGpus,
    waitWindowMs,
  };
}

/**
 * runSimulationWithTimeline runs every policy on the trace with the shipped pool (`shipped`, sized for the trace) and
 * returns the report plus one policy's per-minute series.
 */
export function runSimulationWithTimeline(trace: Trace, shipped: PoolSpec, options: SimOptions = {}): { readonly report: SimReport; readonly timeline: Timeline } {
  const gpus = settingsOf(options).gpus;
  const yardstick = yardstickOf(trace, options, shipped.waitWindowMs);
  const wantTimeline = options.timelinePolicy ?? 'salt-autoscaler';
  const results: PolicyResult[] = [
    resultOf('oracle', oracleOf(trace, options), yardstick),
    resultOf('static-max', staticMaxOf(trace, shipped.max, options), yardstick),
  ];
  let timeline: Timeline | undefined;
  for (const policy of simPolicies(shipped, options)) {
    const raw = simulatePolicy(trace, policy, options);
    if (policy.name === wantTimeline) timeline = raw.timeline;
    results.push(resultOf(policy.name, raw, yardstick));
  }
  const report = {
    trace: trace.name, minutes: trace.demandGpus.length, gpusPerInstance: gpus, demandGpuMinutes: yardstick.demandGpuMinutes, waitBudget: yardstick.waitBudget, waitWindowMs: yardstick.waitWindowMs,
    waitWindowStrict: shipped.waitWindowStrict === true, policies: results,
  };
  return { report, timeline: timeline ?? { policy: 'none', demandGpus: trace.demandGpus, readyGpus: [], paidGpus: [] } };
}

/** runSimulation runs oracle, static-max, seed-threshold, target-tracking and salt-autoscaler on one trace. */
export function runSimulation(trace: Trace, shipped: PoolSpec, options: SimOptions = {}): SimReport {
  return runSimulationWithTimeline(trace, shipped, options).report;
}
