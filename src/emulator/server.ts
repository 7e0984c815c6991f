/**
 * server: the emulated salt-api (rest_cherrypy) HTTP server: `/login`, `/logout`, `/`, `/run`, `/jobs`,
 * `/minions`, `/events` (SSE), `/ws/<token>` (websocket), plus the control API under `/_emulator/`.
 *
 *   request --/_emulator/*--> control API (faults, busy, fire, state, calls)
 *      |
 *      +--> read body --> faults: delayNext? failNext? --> route --> auth (token: header | cookie | query)
 *                                                                 --> functions.runLowstate --> {"return": [...]}
 *   /events: `retry: 400\n`, then per bus event a `tag:` chunk and a `data:` chunk; token checked after each event
 *   /ws/<token>: 101, wait for any client text (answered `server received message`), then `data: {...}\n\n` frames
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import { stringify as toYaml } from 'yaml';
import { EventBus, Timers, type BusEvent } from './bus.ts';
import { World } from './world.ts';
import {
  ALL_CLIENTS, LowstateSchema, MSG_NOT_AUTHORIZED, runLowstate, specRefusal, targetMinions,
  type Caller, type Job, type LowResult, type Lowstate, type MasterDeps, type SaltToken,
} from './functions.ts';
import {
  JidGenerator, MSG_AUTH_ERROR, MSG_BAD_CREDENTIALS, MSG_GATEWAY_TIMEOUT, MSG_NO_PERMISSION, STATUS_TEXT, cherrypyErrorPage, httpDate, jobStartTime, pyJson,
} from './wire.ts';
import { AutoscalerError } from '../errors.ts';
import { localAllowed, sortedPerms, specAllowed, type Acl } from './acl.ts';
import { readMasterConf } from './master-conf.ts';
import {
  DEFAULT_DELAYS, DEFAULT_ENABLED_CLIENTS, DEFAULT_USER, EmulatorOptionsSchema, PERMISSIVE_USER, type EmulatorOptions,
} from './options.ts';

/** CallRecord is one salt-api request the emulator answered (one per lowstate chunk for `POST /`). */
export interface CallRecord {
  /** atMs: when the answer was sent; receivedAtMs: when the request's body had arrived (before any delay). */
  readonly atMs: number;
  readonly receivedAtMs: number;
  readonly method: string;
  readonly path: string;
  readonly client?: string;
  readonly fun?: string;
  readonly kwarg?: unknown;
  readonly arg?: unknown;
  readonly tgt?: unknown;
  readonly status: number;
}

/** CallMatch narrows a fault to requests on `path` and/or with a lowstate calling `fun`. */
export interface CallMatch {
  readonly path?: string | undefined;
  readonly fun?: string | undefined;
}

interface Session {
  readonly token: string;
  readonly user: string;
  readonly eauth: string;
  readonly perms: Acl;
  readonly startS: number;
  expireS: number;
}

interface SseStream {
  readonly res: http.ServerResponse;
  readonly socket: Duplex;
  unsubscribe: () => void;
}

interface WsStream {
  readonly ws: WebSocket;
  readonly socket: Duplex;
  unsubscribe: () => void;
}

interface Rule {
  left: number;
  readonly match: CallMatch | undefined;
}

const COOKIE_MAX_AGE_S = 36000;

/** User is one user who may log in, with the ACL salt-api enforces for them. */
interface User {
  readonly username: string;
  readonly password: string;
  readonly eauth: string;
  readonly perms: Acl;
}

/** FaultControls are the fault-injection switches of a running emulator. */
export interface FaultControls {
  /** failNext answers the next `n` matching requests with `status` (401 HTML, 500 Salt JSON, 503 HTML). */
  failNext(n: number, status: 401 | 500 | 503, match?: CallMatch): void;
  /** delayNext holds the next `n` matching requests for `ms` before handling them. */
  delayNext(n: number, ms: number, match?: CallMatch): void;
  /** cutStreams drops every open SSE and websocket connection; `midFrame` first sends half a frame. */
  cutStreams(opts?: { midFrame?: boolean }): void;
  /** restartApi is a salt-api restart: SSE ends without the 0-chunk, websockets get 1001, every token dies. */
  restartApi(): void;
  /** masterRestart keeps streams open but silent for `ms`; events meanwhile are lost. */
  masterRestart(ms: number): void;
  /** duplicateEvents sends every event twice while on. */
  duplicateEvents(on: boolean): void;
  /** reorderEvents swaps consecutive events while on. */
  reorderEvents(on: boolean): void;
  /** failStart makes the next cloud.action start of `id` fail with a Salt-style error return. */
  failStart(id: string): void;
  /** expireTokens expires every token now (an SSE stream ends after its next event, with the 0-chunk). */
  expireTokens(): void;
  /** malformedNext sends the next `n` stream events as broken JSON / garbage frames. */
  malformedNext(n: number): void;
}

