import t from 'tap';
import { buildTestApp } from './build.ts';
import { instance, poolView } from './fake-engine.ts';

const T0 = Date.parse('2026-11-28T07:00:00Z');

t.test('GET /api/pools answers exactly the contract fields of every pool', async (t) => {
  const { app, engine } = buildTestApp();
  t.teardown(() => app.close());
  engine.poolViews = [
    { ...poolView('prod/type1', { min: 1, max: 5, ready: 2, inFlight: 1, draining: 1, failed: 1, reserved: 3, paused: true }), ...{ secret: 'x' } },
  ];
  const res = await app.inject({ method: 'GET', url: '/api/pools' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /application\/json/);
  t.same(res.json(), [{ name: 'prod/type1', min: 1, max: 5, ready: 2, inFlight: 1, draining: 1, failed: 1, reserved: 3, paused: true }]);
});

t.test('GET /api/instances answers id, pool, state, reason and since as ISO 8601', async (t) => {
  const { app, engine } = buildTestApp();
  t.teardown(() => app.close());
  engine.instanceList = [instance('gpu-prod-1', 'prod/type1', 'deploying', T0, 'minion started')];
  const res = await app.inject({ method: 'GET', url: '/api/instances' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), [{ id: 'gpu-prod-1', pool: 'prod/type1', state: 'deploying', since: '2026-11-28T07:00:00.000Z', reason: 'minion started' }]);
});

t.test('GET /api/instances/<id> answers the instance, its facts and its transitions oldest first; 404 and 400 otherwise', async (t) => {
  const { app, engine } = buildTestApp();
  t.teardown(() => app.close());
  engine.instanceList = [{ ...instance('gpu-prod-1', 'prod/type1', 'ready', T0 + 5_000, 'ready event'), lastStartMs: T0, readyMs: T0 + 5_000, deployJid: '20261128070001000001' }];
  engine.historyById.set('gpu-prod-1', [
    { from: 'stopped', to: 'starting', atMs: T0, reason: 'start issued' },
    { from: 'starting', to: 'booted', atMs: T0 + 2_000, reason: 'event salt/minion/gpu-prod-1/start' },
    { from: 'booted', to: 'ready', atMs: T0 + 5_000, reason: 'ready event' },
  ]);
  const res = await app.inject({ method: 'GET', url: '/api/instances/gpu-prod-1' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), {
    id: 'gpu-prod-1', pool: 'prod/type1', state: 'ready', since: '2026-11-28T07:00:05.000Z', reason: 'ready event',
    created: false, lastStart: '2026-11-28T07:00:00.000Z', readySince: '2026-11-28T07:00:05.000Z', deployJid: '20261128070001000001',
    history: [
      { from: 'stopped', to: 'starting', at: '2026-11-28T07:00:00.000Z', reason: 'start issued' },
      { from: 'starting', to: 'booted', at: '2026-11-28T07:00:02.000Z', reason: 'event salt/minion/gpu-prod-1/start' },
      { from: 'booted', to: 'ready', at: '2026-11-28T07:00:05.000Z', reason: 'ready event' },
    ],
  });
  const last = await app.inject({ method: 'GET', url: '/api/instances/gpu-prod-1?limit=1' });
  t.same(last.json().history.map((h: { to: string }) => h.to), ['ready'], 'limit keeps the newest transitions');
  const unknown = await app.inject({ method: 'GET', url: '/api/instances/gpu-nope' });
  t.equal(unknown.statusCode, 404);
  t.match(unknown.json(), { error: /unknown instance "gpu-nope"/ });
  const bad = await app.inject({ method: 'GET', url: '/api/instances/gpu-prod-1?limit=0' });
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { error: /limit/ });
});

