/**
 * webhook: the Alertmanager webhook receiver, a fastify plugin registering `POST /alertmanager/webhook`.
 *
 *   request --onRequest: auth (bearer webhookToken and/or basic auth)--> 401 + WWW-Authenticate
 *           --content type is application/json?--------------------------> 415
 *           --body within http.bodyLimit?-------------------------------> 413
 *           --at most MAX_JSON_CONTAINERS objects + arrays (a scan)?-----> 400 {status:'error', reason}
 *           --JSON parses? version "4"? schema?-------------------------> 400 {status:'error', reason}
 *             (at most MAX_ALERTS_PER_NOTIFICATION alerts; stops at the first invalid one)
 *           --AlertBook.apply, onSignal per touched pool
 *           --(next loop turn: the engine's evaluations of those pools send their calls)--> 200 {status:'ok', accepted, ignored}
 *
 * It answers fast and never with a 5xx: Alertmanager retries 5xx, and a payload we cannot read will not get
 * better by being sent again. The salt-api calls a notification leads to go out before its answer: the answer's
 * serialization, write and log line wait one loop turn, the one in which the engine evaluates the pools signalled.
 */
import { secretMatcher, secretsEqual } from '../secret.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AlertSignal } from '../core/types.ts';
import { AlertBook, groupKeyDigest, type AlertContract, type AlertPool } from './alert-book.ts';
import { jsonContainersOver, MAX_ALERTS_PER_NOTIFICATION, MAX_JSON_CONTAINERS, ParsedTimes, parseWebhookPayload } from './webhook-schema.ts';

/** WEBHOOK_PATH is the contract path of the receiver. */
export const WEBHOOK_PATH = '/alertmanager/webhook';

/** WebhookAuth is who may post: a bearer token and/or basic auth (neither = anyone; secrets, never logged). */
export interface WebhookAuth {
  readonly webhookToken?: string | undefined;
  readonly webhookBasicAuth?: { readonly username: string; readonly password: string } | undefined;
}

/** WebhookConfig is the part of the service config the receiver reads; main.ts maps it from `http`, `alerts`, `pools`. */
export interface WebhookConfig {
  /** http: the credentials, and bodyLimitBytes, the largest notification accepted. */
  readonly http: WebhookAuth & { readonly bodyLimitBytes: number };
  readonly alerts: AlertContract;
  readonly pools: readonly AlertPool[];
}

/** WebhookOptions configures alertmanagerWebhook. */
export interface WebhookOptions {
  readonly config: WebhookConfig;
  /** onSignal receives the pool's current signal after each notification that touched the pool. */
  readonly onSignal: (signal: AlertSignal) => void;
  readonly now: () => number;
  readonly logger: Logger;
  /** metrics: optional counter of answers by HTTP status (salt_autoscaler_webhook_requests_total). */
  readonly metrics?: { readonly webhookRequests: { inc(labels: { status: string }): void } };
  /** book: the AlertBook to use (a fresh one from the config by default). */
  readonly book?: AlertBook;
}

/** safeEqual compares two secrets in constant time (src/secret.ts). */
export const safeEqual = secretsEqual;

/** Credentials are the configured secrets as matchers (their digests computed once, not per request). */
interface Credentials {
  readonly token?: (given: string) => boolean;
  readonly basic?: { readonly username: (given: string) => boolean; readonly password: (given: string) => boolean };
}

function credentials(http: WebhookAuth): Credentials {
  const { webhookToken, webhookBasicAuth } = http;
  return {
    ...(webhookToken === undefined ? {} : { token: secretMatcher(webhookToken) }),
    ...(webhookBasicAuth === undefined ? {} : { basic: { username: secretMatcher(webhookBasicAuth.username), password: secretMatcher(webhookBasicAuth.password) } }),
  };
}

function authorized(header: string | undefined, creds: Credentials): boolean {
  const { token, basic } = creds;
  if (token === undefined && basic === undefined) return true;
  if (header === undefined) return false;
  const space = header.indexOf(' ');
  if (space < 0) return false;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer' && token !== undefined) return token(value);
  if (scheme === 'basic' && basic !== undefined) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const userOk = basic.username(decoded.slice(0, colon));
    const passOk = basic.password(decoded.slice(colon + 1));
    return userOk && passOk;
  }
  return false;
}

interface HttpishError {
  readonly statusCode?: number;
  readonly code?: string;
  readonly message: string;
}

/** FASTIFY_REJECTIONS: the answer to each fastify body-parsing error code (any other code is not one of these). */
const FASTIFY_REJECTIONS: ReadonlyMap<string | undefined, { readonly status: number; readonly reason: string }> = new Map([
  ['FST_ERR_CTP_BODY_TOO_LARGE', { status: 413, reason: 'body too large' }],
  ['FST_ERR_CTP_INVALID_MEDIA_TYPE', { status: 415, reason: 'content type must be application/json' }],
  ['FST_ERR_CTP_EMPTY_JSON_BODY', { status: 400, reason: 'empty body' }],
  ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', { status: 400, reason: 'content-length does not match the body' }],
]);

