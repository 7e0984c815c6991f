/**
 * range: a pool's demand history read back from Prometheus, one value a minute, for `simulate --prometheus`: the
 * policies replayed on the pool's own past instead of a trace file.
 *
 * ```
 *   [start, end] in whole minutes ──► GET /api/v1/query_range?query=&start=&end=&step=60, RANGE_CHUNK_MINUTES points a
 *                                     call (Prometheus refuses more than 11,000 points a series), one call after another
 *     each answer: exactly one series (none: those minutes have no sample; several: an error that says to sum them)
 *     a value: finite and >= 0, rounded to a whole unit; NaN / +-Inf: no sample that minute; < 0: an error
 *   ──► per minute from the first sample on; a minute without one takes the minute before's value (counted in `filled`)
 * ```
 *
 * Why carry forward and not zero: a scrape gap is not a pool without work (the service itself never reads missing
 * data as zero); the count is reported so a history full of gaps is seen. Minutes before the first sample are left
 * out: the series did not exist yet.
 */
import { z } from 'zod';
import { AutoscalerError } from '../errors.ts';
import { answerSchema, callPrometheus, PrometheusFailure } from './api.ts';

/** RANGE_CHUNK_MINUTES: the points one query_range asks for (under Prometheus' 11,000 a series). */
export const RANGE_CHUNK_MINUTES = 10_000;
const MINUTE_MS = 60_000;

const RangeResponseSchema = answerSchema(z.object({
  resultType: z.string(),
  result: z.array(z.object({ metric: z.record(z.string(), z.string()), values: z.array(z.tuple([z.number(), z.string()])) })),
}));

/** DemandRangeOptions: where to read, what, and over which time (ms since the epoch, both ends included). */
export interface DemandRangeOptions {
  readonly url: string;
  readonly query: string;
  readonly startMs: number;
  readonly endMs: number;
  /** timeoutMs: of one query_range call. */
  readonly timeoutMs: number;
}

/** DemandRange is the demand a minute from `firstMs` on, and how many of its minutes had no sample. */
export interface DemandRange {
  readonly firstMs: number;
  readonly values: readonly number[];
  readonly filled: number;
}

function rangeError(message: string, cause?: unknown): AutoscalerError {
  return new AutoscalerError('ASC_ERR_SIM_PROMETHEUS', message, cause === undefined ? undefined : { cause });
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** queryChunk asks for the minutes [fromMs, toMs]; it answers the samples by minute index from `baseMs`. */
async function queryChunk(opts: DemandRangeOptions, fromMs: number, toMs: number, baseMs: number, into: (number | undefined)[]): Promise<void> {
  const data = await callPrometheus({
    url: opts.url, path: 'query_range', timeoutMs: opts.timeoutMs, code: 'ASC_ERR_SIM_PROMETHEUS',
    params: { query: opts.query, start: String(fromMs / 1000), end: String(toMs / 1000), step: '60' },
  }, RangeResponseSchema).catch((err: unknown) => {
    // the call's own message, but a timeout names the range it did not answer
    if (err instanceof PrometheusFailure && err.reason === 'timeout') throw rangeError(`Prometheus did not answer the range ${iso(fromMs)}..${iso(toMs)} within ${opts.timeoutMs}ms`, err.cause);
    throw err;
  });
  if (data.resultType !== 'matrix') throw rangeError(`the query gives a ${data.resultType}, not a series over time`);
  const series = data.result;
  if (series.length > 1) {
    const labels = series.slice(0, 3).map((s) => JSON.stringify(s.metric)).join(', ');
    throw rangeError(`the query returns ${series.length} series (${labels}${series.length > 3 ? ', ...' : ''}) over ${iso(fromMs)}..${iso(toMs)}; the demand is one: wrap it in sum()`);
  }
  for (const [atS, text] of series[0]?.values ?? []) {
    const value = Number(text);
    if (!Number.isFinite(value)) continue; // NaN, +-Inf: no sample that minute
    if (value < 0) throw rangeError(`the query gives ${text} at ${iso(atS * 1000)}: a demand is never negative`);
    const index = Math.round((atS * 1000 - baseMs) / MINUTE_MS);
    if (index >= 0 && index < into.length) into[index] = Math.round(value);
  }
}

/**
 * fetchDemandRange reads the query's values a minute over [startMs, endMs] (both rounded down to the minute); it
 * throws ASC_ERR_SIM_PROMETHEUS naming what is wrong (unreachable, rejected, several series, a negative value, no
 * sample at all).
 */
export async function fetchDemandRange(opts: DemandRangeOptions): Promise<DemandRange> {
  const startMs = Math.floor(opts.startMs / MINUTE_MS) * MINUTE_MS;
  const endMs = Math.floor(opts.endMs / MINUTE_MS) * MINUTE_MS;
  if (!(endMs > startMs)) throw rangeError(`the range ${iso(startMs)}..${iso(endMs)} holds no minute`);
  const minutes = (endMs - startMs) / MINUTE_MS + 1;
  const samples = new Array<number | undefined>(minutes).fill(undefined);
  for (let from = 0; from < minutes; from += RANGE_CHUNK_MINUTES) {
    const to = Math.min(minutes, from + RANGE_CHUNK_MINUTES) - 1;
    await queryChunk(opts, startMs + from * MINUTE_MS, startMs + to * MINUTE_MS, startMs, samples);
  }
  const first = samples.findIndex((v) => v !== undefined);
  if (first < 0) throw rangeError(`the query has no sample over ${iso(startMs)}..${iso(endMs)}: ${opts.query}`);
  const values: number[] = [];
  let filled = 0;
  let previous = 0;
  for (let i = first; i < minutes; i += 1) {
    const v = samples[i];
    if (v === undefined) filled += 1;
    else previous = v;
    values.push(previous);
  }
  return { firstMs: startMs + first * MINUTE_MS, values, filled };
}
