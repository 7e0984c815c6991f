/**
 * app: the fastify application — health, readiness, `/metrics`, the JSON API, the status page, and a mount
 * point for the Alertmanager webhook plugin (`registerWebhook`, supplied by main.ts).
 *
 * ```
 * request --> onRequest (POST /api/*: bearer apiToken) --> route --> reply
 *                 |                                          |
 *                 +------ HttpError / zod / fastify 4xx -----+--> error handler --> {error, code} JSON
 * onResponse: one log line {method, url, status, durationMs} (debug for polled GETs and accepted webhooks); headers
 *             and query values are never logged
 * ```
 * Every error answers JSON `{error, code?}`: a bad request is 4xx with its reason, never a 500.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import type { Instance, PoolView } from '../core/types.ts';
import type { EngineApi, LeaderView } from '../engine/ports.ts';
import { AutoscalerError, NotReconciledError } from '../errors.ts';
import { redactUrl, type Logger } from '../log.ts';
import { registerApiRoutes } from './api-routes.ts';
import { HttpError } from './http-error.ts';
import { registerStatusPage } from './status-page.ts';

/** DEFAULT_BODY_LIMIT is the request body limit in bytes when the config gives none (1 MiB). */
export const DEFAULT_BODY_LIMIT = 1_048_576;

/** HttpConfig is the `http` part of the config the app needs (tokens are secrets: never logged). */
export interface HttpConfig {
  /** webhookToken: passed on to the webhook plugin by main.ts; listed here so the whole `http` block fits. */
  readonly webhookToken?: string | undefined;
  /** apiToken: bearer token required by `POST /api/*`; unset = those routes answer 403. */
  readonly apiToken?: string | undefined;
  /** bodyLimit: the largest request body accepted, in bytes. */
  readonly bodyLimit: number;
}

/** ScrapeSnapshot is what one `GET /metrics` reads of the engine: pools, instances, the last workload per pool. */
export interface ScrapeSnapshot {
  readonly pools: readonly PoolView[];
  readonly instances: readonly Instance[];
  /** workloads: the last known workload per pool (undefined = unknown). */
  readonly workloads: ReadonlyMap<string, number | undefined>;
}

/**
 * MetricsExposition is the page `GET /metrics` serves. The app declares it and main.ts passes the Prometheus
 * registry's (`exposition()` in src/prometheus/metrics.ts), so http/ does not import the prometheus adapter.
 */
export interface MetricsExposition {
  /** contentType: the exposition format's content type. */
  readonly contentType: string;
  /** render refreshes what depends on the engine's views (the per-pool gauges) from `snapshot`, then returns the text. */
  render(snapshot: ScrapeSnapshot): Promise<string>;
}

/** AppOptions is everything buildApp needs. */
export interface AppOptions {
  readonly engine: EngineApi;
  readonly metrics: MetricsExposition;
  readonly config: HttpConfig;
  readonly logger: Logger;
  /** registerWebhook mounts the Alertmanager webhook route(s) in their own encapsulated context. */
  readonly registerWebhook?: (app: FastifyInstance) => void | Promise<void>;
  /** now: the clock for instance ages on the status page (default Date.now). */
  readonly now?: () => number;
  /** notice: a line the status page shows above everything (the demo says its settings are scaled down). */
  readonly notice?: string;
  /** leader: who leads, for `GET /api/leader` (the leadership's view). */
  readonly leader?: () => LeaderView;
}

/** QUIET_GET_PATHS are polled (scrapes, probes, the status page): their 2xx lines log at debug, not info. */
const QUIET_GET_PATHS = /^\/(metrics|healthz|readyz|api\/(pools|instances|decisions|series)|static\/.*)?(\?.*)?$/;

/**
 * QUIET_POST_PATHS log their own line of record at info (the webhook's `webhook notification`): their 2xx request
 * lines log at debug, so a notification costs one info line, not two, on the path to its salt-api call.
 */
const QUIET_POST_PATHS = /^\/alertmanager\/webhook\/?(\?.*)?$/;

/** errorStatus picks the HTTP status for an error thrown by a route, a hook or fastify itself. */
function errorStatus(err: unknown): number {
  if (err instanceof HttpError) return err.statusCode;
  if (err instanceof ZodError) return 400;
  if (err instanceof NotReconciledError) return 503;
  if (err instanceof AutoscalerError) return err.code === 'ASC_ERR_ACTION_FAILED' || err.code.startsWith('ASC_ERR_SALT_') ? 502 : 500;
  const statusCode = (err as Partial<FastifyError> | null)?.statusCode;
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 600 ? statusCode : 500;
}