function reasonFor(err: HttpishError): { status: number; reason: string } {
  const known = FASTIFY_REJECTIONS.get(err.code);
  if (known !== undefined) return { ...known };
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, reason: err.message.slice(0, 200) };
  }
  return { status: 400, reason: 'request could not be handled' };
}

/**
 * alertmanagerWebhook is the fastify plugin (`app.register(alertmanagerWebhook, opts)`) receiving Alertmanager
 * notifications and passing each touched pool's AlertSignal to `onSignal`. Register it encapsulated (never through
 * fastify-plugin): its JSON parser, auth hook and error handler apply to its own route only.
 */
export async function alertmanagerWebhook(app: FastifyInstance, opts: WebhookOptions): Promise<void> {
  const { config, onSignal, now, metrics } = opts;
  const log = opts.logger.child({ component: 'alertmanager-webhook' });
  const book = opts.book ?? new AlertBook(config.alerts, config.pools);
  // the alerts' times: parsed by the check, read again by the book (this receiver's own, bounded, never shared)
  const times = new ParsedTimes();
  const creds = credentials(config.http);

  const answer = (reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply => {
    metrics?.webhookRequests.inc({ status: String(status) });
    return reply.code(status).type('application/json').send(body);
  };

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: config.http.bodyLimitBytes }, (_req, body, done) => {
    if (jsonContainersOver(body as string, MAX_JSON_CONTAINERS)) {
      const reason = `body holds more than ${MAX_JSON_CONTAINERS} JSON objects and arrays: a notification carries at most ${MAX_ALERTS_PER_NOTIFICATION} alerts`;
      done(Object.assign(new Error(reason), { statusCode: 400 }), undefined);
      return;
    }
    try {
      done(null, JSON.parse(body as string) as unknown);
    } catch {
      done(Object.assign(new Error('body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });

  app.setErrorHandler((err: HttpishError, _req: FastifyRequest, reply: FastifyReply) => {
    const { status, reason } = reasonFor(err);
    log.warn({ status, reason, code: err.code }, 'webhook rejected');
    return answer(reply, status, { status: 'error', reason });
  });

  // a callback hook, not an async one: an accepted request goes on without a promise and its microtask (the path
  // to the salt-api call); a refused one is answered here and goes no further (done is not called)
  app.addHook('onRequest', (req, reply, done) => {
    if (req.routeOptions.url !== WEBHOOK_PATH || authorized(req.headers.authorization, creds)) {
      done();
      return;
    }
    const schemes = [
      ...(config.http.webhookToken === undefined ? [] : ['Bearer realm="salt-autoscaler"']),
      ...(config.http.webhookBasicAuth === undefined ? [] : ['Basic realm="salt-autoscaler"']),
    ];
    reply.header('www-authenticate', schemes.join(', '));
    log.warn({ status: 401 }, 'webhook rejected');
    answer(reply, 401, { status: 'error', reason: req.headers.authorization === undefined ? 'missing credentials' : 'bad credentials' });
  });

  app.post(WEBHOOK_PATH, { bodyLimit: config.http.bodyLimitBytes }, async (req, reply) => {
    if (req.body === undefined || req.body === null) return answer(reply, 400, { status: 'error', reason: 'empty body' });
    const version = (req.body as { version?: unknown }).version;
    if (typeof req.body === 'object' && version !== undefined && version !== '4') {
      return answer(reply, 400, { status: 'error', reason: `unsupported webhook version ${JSON.stringify(version).slice(0, 40)}, expected "4"` });
    }
    const parsed = parseWebhookPayload(req.body, times);
    if (!parsed.success) {
      log.warn({ status: 400, reason: parsed.reason }, 'webhook rejected');
      return answer(reply, 400, { status: 'error', reason: `invalid payload: ${parsed.reason}` });
    }
    const nowMs = now();
    const result = book.apply(parsed.data, nowMs, times);
    for (const pool of result.pools) {
      const signal = book.signal(pool, nowMs);
      try {
        onSignal(signal);
      } catch (err) {
        log.error({ err, pool }, 'onSignal failed');
      }
    }
    // the calls first: the engine evaluates the signalled pools in the next loop turn (evaluateSoon), and their calls
    // go out in it; the answer and its log line, which Alertmanager and the operator can wait a turn for, come after
    if (result.pools.length > 0) await new Promise((resolve) => { setImmediate(resolve); });
    // a bounded digest (a groupKey can be as long as the body): its start and the hash the alert book keys it by
    log.info({ groupKey: groupKeyDigest(parsed.data.groupKey), group: result.group, accepted: result.accepted, ignored: result.ignored.length, pools: result.pools }, 'webhook notification');
    return answer(reply, 200, { status: 'ok', accepted: result.accepted, ignored: result.ignored });
  });
}
