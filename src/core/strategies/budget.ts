/**
 * budget: salt-autoscaler's default strategy. It spends the pool's waiting budget (`waitBudget`, the share of
 * demand that may wait for a ready instance over `waitWindow`), no more, at the lowest cost it can find.
 *
 * ```
 *   every evaluation ──observeBudget──► demand and waiting (workload above READY capacity) integrated into
 *                                       WAIT_BUCKETS buckets spanning waitWindow   -> realised waiting share
 *                                       the workload's peak per PEAK_BUCKET_MS bucket (PEAK_BUCKETS of them)
 *                                       and per hour (HOUR_BUCKETS of them: 4 weeks)
 *   a peak bucket closes ──────────────► replay every (hold, spare) candidate on the last 5 min of the pool's demand:
 *                                         paid instance-minutes (incl. the measured start lead per start) and
 *                                         estimated waiting, into sums decayed over SCORE_MEMORY_MS; the estimate is
 *                                         corrected by measured / estimated waiting of the choices in effect, plus
 *                                         one more rise at the candidate's own largest replayed waiting lump
 *                                       -> the cheapest candidate whose estimated share is within the aim: the budget
 *                                          less 95 % of the controller's own measured under-planning
 *                                          is kept (none: the lowest cost + waiting / aim; budget 0: the one that
 *                                          waits least; before any rise has told the candidates apart, the cold
 *                                          hold stays)
 *                                       once an hour: look for a period (autocorrelation): a week in the hourly
 *                                       peaks if clearly stronger than the days in it, else 30 min..24 h in the 5-min
 *   decide ──budget()──► desired = max(peak of the last `hold` + spare, workload now, pre-warm) / perInstance
 *                        pre-warm: the level the demand reached at the same phase of each of the last periods,
 *                        started one measured start lead (+ one interval) ahead of the predicted rise
 * ```
 *
 * Why this shape: the hindsight-best "hold the peak of the last H minutes + S spare instances" is a strong family on
 * real GPU demand, but which (H, S) fits depends on the trace. The controller picks it online, on the pool's own
 * recent demand (a few days, so a rare rise still counts): the cheapest whose estimated waiting share fits the budget,
 * with a margin from its own measured under-planning and one unforeseen rise, sized per candidate (what one rise cost
 * under it: a hold that served the last rises is not charged what the shorter hold in effect lost to them). A price of waiting steered by the lagged
 * 7-day share was tried before: it limit-cycled between no hold and long holds. Tried and not kept: planning on what
 * the window can still spend (it spent a quiet week's savings in a day and cost more). No constant in it was fitted
 * to a trace. Memory is bounded: a few KB per pool.
 */
import type { BudgetMemory, Buckets, IntBuckets, PoolHistory, PoolSpec } from '../types.ts';
import type { StrategyInput, StrategyResult } from './strategy.ts';

/** DEFAULT_WAIT_BUDGET is the share of demand that may wait when the pool sets no waitBudget (0.25%). */
export const DEFAULT_WAIT_BUDGET = 0.0025;
/** DEFAULT_WAIT_WINDOW_MS is the window the waiting share is measured over when the pool sets no waitWindow (7 days). */
export const DEFAULT_WAIT_WINDOW_MS = 7 * 86_400_000;
/** DEFAULT_START_LATENCY_MS is the start lead assumed before any start of the pool has been seen to become ready. */
export const DEFAULT_START_LATENCY_MS = 300_000;
/** START_LATENCY_SAMPLES is how many recent start-to-ready times a pool keeps. */
export const START_LATENCY_SAMPLES = 16;
/**
 * PEAK_BUCKET_MS is the width of one demand bucket (5 min); PEAK_BUCKETS of them are kept: 72 h closed (three daily
 * cycles, what a daily period needs to be searched at all) and the bucket now open.
 */
export const PEAK_BUCKET_MS = 300_000;
export const PEAK_BUCKETS = 865;
/** HOUR_BUCKET_MS is the width of one hourly bucket; HOUR_BUCKETS of them are kept (4 weeks: a weekly period, three times + now). */
export const HOUR_BUCKET_MS = 3_600_000;
export const HOUR_BUCKETS = 672;
/** FINE_BUCKET_MS is the width of one fine bucket (1 min); FINE_BUCKETS of them are kept (12 h): holds and scores. */
export const FINE_BUCKET_MS = 60_000;
export const FINE_BUCKETS = 720;
/** WAIT_BUCKETS is how many buckets span the waiting window. */
export const WAIT_BUCKETS = 168;
/**
 * CONFIDENCE_Z: the controller keeps the window's share within the budget with one-sided 95 % confidence against its own
 * measured error (the normal quantile).
 */
export const CONFIDENCE_Z = 1.645;
/** HOLD_CANDIDATES_MIN / SPARE_CANDIDATES are the (hold, spare) grid scored online. */
export const HOLD_CANDIDATES_MIN: readonly number[] = [0, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360];
export const SPARE_CANDIDATES: readonly number[] = [0, 1, 2, 3, 4];
/** COLD_HOLD_MIN is the hold used until an hour of demand has been seen. */
export const COLD_HOLD_MIN = 60;

const MINUTE_MS = 60_000;
const MAX_GAP_MS = 15 * MINUTE_MS;
const MIN_SCORE_MINUTES = 60;
/**
 * SCORE_MEMORY_MS: the candidates' sums decay with this time constant (3 days, at most the window): long enough that a
 * rare rise still weighs on the estimate, short enough to follow a change of habit.
 */
