import t from 'tap';
import { buildTestApp } from './build.ts';
import { instance, poolView } from './fake-engine.ts';

t.test('GET /healthz answers 200 {status: "ok"} even when the engine is not ready', async (t) => {
  const { app, engine } = buildTestApp();
  t.teardown(() => app.close());
  engine.healthState = { stream: false, store: false };
  const res = await app.inject({ method: 'GET', url: '/healthz' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'ok' });
});

t.test('GET /readyz answers 200 when stream and store are healthy, else 503 naming what failed', async (t) => {
  const { app, engine } = buildTestApp();
  t.teardown(() => app.close());
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: 'ready', stream: true, store: true });

  engine.healthState = { stream: false, store: true };
  const noStream = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(noStream.statusCode, 503);
  t.same(noStream.json(), { status: 'unready', stream: false, store: true, failed: ['stream'] });

  engine.healthState = { stream: false, store: false };
  t.same((await app.inject({ method: 'GET', url: '/readyz' })).json().failed, ['stream', 'store']);
});

t.test('GET /metrics answers the text exposition with the contract names and current pool gauges', async (t) => {
  const { app, engine, metrics } = buildTestApp();
  t.teardown(() => app.close());
  engine.poolViews = [poolView('prod/type1', { min: 1, max: 4 })];
  engine.instanceList = [instance('gpu-prod-1', 'prod/type1', 'ready', 0), instance('gpu-prod-2', 'prod/type1', 'starting', 0)];
  engine.seriesByPool.set('prod/type1', [{ atMs: 0, workload: 1, ready: 1, total: 2 }, { atMs: 1, workload: 6, ready: 1, total: 2 }]);
  metrics.eventStreamConnected.set(1);
  metrics.webhookRequests.inc({ status: '200' });
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  for (const line of [
    'salt_autoscaler_event_stream_connected 1',
    'salt_autoscaler_webhook_requests_total{status="200"} 1',
    'salt_autoscaler_pool_instances{pool="prod/type1",state="ready"} 1',
    'salt_autoscaler_pool_instances{pool="prod/type1",state="starting"} 1',
    'salt_autoscaler_pool_max{pool="prod/type1"} 4',
    'salt_autoscaler_pool_min{pool="prod/type1"} 1',
    'salt_autoscaler_pool_workload{pool="prod/type1"} 6',
  ]) t.ok(res.body.includes(`\n${line}\n`), line);
  for (const name of ['salt_autoscaler_decisions_total', 'salt_autoscaler_intents_open', 'salt_autoscaler_event_lag_seconds']) {
    t.match(res.body, `# TYPE ${name} `, name);
  }
});

t.test('request log lines carry method, url, status and duration but never the authorization header', async (t) => {
  const { app, engine, logLines } = buildTestApp({ config: { bodyLimit: 65_536, apiToken: 'top-secret-api-token' } });
  t.teardown(() => app.close());
  engine.poolViews = [poolView('prod/type1')];
  await app.inject({ method: 'POST', url: '/api/pools/prod%2Ftype1/pause', headers: { authorization: 'Bearer top-secret-api-token' } });
  await app.inject({ method: 'POST', url: '/api/pools/prod%2Ftype1/pause', headers: { authorization: 'Bearer wrong-token-value' } });
  const all = logLines.join('');
  t.notMatch(all, 'top-secret-api-token');
  t.notMatch(all, 'wrong-token-value');
  t.notMatch(all, /authorization/i);
  const requests = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line['msg'] === 'request');
  t.equal(requests.length, 2);
  t.match(requests[0], { method: 'POST', url: '/api/pools/prod%2Ftype1/pause', status: 200, durationMs: Number, component: 'http', level: 30 });
  t.match(requests[1], { status: 401 });
});

t.test('polled GET routes log at debug, so scrapes do not flood the info log', async (t) => {
  const { app, logLines } = buildTestApp();
  t.teardown(() => app.close());
  await app.inject({ method: 'GET', url: '/metrics' });
  await app.inject({ method: 'GET', url: '/healthz' });
  const levels = logLines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((line) => line.msg === 'request').map((line) => line.level);
  t.same(levels, [20, 20]);
});

t.test('a body over bodyLimit answers 413 as JSON', async (t) => {
  const { app, engine } = buildTestApp({ config: { bodyLimit: 64, apiToken: 'tok' } });
  t.teardown(() => app.close());
  engine.poolViews = [poolView('prod/type1')];
  const res = await app.inject({
    method: 'POST', url: '/api/pools/prod%2Ftype1/scale', headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
    payload: JSON.stringify({ delta: 1, pad: 'x'.repeat(200) }),
  });
  t.equal(res.statusCode, 413);
  t.type(res.json().error, 'string');
});

t.test('registerWebhook mounts its routes on the app', async (t) => {
  const { app } = buildTestApp({
    registerWebhook: async (child) => {
      child.post('/alertmanager/webhook', async () => ({ received: true }));
    },
  });
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'POST', url: '/alertmanager/webhook', payload: {} });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { received: true });
});

t.test('an accepted webhook request logs its request line at debug (the webhook logs the notification at info); a rejected one at info', async (t) => {
  const { app, logLines } = buildTestApp({
    config: { bodyLimit: 65_536 },
    registerWebhook: (instance) => { instance.post('/alertmanager/webhook', async (request, reply) => reply.code(request.headers['x-reject'] === undefined ? 200 : 400).send({})); },
  });
  t.teardown(() => app.close());
  await app.inject({ method: 'POST', url: '/alertmanager/webhook', payload: {} });
  await app.inject({ method: 'POST', url: '/alertmanager/webhook', payload: {}, headers: { 'x-reject': '1' } });
  const levels = logLines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((line) => line.msg === 'request').map((line) => line.level);
  t.same(levels, [20, 30]);
});