t.test('GET /api/decisions answers newest first with flattened actions and "(create)" targets', async (t) => {
  const { app, engine } = buildTestApp();
  t.teardown(() => app.close());
  engine.poolViews = [poolView('prod/type1'), poolView('dev/type2')];
  engine.decisionList = [
    { pool: 'prod/type1', atMs: T0, decision: { kind: 'hold', reason: 'cooldown' }, dryRun: false },
    { pool: 'prod/type1', atMs: T0 + 2000, decision: { kind: 'scaleUp', count: 2, targets: [{ kind: 'start', id: 'gpu-prod-1' }, { kind: 'create' }], reason: 'workload 4 >= 1' }, dryRun: true },
    { pool: 'dev/type2', atMs: T0 + 1000, decision: { kind: 'scaleDown', count: 1, targets: ['gpu-dev-1'], reason: 'idle' }, dryRun: false },
  ];
  const res = await app.inject({ method: 'GET', url: '/api/decisions' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), [
    { pool: 'prod/type1', at: '2026-11-28T07:00:02.000Z', action: 'scaleUp', count: 2, targets: ['gpu-prod-1', '(create)'], reason: 'workload 4 >= 1', dryRun: true },
    { pool: 'dev/type2', at: '2026-11-28T07:00:01.000Z', action: 'scaleDown', count: 1, targets: ['gpu-dev-1'], reason: 'idle', dryRun: false },
    { pool: 'prod/type1', at: '2026-11-28T07:00:00.000Z', action: 'hold', count: 0, targets: [], reason: 'cooldown', dryRun: false },
  ]);

  const filtered = await app.inject({ method: 'GET', url: '/api/decisions?pool=prod%2Ftype1&limit=1' });
  t.equal(filtered.statusCode, 200);
  t.same(filtered.json().map((d: { pool: string }) => d.pool), ['prod/type1']);
  t.ok(engine.calls.includes('decisions prod/type1 1'), 'pool and limit are passed to the engine');
});

t.test('GET /api/decisions rejects a bad limit with 400 and an unknown pool with 404', async (t) => {
  const { app, engine } = buildTestApp();
  t.teardown(() => app.close());
  engine.poolViews = [poolView('prod/type1')];
  for (const url of ['/api/decisions?limit=abc', '/api/decisions?limit=0', '/api/decisions?limit=100000', '/api/decisions?bogus=1']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 400, url);
    t.equal(res.json().code, 'ASC_ERR_HTTP_INVALID', url);
    t.type(res.json().error, 'string', url);
  }
  const unknown = await app.inject({ method: 'GET', url: '/api/decisions?pool=nope' });
  t.equal(unknown.statusCode, 404);
  t.same(unknown.json(), { error: 'unknown pool "nope"', code: 'ASC_ERR_HTTP_NOT_FOUND' });
});

t.test('GET /api/series serves the engine series with ISO times and null for an unknown workload', async (t) => {
  const { app, engine } = buildTestApp();
  t.teardown(() => app.close());
  engine.poolViews = [poolView('prod/type1')];
  engine.seriesByPool.set('prod/type1', [{ atMs: T0, workload: 3, ready: 1, total: 2 }, { atMs: T0 + 1000, ready: 1, total: 2 }]);
  const res = await app.inject({ method: 'GET', url: '/api/series?pool=prod%2Ftype1' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), [
    { at: '2026-11-28T07:00:00.000Z', atMs: T0, workload: 3, ready: 1, total: 2 },
    { at: '2026-11-28T07:00:01.000Z', atMs: T0 + 1000, workload: null, ready: 1, total: 2 },
  ]);
  t.equal((await app.inject({ method: 'GET', url: '/api/series' })).statusCode, 400, 'pool is required');
  t.equal((await app.inject({ method: 'GET', url: '/api/series?pool=nope' })).statusCode, 404);
});

t.test('an unknown route answers 404 as JSON', async (t) => {
  const { app } = buildTestApp();
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/api/nothing?x=1' });
  t.equal(res.statusCode, 404);
  t.same(res.json(), { error: 'no route GET /api/nothing', code: 'ASC_ERR_HTTP_NOT_FOUND' });
});

t.test('GET /api/leader says who leads, as the leadership sees it, with since as ISO 8601', async (t) => {
  const view = { leader: 'host-b@4026531836:812:9f3a', self: 'host-a@4026531836:700:1c2d', isLeader: false, sinceMs: T0 };
  const { app } = buildTestApp({ leader: () => view });
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/api/leader' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { leader: 'host-b@4026531836:812:9f3a', self: 'host-a@4026531836:700:1c2d', isLeader: false, since: '2026-11-28T07:00:00.000Z', leaseRemainingMs: null });
  const alone = buildTestApp();
  t.teardown(() => alone.app.close());
  t.same((await alone.app.inject({ method: 'GET', url: '/api/leader' })).json(), { leader: null, self: null, isLeader: true, since: null, leaseRemainingMs: null }, 'without a leadership the one process leads');
});

