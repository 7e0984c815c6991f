/**
 * api-routes: `GET /api/pools|instances|instances/<id>|decisions|series` and `POST /api/pools/<pool>/pause|resume|scale`.
 *
 * Reads are open (the status page polls them). Writes need the bearer `apiToken`; with no token configured
 * they answer 403, never act. The pool name is URL-encoded in the path (`prod%2Ftype1`); the unencoded form
 * (`/api/pools/prod/type1/pause`) is accepted too, the last segment being the action.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { EngineApi, LeaderView } from '../engine/ports.ts';
import { decisionFields, decisionJson, instanceDetailJson, instanceJson, newestFirst, poolJson, seriesJson } from './api-shapes.ts';
import { checkBearer } from './bearer-auth.ts';
import { HttpError } from './http-error.ts';

/** DEFAULT_DECISIONS_LIMIT is how many decisions `GET /api/decisions` returns without `limit`. */
export const DEFAULT_DECISIONS_LIMIT = 50;
/** MAX_DECISIONS_LIMIT caps `limit`. */
export const MAX_DECISIONS_LIMIT = 1000;
/** DEFAULT_HISTORY_LIMIT / MAX_HISTORY_LIMIT: transitions `GET /api/instances/<id>` returns without / at most with `limit`. */
export const DEFAULT_HISTORY_LIMIT = 100;
export const MAX_HISTORY_LIMIT = 1000;
/** MAX_SCALE_DELTA caps `|delta|` of a manual scale. */
export const MAX_SCALE_DELTA = 1000;

/** ApiRoutesOptions is what the API routes need. */
export interface ApiRoutesOptions {
  readonly engine: EngineApi;
  readonly apiToken?: string | undefined;
  /** leader: who leads (the leadership's view); without it this process is the only one and leads. */
  readonly leader?: (() => LeaderView) | undefined;
}

const intString = z.string().regex(/^\d+$/, 'a whole number');

const decisionsQuery = z.object({
  pool: z.string().min(1).optional(),
  limit: intString.transform(Number).pipe(z.number().int().min(1).max(MAX_DECISIONS_LIMIT)).optional(),
}).strict();

const seriesQuery = z.object({ pool: z.string().min(1) }).strict();
const historyQuery = z.object({
  limit: intString.transform(Number).pipe(z.number().int().min(1).max(MAX_HISTORY_LIMIT)).optional(),
}).strict();
const instanceParams = z.object({ id: z.string().min(1) });
const wildcardParams = z.object({ '*': z.string() });

const scaleBody = z.object({
  delta: z.number().int().min(-MAX_SCALE_DELTA).max(MAX_SCALE_DELTA).refine((delta) => delta !== 0, 'must not be 0'),
}).strict();

const poolAction = z.enum(['pause', 'resume', 'scale']);