const SCORE_MEMORY_MS = 3 * 86_400_000;
/** BIAS_MAX bounds the correction of the replay's waiting; BIAS_PRIOR: the instance-minutes its prior (1) weighs. */
const BIAS_MAX = 3;
const BIAS_PRIOR = 10;
/** period search: from 30 min to 24 h, at least MIN_REPEATS cycles in the history, and an autocorrelation this strong. */
const MIN_PERIOD_BUCKETS = 6;
const MAX_PERIOD_BUCKETS = 288;
const MIN_REPEATS = 3;
const MIN_PERIOD_R = 0.6;
const MIN_PERIOD_DIP = 0.5;
/** CLEARLY_STRONGER: a longer period wins over a shorter one (its divisor) only if it correlates this much more. */
const CLEARLY_STRONGER = 0.1;
/** a week and a day in hourly buckets: the weekly period is weighed against the daily ones it contains. */
const WEEK_HOURS = 168;
const DAY_HOURS = 24;
const PREWARM_LOOKBACK = 5;
const PERIOD_SEARCH_BUCKETS = 12;
/** PREWARM_MARGIN_MS: a pre-warm starts this much before the measured lead (a few evaluations may pass first). */
const PREWARM_MARGIN_MS = 60_000;

/** waitBudgetOf / waitWindowOf are the pool's budget and window, with their defaults. */
export function waitBudgetOf(pool: PoolSpec): number {
  return pool.waitBudget ?? DEFAULT_WAIT_BUDGET;
}
export function waitWindowOf(pool: PoolSpec): number {
  return pool.waitWindowMs ?? DEFAULT_WAIT_WINDOW_MS;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * BucketKind is one kind of IntBuckets (types.ts) compactBuckets holds: `base` the typed array it is (and views a
 * column's buffer with), `bucket` its subclass whose JSON is a plain array, `min`..`max` the integers it holds exactly.
 */
interface BucketKind {
  readonly base: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Uint8Array | Uint16Array | Int32Array;
  readonly bucket: new (length: number) => IntBuckets;
  readonly min: number;
  readonly max: number;
}

/** INT32_KIND is the widest kind. */
const INT32_KIND: BucketKind = { base: Int32Array, bucket: class Int32Buckets extends Int32Array { toJSON(): number[] { return Array.from(this); } }, min: -0x80000000, max: 0x7fffffff };
/** BUCKET_KINDS are the IntBuckets kinds, narrowest first. */
const BUCKET_KINDS: readonly BucketKind[] = [
  { base: Uint8Array, bucket: class Uint8Buckets extends Uint8Array { toJSON(): number[] { return Array.from(this); } }, min: 0, max: 0xff },
  { base: Uint16Array, bucket: class Uint16Buckets extends Uint16Array { toJSON(): number[] { return Array.from(this); } }, min: 0, max: 0xffff },
  INT32_KIND,
];

/** kindOf is the kind of a typed column. */
function kindOf(values: IntBuckets): BucketKind {
  return BUCKET_KINDS.find((k) => values instanceof k.base) ?? INT32_KIND;
}

/** isBuckets says whether a value is a column of buckets, as JSON loads it or as compactBuckets holds it. */
function isBuckets(values: unknown): boolean {
  return Array.isArray(values) || BUCKET_KINDS.some((k) => values instanceof k.base);
}

/**
 * compactBuckets holds a column of buckets in the narrowest integer typed array that keeps every value exactly (Uint8,
 * Uint16, Int32: 1, 2 or 4 bytes a value where a plain array of numbers takes 8), or as a plain array of its exact
 * length when one value is no such integer (a fraction, -0, NaN). Reading it back gives the same numbers, so no
 * decision can change; its JSON is the same array.
 */
export function compactBuckets(values: Buckets): Buckets {
  if (ArrayBuffer.isView(values)) return values;
  let min = 0;
  let max = 0;
  for (const v of values) {
    if (!Number.isInteger(v) || Object.is(v, -0)) return values.slice();
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  // set() copies from a plain array on V8's fast path (a subclass's constructor from an array-like does not)
  const kind = BUCKET_KINDS.find((k) => min >= k.min && max <= k.max);
  if (kind === undefined) return values.slice();
  const out = new kind.bucket(values.length);
  out.set(values);
  return out;
}

/**
 * compactBudgetMemory holds a memory's bucket columns compactly (compactBuckets), e.g. one loaded from the store as
 * plain arrays; a memory of another shape is left as it is (observeBudget starts it afresh).
 */
export function compactBudgetMemory(memory: BudgetMemory): BudgetMemory {
  if (!isBuckets(memory.peaks) || !isBuckets(memory.fine) || !isBuckets(memory.demand) || !isBuckets(memory.waiting)) return memory;
  return {
    ...memory,
    peaks: compactBuckets(memory.peaks),
    fine: compactBuckets(memory.fine),
    demand: compactBuckets(memory.demand),
    waiting: compactBuckets(memory.waiting),
    ...(memory.hours !== undefined && isBuckets(memory.hours) ? { hours: compactBuckets(memory.hours) } : {}),
  };
}

/** allButLast is a column without its last (open) bucket, as a plain array. */
function allButLast(values: Buckets): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length - 1; i += 1) out.push(values[i] ?? 0);
  return out;
}

/** emptyBudgetMemory is the memory of a pool that has seen no workload yet. */
export function emptyBudgetMemory(pool: PoolSpec, nowMs: number): BudgetMemory {
  const waitBucketMs = Math.max(MINUTE_MS, Math.ceil(waitWindowOf(pool) / WAIT_BUCKETS));
  return {
    peakStart: Math.floor(nowMs / PEAK_BUCKET_MS),
    peaks: [],
    hourStart: Math.floor(nowMs / HOUR_BUCKET_MS),
    hours: [],
    fineStart: Math.floor(nowMs / FINE_BUCKET_MS),
    fine: [],
    waitBucketMs,
    waitStart: Math.floor(nowMs / waitBucketMs),
    demand: [],
    waiting: [],
    holdMin: COLD_HOLD_MIN,
    spare: 0,
  };
}

/**
 * roll extends a column of buckets (starting at bucket `start`) up to bucket `index`, keeping at most `keep` buckets,
 * into a fresh column of the same kind (a typed one is copied at once: reading it value by value is slow in V8).
 */
function roll(start: number, values: Buckets, index: number, keep: number): { start: number; values: number[] | IntBuckets } {
  const first = values.length === 0 ? index : start;
  const end = Math.max(first + values.length, index + 1);
  const from = Math.max(first, end - keep);
  if (ArrayBuffer.isView(values)) {
    // the kept part as a view of the base class (subarray would construct the subclass, on V8's slow path)
    const skip = Math.min(values.length, from - first);
    const offset = values.byteOffset + skip * values.BYTES_PER_ELEMENT;
    const count = values.length - skip;
    const kind = kindOf(values);
    const out = new kind.bucket(end - from);
    out.set(new kind.base(values.buffer, offset, count));
    return { start: from, values: out };
  }
  const out: number[] = [];
  for (let b = from; b < end; b += 1) out.push(values[b - first] ?? 0);
  return { start: from, values: out };
}

/** fits says whether a typed column holds `value` exactly. */
function fits(values: IntBuckets, value: number): boolean {
  if (!Number.isInteger(value) || Object.is(value, -0)) return false;
  const kind = kindOf(values);
  return value >= kind.min && value <= kind.max;
}

/** put writes one bucket of a column roll just made (its own copy): in place when the value fits, else into a wider column. */
function put(values: number[] | IntBuckets, slot: number, value: number): number[] | IntBuckets {
  if (Array.isArray(values) || fits(values, value)) {
    values[slot] = value;
    return values;
  }
  const wider = Array.from(values);
  wider[slot] = value;
  return wider;
}

/** startLeadMs is the pool's measured start lead: the p90 of its recent start-to-ready times (the default before any). */
export function startLeadMs(history: Pick<PoolHistory, 'startLatenciesMs'> | undefined): { readonly leadMs: number; readonly seen: number } {
  const seen = history?.startLatenciesMs ?? [];
  if (seen.length === 0) return { leadMs: DEFAULT_START_LATENCY_MS, seen: 0 };
  const sorted = [...seen].sort((a, b) => a - b);
  return { leadMs: sorted[Math.min(sorted.length - 1, Math.ceil(0.9 * sorted.length) - 1)] ?? DEFAULT_START_LATENCY_MS, seen: seen.length };
}

/** withStartLatency keeps one more start-to-ready time (at most START_LATENCY_SAMPLES, newest last). */
export function withStartLatency(history: PoolHistory, latencyMs: number): PoolHistory {
  if (!(latencyMs > 0) || latencyMs > 86_400_000) return history;
  const kept = [...(history.startLatenciesMs ?? []), Math.round(latencyMs)].slice(-START_LATENCY_SAMPLES);
  return { ...history, startLatenciesMs: kept };
}

/** closedPeakBucket says whether the memory moved on to a new peak bucket between two observations (or was just created). */
export function closedPeakBucket(before: BudgetMemory | undefined, after: BudgetMemory | undefined): boolean {
  if (after === undefined) return false;
  return before === undefined || before.peakStart + before.peaks.length !== after.peakStart + after.peaks.length;
}

/** waitingShare is the realised share of demand that waited over the memory's window (0 with no demand). */
export function waitingShare(memory: BudgetMemory | undefined): number {
  if (memory === undefined) return 0;
  let demand = 0;
  let waiting = 0;
  for (const d of memory.demand) demand += d;
  for (const w of memory.waiting) waiting += w;
  return demand > 0 ? waiting / demand : 0;
}

/**
 * waitWindowCovered is the share of the pool's window its waiting measure covers so far (0 before any observation, 1
 * once it has measured a whole window): a young pool's share is over less than its window. The shipped over-budget
 * alert weighs the share by it (waiting_share x covered: the waiting so far against a whole window's demand at the
 * rate seen), so a new pool's first rise, which waits under any policy, does not make it fire.
 */
export function waitWindowCovered(memory: BudgetMemory | undefined): number {
  const last = memory?.last;
  if (memory === undefined || last === undefined) return 0;
  // measured from the start of the first bucket kept; a full column spans WAIT_BUCKETS - 1 closed buckets and the open one
  const measuredMs = last.atMs - memory.waitStart * memory.waitBucketMs;
  return Math.min(1, Math.max(0, measuredMs / ((WAIT_BUCKETS - 1) * memory.waitBucketMs)));
}

/** BudgetObservation is one evaluation's view: the workload and, when known, the READY capacity (ready x perInstance). */
export interface BudgetObservation {
  readonly workload: number;
  readonly atMs: number;
  /** readyCapacity: workload units the ready instances serve; absent = unknown (no waiting is counted). */
  readonly readyCapacity?: number;
  /**
   * queued: the work waiting for an instance now, as the pool's scheduler reports it (workload units), when the
   * service has that signal. It sees what the workload above READY capacity cannot: a job that fits no single
   * instance's free slots waits although the pool has the capacity in total. The waiting counted is the larger of
   * the two (work above the ready capacity cannot be running, whatever the queue says).
   */
  readonly queued?: number;
}

/**
 * observeBudget folds one evaluation into the memory: the time since the previous observation is charged at the
 * previous workload (and waiting, when its capacity was known); the peak bucket takes the workload; when a peak
 * bucket closes, the candidates are scored again and one is chosen. Out-of-order observations are ignored.
 */
export function observeBudget(
  memory: BudgetMemory | undefined,
  pool: PoolSpec,
  history: Pick<PoolHistory, 'startLatenciesMs'>,
  obs: BudgetObservation,
): BudgetMemory {
  // a memory of another shape (an older version, a hand-edited store) is started afresh rather than trusted
  let m = memory !== undefined && isBuckets(memory.fine) && isBuckets(memory.peaks) && isBuckets(memory.demand) && isBuckets(memory.waiting) ? memory : emptyBudgetMemory(pool, obs.atMs);
  const windowBucketMs = Math.max(MINUTE_MS, Math.ceil(waitWindowOf(pool) / WAIT_BUCKETS));
  if (m.waitBucketMs !== windowBucketMs) {
    // the window changed (a reload): its buckets no longer mean the same time, the waiting is measured afresh
    m = { ...m, waitBucketMs: windowBucketMs, waitStart: Math.floor(obs.atMs / windowBucketMs), demand: [], waiting: [] };
  }
  const last = m.last;
  if (last !== undefined && obs.atMs < last.atMs) return m;
  let { waitStart, demand, waiting } = m;
  let waited = m.waitedSinceClose ?? 0;
  if (last !== undefined) {
    const minutes = Math.min(obs.atMs - last.atMs, MAX_GAP_MS) / MINUTE_MS;
    const index = Math.floor(last.atMs / m.waitBucketMs);
    const d = roll(waitStart, demand, index, WAIT_BUCKETS);
    const w = roll(waitStart, waiting, index, WAIT_BUCKETS);
    const slot = index - d.start;
    demand = put(d.values, slot, round3((d.values[slot] ?? 0) + Math.max(0, last.workload) * minutes));
    waiting = w.values;
    if (last.capacity !== undefined || last.queued !== undefined) {
      const above = last.capacity === undefined ? 0 : last.workload - last.capacity;
      const more = Math.max(0, above, last.queued ?? 0) * minutes;
      waiting = put(w.values, slot, round3((w.values[slot] ?? 0) + more));
      waited = round3(waited + more);
    }
    waitStart = d.start;
  }
  const now = Math.floor(obs.atMs / m.waitBucketMs);
  const dNow = roll(waitStart, demand, now, WAIT_BUCKETS);
  const wNow = roll(waitStart, waiting, now, WAIT_BUCKETS);

  const peakIndex = Math.floor(obs.atMs / PEAK_BUCKET_MS);
  const closes = m.peaks.length > 0 && peakIndex >= m.peakStart + m.peaks.length;
  const p = roll(m.peakStart, m.peaks, peakIndex, PEAK_BUCKETS);
  const slot = peakIndex - p.start;
  const peaks = put(p.values, slot, round3(Math.max(p.values[slot] ?? 0, obs.workload)));
  const hourIndex = Math.floor(obs.atMs / HOUR_BUCKET_MS);
  // a memory from before the hours were kept has none: they start now
  const hr = roll(m.hourStart ?? hourIndex, m.hours !== undefined && isBuckets(m.hours) ? m.hours : [], hourIndex, HOUR_BUCKETS);
  const hours = put(hr.values, hourIndex - hr.start, round3(Math.max(hr.values[hourIndex - hr.start] ?? 0, obs.workload)));
  const fineIndex = Math.floor(obs.atMs / FINE_BUCKET_MS);
  const f = roll(m.fineStart, m.fine, fineIndex, FINE_BUCKETS);
  const fine = put(f.values, fineIndex - f.start, round3(Math.max(f.values[fineIndex - f.start] ?? 0, obs.workload)));
  const next: BudgetMemory = {
    ...m,
    peakStart: p.start,
    peaks: compactBuckets(peaks),
    hourStart: hr.start,
    hours: compactBuckets(hours),
    fineStart: f.start,
    fine: compactBuckets(fine),
    waitStart: dNow.start,
    demand: compactBuckets(dNow.values),
    waiting: compactBuckets(wNow.values),
    waitedSinceClose: waited,
    last: {
      atMs: obs.atMs,
      workload: obs.workload,
      ...(obs.readyCapacity === undefined ? {} : { capacity: obs.readyCapacity }),
      ...(obs.queued === undefined ? {} : { queued: obs.queued }),
    },
  };
  return closes ? rechoose(next, pool, history) : next;
}

/** Candidate is one (hold, spare) choice with its scored cost and estimated waiting (instance-minutes). */
interface Candidate {
  readonly holdMin: number;
  readonly spare: number;
  readonly cost: number;
  readonly waiting: number;
}

/**
 * scoreCandidates replays every (hold, spare) candidate minute by minute on the fine buckets (instances needed per
 * minute) and adds up the minutes from `from` on: the size decided at minute u is the peak of the last `hold` minutes
 * (+ spare while that peak is above 0), raised to what a pre-warm from the period predicts one lead ahead (`prewarm(i)`:
 * instances for minute i), capped at max; it is paid from u. Capacity is ready at t only for what was decided at
 * every minute of [t - lead, t] (a start takes the lead, a stop is at once); the need above it waits. Only the minutes
 * [from - lead, end) are replayed: the sums from `from` depend on nothing earlier, so each close costs O(lead), not
 * O(the fine history).
 */
function scoreCandidates(needs: readonly number[], pool: PoolSpec, leadMin: number, prewarm: (i: number) => number, from: number): Candidate[] {
  const n = needs.length;
  const lead = Math.max(1, Math.round(leadMin));
  const lo = Math.max(0, from - lead);
  const span = Math.max(0, n - lo);
  // held[k][u - lo]: the peak of the needs in [u - hold_k, u]; the holds grow, so each widens the previous window
  const held = HOLD_CANDIDATES_MIN.map(() => new Array<number>(span));
  const warm = new Array<number>(span);
  for (let u = lo; u < n; u += 1) {
    let peak = 0;
    let reached = u + 1;
    for (const [k, holdMin] of HOLD_CANDIDATES_MIN.entries()) {
      const first = Math.max(0, u - holdMin);
      for (let i = reached - 1; i >= first; i -= 1) peak = Math.max(peak, needs[i] ?? 0);
      reached = Math.min(reached, first);
      (held[k] as number[])[u - lo] = peak;
    }
    warm[u - lo] = prewarm(Math.min(n - 1, u + lead));
  }
  const out: Candidate[] = [];
  const decided = new Array<number>(span);
  for (const [k, holdMin] of HOLD_CANDIDATES_MIN.entries()) {
    const heldK = held[k] ?? [];
    for (const spare of SPARE_CANDIDATES) {
      let cost = 0;
      for (let u = lo; u < n; u += 1) {
        const hu = heldK[u - lo] ?? 0;
        const size = Math.min(pool.max, Math.max(hu > 0 ? hu + spare : 0, warm[u - lo] ?? 0));
        decided[u - lo] = size;
        if (u >= from) cost += size;
      }
      let waiting = 0;
      for (let t = Math.max(lead, from); t < n; t += 1) {
        let ready = Number.POSITIVE_INFINITY;
        for (let u = t - lead; u <= t; u += 1) ready = Math.min(ready, decided[u - lo] ?? 0);
        waiting += Math.max(0, Math.min(pool.max, needs[t] ?? 0) - ready);
      }
      out.push({ holdMin, spare, cost, waiting });
    }
  }
  return out;
}

/**
 * autocorrelation is r[lag] of the series for lags 1..maxLag (undefined for a flat series). `perPair`: each lag's sum
 * is averaged over its own pairs (n - lag of them) rather than over n, so lags far apart weigh alike: a week against
 * the days within it, on a history of three weeks, would otherwise lose a third of its correlation to the shorter overlap.
 */
function autocorrelation(values: readonly number[], maxLag: number, perPair = false): number[] | undefined {
  const n = values.length;
  let mean = 0;
  for (const v of values) mean += v;
  mean /= n;
  let variance = 0;
  for (const v of values) variance += (v - mean) ** 2;
  if (!(variance > 0)) return undefined;
  const r = new Array<number>(maxLag + 1).fill(0);
  for (let lag = 1; lag <= maxLag && lag < n; lag += 1) {
    let s = 0;
    for (let i = 0; i + lag < n; i += 1) s += ((values[i] ?? 0) - mean) * ((values[i + lag] ?? 0) - mean);
    r[lag] = perPair ? (s / (n - lag)) / (variance / n) : s / variance;
  }
  return r;
}

/** dipsBefore: a period, not persistence: the correlation dips well below r[lag] half a cycle away. */
function dipsBefore(r: readonly number[], lag: number): boolean {
  let dip = Number.POSITIVE_INFINITY;
  for (let k = Math.max(1, Math.floor(lag / 4)); k <= Math.ceil((3 * lag) / 4); k += 1) dip = Math.min(dip, r[k] ?? 0);
  return (r[lag] ?? 0) - dip >= MIN_PERIOD_DIP;
}

/** Period is a recurrence found in the pool's demand: its length in peak buckets and its autocorrelation. */
export interface Period {
  readonly buckets: number;
  readonly r: number;
}

/**
 * periodOf finds the strongest clear period of the demand, or undefined without strong evidence: a week in the hourly
 * peaks (`hours`, oldest first) when it correlates clearly more than every whole number of days within it (a daily
 * habit repeats at 7 days too: the week is taken only for what the days do not explain, such as an empty weekend);
 * otherwise the strongest period from 30 min to 24 h in the 5-min peaks (`needs`). The length is in 5-min buckets.
 */
export function periodOf(needs: readonly number[], hours: readonly number[] = []): Period | undefined {
  return weeklyOf(hours) ?? shortPeriodOf(needs);
}

function weeklyOf(hours: readonly number[]): Period | undefined {
  if (hours.length < MIN_REPEATS * WEEK_HOURS) return undefined;
  const r = autocorrelation(hours, WEEK_HOURS + 1, true);
  if (r === undefined) return undefined;
  const week = r[WEEK_HOURS] ?? 0;
  if (week < MIN_PERIOD_R || week < (r[WEEK_HOURS - 1] ?? 0) || week < (r[WEEK_HOURS + 1] ?? 0) || !dipsBefore(r, WEEK_HOURS)) return undefined;
  let days = Number.NEGATIVE_INFINITY;
  for (let lag = DAY_HOURS; lag < WEEK_HOURS; lag += DAY_HOURS) days = Math.max(days, r[lag] ?? 0);
  if (week <= days + CLEARLY_STRONGER) return undefined;
  return { buckets: (WEEK_HOURS * HOUR_BUCKET_MS) / PEAK_BUCKET_MS, r: week };
}

function shortPeriodOf(needs: readonly number[]): Period | undefined {
  const n = needs.length;
  if (n < MIN_REPEATS * MIN_PERIOD_BUCKETS) return undefined;
  const maxLag = Math.min(MAX_PERIOD_BUCKETS, Math.floor(n / MIN_REPEATS));
  const r = autocorrelation(needs, maxLag + 1);
  if (r === undefined) return undefined;
  let best: Period | undefined;
  for (let lag = MIN_PERIOD_BUCKETS; lag <= maxLag; lag += 1) {
    const rl = r[lag] ?? 0;
    if (rl < MIN_PERIOD_R || rl < (r[lag - 1] ?? 0) || rl < (r[lag + 1] ?? 0) || !dipsBefore(r, lag)) continue;
    // the shortest period wins over its multiples unless a multiple is clearly stronger
    if (best === undefined || rl > best.r + CLEARLY_STRONGER) best = { buckets: lag, r: rl };
  }
  return best;
}

/**
 * biasFactor is measured / estimated waiting of the choices in effect, each with BIAS_PRIOR instance-minutes added (a
 * prior that the replay is right: a few minutes either way move it little, while much waiting measured against
 * little estimated moves it at once), bounded by BIAS_MAX.
 */
function biasFactor(bias: readonly [number, number] | undefined): number {
  if (bias === undefined) return 1;
  return Math.min(BIAS_MAX, Math.max(1 / BIAS_MAX, (bias[1] + BIAS_PRIOR) / (bias[0] + BIAS_PRIOR)));
}

/** firstBest is the first candidate no later one beats. */
function firstBest(candidates: readonly Candidate[], beats: (a: Candidate, b: Candidate) => boolean): Candidate | undefined {
  let best: Candidate | undefined;
  for (const c of candidates) if (best === undefined || beats(c, best)) best = c;
  return best;
}

/**
 * trackMisses folds one close into the controller's record of its own error (instance-minutes, decayed like the
 * scores): [sum of squared miss lumps, open miss lump]. A miss is the waiting measured beyond what the choice in effect
 * planned (its corrected replay): only under-planning counts, since planning more waiting than came costs money, not
 * waiting, and the budget guards waiting. One mis-planned rise spans several closes, so the misses of consecutive
 * closes are summed into one lump, squared once a close misses nothing.
 */
function trackMisses(prev: readonly number[] | undefined, waited: number, planned: number, decay: number): number[] {
  const miss = Math.max(0, waited - planned);
  const missing = miss > 1e-9;
  const openMiss = (prev?.[1] ?? 0) + miss;
  return [round3((prev?.[0] ?? 0) * decay + (missing ? 0 : openMiss * openMiss)), missing ? round3(openMiss) : 0];
}

/**
 * trackLumps folds one close into each candidate's largest waiting lump (instance-minutes, decayed like the scores):
 * [largest, open] per candidate, in the candidates' order. A lump is the waiting a candidate's replay planned over
 * consecutive closes that waited: what one rise cost under that candidate.
 */
function trackLumps(prev: readonly number[], fresh: readonly Candidate[], decay: number): number[] {
  const out: number[] = [];
  fresh.forEach((c, i) => {
    const open = c.waiting > 1e-9 ? (prev[2 * i + 1] ?? 0) + c.waiting : 0;
    out.push(round3(Math.max((prev[2 * i] ?? 0) * decay, open)), round3(open));
  });
  return out;
}

/**
 * aimOf is the share of demand the controller plans at: the budget less what it cannot plan. Its under-planning
 * comes in lumps, one per rise planned short, whose number over a window is Poisson-like: the window's error has the standard
 * deviation of a compound Poisson sum, sqrt(sum of squared lumps) (scaled from the scores' memory to the window by
 * windowRatio), and CONFIDENCE_Z of it is kept free. That error holds only the rises the past days had; one more,
 * unforeseen, is planned by each candidate itself (rechoose: its own largest lump). `need` is the demand over the
 * scores' memory (instance-minutes).
 */
function aimOf(misses: readonly number[], budget: number, need: number, windowRatio: number): number {
  if (!(need > 0)) return 0;
  const spread = CONFIDENCE_Z * Math.sqrt(((misses[0] ?? 0) + (misses[1] ?? 0) ** 2) / windowRatio);
  return Math.max(0, budget - spread / need);
}

/**
 * windowAim is the share of the demand to come that may still wait without any rolling window ending within the next
 * waitWindow going over the budget (waitWindowStrict). A window ending f buckets ahead keeps the newest
 * WAIT_BUCKETS - f buckets of the column: their waiting is spent, their demand counts; the f buckets to come are taken
 * at the mean demand a bucket measured so far. A young column is filled out at its oldest end with buckets of that mean
 * demand and no waiting, as the over-budget alert weighs a young pool (the share x the part of the window measured).
 * The lowest over every f, within 0..budget (the budget with no demand yet).
 */
export function windowAim(memory: Pick<BudgetMemory, 'demand' | 'waiting'>, budget: number): number {
  const n = Math.min(memory.demand.length, WAIT_BUCKETS);
  const first = memory.demand.length - n;
  let measured = 0;
  let keptWaiting = 0;
  for (let i = first; i < memory.demand.length; i += 1) {
    measured += memory.demand[i] ?? 0;
    keptWaiting += memory.waiting[i] ?? 0;
  }
  const rate = n > 0 ? measured / n : 0;
  if (!(rate > 0)) return budget;
  const young = WAIT_BUCKETS - n;
  let keptDemand = measured + young * rate;
  let aim = budget;
  for (let f = 1; f < WAIT_BUCKETS; f += 1) {
    // the window ending f buckets ahead no longer holds the column's oldest bucket f - 1
    const j = f - 1;
    if (j < young) keptDemand -= rate;
    else {
      keptDemand -= memory.demand[first + j - young] ?? 0;
      keptWaiting -= memory.waiting[first + j - young] ?? 0;
    }
    const coming = f * rate;
    aim = Math.min(aim, (budget * (keptDemand + coming) - keptWaiting) / coming);
  }
  return Math.max(0, aim);
}

/** rechoose runs at each peak-bucket close: the candidates' sums take the closed minutes, then the cheapest within the aim (aimOf) is kept. */
function rechoose(memory: BudgetMemory, pool: PoolSpec, history: Pick<PoolHistory, 'startLatenciesMs'>): BudgetMemory {
  const budget = waitBudgetOf(pool);
  const per = perInstanceOf(pool);
  const needs = allButLast(memory.fine).map((v) => Math.ceil(v / per - 1e-9));
  if (needs.length < MIN_SCORE_MINUTES) return memory;
  const leadMin = startLeadMs(history).leadMs / MINUTE_MS;
  // the period search is the dearest part (an autocorrelation over the history): once an hour is enough
  const searched = (memory.peakStart + memory.peaks.length - 1) % PERIOD_SEARCH_BUCKETS === 0 ? periodOf(allButLast(memory.peaks), allButLast(memory.hours ?? []))?.buckets : memory.period;
  const { period: _previous, ...rest } = memory;
  const withPeriod: BudgetMemory = { ...rest, ...(searched === undefined ? {} : { period: searched }) };
  // what a pre-warm would have started for each minute of the fine history (0 without a period)
  const prewarm = (i: number): number => {
    if (searched === undefined) return 0;
    const warm = prewarmAt(withPeriod, (memory.fineStart + i) * FINE_BUCKET_MS, searched);
    return warm === undefined ? 0 : Math.ceil(warm.level / per - 1e-9);
  };
  // only the minutes closed since the last score are added (the older ones are in the sums, decayed): the choice
  // weighs the whole window the share is measured over, not only the hours the fine buckets still hold
  const closedFrom = Math.max(0, needs.length - PEAK_BUCKET_MS / FINE_BUCKET_MS);
  const fresh = scoreCandidates(needs, pool, leadMin, prewarm, closedFrom);
  const decay = Math.exp(-PEAK_BUCKET_MS / Math.min(SCORE_MEMORY_MS, waitWindowOf(pool)));
  // a new period changes what every candidate would have waited: the sums start again
  const kept = memory.scores?.length === fresh.length * 2 + 1 && searched === memory.period;
  const sums = kept ? memory.scores ?? [] : [];
  // a memory from before the candidates' lumps were kept has none: they start now
  const lumps = trackLumps(kept && memory.lumps?.length === fresh.length * 2 ? memory.lumps : [], fresh, decay);
  const scores: number[] = [];
  const candidates = fresh.map((c, i) => {
    const cost = round3((sums[2 * i] ?? 0) * decay + c.cost);
    const waiting = round3((sums[2 * i + 1] ?? 0) * decay + c.waiting);
    scores.push(cost, waiting);
    return { ...c, cost, waiting };
  });
  const need = round3((sums[2 * fresh.length] ?? 0) * decay + needs.slice(closedFrom).reduce((x, y) => x + y, 0));
  scores.push(need);
  const inEffect = fresh.find((c) => c.holdMin === memory.holdMin && c.spare === memory.spare);
  const misses = trackMisses(memory.misses, (memory.waitedSinceClose ?? 0) / per, biasFactor(memory.bias) * (inEffect?.waiting ?? 0), decay);
  const windowRatio = waitWindowOf(pool) / Math.min(SCORE_MEMORY_MS, waitWindowOf(pool));
  const controllerAim = aimOf(misses, budget, need, windowRatio);
  // strict: no rolling window ending within the next waitWindow may go over the budget, whatever the average says
  const aim = pool.waitWindowStrict === true ? Math.min(controllerAim, windowAim(memory, budget)) : controllerAim;
  const bias: [number, number] = [
    round3((memory.bias?.[0] ?? 0) * decay + (inEffect?.waiting ?? 0)),
    round3((memory.bias?.[1] ?? 0) * decay + (memory.waitedSinceClose ?? 0) / per),
  ];
  const factor = biasFactor(bias);
  // each candidate plans one more rise than its replay saw, at the size of its own largest lump over the window (what
  // one rise cost under it: a hold that served the last rises would lose less to the next one than the hold in effect
  // did), corrected like its replay
  const planned = (c: Candidate, i: number): number => factor * (c.waiting + (lumps[2 * i] ?? 0) / windowRatio);
  // the cheapest whose corrected waiting fits the aim; when none does, waiting is traded against cost at the aim's
  // rate (an instance-minute of waiting is worth the 1 / aim instance-minutes of demand it may come with), not bought
  // off at any price; with a budget of 0, the one that waits least (then the cheapest)
  const rated = candidates.map((c, i) => ({ ...c, waiting: planned(c, i) }));
  const fitting = rated.filter((c) => c.waiting <= aim * need);
  const costOf = (c: Candidate): number => c.cost + c.waiting / aim;
  const best = fitting.length > 0
    ? firstBest(fitting, (a, b) => a.cost < b.cost - 1e-9)
    : aim > 0
      ? firstBest(rated, (a, b) => costOf(a) < costOf(b) - 1e-9)
      : firstBest(rated, (a, b) => a.waiting < b.waiting - 1e-9 || (a.waiting <= b.waiting + 1e-9 && a.cost < b.cost - 1e-9));
  // until the replay tells the candidates apart on waiting (a rise some hold would have served), nothing says the
  // cheapest is safe: the cold choice stays (the first rise of a pool waits the same under every candidate)
  const apart = memory.apart === true || candidates.some((c) => Math.abs(c.waiting - (candidates[0]?.waiting ?? 0)) > 1e-9);
  const scored = { ...withPeriod, scores, lumps, bias, misses, aim: round3(aim * 1e4) / 1e4, waitedSinceClose: 0, ...(apart ? { apart: true as const } : {}) };
  return best === undefined || !apart ? scored : { ...scored, holdMin: best.holdMin, spare: best.spare };
}

function perInstanceOf(pool: PoolSpec): number {
  const per = pool.strategy.kind === 'threshold' ? 1 : pool.strategy.perInstance;
  return per > 0 ? per : 1;
}

/** Prewarm is a predicted rise: the level expected, when, and from what. */
export interface Prewarm {
  readonly level: number;
  readonly atMs: number;
  readonly periodMin: number;
  readonly seen: number;
}

/**
 * prewarmOf predicts the demand from now to `lookaheadMs` ahead: when the bucketed demand has a clear period, the
 * level it reached at the same phase in each of the last periods (the lowest of them: only what recurred every time).
 */
export function prewarmOf(memory: BudgetMemory | undefined, nowMs: number, lookaheadMs: number): Prewarm | undefined {
  if (memory?.period === undefined) return undefined;
  let best: Prewarm | undefined;
  for (let j = Math.floor(nowMs / PEAK_BUCKET_MS); j <= Math.floor((nowMs + lookaheadMs) / PEAK_BUCKET_MS); j += 1) {
    const warm = prewarmAt(memory, j * PEAK_BUCKET_MS, memory.period);
    if (warm !== undefined && (best === undefined || warm.level > best.level)) best = warm;
  }
  return best;
}

/**
 * prewarmAt is the level the bucket holding `atMs` reached at the same phase of each of the last periods (the lowest),
 * if seen often enough: in the 5-min peaks, or in the hourly peaks for a period they cannot hold three times (a week).
 */
function prewarmAt(memory: BudgetMemory, atMs: number, period: number): Prewarm | undefined {
  const hourly = period * MIN_REPEATS > PEAK_BUCKETS;
  const bucketMs = hourly ? HOUR_BUCKET_MS : PEAK_BUCKET_MS;
  const values = hourly ? memory.hours ?? [] : memory.peaks;
  const start = hourly ? memory.hourStart ?? 0 : memory.peakStart;
  const step = Math.round((period * PEAK_BUCKET_MS) / bucketMs);
  const j = Math.floor(atMs / bucketMs);
  const closed = values.length - 1;
  let low = Number.POSITIVE_INFINITY;
  let seen = 0;
  for (let k = 1; k <= PREWARM_LOOKBACK; k += 1) {
    const slot = j - k * step - start;
    if (slot < 0 || slot >= closed) continue;
    low = Math.min(low, values[slot] ?? 0);
    seen += 1;
  }
  if (seen < MIN_REPEATS || !(low > 0)) return undefined;
  return { level: low, atMs: j * bucketMs, periodMin: (period * PEAK_BUCKET_MS) / MINUTE_MS, seen };
}

function percent(x: number): string {
  const p = x * 100;
  return `${p === 0 ? '0' : p < 0.01 ? p.toPrecision(1) : p.toFixed(2)}%`;
}

/** windowWords words a window as a config writes it: whole days, else whole hours, else minutes. */
export function windowWords(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${Math.round(ms / MINUTE_MS)}m`;
}

const WEEKDAYS = ['Thu', 'Fri', 'Sat', 'Sun', 'Mon', 'Tue', 'Wed'] as const;

/** clock words a time of day (UTC), with its weekday when the period is longer than a day. */
function clock(ms: number, withDay: boolean): string {
  const minutes = Math.floor(ms / MINUTE_MS) % 1440;
  const day = withDay ? `${WEEKDAYS[Math.floor(ms / 86_400_000) % 7] ?? ''} ` : '';
  return `${day}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** periodWords words a period: minutes under two hours, whole days past one, hours otherwise. */
function periodWords(minutes: number): string {
  if (minutes > 1440 && minutes % 1440 === 0) return `${minutes / 1440} d`;
  if (minutes >= 120 && minutes % 60 === 0) return `${minutes / 60} h`;
  return `${minutes} min`;
}

/** budgetNote says where the pool's budget stands, for every decision's reason. */
export function budgetNote(pool: PoolSpec, memory: BudgetMemory | undefined): string {
  return `waiting ${percent(waitingShare(memory))} of ${percent(waitBudgetOf(pool))} budget over ${windowWords(waitWindowOf(pool))}`;
}

/** peakWithin is the highest workload of the fine buckets in the last `holdMs` (0 when none). */
function peakWithin(memory: BudgetMemory, nowMs: number, holdMs: number): number {
  const first = Math.floor((nowMs - holdMs) / FINE_BUCKET_MS);
  const last = Math.floor(nowMs / FINE_BUCKET_MS);
  let peak = 0;
  for (let i = Math.max(0, first - memory.fineStart); i < memory.fine.length && memory.fineStart + i <= last; i += 1) peak = Math.max(peak, memory.fine[i] ?? 0);
  return peak;
}

/** budget returns the size that holds the chosen peak + spare, serves the workload now and pre-warms a predicted rise. */
export function budget(input: StrategyInput, perInstance: number): StrategyResult {
  const per = perInstance > 0 ? perInstance : 1;
  const memory = input.history?.budget;
  const holdMin = memory?.holdMin ?? COLD_HOLD_MIN;
  const spare = memory?.spare ?? 0;
  const peak = Math.max(memory === undefined || holdMin === 0 ? 0 : peakWithin(memory, input.nowMs, holdMin * MINUTE_MS), input.workload);
  const held = Math.ceil(peak / per - 1e-9);
  let desired = Math.max(0, held > 0 ? held + spare : 0);
  const { leadMs, seen } = startLeadMs(input.history);
  const lead = `lead ${Math.round(leadMs / 1000)}s (${seen === 0 ? 'assumed' : `p90 of ${seen} starts`})`;
  const parts = [`workload ${input.workload}${peak > input.workload ? `, peak ${peak} in the last ${holdMin} min` : ''} / perInstance ${per}${spare > 0 && held > 0 ? ` + ${spare} spare` : ''} wants ${desired}`];
  // work the scheduler reports queued although the ready capacity would hold it in total (a job that fits no single
  // instance's free slots) gets its own instances, as a scheduler-aware autoscaler scales up for unschedulable work:
  // the ready instances plus what the queue needs (for a rise, the same as the workload's own count)
  const last = memory?.last;
  if (last?.queued !== undefined && last.queued > 0 && last.capacity !== undefined && input.nowMs - last.atMs <= input.pool.intervalMs) {
    const fit = Math.ceil((last.capacity + last.queued) / per - 1e-9);
    if (fit > desired) {
      desired = fit;
      parts.push(`${last.queued} queued that ${last.capacity / per} ready instances do not take wants ${fit}`);
    }
  }
  const warm = prewarmOf(memory, input.nowMs, leadMs + PREWARM_MARGIN_MS);
  if (warm !== undefined) {
    const wanted = Math.ceil(warm.level / per - 1e-9);
    if (wanted > desired) {
      desired = wanted;
      parts.push(`pre-warm: ${warm.level} expected at ${clock(warm.atMs, warm.periodMin > 1440)} (period ${periodWords(warm.periodMin)}, seen ${warm.seen} times) wants ${wanted}`);
    }
  }
  const strict = input.pool.waitWindowStrict === true ? ' keeping every window' : '';
  const aim = `, aims at ${memory?.aim === undefined ? 'the budget' : percent(memory.aim)}${strict}${memory?.bias === undefined ? '' : ` with replay waiting x${biasFactor(memory.bias).toFixed(2)}`}`;
  return {
    desired,
    reason: `${parts.join('; ')} (budget: hold ${holdMin} min + ${spare} spare${aim}, ${lead})`,
  };
}