/** WorldControls are the test hooks on the simulated world. */
export interface WorldControls {
  instance: World['instance'];
  instances: World['instances'];
  setBusy(id: string, busy: boolean): void;
  setFailDeploy(id: string, fail: boolean): void;
}

/** Emulator is a running salt-api emulator. */
export interface Emulator {
  /** url is the base URL, `http://<host>:<port>`. */
  readonly url: string;
  /** close stops the server, drops every stream and clears every timer. */
  close(): Promise<void>;
  /** calls lists every answered request, oldest first. */
  readonly calls: readonly CallRecord[];
  /** events lists every event put on the bus (and not lost), oldest first. */
  readonly events: readonly BusEvent[];
  readonly world: WorldControls;
  /** fire puts an event on the bus, as `event.send` from the master would. */
  fire(tag: string, data: Record<string, unknown>): void;
  readonly faults: FaultControls;
}

const ControlFaultSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('failNext'), n: z.number().int().min(1), status: z.union([z.literal(401), z.literal(500), z.literal(503)]), match: z.strictObject({ path: z.string().optional(), fun: z.string().optional() }).optional() }),
  z.strictObject({ kind: z.literal('delayNext'), n: z.number().int().min(1), ms: z.number().min(0), match: z.strictObject({ path: z.string().optional(), fun: z.string().optional() }).optional() }),
  z.strictObject({ kind: z.literal('cutStreams'), midFrame: z.boolean().optional() }),
  z.strictObject({ kind: z.literal('restartApi') }),
  z.strictObject({ kind: z.literal('masterRestart'), ms: z.number().min(0) }),
  z.strictObject({ kind: z.literal('duplicateEvents'), on: z.boolean() }),
  z.strictObject({ kind: z.literal('reorderEvents'), on: z.boolean() }),
  z.strictObject({ kind: z.literal('failStart'), id: z.string() }),
  z.strictObject({ kind: z.literal('expireTokens') }),
  z.strictObject({ kind: z.literal('malformedNext'), n: z.number().int().min(1) }),
]);

/** ControlFault is one fault request of the control API (`POST /_emulator/fault`). */
export type ControlFault = z.infer<typeof ControlFaultSchema>;

const LoginSchema = z.looseObject({
  username: z.string(), password: z.string(), eauth: z.string(),
  token_expire: z.union([z.number(), z.string()]).optional(),
});

// the schemas of the request bodies are built once: building a zod schema (and its compiled fast path) per request
// cost the emulator more CPU than answering it, on the machine the service under test shares (docs/benchmarks.md)
const LowstatesSchema = z.union([LowstateSchema, z.array(LowstateSchema)]);
const BusySchema = z.strictObject({ id: z.string(), busy: z.boolean() });
const FailDeploySchema = z.strictObject({ id: z.string(), fail: z.boolean() });
const FireSchema = z.strictObject({ tag: z.string().min(1), data: z.record(z.string(), z.unknown()).default({}) });
const FireManySchema = z.array(FireSchema);