/** parseOr400 validates `value` with `schema`, turning a zod failure into a 400 that names each bad field. */
export function parseOr400<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : what}: ${issue.message}`);
  throw new HttpError('ASC_ERR_HTTP_INVALID', 400, `invalid ${what}: ${problems.join('; ')}`, { cause: result.error });
}

function requirePool(engine: EngineApi, pool: string): void {
  if (!engine.pools().some((view) => view.name === pool)) {
    throw new HttpError('ASC_ERR_HTTP_NOT_FOUND', 404, `unknown pool ${JSON.stringify(pool)}`);
  }
}

/** requireApiToken refuses a write without the configured bearer token (403 when none is configured). */
function requireApiToken(request: FastifyRequest, apiToken: string | undefined): void {
  const check = checkBearer(request.headers.authorization, apiToken);
  switch (check) {
    case 'ok':
      return;
    case 'unconfigured':
      throw new HttpError('ASC_ERR_HTTP_AUTH', 403, 'apiToken not configured: set http.apiToken or SALT_AUTOSCALER_API_TOKEN to enable POST /api/*');
    case 'missing':
      throw new HttpError('ASC_ERR_HTTP_AUTH', 401, 'expected "Authorization: Bearer <apiToken>", got none', { headers: { 'www-authenticate': 'Bearer' } });
    case 'wrong':
      throw new HttpError('ASC_ERR_HTTP_AUTH', 401, 'the bearer token does not match http.apiToken', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
    default:
      return check satisfies never;
  }
}

/** splitPoolPath splits the tail after `/api/pools/` into the (decoded) pool name and its action. */
export function splitPoolPath(tail: string): { pool: string; action: z.infer<typeof poolAction> } {
  const cut = tail.lastIndexOf('/');
  const action = poolAction.safeParse(cut < 0 ? '' : tail.slice(cut + 1));
  const pool = cut < 0 ? '' : tail.slice(0, cut);
  if (!action.success || pool === '') {
    throw new HttpError('ASC_ERR_HTTP_NOT_FOUND', 404, `expected /api/pools/<pool>/pause|resume|scale, got /api/pools/${tail}`);
  }
  return { pool, action: action.data };
}

/** registerApiRoutes mounts the `/api/*` routes on `app`. */
export function registerApiRoutes(app: FastifyInstance, opts: ApiRoutesOptions): void {
  const { engine } = opts;

  app.get('/api/pools', async () => engine.pools().map(poolJson));

  app.get('/api/leader', async () => {
    const view = opts.leader?.();
    if (view === undefined) return { leader: null, self: null, isLeader: true, since: null, leaseRemainingMs: null };
    return {
      leader: view.leader ?? null,
      self: view.self,
      isLeader: view.isLeader,
      since: view.sinceMs === undefined ? null : new Date(view.sinceMs).toISOString(),
      leaseRemainingMs: view.leaseRemainingMs ?? null,
    };
  });

  app.get('/api/instances', async () => engine.instances().map(instanceJson));

  app.get('/api/instances/:id', async (request) => {
    const { id } = parseOr400(instanceParams, request.params, 'path');
    const query = parseOr400(historyQuery, request.query, 'query');
    const found = engine.instances().find((i) => i.id === id);
    if (found === undefined) throw new HttpError('ASC_ERR_HTTP_NOT_FOUND', 404, `unknown instance ${JSON.stringify(id)}`);
    return instanceDetailJson(found, engine.history(id, query.limit ?? DEFAULT_HISTORY_LIMIT));
  });

  app.get('/api/decisions', async (request) => {
    const query = parseOr400(decisionsQuery, request.query, 'query');
    if (query.pool !== undefined) requirePool(engine, query.pool);
    const limit = query.limit ?? DEFAULT_DECISIONS_LIMIT;
    return newestFirst(engine.decisions(query.pool, limit)).slice(0, limit).map(decisionJson);
  });

  app.get('/api/series', async (request) => {
    const query = parseOr400(seriesQuery, request.query, 'query');
    requirePool(engine, query.pool);
    return seriesJson(engine.series(query.pool));
  });

  app.post('/api/pools/*', {
    // Auth runs before the body is parsed: an unauthenticated caller learns nothing about validation.
    onRequest: async (request) => requireApiToken(request, opts.apiToken),
  }, async (request) => {
    const tail = wildcardParams.parse(request.params)['*'];
    const { pool, action } = splitPoolPath(tail);
    requirePool(engine, pool);
    switch (action) {
      case 'pause':
        if (!engine.pause(pool)) throw new HttpError('ASC_ERR_HTTP_NOT_FOUND', 404, `unknown pool ${JSON.stringify(pool)}`);
        return { pool, paused: true };
      case 'resume':
        if (!engine.resume(pool)) throw new HttpError('ASC_ERR_HTTP_NOT_FOUND', 404, `unknown pool ${JSON.stringify(pool)}`);
        return { pool, paused: false };
      case 'scale': {
        const body = parseOr400(scaleBody, request.body, 'body');
        const decision = await engine.scale(pool, body.delta);
        return { pool, delta: body.delta, decision: decision === undefined ? null : decisionFields(decision) };
      }
      default:
        return action satisfies never;
    }
  });
}
