import t from 'tap';
import { AutoscalerError, NotReconciledError } from '../../src/errors.ts';
import { buildTestApp } from './build.ts';
import { poolView } from './fake-engine.ts';

const TOKEN = 'api-secret-token-123';
const auth = { authorization: `Bearer ${TOKEN}` };

function withPool(apiToken?: string) {
  const built = buildTestApp({ config: { bodyLimit: 65_536, apiToken } });
  built.engine.poolViews = [poolView('prod/type1')];
  return built;
}

t.test('POST /api/pools/* answers 403 "apiToken not configured" and acts on nothing when no apiToken is set', async (t) => {
  const { app, engine } = withPool(undefined);
  t.teardown(() => app.close());
  for (const action of ['pause', 'resume', 'scale']) {
    const res = await app.inject({ method: 'POST', url: `/api/pools/prod%2Ftype1/${action}`, headers: auth, payload: { delta: 1 } });
    t.equal(res.statusCode, 403, action);
    t.match(res.json(), { error: /^apiToken not configured/, code: 'ASC_ERR_HTTP_AUTH' }, action);
  }
  t.same(engine.calls, [], 'the engine was not asked anything');
  t.equal(engine.poolViews[0]?.paused, false);
});

t.test('POST /api/pools/* answers 401 to a missing or wrong bearer token, before reading the body', async (t) => {
  const { app, engine } = withPool(TOKEN);
  t.teardown(() => app.close());
  const cases: { name: string; headers: Record<string, string> }[] = [
    { name: 'no header', headers: {} },
    { name: 'not bearer', headers: { authorization: `Basic ${TOKEN}` } },
    { name: 'wrong token', headers: { authorization: 'Bearer nope' } },
    { name: 'token prefix', headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` } },
    { name: 'token plus suffix', headers: { authorization: `Bearer ${TOKEN}x` } },
  ];
  for (const c of cases) {
    const res = await app.inject({ method: 'POST', url: '/api/pools/prod%2Ftype1/pause', headers: c.headers });
    t.equal(res.statusCode, 401, c.name);
    t.equal(res.json().code, 'ASC_ERR_HTTP_AUTH', c.name);
    t.match(res.headers['www-authenticate'], /^Bearer/, c.name);
  }
  const badJson = await app.inject({
    method: 'POST', url: '/api/pools/prod%2Ftype1/scale', headers: { 'content-type': 'application/json' }, payload: '{not json',
  });
  t.equal(badJson.statusCode, 401, 'an unauthenticated caller gets 401 even with a broken body');
  t.same(engine.calls, []);
});

t.test('pause and resume with the right token flip the pool and answer its state', async (t) => {
  const { app, engine } = withPool(TOKEN);
  t.teardown(() => app.close());
  const paused = await app.inject({ method: 'POST', url: '/api/pools/prod%2Ftype1/pause', headers: { authorization: `bearer  ${TOKEN}` } });
  t.equal(paused.statusCode, 200);
  t.same(paused.json(), { pool: 'prod/type1', paused: true });
  t.equal(engine.poolViews[0]?.paused, true);
  t.equal((await app.inject({ method: 'GET', url: '/api/pools' })).json()[0].paused, true);

  const resumed = await app.inject({ method: 'POST', url: '/api/pools/prod%2Ftype1/resume', headers: auth });
  t.same(resumed.json(), { pool: 'prod/type1', paused: false });
  t.same(engine.calls, ['pause prod/type1', 'resume prod/type1']);
});

t.test('the pool name is also accepted unencoded, the last segment being the action', async (t) => {
  const { app, engine } = withPool(TOKEN);
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'POST', url: '/api/pools/prod/type1/pause', headers: auth });
  t.equal(res.statusCode, 200);
  t.same(engine.calls, ['pause prod/type1']);
});

t.test('scale passes a validated delta to the engine and answers its decision', async (t) => {
  const { app, engine } = withPool(TOKEN);
  t.teardown(() => app.close());
  engine.onScale = async (_pool, delta) => ({ kind: 'scaleUp', count: delta, targets: [{ kind: 'start', id: 'gpu-prod-1' }, { kind: 'create' }], reason: 'manual scale +2' });
  const res = await app.inject({ method: 'POST', url: '/api/pools/prod%2Ftype1/scale', headers: auth, payload: { delta: 2 } });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { pool: 'prod/type1', delta: 2, decision: { action: 'scaleUp', count: 2, targets: ['gpu-prod-1', '(create)'], reason: 'manual scale +2' } });
  t.same(engine.calls, ['scale prod/type1 2']);

  engine.onScale = async () => undefined;
  const none = await app.inject({ method: 'POST', url: '/api/pools/prod%2Ftype1/scale', headers: auth, payload: { delta: -1 } });
  t.same(none.json(), { pool: 'prod/type1', delta: -1, decision: null });
});

t.test('scale answers 400, never 500, to a body that is not {delta: non-zero int}', async (t) => {
  const { app, engine } = withPool(TOKEN);
  t.teardown(() => app.close());
  const bodies: { name: string; payload: string; type?: string }[] = [
    { name: 'no body', payload: '' , type: 'text/plain' },
    { name: 'empty json body', payload: '' },
    { name: 'broken json', payload: '{"delta":' },
    { name: 'float', payload: '{"delta":1.5}' },
    { name: 'string', payload: '{"delta":"2"}' },
    { name: 'zero', payload: '{"delta":0}' },
    { name: 'huge', payload: '{"delta":1000000}' },
    { name: 'extra key', payload: '{"delta":1,"force":true}' },
    { name: 'array', payload: '[1]' },
  ];
  for (const body of bodies) {
    const res = await app.inject({
      method: 'POST', url: '/api/pools/prod%2Ftype1/scale', headers: { ...auth, 'content-type': body.type ?? 'application/json' }, payload: body.payload,
    });
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `${body.name}: ${res.statusCode}`);
    t.type(res.json().error, 'string', body.name);
  }
  const float = await app.inject({ method: 'POST', url: '/api/pools/prod%2Ftype1/scale', headers: auth, payload: { delta: 1.5 } });
  t.equal(float.statusCode, 400);
  t.match(float.json(), { error: /^invalid body: delta:/, code: 'ASC_ERR_HTTP_INVALID' });
  t.same(engine.calls, [], 'the engine was never asked to scale');
});

t.test('a pool action on an unknown pool answers 404, an unknown action 404', async (t) => {
  const { app, engine } = withPool(TOKEN);
  t.teardown(() => app.close());
  for (const url of ['/api/pools/prod%2Fnope/pause', '/api/pools/nope/resume', '/api/pools/prod%2Ftype1/explode', '/api/pools/pause']) {
    const res = await app.inject({ method: 'POST', url, headers: auth, payload: { delta: 1 } });
    t.equal(res.statusCode, 404, url);
    t.equal(res.json().code, 'ASC_ERR_HTTP_NOT_FOUND', url);
  }
  t.same(engine.calls, []);
});

t.test('a failed scaling action answers 502 with its code', async (t) => {
  const { app, engine } = withPool(TOKEN);
  t.teardown(() => app.close());
  engine.onScale = async () => { throw new AutoscalerError('ASC_ERR_ACTION_FAILED', 'cloud.action start failed for gpu-prod-1'); };
  const res = await app.inject({ method: 'POST', url: '/api/pools/prod%2Ftype1/scale', headers: auth, payload: { delta: 1 } });
  t.equal(res.statusCode, 502);
  t.same(res.json(), { error: 'cloud.action start failed for gpu-prod-1', code: 'ASC_ERR_ACTION_FAILED' });
});

t.test('a manual scale asked before Salt\'s state is established answers 503 with Retry-After and the reason', async (t) => {
  const { app, engine, logLines } = withPool(TOKEN);
  t.teardown(() => app.close());
  engine.onScale = async () => { throw new NotReconciledError('manual scale of prod/type1 not decided: the startup reconcile could not ask Salt (refused)', 4_200); };
  const res = await app.inject({ method: 'POST', url: '/api/pools/prod%2Ftype1/scale', headers: auth, payload: { delta: 1 } });
  t.equal(res.statusCode, 503);
  t.equal(res.headers['retry-after'], '5', 'Retry-After in whole seconds, rounded up');
  t.same(res.json(), { error: 'manual scale of prod/type1 not decided: the startup reconcile could not ask Salt (refused)', code: 'ASC_ERR_ENGINE_NOT_RECONCILED' });
  t.notOk(logLines.some((line) => line.includes('"level":50')), 'an expected refusal is no error line');
});

t.test('an unexpected error answers 500 without its message', async (t) => {
  const { app, engine, logLines } = withPool(TOKEN);
  t.teardown(() => app.close());
  engine.onScale = async () => { throw new TypeError('internal detail /etc/secret'); };
  const res = await app.inject({ method: 'POST', url: '/api/pools/prod%2Ftype1/scale', headers: auth, payload: { delta: 1 } });
  t.equal(res.statusCode, 500);
  t.same(res.json(), { error: 'internal error (see the service log)' });
  t.ok(logLines.some((line) => line.includes('internal detail') && line.includes('"level":50')), 'the error is logged');
});
