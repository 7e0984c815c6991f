/**
 * client: a small etcd v3 client over etcd's JSON gateway (`/v3/kv/*`, `/v3/lease/*`, `/v3/watch`,
 * `/v3/auth/authenticate`) and undici. docs/ha.md says why not the gRPC `etcd3` package.
 *
 * One call:
 * ```
 *   endpoint i (the last that answered) --answer 200--> decoded with wire.ts, done
 *      | refused, reset, timeout, 503 / gRPC Unavailable (no leader, member stopping)
 *      v
 *   endpoint i+1, ... (each endpoint once per call; the one that answers becomes the preferred one, logged)
 *      | none answered -> ASC_ERR_ETCD_UNAVAILABLE (or ASC_ERR_ETCD_TIMEOUT when the last one timed out)
 *   401 / gRPC Unauthenticated (auth token expired or member restarted) --authenticate once, same call again--> ...
 * ```
 * A call retried on another member after a timeout may have been applied by the first: every write this package makes
 * is idempotent on retry (the campaign's create-if-absent, fenced puts of the same value, deletes).
 * The password and the auth token never reach a message or a log line.
 */
import { readFileSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import { Agent, request } from '../http-request.ts';
import type { z } from 'zod';
import { EtcdError } from '../errors.ts';
import {
  AuthenticateAnswer, GatewayError, LeaseGrantAnswer, LeaseKeepAliveAnswer, LeaseRevokeAnswer, RangeAnswer, TxnAnswer,
  WatchAnswer, b64, prefixEnd,
} from './wire.ts';

/** EtcdLogger is the slice of pino the etcd adapter logs through. */
export interface EtcdLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** EtcdTls names the PEM files of `ha.etcd.tls`. */
export interface EtcdTls {
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
}

/** EtcdClientOptions configures an EtcdClient. Durations in ms. */
export interface EtcdClientOptions {
  /** endpoints: the members' client URLs (`https://etcd1:2379`); tried in order, the one that answers is kept. */
  readonly endpoints: readonly string[];
  readonly tls?: EtcdTls | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** timeoutMs: the deadline of one attempt on one endpoint (default 5 s). */
  readonly timeoutMs?: number | undefined;
  readonly logger: EtcdLogger;
}

/** CallOptions bound one call. */
export interface CallOptions {
  /** timeoutMs overrides the client's per-attempt timeout (a keepalive must answer within a third of the TTL). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Compare is one condition of a txn (the subset this package uses). */
export type Compare =
  | { readonly key: string; readonly target: 'CREATE'; readonly createRevision: number; readonly result: 'EQUAL' }
  | { readonly key: string; readonly target: 'MOD'; readonly modRevision: number; readonly result: 'EQUAL' | 'LESS' | 'GREATER' };

/** TxnOp is one request of a txn branch: a put (with an optional lease), a delete, a get of one key or of a prefix. */
export type TxnOp =
  | { readonly put: string; readonly value: string; readonly lease?: string }
  | { readonly delete: string }
  | { readonly get: string }
  | { readonly getPrefix: string };

/** RangeOptions select keys: one key, or a prefix; sorted and limited as etcd does it. */
export interface RangeOptions {
  readonly prefix?: boolean;
  readonly limit?: number;
  readonly sortTarget?: 'KEY' | 'CREATE' | 'MOD';
  readonly sortOrder?: 'ASCEND' | 'DESCEND';
  /** maxCreateRevision: only keys created at or before this revision. */
  readonly maxCreateRevision?: number;
  readonly keysOnly?: boolean;
}

/** WatchOutcome is how waiting on a key ended. */
export type WatchOutcome = 'deleted' | 'timeout' | 'aborted' | 'broken';

/** EtcdClient talks to an etcd cluster through its JSON gateway with failover between members. */
export class EtcdClient {
  readonly endpoints: readonly string[];
  /** ops counts the calls sent per gateway path (each attempt counts), for the ops-per-action figures. */
  readonly ops = new Map<string, number>();
  readonly #opts: EtcdClientOptions;
  readonly #dispatcher: Dispatcher;
  readonly #timeoutMs: number;
  #preferred = 0;
  #token: string | undefined;
  #authenticating: Promise<string> | undefined;

  constructor(opts: EtcdClientOptions) {
    if (opts.endpoints.length === 0) throw new EtcdError('ASC_ERR_ETCD_UNAVAILABLE', 'etcd client needs at least one endpoint', { path: '', endpoint: '', status: 0 });
    this.#opts = opts;
    this.endpoints = opts.endpoints.map((e) => e.replace(/\/+$/, ''));
    this.#timeoutMs = opts.timeoutMs ?? 5_000;
    this.#dispatcher = new Agent({ connect: readTls(opts.tls ?? {}), keepAliveTimeout: 10_000 });
  }

  /** endpoint is the member calls go to first (the last that answered). */
  get endpoint(): string {
    return this.endpoints[this.#preferred] ?? '';
  }

  /** opsTotal is the number of calls sent so far. */
  get opsTotal(): number {
    let n = 0;
    for (const v of this.ops.values()) n += v;
    return n;
  }

  /** range reads one key or a prefix. */
  async range(key: string, opts: RangeOptions = {}, call: CallOptions = {}): Promise<z.output<typeof RangeAnswer>> {
    return this.call('/v3/kv/range', rangeRequest(key, opts), RangeAnswer, call);
  }

  /** txn runs `if all compare then success else failure` as one etcd transaction. */
  async txn(compare: readonly Compare[], success: readonly TxnOp[], failure: readonly TxnOp[] = [], call: CallOptions = {}): Promise<z.output<typeof TxnAnswer>> {
    return this.call('/v3/kv/txn', {
      compare: compare.map(compareRequest),
      success: success.map(opRequest),
      failure: failure.map(opRequest),
    }, TxnAnswer, call);
  }

  /** leaseGrant creates a lease of `ttlS` seconds (etcd may grant a longer one: its minimum TTL). */
  async leaseGrant(ttlS: number, call: CallOptions = {}): Promise<{ id: string; ttlS: number }> {
    const answer = await this.call('/v3/lease/grant', { TTL: String(ttlS) }, LeaseGrantAnswer, call);
    if (answer.error !== undefined && answer.error !== '') {
      throw new EtcdError('ASC_ERR_ETCD_RESPONSE', `etcd refused a lease of ${ttlS}s: ${answer.error}`, { path: '/v3/lease/grant', endpoint: this.endpoint, status: 200 });
    }
    return { id: answer.ID, ttlS: answer.TTL };
  }

  /** leaseKeepAlive renews a lease once; the answer's TTL is 0 when the lease is gone (expired or revoked). */
  async leaseKeepAlive(id: string, call: CallOptions = {}): Promise<{ ttlS: number; revision: number }> {
    const answer = await this.call('/v3/lease/keepalive', { ID: id }, LeaseKeepAliveAnswer, call);
    return { ttlS: answer.result.TTL, revision: answer.result.header.revision };
  }

  /** leaseRevoke ends a lease now: every key attached to it is deleted. */
  async leaseRevoke(id: string, call: CallOptions = {}): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: id }, LeaseRevokeAnswer, call);
  }

  /**
   * waitDelete watches `key` from `startRevision` until it is deleted ('deleted'), `timeoutMs` passes ('timeout'),
   * `signal` aborts ('aborted'), or the stream fails or was compacted past ('broken'). It uses the preferred endpoint
   * only: the caller re-reads and watches again after anything but 'deleted'.
   */
  async waitDelete(key: string, startRevision: number, timeoutMs: number, signal?: AbortSignal): Promise<WatchOutcome> {
    const path = '/v3/watch';
    this.#count(path);
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; ac.abort(); }, timeoutMs);
    const onAbort = (): void => { ac.abort(); };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const token = await this.#tokenIfNeeded();
      const res = await request(this.endpoint + path, {
        method: 'POST',
        headers: headers(token),
        body: JSON.stringify({ create_request: { key: b64(key), start_revision: String(startRevision) } }),
        signal: ac.signal,
        dispatcher: this.#dispatcher,
      });
      if (res.statusCode !== 200) {
        await res.body.text();
        return 'broken';
      }
      let buffered = '';
      for await (const chunk of res.body) {
        buffered += (chunk as Buffer).toString('utf8');
        let nl = buffered.indexOf('\n');
        while (nl >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          nl = buffered.indexOf('\n');
          if (line === '') continue;
          const parsed = WatchAnswer.safeParse(safeJson(line));
          if (!parsed.success || parsed.data.error !== undefined) return 'broken';
          const result = parsed.data.result;
          if (result === undefined) continue;
          if (result.canceled === true || result.compact_revision > 0) return 'broken';
          if (result.events.some((e) => e.type === 'DELETE' && e.kv?.key === key)) return 'deleted';
        }
      }
      return 'broken';
    } catch {
      if (signal?.aborted === true) return 'aborted';
      return timedOut ? 'timeout' : 'broken';
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      ac.abort();
    }
  }

  /** close closes the connection pool. */
  async close(): Promise<void> {
    await this.#dispatcher.destroy();
  }

  /** call posts `body` to `path`, failing over between endpoints, re-authenticating once, and decodes the answer. */
  async call<S extends z.ZodType>(path: string, body: unknown, schema: S, opts: CallOptions = {}): Promise<z.output<S>> {
    const n = this.endpoints.length;
    let last: EtcdError | undefined;
    let reauthed = false;
    for (let attempt = 0; attempt < n; attempt++) {
      const index = (this.#preferred + attempt) % n;
      const endpoint = this.endpoints[index] ?? '';
      if (opts.signal?.aborted === true) throw new EtcdError('ASC_ERR_ETCD_TIMEOUT', `etcd call ${path} aborted`, { path, endpoint, status: 0 });
      let reply: Reply;
      try {
        const token = await this.#tokenIfNeeded(opts);
        reply = await this.#send(endpoint, path, body, token, opts);
        if (isAuthExpired(reply) && this.#opts.username !== undefined && !reauthed) {
          reauthed = true;
          this.#opts.logger.info({ endpoint, path }, 'etcd refused the auth token, authenticating again');
          if (token !== undefined && this.#token === token) this.#token = undefined;
          const fresh = await this.#tokenIfNeeded(opts);
          reply = await this.#send(endpoint, path, body, fresh, opts);
        }
      } catch (err) {
        if (!(err instanceof EtcdError) || (err.code !== 'ASC_ERR_ETCD_UNAVAILABLE' && err.code !== 'ASC_ERR_ETCD_TIMEOUT')) throw err;
        last = err;
        continue;
      }
      if (isUnavailable(reply)) {
        last = new EtcdError('ASC_ERR_ETCD_UNAVAILABLE', `etcd ${endpoint} answered ${reply.status} to ${path}: ${gatewayMessage(reply.text)}`, { path, endpoint, status: reply.status, body: reply.text });
        continue;
      }
      const decoded = this.#decode(endpoint, path, reply, schema);
      if (index !== this.#preferred) {
        this.#opts.logger.warn({ endpoint, from: this.endpoint, path }, 'etcd: switched to another endpoint');
        this.#preferred = index;
      }
      return decoded;
    }
    const err = last ?? new EtcdError('ASC_ERR_ETCD_UNAVAILABLE', `no etcd endpoint answered ${path}`, { path, endpoint: '', status: 0 });
    throw new EtcdError(err.code === 'ASC_ERR_ETCD_TIMEOUT' ? 'ASC_ERR_ETCD_TIMEOUT' : 'ASC_ERR_ETCD_UNAVAILABLE',
      `no etcd endpoint of ${n} answered ${path} (last: ${err.message})`, { path, endpoint: err.endpoint, status: err.status, body: err.body }, { cause: err });
  }

  async #tokenIfNeeded(opts: CallOptions = {}): Promise<string | undefined> {
    if (this.#opts.username === undefined) return undefined;
    if (this.#token !== undefined) return this.#token;
    if (this.#authenticating === undefined) {
      this.#authenticating = this.#authenticate(opts).finally(() => { this.#authenticating = undefined; });
    }
    return this.#authenticating;
  }

  async #authenticate(opts: CallOptions): Promise<string> {
    const path = '/v3/auth/authenticate';
    const user = this.#opts.username ?? '';
    const n = this.endpoints.length;
    let last: EtcdError | undefined;
    for (let attempt = 0; attempt < n; attempt++) {
      const endpoint = this.endpoints[(this.#preferred + attempt) % n] ?? '';
      let reply: Reply;
      try {
        reply = await this.#send(endpoint, path, { name: user, password: this.#opts.password ?? '' }, undefined, opts);
      } catch (err) {
        if (!(err instanceof EtcdError)) throw err;
        last = err;
        continue;
      }
      if (isUnavailable(reply)) {
        last = new EtcdError('ASC_ERR_ETCD_UNAVAILABLE', `etcd ${endpoint} answered ${reply.status} to ${path}`, { path, endpoint, status: reply.status, body: reply.text });
        continue;
      }
      if (reply.status !== 200) {
        throw new EtcdError('ASC_ERR_ETCD_AUTH', `etcd refused the login of user ${user} (${reply.status}: ${gatewayMessage(reply.text)}): check ha.etcd.username and the password`, { path, endpoint, status: reply.status, body: gatewayMessage(reply.text) });
      }
      const answer = this.#decode(endpoint, path, reply, AuthenticateAnswer);
      this.#token = answer.token;
      this.#opts.logger.debug({ user, endpoint }, 'etcd: authenticated');
      return answer.token;
    }
    throw last ?? new EtcdError('ASC_ERR_ETCD_UNAVAILABLE', `no etcd endpoint answered ${path}`, { path, endpoint: '', status: 0 });
  }

  #count(path: string): void {
    this.ops.set(path, (this.ops.get(path) ?? 0) + 1);
  }

  async #send(endpoint: string, path: string, body: unknown, token: string | undefined, opts: CallOptions): Promise<Reply> {
    this.#count(path);
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal === undefined ? timeout : AbortSignal.any([timeout, opts.signal]);
    try {
      const res = await request(endpoint + path, {
        method: 'POST', headers: headers(token), body: JSON.stringify(body), signal, dispatcher: this.#dispatcher,
      });
      return { status: res.statusCode, text: await res.body.text() };
    } catch (err) {
      if (timeout.aborted || opts.signal?.aborted === true) {
        throw new EtcdError('ASC_ERR_ETCD_TIMEOUT', `etcd ${endpoint} did not answer ${path} within ${timeoutMs} ms`, { path, endpoint, status: 0 }, { cause: err });
      }
      const reason = err instanceof Error ? (('code' in err && typeof err.code === 'string') ? err.code : err.message) : String(err);
      throw new EtcdError('ASC_ERR_ETCD_UNAVAILABLE', `etcd ${endpoint} could not be reached for ${path} (${reason})`, { path, endpoint, status: 0 }, { cause: err });
    }
  }

  #decode<S extends z.ZodType>(endpoint: string, path: string, reply: Reply, schema: S): z.output<S> {
    if (reply.status === 401 || reply.status === 403 || grpcCode(reply.text) === 16 || grpcCode(reply.text) === 7 || /authentication failed|user name is empty/i.test(reply.text)) {
      throw new EtcdError('ASC_ERR_ETCD_AUTH', `etcd ${endpoint} refused ${path} (${reply.status}: ${gatewayMessage(reply.text)}): check ha.etcd.username, the password and the user's role`, { path, endpoint, status: reply.status, body: gatewayMessage(reply.text) });
    }
    if (reply.status !== 200) {
      throw new EtcdError('ASC_ERR_ETCD_RESPONSE', `etcd ${endpoint} answered ${reply.status} to ${path}, expected 200: ${gatewayMessage(reply.text)}`, { path, endpoint, status: reply.status, body: reply.text });
    }
    // a stream endpoint (keepalive) answers newline-delimited messages: the first one is ours
    const first = reply.text.split('\n').find((l) => l.trim() !== '') ?? '';
    const json = safeJson(first);
    const out = schema.safeParse(json);
    if (json === undefined || !out.success) {
      throw new EtcdError('ASC_ERR_ETCD_RESPONSE', `etcd ${endpoint} answered ${path} with an unexpected body${out.success ? '' : `: ${out.error.issues[0]?.message ?? 'invalid'}`}`, { path, endpoint, status: reply.status, body: reply.text });
    }
    return out.data;
  }
}