t.test('GET /api/pools adds the budget and the realised waiting share of a budget pool', async (t) => {
  const { app, engine } = buildTestApp();
  t.teardown(() => app.close());
  engine.poolViews = [{ ...poolView('prod/type1'), waitBudget: 0.0025, waitingShare: 0.0012, waitWindowMs: 604_800_000, waitWindowCovered: 0.5 }];
  const res = await app.inject({ method: 'GET', url: '/api/pools' });
  t.match(res.json(), [{ name: 'prod/type1', waitBudget: 0.0025, waitingShare: 0.0012, waitWindowMs: 604_800_000, waitWindowCovered: 0.5 }]);
  t.notOk('startLeadMs' in (res.json() as object[])[0]!, 'no start lead before the pool\'s first start');
  const page = await app.inject({ method: 'GET', url: '/' });
  t.match(page.body, '<td class="budget">0.12% of 0.25% over 3d of 7d</td>', 'a pool with half its window measured says so');
  t.match(page.body, '<td class="lead">-</td>', 'nor on the page');
  engine.poolViews = [{ ...poolView('prod/type1'), startLeadMs: 241_500 }];
  t.match((await app.inject({ method: 'GET', url: '/api/pools' })).json(), [{ name: 'prod/type1', startLeadMs: 241_500 }], 'the measured start lead, once a start is seen');
  t.match((await app.inject({ method: 'GET', url: '/' })).body, '<td class="lead">4m 1s</td>');
  engine.poolViews = [{ ...poolView('prod/type1'), waitBudget: 0.0025, waitingShare: 0.004 }];
  t.match((await app.inject({ method: 'GET', url: '/' })).body, '<td class="budget warn">0.40% of 0.25%</td>', 'over the budget is marked');
  // a young pool: 0.40 % of the tenth of its window measured is 0.04 % of a whole window's demand, as the alert weighs it
  engine.poolViews = [{ ...poolView('prod/type1'), waitBudget: 0.0025, waitingShare: 0.004, waitWindowMs: 604_800_000, waitWindowCovered: 0.1 }];
  t.match((await app.inject({ method: 'GET', url: '/' })).body, '<td class="budget">0.40% of 0.25% over 16h of 7d</td>', 'a young pool is not marked before the alert would fire');
  engine.poolViews = [{ ...poolView('prod/type1'), waitBudget: 0.0025, waitingShare: 0.04, waitWindowMs: 604_800_000, waitWindowCovered: 0.1 }];
  t.match((await app.inject({ method: 'GET', url: '/' })).body, '<td class="budget warn">4.00% of 0.25% over 16h of 7d</td>', 'one already past a whole window\'s budget is');
  engine.poolViews = [{ ...poolView('prod/type1'), waitBudget: 0.0025, waitingShare: 0.004, waitWindowMs: 604_800_000, waitWindowCovered: 1 }];
  t.match((await app.inject({ method: 'GET', url: '/' })).body, '<td class="budget warn">0.40% of 0.25%</td>', 'a whole window measured needs no span');
  t.notOk('waitWindowStrict' in (await app.inject({ method: 'GET', url: '/api/pools' })).json<object[]>()[0]!, 'a pool kept on average has no waitWindowStrict');
  engine.poolViews = [{ ...poolView('prod/type1'), waitBudget: 0.0025, waitingShare: 0.0012, waitWindowMs: 604_800_000, waitWindowCovered: 1, waitWindowStrict: true }];
  t.match((await app.inject({ method: 'GET', url: '/api/pools' })).json(), [{ name: 'prod/type1', waitWindowStrict: true }]);
  t.match((await app.inject({ method: 'GET', url: '/' })).body, '<td class="budget">0.12% of 0.25%, every window</td>', 'a pool that keeps every window says so');
});
