/**
 * client: the salt-api (rest_cherrypy) HTTP client over undici.
 *
 * Token life:
 * ```
 *  (none) --login()--> valid --(lifetime - renewBeforeMs elapsed)--> renew on next call --> valid
 *  valid --401 on a call--> invalidated --login once, retry the call once--> valid | ASC_ERR_SALT_AUTH
 * ```
 * The token lifetime is `expire - start` from the /login answer, measured on our own clock from the
 * moment we logged in (so a skewed master clock does not matter). Logins are single-flight.
 * Neither the password nor the token ever reaches a message or a log line.
 *
 * More than one salt-api (`url` a list: one per master in a multi-master setup):
 * ```
 *  each call --> the first salt-api not in back-off (list order: the own master first) --answer--> done
 *     | not reached (refused, unknown host, unreachable, connect timeout: the request was never sent)
 *     v
 *  that salt-api backs off (1 s, doubling to 30 s; reset by its next answer), the call goes to the next one,
 *  logging in there (a token belongs to one master); every switch is logged (`salt-api: using another salt-api`)
 * ```
 * A call that may have reached salt-api (a timeout, a reset mid-answer, a 5xx) is never sent again elsewhere: it may
 * have been carried out; the engine decides, as with one salt-api. The event stream connects to the one in use.
 */
import { readFileSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import { Agent, request } from '../http-request.ts';
import type { z } from 'zod';
import { AutoscalerError, SaltApiError } from '../errors.ts';
import type { Logger } from '../log.ts';
import {
  AsyncJob, AsyncRun, JobAnswer, LocalReturn, isLocalReturn, LoginAnswer, LogoutAnswer, ReturnEnvelope, ServerError, WheelReturn,
} from './wire.ts';

/** SaltClientOptions configures a SaltClient. Durations in ms. */
export interface SaltClientOptions {
  /** url: the salt-api base URL, e.g. `https://salt:8000` (a path prefix is kept), or several, tried in order. */
  readonly url: string | readonly string[];
  readonly username: string;
  readonly password: string;
  /** eauth: the external_auth backend (`pam`, `ldap`, `sharedsecret`, `auto`, ...). */
  readonly eauth: string;
  /** caFile: a PEM file with the CA that signed salt-api's certificate. */
  readonly caFile?: string | undefined;
  /** tlsVerify: false disables certificate verification (explicit opt-out, logged as a warning). */
  readonly tlsVerify: boolean;
  /** timeoutMs: the deadline of every call (login included). */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** renewBeforeMs: renew the token this long before it expires (default: min(60 s, 10% of its lifetime)). */
  readonly renewBeforeMs?: number | undefined;
  /** now: the clock (epoch ms); tests pass their own. */
  readonly now?: (() => number) | undefined;
}

/** Lowstate is one salt-api lowstate chunk (`client` is set by the calling method). */
export type Lowstate = Readonly<Record<string, unknown>>;

/** LocalOptions are the optional fields of a `local` / `local_async` call. */
export interface LocalOptions {
  readonly arg?: readonly unknown[];
  readonly kwarg?: Readonly<Record<string, unknown>>;
  /** tgtType: `glob` (Salt's default), `list`, `compound`, ... */
  readonly tgtType?: string;
  /** timeoutS: Salt's own gather timeout, in seconds (the `timeout` lowstate field). */
  readonly timeoutS?: number;
  readonly fullReturn?: boolean;
}

/** Session is the current salt-api token and when (our clock, epoch ms) to renew it and when it expires. */
export interface Session {
  readonly token: string;
  /** url: the salt-api that issued the token. */
  readonly url?: string;
  readonly renewAtMs: number;
  readonly expiresAtMs: number;
}

/** TlsConnectOptions are the undici / ws TLS settings derived from caFile and tlsVerify. */
export interface TlsConnectOptions {
  readonly ca?: string;
  readonly rejectUnauthorized: boolean;
}

/** tlsOptions reads the CA file (when given) and builds the connect options shared by HTTP and websocket. */
export function tlsOptions(opts: { readonly caFile?: string | undefined; readonly tlsVerify: boolean }): TlsConnectOptions {
  let ca: string | undefined;
  if (opts.caFile !== undefined) {
    try {
      ca = readFileSync(opts.caFile, 'utf8');
    } catch (err) {
      throw new SaltApiError('ASC_ERR_SALT_NETWORK', `could not read the salt-api CA file ${opts.caFile}`, { endpoint: 'tls', status: 0 }, { cause: err });
    }
  }
  return ca === undefined ? { rejectUnauthorized: opts.tlsVerify } : { ca, rejectUnauthorized: opts.tlsVerify };
}

/** BACKOFF_MIN_MS and BACKOFF_MAX_MS bound how long a salt-api that could not be reached is skipped. */
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

/** NOT_SENT are the connection errors after which the request certainly never reached salt-api. */
const NOT_SENT: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** SaltClient talks to salt-api: login with renewal, lowstate clients, jobs, logout. */
export class SaltClient {
  /** urls: every salt-api, without trailing slashes, in the order they are preferred. */
  readonly urls: readonly string[];
  /** tls: the TLS settings, reused by the websocket transport. */
  readonly tls: TlsConnectOptions;
  /** dispatcher: the undici agent every call (and the SSE stream) goes through. */
  readonly dispatcher: Dispatcher;
  /** logins: how many successful /login calls were made (for metrics and tests). */
  logins = 0;
  readonly #opts: SaltClientOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  #session: Session | undefined;
  #loggingIn: Promise<Session> | undefined;
  #active = 0;
  readonly #backoff: { untilMs: number; ms: number }[];

  constructor(opts: SaltClientOptions) {
    this.#opts = opts;
    const urls = (typeof opts.url === 'string' ? [opts.url] : opts.url).map((u) => u.replace(/\/+$/, ''));
    if (urls.length === 0) throw new SaltApiError('ASC_ERR_SALT_NETWORK', 'salt-api client needs at least one URL', { endpoint: '', status: 0 });
    this.urls = urls;
    this.#backoff = urls.map(() => ({ untilMs: 0, ms: 0 }));
    this.#log = opts.logger.child({ component: 'salt-client' });
    this.#now = opts.now ?? Date.now;
    this.tls = tlsOptions(opts);
    if (!opts.tlsVerify) this.#log.warn({ url: this.baseUrl }, 'salt-api TLS verification disabled');
    this.dispatcher = new Agent({ connect: { ...this.tls }, keepAliveTimeout: 4_000 });
  }

  /** baseUrl: the salt-api in use (the one the last call went to), without a trailing slash. */
  get baseUrl(): string {
    return this.urls[this.#active] ?? '';
  }

  /** token returns a valid session token of the salt-api in use, logging in or renewing first when needed. */
  async token(): Promise<string> {
    const s = this.#session;
    if (s !== undefined && this.#now() < s.renewAtMs && (s.url === undefined || s.url === this.baseUrl)) return s.token;
    return (await this.login()).token;
  }

  /** invalidate forgets `token` (a 401 or a restarted salt-api refused it) so the next call logs in again. */
  invalidate(token: string): void {
    if (this.#session?.token === token) this.#session = undefined;
  }

  /** login runs `POST /login` (single-flight) and keeps the token with its renewal time. */
  login(): Promise<Session> {
    if (this.#loggingIn !== undefined) return this.#loggingIn;
    const p = this.#doLogin().finally(() => { this.#loggingIn = undefined; });
    this.#loggingIn = p;
    return p;
  }

  async #doLogin(): Promise<Session> {
    const { username, password, eauth } = this.#opts;
    const startedMs = this.#now();
    const res = await this.#send('/login', 'POST', { username, password, eauth }, undefined);
    if (res.status === 401) {
      throw new SaltApiError('ASC_ERR_SALT_AUTH', `salt-api answered 401 to /login (user=${username}, eauth=${eauth}): check credentials and external_auth`, { endpoint: '/login', status: 401, body: res.text });
    }
    const answer = this.#decode('/login', res, LoginAnswer);
    const entry = answer.return[0];
    const lifetimeMs = Math.max(0, (entry.expire - entry.start) * 1000);
    const margin = this.#opts.renewBeforeMs ?? Math.min(60_000, lifetimeMs * 0.1);
    const session: Session = { token: entry.token, url: this.baseUrl, expiresAtMs: startedMs + lifetimeMs, renewAtMs: startedMs + lifetimeMs - margin };
    this.#session = session;
    this.logins += 1;
    this.#log.debug({ user: username, eauth, lifetimeMs, renewInMs: session.renewAtMs - startedMs }, 'salt-api login');
    return session;
  }

  /**
   * lowstate posts one lowstate chunk to `POST /` and returns `return[0]`, re-logging in once on a 401. `timeoutMs`
   * is this call's deadline when it is not the configured one (a runner Salt is told to wait longer for).
   */
  async lowstate(chunk: Lowstate, timeoutMs: number = this.#opts.timeoutMs): Promise<unknown> {
    const res = await this.#authed('/', 'POST', [chunk], timeoutMs);
    return this.#decode('/', res, ReturnEnvelope).return[0];
  }

  /** local runs an execution function on minions and waits (`client: local`); absent minions did not answer. */
  async local(tgt: string | readonly string[], fun: string, opts: LocalOptions = {}): Promise<LocalReturn> {
    const ret = await this.lowstate(localChunk('local', tgt, fun, opts));
    // LocalReturn is any object: checked in place, not copied key by key by zod (3,000 minions a reconcile)
    return isLocalReturn(ret) ? ret : this.#check('/ (local ' + fun + ')', ret, LocalReturn);
  }

  /** localAsync starts an execution function and returns its jid and targeted minions (`client: local_async`). */
  async localAsync(tgt: string | readonly string[], fun: string, opts: LocalOptions = {}): Promise<AsyncJob> {
    const ret = await this.lowstate(localChunk('local_async', tgt, fun, opts));
    return this.#check('/ (local_async ' + fun + ')', ret, AsyncJob);
  }

  /**
   * runner runs a runner function on the master and waits; `kwarg` goes as top-level lowstate fields. With `waitS`,
   * salt-api waits that long for the runner's return (the lowstate `timeout`, in place of its `rest_timeout`, 300 s)
   * and this call waits that long plus its configured timeout, so Salt's own answer comes first.
   */
  async runner(fun: string, kwarg: Readonly<Record<string, unknown>> = {}, waitS?: number): Promise<unknown> {
    if (waitS === undefined) return this.lowstate({ ...kwarg, client: 'runner', fun });
    return this.lowstate({ ...kwarg, client: 'runner', fun, timeout: waitS }, waitS * 1000 + this.#opts.timeoutMs);
  }

  /** runnerAsync starts a runner function and returns its jid and tag. */
  async runnerAsync(fun: string, kwarg: Readonly<Record<string, unknown>> = {}): Promise<AsyncRun> {
    const ret = await this.lowstate({ ...kwarg, client: 'runner_async', fun });
    return this.#check('/ (runner_async ' + fun + ')', ret, AsyncRun);
  }

  /** wheel runs a wheel function (key management); the answer is Salt's `{tag, data: {return, success}}` wrapper. */
  async wheel(fun: string, kwarg: Readonly<Record<string, unknown>> = {}): Promise<WheelReturn> {
    const ret = await this.lowstate({ ...kwarg, client: 'wheel', fun });
    return this.#check('/ (wheel ' + fun + ')', ret, WheelReturn);
  }

  /** job reads `GET /jobs/<jid>`. */
  async job(jid: string): Promise<JobAnswer> {
    const endpoint = `/jobs/${encodeURIComponent(jid)}`;
    const res = await this.#authed(endpoint, 'GET', undefined);
    return this.#decode(endpoint, res, JobAnswer);
  }

  /** logout clears the token on salt-api (`POST /logout`) and forgets it; a no-op without a session. */
  async logout(): Promise<void> {
    const s = this.#session;
    if (s === undefined) return;
    this.#session = undefined;
    const res = await this.#send('/logout', 'POST', {}, s.token);
    if (res.status === 401) return;
    this.#decode('/logout', res, LogoutAnswer);
  }

  /** close logs out (best effort) and closes the connection pool. */
  async close(): Promise<void> {
    try {
      await this.logout();
    } catch (err) {
      this.#log.debug({ err }, 'salt-api logout failed');
    }
    await this.dispatcher.close();
  }

  /**
   * #authed sends one authenticated call to the first salt-api not in back-off; one that cannot be reached backs off
   * and the call (never sent) goes to the next one. With one salt-api this is the call itself.
   */
  async #authed(endpoint: string, method: 'GET' | 'POST', body: unknown, timeoutMs: number = this.#opts.timeoutMs): Promise<Reply> {
    if (this.urls.length === 1) return this.#authedOnce(endpoint, method, body, timeoutMs);
    const tried = new Set<number>();
    for (;;) {
      const index = this.#pick(tried);
      tried.add(index);
      this.#use(index);
      try {
        const reply = await this.#authedOnce(endpoint, method, body, timeoutMs);
        this.#reached(index);
        return reply;
      } catch (err) {
        if (!neverSent(err)) {
          if (err instanceof SaltApiError && err.status !== 0) this.#reached(index);
          throw err;
        }
        this.#unreachable(index, err);
        if (tried.size >= this.urls.length) throw err;
      }
    }
  }

  /** #pick is the first salt-api not tried in this call and not in back-off, else the untried one whose back-off ends first. */
  #pick(tried: ReadonlySet<number>): number {
    const now = this.#now();
    const untried = this.urls.map((_, i) => i).filter((i) => !tried.has(i));
    const ready = untried.find((i) => (this.#backoff[i]?.untilMs ?? 0) <= now);
    if (ready !== undefined) return ready;
    return untried.reduce((a, b) => ((this.#backoff[b]?.untilMs ?? 0) < (this.#backoff[a]?.untilMs ?? 0) ? b : a));
  }

  #use(index: number): void {
    if (index === this.#active) return;
    const from = this.baseUrl;
    this.#active = index;
    this.#log.warn({ url: this.baseUrl, from }, 'salt-api: using another salt-api');
  }

  #reached(index: number): void {
    const b = this.#backoff[index];
    if (b !== undefined && b.ms > 0) {
      b.ms = 0;
      b.untilMs = 0;
      this.#log.info({ url: this.urls[index] }, 'salt-api answers again');
    }
  }

  #unreachable(index: number, err: unknown): void {
    const b = this.#backoff[index];
    if (b === undefined) return;
    b.ms = Math.min(BACKOFF_MAX_MS, b.ms === 0 ? BACKOFF_MIN_MS : b.ms * 2);
    b.untilMs = this.#now() + b.ms;
    this.#log.warn({ url: this.urls[index], backoffMs: b.ms, err }, 'salt-api could not be reached: trying the next one');
  }

  async #authedOnce(endpoint: string, method: 'GET' | 'POST', body: unknown, timeoutMs: number): Promise<Reply> {
    const token = await this.token();
    const res = await this.#send(endpoint, method, body, token, timeoutMs);
    if (res.status !== 401) return res;
    const what = callName(endpoint, body);
    // a valid token without the permission (real_02, real_03): a fresh login would be refused the same way
    if (htmlText(res.text) === AUTHORIZATION_REFUSED) {
      throw new SaltApiError('ASC_ERR_SALT_AUTH', `salt-api refused ${what}: the user's external_auth entry does not grant it (${AUTHORIZATION_REFUSED})`, { endpoint, status: 401, body: htmlText(res.text) });
    }
    this.#log.info({ endpoint }, 'salt-api refused the token, logging in again');
    this.invalidate(token);
    const fresh = await this.token();
    const again = await this.#send(endpoint, method, body, fresh, timeoutMs);
    if (again.status === 401) {
      this.invalidate(fresh);
      throw new SaltApiError('ASC_ERR_SALT_AUTH', `salt-api answered 401 to ${what} right after a fresh login (${htmlText(again.text)}): check the user's external_auth permissions`, { endpoint, status: 401, body: htmlText(again.text) });
    }
    return again;
  }

  async #send(endpoint: string, method: 'GET' | 'POST', body: unknown, token: string | undefined, timeoutMs: number = this.#opts.timeoutMs): Promise<Reply> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token !== undefined) headers['x-auth-token'] = token;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await request(this.baseUrl + endpoint, {
        method, headers, signal, dispatcher: this.dispatcher,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.body.text();
      return { status: res.statusCode, text, contentType: String(res.headers['content-type'] ?? '') };
    } catch (err) {
      if (signal.aborted) {
        throw new SaltApiError('ASC_ERR_SALT_TIMEOUT', `salt-api did not answer ${method} ${endpoint} within ${timeoutMs} ms`, { endpoint, status: 0 }, { cause: err });
      }
      const reason = err instanceof Error ? (('code' in err && typeof err.code === 'string') ? err.code : err.message) : String(err);
      throw new SaltApiError('ASC_ERR_SALT_NETWORK', `salt-api ${this.baseUrl} could not be reached for ${method} ${endpoint} (${reason})`, { endpoint, status: 0 }, { cause: err });
    }
  }

  #decode<S extends z.ZodType>(endpoint: string, res: Reply, schema: S): z.infer<S> {
    if (res.status === 400 && /Client disabled/i.test(res.text)) {
      throw new SaltApiError('ASC_ERR_SALT_CLIENT_DISABLED', `salt-api refused the client on ${endpoint}: add it to netapi_enable_clients`, { endpoint, status: 400, body: htmlText(res.text) });
    }
    if (res.status === 401) {
      throw new SaltApiError('ASC_ERR_SALT_AUTH', `salt-api answered 401 to ${endpoint}`, { endpoint, status: 401, body: htmlText(res.text) });
    }
    let json: unknown;
    let parsed = false;
    try {
      json = JSON.parse(res.text);
      parsed = true;
    } catch {
      // handled below: a non-JSON body becomes a typed error
    }
    if (res.status === 504) {
      // rest_cherrypy's answer to SaltClientTimeout: its wait for a runner's return (the lowstate `timeout`, else
      // rest_timeout) ran out, and the runner goes on in the master (real_15; test/real-salt/profile-timeout.test.ts): what it does is not known yet
      throw new SaltApiError('ASC_ERR_SALT_TIMEOUT', `salt-api answered 504 to ${endpoint}: its wait for the runner's return ran out, and the runner goes on in the master (${htmlText(res.text)})`, { endpoint, status: 504, body: htmlText(res.text) });
    }
    if (res.status >= 500) {
      const err = parsed ? ServerError.safeParse(json) : undefined;
      const what = err?.success === true ? String(err.data.return) : htmlText(res.text);
      throw new SaltApiError('ASC_ERR_SALT_RUNNER', `salt-api answered ${res.status} to ${endpoint}: ${what}`, { endpoint, status: res.status, body: res.text });
    }
    if (res.status < 200 || res.status >= 300) {
      throw new SaltApiError('ASC_ERR_SALT_HTTP', `salt-api answered ${res.status} to ${endpoint}, expected 200`, { endpoint, status: res.status, body: htmlText(res.text) });
    }
    if (!parsed) {
      throw new SaltApiError('ASC_ERR_SALT_RESPONSE', `salt-api answered ${endpoint} with a body that is not JSON (${res.contentType || 'no content-type'})`, { endpoint, status: res.status, body: res.text });
    }
    const out = schema.safeParse(json);
    if (!out.success) {
      throw new SaltApiError('ASC_ERR_SALT_RESPONSE', `salt-api answered ${endpoint} with an unexpected shape: ${out.error.issues[0]?.message ?? 'invalid'}`, { endpoint, status: res.status, body: res.text }, { cause: out.error });
    }
    return out.data;
  }

  #check<S extends z.ZodType>(endpoint: string, value: unknown, schema: S): z.infer<S> {
    const out = schema.safeParse(value);
    if (!out.success) {
      const body = JSON.stringify(value) ?? 'undefined';
      throw new SaltApiError('ASC_ERR_SALT_RESPONSE', `salt-api answered ${endpoint} with an unexpected return: ${out.error.issues[0]?.message ?? 'invalid'}`, { endpoint, status: 200, body }, { cause: out.error });
    }
    return out.data;
  }
}

interface Reply {
  readonly status: number;
  readonly text: string;
  readonly contentType: string;
}

/** neverSent: the call failed before its request reached salt-api (safe to send to another one). */
function neverSent(err: unknown): boolean {
  if (!(err instanceof SaltApiError) || err.code !== 'ASC_ERR_SALT_NETWORK') return false;
  const cause: unknown = err.cause;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
  return code !== undefined && NOT_SENT.has(code);
}

function localChunk(client: 'local' | 'local_async', tgt: string | readonly string[], fun: string, opts: LocalOptions): Lowstate {
  return {
    client, tgt, fun,
    ...(opts.tgtType === undefined ? {} : { tgt_type: opts.tgtType }),
    ...(opts.arg === undefined ? {} : { arg: opts.arg }),
    ...(opts.kwarg === undefined ? {} : { kwarg: opts.kwarg }),
    ...(opts.timeoutS === undefined ? {} : { timeout: opts.timeoutS }),
    ...(opts.fullReturn === undefined ? {} : { full_return: opts.fullReturn }),
  };
}

/** AUTHORIZATION_REFUSED is salt-api's page text for a call the user's external_auth entry does not grant (real_02). */
const AUTHORIZATION_REFUSED = 'Authorization error occurred.';

/** callName names a call for a message: `local cmd.run` for a lowstate, else the endpoint. */
function callName(endpoint: string, body: unknown): string {
  const chunk: unknown = Array.isArray(body) ? body[0] : undefined;
  if (typeof chunk === 'object' && chunk !== null && 'fun' in chunk && typeof chunk.fun === 'string') {
    const client = 'client' in chunk && typeof chunk.client === 'string' ? `${chunk.client} ` : '';
    return `${client}${chunk.fun}`;
  }
  return endpoint;
}

/** htmlText pulls the human message out of a CherryPy HTML error page (its `<p>`), else returns the body. */
export function htmlText(body: string): string {
  const m = /<p>([^<]*)<\/p>/i.exec(body);
  return m?.[1] !== undefined ? m[1].trim() : body;
}

/** isSaltAuthError tells whether an error is salt-api refusing credentials or a token. */
export function isSaltAuthError(err: unknown): boolean {
  return err instanceof AutoscalerError && err.code === 'ASC_ERR_SALT_AUTH';
}