/** buildApp creates the fastify app with every route mounted; the caller listens (or injects) and closes it. */
export function buildApp(opts: AppOptions): FastifyInstance {
  const now = opts.now ?? Date.now;
  const httpLog = opts.logger.child({ component: 'http' });
  // the same logger widened to fastify's type: given pino's own Logger type, the app would be a FastifyInstance generic
  // in it, which no route's type accepts; httpLog keeps pino's isLevelEnabled for the onResponse hook
  const logger: FastifyBaseLogger = httpLog;
  const app: FastifyInstance = Fastify({
    loggerInstance: logger,
    // Our own onResponse line replaces fastify's request logging (which would log more than we want).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.config.bodyLimit,
    // The pool name travels URL-encoded in the path (prod%2Ftype1); long paths are not needed.
    routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true },
  });

  // A close waits for every connection to end. Node ends the idle ones once, when the close begins; a request still in
  // flight then leaves its connection open for as long as the client keeps it alive (undici: the server's 72 s hint),
  // and a service that must exit now (its state store lost) would not. From the close on, a connection ends as soon as
  // its response is done.
  app.addHook('preClose', (done) => {
    app.server.keepAliveTimeout = 1;
    done();
  });

  // a callback hook, not an async one (no promise per request), and a quiet line is built only when its level logs:
  // at 1,000 notifications a second neither the line nor its redacted URL is made to be dropped
  app.addHook('onResponse', (request, reply, done) => {
    const quiet = reply.statusCode < 400 && (request.method === 'GET' ? QUIET_GET_PATHS : request.method === 'POST' ? QUIET_POST_PATHS : undefined)?.test(request.url) === true;
    const level = quiet ? 'debug' : 'info';
    // (request.log is httpLog's child for the request: the same level)
    if (httpLog.isLevelEnabled(level)) {
      request.log[level]({ method: request.method, url: redactUrl(request.url), status: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
    }
    done();
  });

  app.setErrorHandler(async (err: unknown, request, reply) => {
    const status = errorStatus(err);
    const message = err instanceof Error ? err.message : String(err);
    if (status >= 500 && !(err instanceof NotReconciledError)) request.log.error({ err, method: request.method, url: redactUrl(request.url) }, 'request failed');
    // reply.headers() returns the reply itself (a thenable), not work to wait for
    if (err instanceof HttpError) void reply.headers(err.headers);
    if (err instanceof NotReconciledError) void reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
    const code = err instanceof AutoscalerError
      ? err.code
      : err instanceof ZodError || status < 500 ? 'ASC_ERR_HTTP_INVALID' : undefined;
    const error = status >= 500 && !(err instanceof AutoscalerError) ? 'internal error (see the service log)' : message;
    return reply.code(status).type('application/json; charset=utf-8').send(code === undefined ? { error } : { error, code });
  });

  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.replace(/\?.*$/, '')}`, code: 'ASC_ERR_HTTP_NOT_FOUND' }));

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const health = opts.engine.health();
    const failed = [...(health.stream ? [] : ['stream']), ...(health.store ? [] : ['store'])];
    if (failed.length === 0) return { status: 'ready', stream: true, store: true };
    const reason = health.storeProblem === undefined ? {} : { reason: health.storeProblem };
    return reply.code(503).send({ status: 'unready', stream: health.stream, store: health.store, failed, ...reason });
  });

  app.get('/metrics', async (_request, reply) => {
    const pools = opts.engine.pools();
    const workloads = new Map(pools.map((pool) => [pool.name, opts.engine.series(pool.name, 1).at(-1)?.workload]));
    const text = await opts.metrics.render({ pools, instances: opts.engine.instances(), workloads });
    return reply.type(opts.metrics.contentType).send(text);
  });

  registerApiRoutes(app, { engine: opts.engine, apiToken: opts.config.apiToken, leader: opts.leader });
  registerStatusPage(app, { engine: opts.engine, now, leader: opts.leader, ...(opts.notice === undefined ? {} : { notice: opts.notice }) });

  const registerWebhook = opts.registerWebhook;
  if (registerWebhook !== undefined) {
    // avvio queues the plugin: it loads at ready() / listen() / inject(), and a failure to load rejects those
    void app.register(async (child) => {
      await registerWebhook(child);
    });
  }
  return app;
}
