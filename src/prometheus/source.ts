/**
 * source: the PromQL workload source. One instant query per pool (`GET /api/v1/query?query=`), through undici
 * with a timeout, the answer checked with zod.
 *
 *   query --HTTP error / timeout / bad JSON / status:error--+
 *         --no series, several series, NaN / +Inf / -Inf---+--> undefined (stale signal: the engine holds),
 *         --exactly one finite sample--> Workload {value, atMs (the sample's time), source: 'prometheus'}
 *
 * A failed or empty query is never read as zero: scaling down on missing data would stop busy machines.
 * Each failure is logged and counted by reason.
 */
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Workload } from '../core/types.ts';
import { answerSchema, callPrometheus, PrometheusFailure, type FailureReason } from './api.ts';

/** SampleSchema is a Prometheus sample `[<unix seconds>, "<value>"]`. */
const SampleSchema = z.tuple([z.number(), z.string()]);

/** QueryResponseSchema is the `/api/v1/query` answer envelope. */
export const QueryResponseSchema = answerSchema(z.discriminatedUnion('resultType', [
  z.object({ resultType: z.literal('vector'), result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: SampleSchema })) }),
  z.object({ resultType: z.literal('scalar'), result: SampleSchema }),
  z.object({ resultType: z.literal('matrix'), result: z.array(z.unknown()) }),
  z.object({ resultType: z.literal('string'), result: z.unknown() }),
]));

export type { FailureReason };

/** PoolQuery is one pool's PromQL; the composition root resolves it from the config (workloadQuery or the default query). */
export interface PoolQuery {
  readonly name: string;
  readonly query: string;
}

/** PrometheusSourceOptions configures a PrometheusSource. */
export interface PrometheusSourceOptions {
  /** url: Prometheus base URL (`prometheus.url`). */
  readonly url: string;
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** queries: PromQL per pool name, for `workload(name)` (pools without one get no Prometheus signal). */
  readonly queries?: Readonly<Record<string, string>>;
  /**
   * now: our clock. When given, a workload's `atMs` is when we read it (immune to clock skew between this host
   * and Prometheus); otherwise the sample's own timestamp.
   */
  readonly now?: () => number;
  /** metrics: optional counter of failed queries by pool and reason. */
  readonly metrics?: { readonly workloadQueryFailures: { inc(labels: { pool: string; reason: FailureReason }): void } };
}

/** QueryFailure is a failed workload query, with its reason. */
class QueryFailure extends PrometheusFailure {
  constructor(reason: FailureReason, message: string, cause?: unknown) {
    super('ASC_ERR_PROMETHEUS_QUERY', reason, message, cause);
    this.name = 'QueryFailure';
  }
}

/** PrometheusSource reads pools' workloads from Prometheus; a failure is a missing (stale) workload, never zero. */
export class PrometheusSource {
  readonly #opts: PrometheusSourceOptions;
  readonly #log: Logger;
  readonly #failures = new Map<FailureReason, number>();

  constructor(opts: PrometheusSourceOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'prometheus-source' });
  }

  /** failures counts failed queries by reason since the source was created. */
  get failures(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.#failures);
  }

  /**
   * workload queries a pool's workload; undefined (logged and counted) when the answer is not one finite sample.
   * Given a PoolQuery, its query; given a pool name, `queries[name]` (undefined, not counted, when the pool has none).
   */
  async workload(pool: string | PoolQuery): Promise<Workload | undefined> {
    const name = typeof pool === 'string' ? pool : pool.name;
    const query = typeof pool === 'string' ? this.#opts.queries?.[pool] : pool.query;
    if (query === undefined) return undefined;
    try {
      const workload = await this.#query(query);
      return this.#opts.now === undefined ? workload : { ...workload, atMs: this.#opts.now() };
    } catch (err) {
      const reason: FailureReason = err instanceof PrometheusFailure ? err.reason : 'response';
      this.#failures.set(reason, (this.#failures.get(reason) ?? 0) + 1);
      this.#opts.metrics?.workloadQueryFailures.inc({ pool: name, reason });
      this.#log.warn({ pool: name, query, reason, err }, 'workload query gave no value');
      return undefined;
    }
  }

  async #query(query: string): Promise<Workload> {
    const data = await callPrometheus({ url: this.#opts.url, path: 'query', params: { query }, timeoutMs: this.#opts.timeoutMs, code: 'ASC_ERR_PROMETHEUS_QUERY' }, QueryResponseSchema);
    let sample: readonly [number, string];
    switch (data.resultType) {
      case 'scalar':
        sample = data.result;
        break;
      case 'vector': {
        const series = data.result;
        if (series.length === 0) throw new QueryFailure('empty', 'the query returned no series (no data is not zero)');
        if (series.length > 1) throw new QueryFailure('ambiguous', `the query returned ${series.length} series; expected one (wrap it in sum())`);
        sample = (series[0] as { value: readonly [number, string] }).value;
        break;
      }
      case 'matrix':
      case 'string':
        throw new QueryFailure('response', `the query returned a ${data.resultType}; expected an instant vector or scalar`);
      default:
        data satisfies never;
        throw new QueryFailure('response', 'unknown result type');
    }
    const value = Number(sample[1]);
    if (!Number.isFinite(value)) throw new QueryFailure('not_finite', `the query returned ${sample[1]}; expected a finite number`);
    return { value, atMs: Math.round(sample[0] * 1000), source: 'prometheus' };
  }
}