interface Reply {
  readonly status: number;
  readonly text: string;
}

function headers(token: string | undefined): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (token !== undefined) h['authorization'] = token;
  return h;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function grpcCode(text: string): number | undefined {
  const parsed = GatewayError.safeParse(safeJson(text));
  if (parsed.success) return parsed.data.code;
  // a stream endpoint wraps its error: {"error": {"grpc_code": 14, ...}}
  const m = /"grpc_code"\s*:\s*(\d+)/.exec(text);
  return m === null ? undefined : Number(m[1]);
}

function gatewayMessage(text: string): string {
  const parsed = GatewayError.safeParse(safeJson(text));
  const message = parsed.success ? (parsed.data.message ?? parsed.data.error) : undefined;
  return (message ?? text).slice(0, 200);
}

/** isUnavailable: the member cannot serve now (no leader, stopping, overloaded): another member may. */
function isUnavailable(reply: Reply): boolean {
  return reply.status === 503 || reply.status === 502 || reply.status === 504 || grpcCode(reply.text) === 14 || /etcdserver: (no leader|request timed out|leader changed)/.test(reply.text);
}

/** isAuthExpired: etcd refused the token itself (expired simple token, a restarted member): a fresh one may pass. */
function isAuthExpired(reply: Reply): boolean {
  return /invalid auth token|auth token is invalid|token/i.test(gatewayMessage(reply.text)) && (reply.status === 401 || grpcCode(reply.text) === 16 || reply.status === 400);
}