/** startEmulator starts a salt-api emulator on `opts.port` (default: a random free port) of `opts.host`. */
export async function startEmulator(input: EmulatorOptions = {}): Promise<Emulator> {
  const parsedOpts = EmulatorOptionsSchema.safeParse(input);
  if (!parsedOpts.success) {
    const problems = parsedOpts.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new AutoscalerError('ASC_ERR_EMULATOR_OPTIONS', `emulator options are invalid: ${problems}`, { cause: parsedOpts.error });
  }
  const opts = parsedOpts.data;
  const now = (): number => Date.now();
  const timers = new Timers();
  const bus = new EventBus(now, timers);
  const jids = new JidGenerator();
  const d = opts.delays ?? {};
  const delays = {
    startMs: d.startMs ?? DEFAULT_DELAYS.startMs, bootMs: d.bootMs ?? DEFAULT_DELAYS.bootMs, deployMs: d.deployMs ?? DEFAULT_DELAYS.deployMs,
    createMs: d.createMs ?? DEFAULT_DELAYS.createMs, stopMs: d.stopMs ?? DEFAULT_DELAYS.stopMs, saltSecondMs: d.saltSecondMs ?? DEFAULT_DELAYS.saltSecondMs,
  };
  const masterConf = readMasterConf(opts.masterConf);
  const masterId = opts.masterId ?? 'vm_master';
  const world = new World({ bus, timers, jids, now, delays, masterId, profiles: opts.profiles ?? {} }, opts.instances ?? [], opts.staticMinions ?? [], opts.busy ?? []);
  // a user without perms of their own has their master config entry, like Salt's external_auth.<eauth>.<user>
  const users: User[] = (opts.users ?? [DEFAULT_USER, PERMISSIVE_USER]).map((u) => ({
    username: u.username, password: u.password, eauth: u.eauth, perms: u.perms ?? masterConf.externalAuth[u.eauth]?.[u.username] ?? [],
  }));
  const enabledClients = opts.enabledClients ?? masterConf.enabledClients ?? DEFAULT_ENABLED_CLIENTS;
  const tokenExpireS = opts.tokenExpireS ?? 43200;
  const sessions = new Map<string, Session>();
  const saltTokens = new Map<string, SaltToken>();
  const jobs = new Map<string, Job>();
  const calls: CallRecord[] = [];
  const failRules: (Rule & { status: 401 | 500 | 503 })[] = [];
  const delayRules: (Rule & { ms: number })[] = [];
  const sseStreams = new Set<SseStream>();
  const wsStreams = new Set<WsStream>();
  const userFor = (u: string, p: string, e: string): User | undefined =>
    users.find((x) => x.username === u && x.password === p && (x.eauth === e || e === 'auto'));
  const checkCredentials = (u: string, p: string, e: string): boolean => userFor(u, p, e) !== undefined;
  const permsOf = (username: string): Acl => users.find((x) => x.username === username)?.perms ?? [];
  const master: MasterDeps = {
    world, bus, jids, now, jobs, saltTokens, checkCredentials, tokenExpireS, timers, enabledClients, saltSecondMs: delays.saltSecondMs,
    callDelays: opts.callDelays,
  };

  // ---- helpers ------------------------------------------------------------------------------------

  const nowS = (): number => now() / 1000;
  const newId = (): string => randomBytes(20).toString('hex');
  const cookie = (id: string): string => `session_id=${id}; expires=${httpDate(now() + COOKIE_MAX_AGE_S * 1000)}; Max-Age=${COOKIE_MAX_AGE_S}; Path=/`;

  function baseHeaders(res: http.ServerResponse, contentType: string, allow: string): void {
    res.setHeader('Content-Type', contentType);
    res.setHeader('Server', 'CherryPy/18.8.0');
    res.setHeader('Allow', allow);
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', 'GET, POST');
    res.setHeader('Access-Control-Allow-Credentials', 'true');
  }

  interface ReplyOpts {
    readonly allow?: string;
    readonly cacheControl?: boolean;
    readonly cookieId?: string | null;
    readonly chunked?: boolean;
    readonly extra?: Readonly<Record<string, string>>;
  }

  function reply(res: http.ServerResponse, status: number, contentType: string, body: string, o: ReplyOpts = {}): void {
    res.statusCode = status;
    res.statusMessage = STATUS_TEXT[status] ?? 'Error';
    baseHeaders(res, contentType, o.allow ?? 'GET, HEAD, POST');
    for (const [k, v] of Object.entries(o.extra ?? {})) res.setHeader(k, v);
    if (o.cacheControl === true) res.setHeader('Cache-Control', 'private');
    res.setHeader('Vary', 'Accept-Encoding');
    if (o.chunked !== true) res.setHeader('Content-Length', Buffer.byteLength(body));
    if (o.cookieId !== null) res.setHeader('Set-Cookie', cookie(o.cookieId ?? newId()));
    if (o.chunked === true) {
      res.write(body);
      res.end();
    } else {
      res.end(body);
    }
  }

  const replyJson = (res: http.ServerResponse, status: number, value: unknown, o: ReplyOpts = {}): void =>
    reply(res, status, 'application/json', pyJson(value), o);
  const replyHtml = (res: http.ServerResponse, status: number, message: string, o: ReplyOpts = {}): void =>
    reply(res, status, 'text/html;charset=utf-8', cherrypyErrorPage(status, message), o);

  function parseCookies(header: string | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const part of (header ?? '').split(';')) {
      const i = part.indexOf('=');
      if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
    }
    return out;
  }

  function presentedToken(req: http.IncomingMessage): string | undefined {
    const header = req.headers['x-auth-token'];
    if (typeof header === 'string' && header !== '') return header;
    return parseCookies(req.headers.cookie)['session_id'];
  }

  type SessionCheck = { kind: 'ok'; session: Session } | { kind: 'missing' } | { kind: 'expired' };
  function checkSession(token: string | undefined): SessionCheck {
    if (token === undefined) return { kind: 'missing' };
    const s = sessions.get(token);
    if (s === undefined) return { kind: 'missing' };
    if (s.expireS <= nowS()) return { kind: 'expired' };
    return { kind: 'ok', session: s };
  }

  function parseBody(req: http.IncomingMessage, raw: string): unknown {
    if (raw.trim() === '') return {};
    const type = req.headers['content-type'] ?? '';
    if (type.includes('application/x-www-form-urlencoded')) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of new URLSearchParams(raw)) {
        const prev = out[k];
        out[k] = prev === undefined ? v : Array.isArray(prev) ? [...(prev as unknown[]), v] : [prev, v];
      }
      return out;
    }
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return undefined;
    }
  }

  function lowstates(body: unknown): Lowstate[] | undefined {
    const parsed = LowstatesSchema.safeParse(body);
    if (!parsed.success) return undefined;
    return Array.isArray(parsed.data) ? parsed.data : [parsed.data];
  }

  function matches(match: CallMatch | undefined, path: string, funs: readonly string[]): boolean {
    if (match === undefined) return true;
    if (match.path !== undefined && match.path !== path) return false;
    if (match.fun !== undefined && !funs.includes(match.fun)) return false;
    return true;
  }

  function record(method: string, path: string, lows: readonly Lowstate[], status: number, receivedAtMs: number): void {
    const atMs = now();
    if (lows.length === 0) {
      calls.push({ atMs, receivedAtMs, method, path, status });
      return;
    }
    for (const low of lows) {
      calls.push({
        atMs, receivedAtMs, method, path, status,
        ...(low.client === undefined ? {} : { client: low.client }),
        ...(low.fun === undefined ? {} : { fun: low.fun }),
        ...(low.kwarg === undefined ? {} : { kwarg: low.kwarg }),
        ...(low.arg === undefined ? {} : { arg: low.arg }),
        ...(low.tgt === undefined ? {} : { tgt: low.tgt }),
      });
    }
  }

  // ---- routes -------------------------------------------------------------------------------------

  async function handleRoot(req: http.IncomingMessage, res: http.ServerResponse, body: unknown, wantsYaml: boolean): Promise<number> {
    if (req.method === 'GET' || req.method === 'HEAD') {
      replyJson(res, 200, { return: 'Welcome', clients: ALL_CLIENTS }, { cookieId: null });
      return 200;
    }
    const token = presentedToken(req);
    const check = checkSession(token);
    if (check.kind === 'missing') {
      replyHtml(res, 401, MSG_NO_PERMISSION);
      return 401;
    }
    if (check.kind === 'expired') {
      sessions.delete(token ?? '');
      replyHtml(res, 401, MSG_AUTH_ERROR, { cacheControl: true });
      return 401;
    }
    const lows = lowstates(body);
    if (lows === undefined) {
      replyHtml(res, 400, 'Lowstate must be a dictionary or list of dictionaries', { cacheControl: true, cookieId: check.session.token });
      return 400;
    }
    const results: unknown[] = [];
    const caller: Caller = { user: check.session.user, perms: check.session.perms, authType: 'token' };
    for (const low of lows) {
      const r = await runLowstate(master, low, caller);
      if (r.kind !== 'ok') return replyFailure(res, r, { cacheControl: true, cookieId: check.session.token });
      results.push(r.value);
    }
    if (wantsYaml) reply(res, 200, 'application/x-yaml', toYaml({ return: results }), { cacheControl: true, cookieId: check.session.token });
    else replyJson(res, 200, { return: results }, { cacheControl: true, cookieId: check.session.token });
    return 200;
  }

  /** replyFailure answers a chunk that did not run as salt-api does: 400 / 401 / 504 HTML pages, Salt's 500 JSON. */
  function replyFailure(res: http.ServerResponse, r: Exclude<LowResult, { kind: 'ok' }>, o: ReplyOpts): number {
    switch (r.kind) {
      case 'disabled':
        replyHtml(res, 400, `Client disabled: '${r.client}'. Add to 'netapi_enable_clients' master config option to enable.`, o);
        return 400;
      case 'invalid':
        replyHtml(res, 400, r.message, o);
        return 400;
      case 'refused':
        replyHtml(res, 401, r.message, o);
        return 401;
      case 'timeout':
        replyHtml(res, 504, MSG_GATEWAY_TIMEOUT, o);
        return 504;
      case 'error':
        replyJson(res, 500, { status: 500, return: 'An unexpected error occurred' }, o);
        return 500;
      default:
        return r satisfies never;
    }
  }

  function handleLogin(req: http.IncomingMessage, res: http.ServerResponse, body: unknown): number {
    if (req.method !== 'POST') {
      replyJson(res, 200, { status: null, return: 'Please log in' }, {});
      return 200;
    }
    const parsed = LoginSchema.safeParse(body);
    if (!parsed.success || !checkCredentials(parsed.data.username, parsed.data.password, parsed.data.eauth)) {
      replyHtml(res, 401, MSG_BAD_CREDENTIALS);
      return 401;
    }
    const { username, eauth } = parsed.data;
    const expireOverride = parsed.data.token_expire === undefined ? undefined : Number(parsed.data.token_expire);
    const startS = nowS();
    const lifetimeS = expireOverride !== undefined && Number.isFinite(expireOverride) && expireOverride > 0 ? expireOverride : tokenExpireS;
    const session: Session = { token: newId(), user: username, eauth, perms: sortedPerms(permsOf(username)), startS, expireS: startS + lifetimeS };
    sessions.set(session.token, session);
    replyJson(res, 200, { return: [{ token: session.token, expire: session.expireS, start: session.startS, user: username, eauth, perms: session.perms }] }, {
      cookieId: session.token, extra: { 'X-Auth-Token': session.token },
    });
    return 200;
  }

  function handleLogout(req: http.IncomingMessage, res: http.ServerResponse): number {
    const token = presentedToken(req);
    if (token !== undefined) sessions.delete(token);
    res.setHeader('Set-Cookie', `session_id=${newId()}; expires=${httpDate(now() - 365 * 86400_000)}; Path=/`);
    replyJson(res, 200, { return: 'Your token has been cleared' }, { cacheControl: true, cookieId: null });
    return 200;
  }

  function authed(req: http.IncomingMessage, res: http.ServerResponse): Session | undefined {
    const token = presentedToken(req);
    const check = checkSession(token);
    if (check.kind === 'ok') return check.session;
    replyHtml(res, 401, check.kind === 'expired' ? MSG_AUTH_ERROR : MSG_NO_PERMISSION);
    return undefined;
  }

  function handleJobs(req: http.IncomingMessage, res: http.ServerResponse, jid: string | undefined): number {
    const session = authed(req, res);
    if (session === undefined) return 401;
    // salt-api runs jobs.list_jobs / jobs.list_job as the user: `@jobs` (or a runner grant covering them) is needed
    if (specAllowed(session.perms, 'runner', jid === undefined ? 'jobs.list_jobs' : 'jobs.list_job', {}) !== 'granted') {
      replyHtml(res, 401, specRefusal({ user: session.user, perms: session.perms, authType: 'token' }), { cacheControl: true, cookieId: session.token });
      return 401;
    }
    if (jid === undefined) {
      const list: Record<string, unknown> = {};
      for (const j of [...jobs.values()].reverse()) {
        list[j.jid] = { Function: j.fun, Arguments: j.arg, Target: j.tgt, 'Target-type': j.tgtType, User: j.user, StartTime: jobStartTime(j.jid) };
      }
      replyJson(res, 200, { return: [list] }, { cacheControl: true, cookieId: session.token });
      return 200;
    }
    const j = jobs.get(jid);
    const info = j === undefined ? [] : [{
      jid: j.jid, Function: j.fun, Arguments: j.arg, Target: j.tgt, 'Target-type': j.tgtType, User: j.user, Minions: j.minions,
      StartTime: jobStartTime(j.jid), Result: j.result,
    }];
    const ret: Record<string, unknown> = {};
    for (const [id, r] of Object.entries(j?.result ?? {})) ret[id] = r.return;
    replyJson(res, 200, { info, return: [ret] }, { cacheControl: true, cookieId: session.token });
    return 200;
  }

  async function handleMinions(req: http.IncomingMessage, res: http.ServerResponse, id: string | undefined, body: unknown): Promise<number> {
    const session = authed(req, res);
    if (session === undefined) return 401;
    const caller: Caller = { user: session.user, perms: session.perms, authType: 'token' };
    if (req.method === 'POST') {
      const lows = lowstates(body) ?? [];
      const results: unknown[] = [];
      for (const low of lows) {
        const r = await runLowstate(master, { ...low, client: 'local_async' }, caller);
        if (r.kind === 'refused') return replyFailure(res, r, { cacheControl: true, cookieId: session.token });
        results.push(r.kind === 'ok' ? r.value : {});
      }
      const links = results.map((r) => ({ href: `/jobs/${String((r as { jid?: unknown }).jid ?? '')}` }));
      replyJson(res, 202, { return: results, _links: { jobs: links } }, { cacheControl: true, cookieId: session.token });
      return 202;
    }
    // GET /minions[/<id>] is local grains.items on `*` (or the id): the ACL must grant it there
    if (!localAllowed(session.perms, { fun: 'grains.items', args: [], kwargs: {}, minions: targetMinions(world, id ?? '*', 'glob') })) {
      replyHtml(res, 401, MSG_NOT_AUTHORIZED, { cacheControl: true, cookieId: session.token });
      return 401;
    }
    const ids = id === undefined ? world.upMinions() : targetMinions(world, id, 'glob').filter((m) => world.minion(m)?.up === true);
    const out: Record<string, unknown> = {};
    for (const m of ids) out[m] = structuredClone(world.minion(m)?.grains ?? {});
    replyJson(res, 200, { return: [out] }, { cacheControl: true, cookieId: session.token });
    return 200;
  }

  async function handleRun(res: http.ServerResponse, body: unknown): Promise<number> {
    const lows = lowstates(body);
    const results: unknown[] = [];
    for (const low of lows ?? []) {
      const token = typeof low['token'] === 'string' ? saltTokens.get(low['token']) : undefined;
      const viaToken = token !== undefined && token.expireS > nowS();
      const viaCreds = typeof low['username'] === 'string' && typeof low['password'] === 'string' && typeof low['eauth'] === 'string'
        && checkCredentials(low['username'], low['password'], low['eauth']);
      if (!viaToken && !viaCreds) {
        replyHtml(res, 401, MSG_AUTH_ERROR, { cookieId: null });
        return 401;
      }
      const user = viaToken ? token.name : String(low['username']);
      const r = await runLowstate(master, low, { user, perms: permsOf(user), authType: viaToken ? 'token' : 'eauth' });
      if (r.kind === 'refused' || r.kind === 'timeout' || r.kind === 'invalid') return replyFailure(res, r, { cookieId: null });
      if (r.kind !== 'ok') {
        replyJson(res, 500, { status: 500, return: 'An unexpected error occurred' }, { cookieId: null });
        return 500;
      }
      results.push(r.value);
    }
    if (lows === undefined || lows.length === 0) {
      replyHtml(res, 401, MSG_AUTH_ERROR, { cookieId: null });
      return 401;
    }
    replyJson(res, 200, { return: results }, { cookieId: null });
    return 200;
  }

  function streamTokenValid(kind: 'session' | 'salt', token: string): boolean {
    if (kind === 'salt') {
      const t = saltTokens.get(token);
      return t !== undefined && t.expireS > nowS();
    }
    const s = sessions.get(token);
    return s !== undefined && s.expireS > nowS();
  }

  function handleEvents(req: http.IncomingMessage, res: http.ServerResponse, url: URL): number {
    const q = url.searchParams;
    let kind: 'session' | 'salt' = 'session';
    let token = q.get('token') ?? undefined;
    const saltToken = q.get('salt_token');
    if (token === undefined && saltToken !== null) {
      kind = 'salt';
      token = saltToken;
    }
    token ??= presentedToken(req);
    if (token === undefined || !streamTokenValid(kind, token)) {
      replyHtml(res, 401, MSG_NO_PERMISSION, { allow: 'GET, HEAD', chunked: true });
      return 401;
    }
    const tokenId = token;
    res.statusCode = 200;
    baseHeaders(res, 'text/event-stream;charset=utf-8', 'GET, HEAD');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('Vary', 'Accept-Encoding');
    res.setHeader('Set-Cookie', cookie(kind === 'session' ? tokenId : newId()));
    res.write('retry: 400\n');
    const socket = req.socket;
    const stream: SseStream = { res, socket, unsubscribe: () => undefined };
    stream.unsubscribe = bus.subscribe((event, malformed) => {
      if (res.writableEnded || socket.destroyed) return;
      res.write(`tag: ${event.tag}\n`);
      res.write(malformed ? `data: {"data": {"_stamp": "${String(event.data['_stamp'])}", "tru\u0000ncated\n\n` : `data: ${pyJson({ data: event.data, tag: event.tag })}\n\n`);
      if (!streamTokenValid(kind, tokenId)) {
        stream.unsubscribe();
        sseStreams.delete(stream);
        res.end();
      }
    });
    sseStreams.add(stream);
    res.on('close', () => {
      stream.unsubscribe();
      sseStreams.delete(stream);
    });
    return 200;
  }

  // ---- control API --------------------------------------------------------------------------------

  function controlReply(res: http.ServerResponse, status: number, value: unknown): void {
    const body = JSON.stringify(value);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  function handleControl(req: http.IncomingMessage, res: http.ServerResponse, path: string, body: unknown): void {
    const route = `${req.method ?? 'GET'} ${path}`;
    const bad = (error: string): void => controlReply(res, 400, { error });
    switch (route) {
      case 'GET /_emulator/state':
        controlReply(res, 200, { instances: world.instances(), upMinions: world.upMinions(), calls: calls.length, events: bus.history.length, lostEvents: bus.lostCount });
        return;
      case 'GET /_emulator/calls':
        controlReply(res, 200, calls);
        return;
      case 'GET /_emulator/events':
        controlReply(res, 200, bus.history);
        return;
      case 'POST /_emulator/fault': {
        const f = ControlFaultSchema.safeParse(body);
        if (!f.success) return bad(f.error.message);
        applyFault(f.data);
        controlReply(res, 200, { ok: true });
        return;
      }
      case 'POST /_emulator/busy': {
        const b = BusySchema.safeParse(body);
        if (!b.success) return bad(b.error.message);
        world.setBusy(b.data.id, b.data.busy);
        controlReply(res, 200, { ok: true });
        return;
      }
      case 'POST /_emulator/fail-deploy': {
        const b = FailDeploySchema.safeParse(body);
        if (!b.success) return bad(b.error.message);
        world.setFailDeploy(b.data.id, b.data.fail);
        controlReply(res, 200, { ok: true });
        return;
      }
      case 'POST /_emulator/fire': {
        const b = FireSchema.safeParse(body);
        if (!b.success) return bad(b.error.message);
        bus.publish(b.data.tag, b.data.data);
        controlReply(res, 200, { ok: true });
        return;
      }
      case 'POST /_emulator/fire-many': {
        // a burst in one request (a job's returns from thousands of minions land on a real bus within a second)
        const b = FireManySchema.safeParse(body);
        if (!b.success) return bad(b.error.message);
        for (const e of b.data) bus.publish(e.tag, e.data);
        controlReply(res, 200, { ok: true, fired: b.data.length });
        return;
      }
      default:
        controlReply(res, 404, { error: `no control route ${route}` });
    }
  }

  function applyFault(f: ControlFault): void {
    switch (f.kind) {
      case 'failNext': faults.failNext(f.n, f.status, f.match); return;
      case 'delayNext': faults.delayNext(f.n, f.ms, f.match); return;
      case 'cutStreams': faults.cutStreams(f.midFrame === undefined ? {} : { midFrame: f.midFrame }); return;
      case 'restartApi': faults.restartApi(); return;
      case 'masterRestart': faults.masterRestart(f.ms); return;
      case 'duplicateEvents': faults.duplicateEvents(f.on); return;
      case 'reorderEvents': faults.reorderEvents(f.on); return;
      case 'failStart': faults.failStart(f.id); return;
      case 'expireTokens': faults.expireTokens(); return;
      case 'malformedNext': faults.malformedNext(f.n); return;
      default: f satisfies never;
    }
  }

  // ---- dispatch -----------------------------------------------------------------------------------

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const path = url.pathname;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const receivedAtMs = now();
    const body = parseBody(req, raw);
    if (path.startsWith('/_emulator/')) {
      handleControl(req, res, path, body);
      return;
    }
    const lows = path === '/' || path === '/run' || path === '/minions' ? lowstates(body) ?? [] : [];
    const funs = lows.flatMap((l) => (l.fun === undefined ? [] : [l.fun]));
    const method = req.method ?? 'GET';
    const delay = delayRules.find((r) => r.left > 0 && matches(r.match, path, funs));
    if (delay) {
      delay.left -= 1;
      await timers.sleep(delay.ms);
    }
    const fail = failRules.find((r) => r.left > 0 && matches(r.match, path, funs));
    if (fail) {
      fail.left -= 1;
      if (fail.status === 500) replyJson(res, 500, { status: 500, return: 'An unexpected error occurred' }, { cacheControl: true });
      else replyHtml(res, fail.status, fail.status === 401 ? MSG_NO_PERMISSION : 'The server is currently unavailable.', path === '/events' ? { allow: 'GET, HEAD', chunked: true } : {});
      record(method, path, lows, fail.status, receivedAtMs);
      return;
    }
    const wantsYaml = (req.headers.accept ?? '').includes('application/x-yaml');
    let status: number;
    if (path === '/') status = await handleRoot(req, res, body, wantsYaml);
    else if (path === '/login') status = handleLogin(req, res, body);
    else if (path === '/logout') status = handleLogout(req, res);
    else if (path === '/run') status = await handleRun(res, body);
    else if (path === '/events') status = handleEvents(req, res, url);
    else if (path === '/jobs' || path.startsWith('/jobs/')) status = handleJobs(req, res, path.length > 6 ? decodeURIComponent(path.slice(6)) : undefined);
    else if (path === '/minions' || path.startsWith('/minions/')) status = await handleMinions(req, res, path.length > 9 ? decodeURIComponent(path.slice(9)) : undefined, body);
    else {
      replyHtml(res, 404, `The path '${path}' was not found.`);
      status = 404;
    }
    record(method, path, lows, status, receivedAtMs);
  }

  // ---- websocket ----------------------------------------------------------------------------------

  const wss = new WebSocketServer({ noServer: true });
  wss.on('headers', (headers) => {
    headers.push(
      'Content-Type: text/plain;charset=utf-8', 'Server: CherryPy/18.8.0', `Date: ${httpDate(now())}`, 'Allow: GET, HEAD',
      'Access-Control-Allow-Origin: *', 'Access-Control-Expose-Headers: GET, POST', 'Access-Control-Allow-Credentials: true',
      'Sec-Websocket-Version: 13', 'Vary: Accept-Encoding', `Set-Cookie: ${cookie(newId())}`,
    );
  });

  function rejectUpgrade(socket: Duplex, key: string | undefined): void {
    const body = cherrypyErrorPage(401, MSG_NO_PERMISSION);
    const accept = key === undefined ? '' : `Sec-Websocket-Accept: ${wsAccept(key)}\r\n`;
    socket.end(
      'HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html;charset=utf-8\r\nServer: CherryPy/18.8.0\r\n'
      + `Date: ${httpDate(now())}\r\nAllow: GET, HEAD\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: GET, POST\r\n`
      + 'Access-Control-Allow-Credentials: true\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-Websocket-Version: 13\r\n'
      + `${accept}Vary: Accept-Encoding\r\nSet-Cookie: ${cookie(newId())}\r\nTransfer-Encoding: chunked\r\n\r\n`
      + `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
  }

  function onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const m = /^\/ws(?:\/([^/]+))?\/?$/.exec(url.pathname);
    if (m === null) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const token = m[1] ?? presentedToken(req);
    const key = req.headers['sec-websocket-key'];
    if (token === undefined || !streamTokenValid('session', token)) {
      rejectUpgrade(socket, typeof key === 'string' ? key : undefined);
      calls.push({ atMs: now(), receivedAtMs: now(), method: 'GET', path: url.pathname, status: 401 });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      calls.push({ atMs: now(), receivedAtMs: now(), method: 'GET', path: url.pathname, status: 101 });
      const stream: WsStream = { ws, socket, unsubscribe: () => undefined };
      let ready = false;
      ws.on('message', (_data, isBinary) => {
        if (isBinary) return;
        ws.send('server received message');
        if (ready) return;
        ready = true;
        stream.unsubscribe = bus.subscribe((event, malformed) => {
          if (ws.readyState !== ws.OPEN) return;
          ws.send(malformed ? 'data: {"data": {garbage\u0000' : `data: ${pyJson({ data: event.data, tag: event.tag })}\n\n`);
        });
      });
      ws.on('close', () => {
        stream.unsubscribe();
        wsStreams.delete(stream);
      });
      wsStreams.add(stream);
    });
  }

  // ---- faults -------------------------------------------------------------------------------------

  const faults: FaultControls = {
    failNext(n, status, match) {
      failRules.push({ left: n, status, match });
    },
    delayNext(n, ms, match) {
      delayRules.push({ left: n, ms, match });
    },
    cutStreams(o = {}) {
      for (const s of [...sseStreams]) {
        s.unsubscribe();
        sseStreams.delete(s);
        if (o.midFrame === true) s.socket.write('40\r\ndata: {"data": {"fun": "runner.cloud.');
        s.socket.destroy();
      }
      for (const s of [...wsStreams]) {
        s.unsubscribe();
        wsStreams.delete(s);
        if (o.midFrame === true) s.socket.write(Buffer.concat([Buffer.from([0x81, 100]), Buffer.from('data: {"data": {"fun"')]));
        s.socket.destroy();
      }
    },
    restartApi() {
      sessions.clear();
      for (const s of [...sseStreams]) {
        s.unsubscribe();
        sseStreams.delete(s);
        s.socket.destroy();
      }
      for (const s of [...wsStreams]) {
        s.unsubscribe();
        wsStreams.delete(s);
        s.ws.close(1001, 'Server is shutting down');
      }
    },
    masterRestart(ms) {
      bus.masterDown(ms);
    },
    duplicateEvents(on) {
      bus.setDuplicate(on);
    },
    reorderEvents(on) {
      bus.setReorder(on);
    },
    failStart(id) {
      world.failStart(id);
    },
    expireTokens() {
      const t = nowS();
      for (const s of sessions.values()) s.expireS = Math.min(s.expireS, t);
      for (const [k, v] of saltTokens) saltTokens.set(k, { ...v, expireS: Math.min(v.expireS, t) });
    },
    malformedNext(n) {
      bus.malformNext(n);
    },
  };

  // ---- server -------------------------------------------------------------------------------------

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) replyJson(res, 500, { status: 500, return: 'An unexpected error occurred' });
      else res.destroy(err instanceof Error ? err : undefined);
    });
  });
  server.on('upgrade', onUpgrade);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const host = opts.host ?? '127.0.0.1';
  let closed: Promise<void> | undefined;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    calls,
    get events() {
      return bus.history;
    },
    world: {
      instance: (id) => world.instance(id),
      instances: () => world.instances(),
      setBusy: (id, busy) => world.setBusy(id, busy),
      setFailDeploy: (id, fail) => world.setFailDeploy(id, fail),
    },
    fire(tag, data) {
      bus.publish(tag, data);
    },
    faults,
    close() {
      closed ??= new Promise<void>((resolve) => {
        timers.clearAll();
        for (const s of sseStreams) s.socket.destroy();
        for (const s of wsStreams) s.socket.destroy();
        sseStreams.clear();
        wsStreams.clear();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function wsAccept(key: string): string {
  // RFC 6455 accept value, computed like CherryPy/ws4py does even on its 401 answer
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

