/**
 * api: one call of Prometheus' HTTP API (`GET <url>/api/v1/<path>?...`), shared by the workload source (instant
 * queries) and `simulate --prometheus` (query_range): through undici with a timeout, the answer's envelope and data
 * checked with zod, every way it can fail a PrometheusFailure with its reason.
 *
 *   no answer in time ─► timeout     not reached ─► network
 *   a body that is no JSON, or not the envelope with this data ─► http (status >= 400) or response
 *   status "error" ─► query_error    any other status >= 400 ─► http    else ─► the data
 */
import { z } from 'zod';
import { AutoscalerError, trimBody, type ErrorCode } from '../errors.ts';
import { request } from '../http-request.ts';

/** FailureReason is why a call (or the answer it gave) yielded no value: the `reason` of the source's failure count. */
export type FailureReason = 'http' | 'timeout' | 'network' | 'response' | 'query_error' | 'empty' | 'ambiguous' | 'not_finite';

/** PrometheusFailure is a failed call or an unusable answer, with its reason; `code` is the caller's. */
export class PrometheusFailure extends AutoscalerError {
  readonly reason: FailureReason;
  constructor(code: ErrorCode, reason: FailureReason, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.name = 'PrometheusFailure';
    this.reason = reason;
  }
}

/** answerSchema is the API's envelope around `data` (build it once per data shape, not per call). */
export function answerSchema<T extends z.ZodType>(data: T) {
  return z.discriminatedUnion('status', [
    z.object({ status: z.literal('success'), data, warnings: z.array(z.string()).optional() }),
    z.object({ status: z.literal('error'), errorType: z.string().optional(), error: z.string().optional() }),
  ]);
}

/** PrometheusCall is one call: the server, the API path under /api/v1/, its parameters, the timeout, the error code to fail with. */
export interface PrometheusCall {
  readonly url: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly code: ErrorCode;
}

/** callPrometheus makes the call and answers its checked `data`; it throws PrometheusFailure. */
export async function callPrometheus<T>(call: PrometheusCall, schema: z.ZodType<{ status: 'success'; data: T } | { status: 'error'; errorType?: string | undefined; error?: string | undefined }>): Promise<T> {
  const fail = (reason: FailureReason, message: string, cause?: unknown): PrometheusFailure => new PrometheusFailure(call.code, reason, message, cause);
  const url = new URL(`api/v1/${call.path}`, call.url.endsWith('/') ? call.url : `${call.url}/`);
  for (const [name, value] of Object.entries(call.params)) url.searchParams.set(name, value);
  let status: number;
  let text: string;
  try {
    const res = await request(url, { method: 'GET', headers: { accept: 'application/json' }, signal: AbortSignal.timeout(call.timeoutMs) });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') throw fail('timeout', `Prometheus did not answer within ${call.timeoutMs}ms`, err);
    throw fail('network', `Prometheus could not be reached at ${url.origin}: ${(err as Error).message}`, err);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw fail(status >= 400 ? 'http' : 'response', `Prometheus answered ${status} with a non-JSON body: ${trimBody(text)}`, err);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw fail(status >= 400 ? 'http' : 'response', `Prometheus answered ${status} with an unexpected body: ${trimBody(text)}`);
  const answer = parsed.data;
  if (answer.status === 'error') throw fail('query_error', `Prometheus rejected the query (${answer.errorType ?? status}): ${answer.error ?? ''}`);
  if (status >= 400) throw fail('http', `Prometheus answered ${status}`);
  return answer.data;
}