function readTls(tls: EtcdTls): { ca?: string; cert?: string; key?: string } {
  const read = (field: keyof EtcdTls): string | undefined => {
    const file = tls[field];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new EtcdError('ASC_ERR_ETCD_TLS', `could not read ha.etcd.tls.${field} ${file} (${reason})`, { path: 'tls', endpoint: '', status: 0 }, { cause: err });
    }
  };
  const ca = read('caFile');
  const cert = read('certFile');
  const key = read('keyFile');
  return { ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) };
}

function rangeRequest(key: string, opts: RangeOptions): Record<string, unknown> {
  return {
    key: b64(key),
    ...(opts.prefix === true ? { range_end: prefixEnd(key) } : {}),
    ...(opts.limit === undefined ? {} : { limit: String(opts.limit) }),
    ...(opts.sortTarget === undefined ? {} : { sort_target: opts.sortTarget }),
    ...(opts.sortOrder === undefined ? {} : { sort_order: opts.sortOrder }),
    ...(opts.maxCreateRevision === undefined ? {} : { max_create_revision: String(opts.maxCreateRevision) }),
    ...(opts.keysOnly === true ? { keys_only: true } : {}),
  };
}

function compareRequest(c: Compare): Record<string, unknown> {
  return c.target === 'CREATE'
    ? { key: b64(c.key), target: 'CREATE', result: c.result, create_revision: String(c.createRevision) }
    : { key: b64(c.key), target: 'MOD', result: c.result, mod_revision: String(c.modRevision) };
}

function opRequest(op: TxnOp): Record<string, unknown> {
  if ('put' in op) return { request_put: { key: b64(op.put), value: b64(op.value), ...(op.lease === undefined ? {} : { lease: op.lease }) } };
  if ('delete' in op) return { request_delete_range: { key: b64(op.delete) } };
  if ('getPrefix' in op) return { request_range: rangeRequest(op.getPrefix, { prefix: true }) };
  return { request_range: { key: b64(op.get) } };
}
