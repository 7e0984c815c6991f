import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { chromium } from 'playwright-core';
import { collapseHolds, formatAge, spanText } from '../../src/http/status-page.ts';
import type { DecisionRecord } from '../../src/engine/ports.ts';
import { buildTestApp } from './build.ts';
import { FakeEngine, instance, poolView } from './fake-engine.ts';

const CHROMIUM = '/usr/bin/chromium';
const NOW = Date.parse('2026-11-28T08:00:00Z');

t.test('spanText words a part of the budget window in minutes, hours from 2 h, days from 2 d', async (t) => {
  t.equal(spanText(90 * 60_000), '90m');
  t.equal(spanText(2 * 3_600_000), '2h');
  t.equal(spanText(0.1 * 604_800_000), '16h', '16.8 h: whole hours, never more than measured');
  t.equal(spanText(47 * 3_600_000), '47h');
  t.equal(spanText(604_800_000), '7d');
  t.equal(spanText(0), '0m');
});

t.test('formatAge renders seconds, minutes, hours and days', async (t) => {
  t.equal(formatAge(42_000), '42s');
  t.equal(formatAge(303_000), '5m 3s');
  t.equal(formatAge((2 * 60 + 4) * 60_000), '2h 4m');
  t.equal(formatAge((3 * 24 + 2) * 3_600_000), '3d 2h');
  t.equal(formatAge(-5_000), '0s', 'a future time (clock skew) is age 0');
});

t.test('GET / renders pools, instances with their age and decisions in the first paint', async (t) => {
  const engine = new FakeEngine();
  engine.poolViews = [poolView('prod/type1', { min: 1, max: 5, ready: 1, inFlight: 1 })];
  engine.instanceList = [instance('gpu-prod-1', 'prod/type1', 'ready', NOW - 125_000, 'deploy orchestrate succeeded')];
  engine.decisionList = [{ pool: 'prod/type1', atMs: NOW - 60_000, decision: { kind: 'scaleUp', count: 1, targets: [{ kind: 'start', id: 'gpu-prod-1' }], reason: 'workload 3 >= upThreshold 1' }, dryRun: false }];
  const { app } = buildTestApp({ engine });
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/html/);
  t.match(res.headers['content-security-policy'], /script-src 'self'/);
  t.match(res.body, /<tr data-pool="prod\/type1"><td class="name">prod\/type1<\/td><td>1<\/td><td>5<\/td>/);
  t.match(res.body, /<td class="state state-ready">ready<\/td><td class="age" data-since="2026-11-28T07:57:55.000Z">2m 5s<\/td>/);
  t.match(res.body, 'workload 3 &#62;= upThreshold 1');
  t.match(res.body, '<td class="id"><a href="/api/instances/gpu-prod-1">gpu-prod-1</a></td>', 'the id links to the instance detail');
  t.match(res.body, '<script src="/static/status.js" defer></script>');

  const script = await app.inject({ method: 'GET', url: '/static/status.js' });
  t.equal(script.statusCode, 200);
  t.match(script.headers['content-type'], /^text\/javascript/);
  t.match(script.body, "getJson('/api/pools')");
  const style = await app.inject({ method: 'GET', url: '/static/status.css' });
  t.match(style.headers['content-type'], /^text\/css/);
});

t.test('GET / escapes names and reasons so they cannot inject markup', async (t) => {
  const engine = new FakeEngine();
  engine.poolViews = [poolView('<img src=x onerror=alert(1)>')];
  engine.instanceList = [instance('m"1', '<b>', 'failed', NOW, '<script>alert(1)</script>')];
  const { app } = buildTestApp({ engine });
  t.teardown(() => app.close());
  const body = (await app.inject({ method: 'GET', url: '/' })).body;
  t.notMatch(body, '<img src=x');
  t.notMatch(body, '<script>alert');
  t.match(body, '&#60;script&#62;alert(1)&#60;/script&#62;');
  t.match(body, 'data-instance="m&#34;1"');
});

t.test('the status page in headless Chromium shows a pool and follows a scale-up', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent: install chromium to run the browser test` }, async (t) => {
  const engine = new FakeEngine();
  const startMs = Date.now();
  engine.poolViews = [poolView('prod/type1', { min: 0, max: 3, ready: 1, reserved: 2 })];
  engine.instanceList = [instance('gpu-prod-1', 'prod/type1', 'ready', startMs - 90_000, 'deploy orchestrate succeeded')];
  engine.seriesByPool.set('prod/type1', [
    { atMs: startMs - 60_000, workload: 0, ready: 1, total: 1 },
    { atMs: startMs - 30_000, workload: 2, ready: 1, total: 1 },
  ]);
  const { app } = buildTestApp({ engine, now: () => Date.now() });
  t.teardown(() => app.close());
  const address = await app.listen({ host: '127.0.0.1', port: 0 });

  const profile = await mkdtemp(join(tmpdir(), 'salt-autoscaler-chromium-'));
  t.teardown(() => rm(profile, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => context.close());
  const page = context.pages()[0] ?? await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(msg.text()); });

  await page.goto(`${address}/`);
  t.equal(await page.locator('#pools tr[data-pool="prod/type1"] td.name').textContent(), 'prod/type1', 'the pool is shown');
  t.equal(await page.locator('#instances tr[data-instance="gpu-prod-1"] td.state').textContent(), 'ready');
  t.equal(await page.locator('#instances tr[data-instance="gpu-prod-1"] td.id a').getAttribute('href'), '/api/instances/gpu-prod-1', 'the id links to its detail');
  // The script's first poll replaces the server-rendered tables and draws the chart.
  await page.locator('#updated[data-state="ok"]').waitFor({ timeout: 10_000 });
  t.equal(await page.locator('#charts figure[data-pool="prod/type1"] svg polyline').count(), 3, 'workload, ready and total are drawn');
  t.equal(await page.locator('#instances tr[data-instance="gpu-prod-1"] td.id a').getAttribute('href'), '/api/instances/gpu-prod-1', 'the redrawn table links the id too');
  const chart = page.locator('#charts figure[data-pool="prod/type1"] svg');
  t.same(await chart.locator('text.tick-instances').allTextContents(), ['0', '3'], 'instances use the left axis, up to max');
  t.same(await chart.locator('text.tick-workload').allTextContents(), ['0', '2'], 'workload has its own right axis');

  // The engine scales up: a reserved instance starts; the page must show it on its next poll.
  engine.poolViews = [poolView('prod/type1', { min: 0, max: 3, ready: 1, inFlight: 1, reserved: 1 })];
  engine.instanceList = [...engine.instanceList, instance('gpu-prod-2', 'prod/type1', 'starting', Date.now(), 'scale up: workload 2 >= 1')];
  engine.decisionList = [{ pool: 'prod/type1', atMs: Date.now(), decision: { kind: 'scaleUp', count: 1, targets: [{ kind: 'start', id: 'gpu-prod-2' }], reason: 'workload 2 >= upThreshold 1' }, dryRun: false }];
  engine.seriesByPool.set('prod/type1', [...engine.series('prod/type1'), { atMs: Date.now(), workload: 400, ready: 1, total: 2 }]);

  const started = page.locator('#instances tr[data-instance="gpu-prod-2"] td.state');
  await started.waitFor({ timeout: 10_000 });
  t.equal(await started.textContent(), 'starting', 'the new instance appears as starting');
  // the page's poll reads pools, instances and decisions in parallel: one poll may straddle the change above, so each
  // cell is awaited on its own (the next poll brings the rest), then read
  const inFlight = page.locator('#pools tr[data-pool="prod/type1"] td.in-flight', { hasText: /^1$/ });
  await inFlight.waitFor({ timeout: 10_000 });
  t.equal(await inFlight.textContent(), '1', 'in flight counts it');
  const decisions = page.locator('#decisions tbody', { hasText: 'workload 2 >= upThreshold 1' });
  await decisions.waitFor({ timeout: 10_000 });
  t.match(await decisions.textContent(), 'workload 2 >= upThreshold 1', 'the decision and its reason are listed');
  await page.locator('#charts figure[data-pool="prod/type1"] svg text.tick-workload', { hasText: '400' }).waitFor({ timeout: 10_000 });
  const redrawn = page.locator('#charts figure[data-pool="prod/type1"] svg');
  t.same(await redrawn.locator('text.tick-instances').allTextContents(), ['0', '3'], 'a workload of 400 does not rescale the instance axis');

  // It becomes ready: the next poll shows it so.
  engine.instanceList = engine.instanceList.map((i) => (i.id === 'gpu-prod-2' ? instance('gpu-prod-2', 'prod/type1', 'ready', Date.now(), 'ready event') : i));
  await page.locator('#instances tr[data-instance="gpu-prod-2"] td.state-ready').waitFor({ timeout: 10_000 });

  // Budget pools: the script marks one over its budget as the over-budget alert judges it (the share weighed by the
  // part of the window measured), as the server does: a young pool's 0.40 % of a tenth of its window is not marked
  const budgetPool = (name: string, waitingShare: number, waitWindowCovered: number) =>
    ({ ...poolView(name, { min: 0, max: 3 }), waitBudget: 0.0025, waitingShare, waitWindowMs: 604_800_000, waitWindowCovered });
  engine.poolViews = [...engine.poolViews, budgetPool('young', 0.004, 0.1), budgetPool('spent', 0.04, 0.1), budgetPool('whole', 0.004, 1)];
  const budgetCell = (pool: string) => page.locator(`#pools tr[data-pool="${pool}"] td.budget`);
  await budgetCell('whole').waitFor({ timeout: 10_000 });
  t.same(await Promise.all(['young', 'spent', 'whole'].map((p) => budgetCell(p).getAttribute('class'))), ['budget', 'budget warn', 'budget warn']);
  // and says how much of the window a young pool's share is over, as the server does
  t.same(await Promise.all(['young', 'spent', 'whole'].map((p) => budgetCell(p).textContent())), ['0.40% of 0.25% over 16h of 7d', '4.00% of 0.25% over 16h of 7d', '0.40% of 0.25%']);
  // the measured start lead: '-' before a pool's first start, then the p90 as an age, as the server renders it
  t.equal(await page.locator('#pools tr[data-pool="young"] td.lead').textContent(), '-');
  engine.poolViews = engine.poolViews.map((p) => (p.name === 'whole' ? { ...p, startLeadMs: 241_500 } : p));
  const lead = page.locator('#pools tr[data-pool="whole"] td.lead', { hasText: '4m 1s' });
  await lead.waitFor({ timeout: 10_000 });
  t.equal(await lead.textContent(), '4m 1s');
  t.same(pageErrors, [], 'no script errors or CSP violations');
});

/** holdsThenAction is a decision history, newest first: 30 holds of prod/type1 and 30 of dev/type2 (interleaved) after one scale-up of each. */
function holdsThenAction(nowMs: number): DecisionRecord[] {
  const records: DecisionRecord[] = [];
  for (let n = 0; n < 30; n += 1) {
    for (const pool of ['prod/type1', 'dev/type2']) {
      records.push({ pool, atMs: nowMs - n * 20_000 - (pool === 'dev/type2' ? 5_000 : 0), decision: { kind: 'hold', reason: `${pool}: hold at 1 (${n})` }, dryRun: false });
    }
  }
  records.push({ pool: 'prod/type1', atMs: nowMs - 700_000, decision: { kind: 'scaleUp', count: 1, targets: [{ kind: 'start', id: 'gpu-prod-1' }], reason: 'workload 2: start 1' }, dryRun: false });
  records.push({ pool: 'dev/type2', atMs: nowMs - 710_000, decision: { kind: 'scaleUp', count: 1, targets: [{ kind: 'start', id: 'gpu-dev-1' }], reason: 'workload 1: start 1' }, dryRun: false });
  return records;
}

t.test('collapseHolds folds each pool\'s consecutive holds into one row and keeps the actions', async (t) => {
  const at = (s: number): string => new Date(NOW - s * 1000).toISOString();
  const rows = collapseHolds([
    { pool: 'a', at: at(0), action: 'hold', count: 0, targets: [], reason: 'newest hold a', dryRun: false },
    { pool: 'b', at: at(1), action: 'hold', count: 0, targets: [], reason: 'hold b', dryRun: false },
    { pool: 'a', at: at(2), action: 'hold', count: 0, targets: [], reason: 'older hold a', dryRun: false },
    { pool: 'a', at: at(3), action: 'scaleDown', count: 1, targets: ['x'], reason: 'drain', dryRun: false },
    { pool: 'a', at: at(4), action: 'hold', count: 0, targets: [], reason: 'hold before the drain', dryRun: false },
  ]);
  t.same(rows.map((r) => [r.pool, r.action, r.holds, r.reason, r.since]), [
    ['a', 'hold', 2, 'newest hold a', at(2)],
    ['b', 'hold', 1, 'hold b', at(1)],
    ['a', 'scaleDown', 1, 'drain', at(3)],
    ['a', 'hold', 1, 'hold before the drain', at(4)],
  ]);
});

t.test('the first paint keeps actions in view behind many holds, and ?pool= shows one pool', async (t) => {
  const engine = new FakeEngine();
  engine.poolViews = [poolView('prod/type1'), poolView('dev/type2')];
  engine.instanceList = [instance('gpu-prod-1', 'prod/type1', 'ready', NOW), instance('gpu-dev-1', 'dev/type2', 'ready', NOW)];
  engine.decisionList = holdsThenAction(NOW);
  engine.seriesByPool.set('prod/type1', [{ atMs: NOW - 1000, workload: 2, ready: 1, total: 1 }]);
  const { app } = buildTestApp({ engine, now: () => NOW });
  t.teardown(() => app.close());
  const body = (await app.inject({ method: 'GET', url: '/' })).body;
  const decisions = body.slice(body.indexOf('<table id="decisions">'));
  t.match(decisions, /class="holds" data-holds="30"/, 'thirty holds are one row');
  t.match(decisions, 'holding since 2026-11-28 07:50:20Z (30 hold decisions): prod/type1: hold at 1 (0)');
  t.match(decisions, 'workload 2: start 1', 'the scale-up behind them is still listed');
  t.match(decisions, 'workload 1: start 1');
  t.match(body, /<script type="application\/json" id="initial-data">\{"pools":\[/, 'the chart samples are embedded for the first draw');
  t.match(body, '<option value="dev/type2">dev/type2</option>');

  const one = (await app.inject({ method: 'GET', url: '/?pool=dev%2Ftype2' })).body;
  t.match(one, '<option value="dev/type2" selected>');
  const table = (id: string): string => one.slice(one.indexOf(`<table id="${id}">`), one.indexOf('</table>', one.indexOf(`<table id="${id}">`)));
  t.notMatch(table('decisions'), 'prod/type1', 'only the chosen pool\'s decisions');
  t.notMatch(table('instances'), 'gpu-prod-1', 'only its instances');
  t.match(table('instances'), 'gpu-dev-1');
});

t.test('in Chromium the charts draw on load without an API answer, and the pool filter narrows the page', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent` }, async (t) => {
  const engine = new FakeEngine();
  const nowMs = Date.now();
  engine.poolViews = [poolView('prod/type1', { max: 3 }), poolView('dev/type2', { max: 2 })];
  engine.instanceList = [instance('gpu-prod-1', 'prod/type1', 'ready', nowMs), instance('gpu-dev-1', 'dev/type2', 'ready', nowMs)];
  engine.decisionList = holdsThenAction(nowMs);
  engine.seriesByPool.set('prod/type1', [{ atMs: nowMs - 60_000, workload: 0, ready: 0, total: 0 }, { atMs: nowMs - 1_000, workload: 2, ready: 1, total: 1 }]);
  engine.seriesByPool.set('dev/type2', [{ atMs: nowMs - 60_000, workload: 1, ready: 1, total: 1 }]);
  const { app } = buildTestApp({ engine, now: () => Date.now() });
  t.teardown(() => app.close());
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const profile = await mkdtemp(join(tmpdir(), 'salt-autoscaler-chromium-'));
  t.teardown(() => rm(profile, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => context.close());
  const page = context.pages()[0] ?? await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(msg.text()); });
  // hold every API answer: what the page shows now comes from the first paint alone
  const held: (() => Promise<void>)[] = [];
  let holding = true;
  await page.route('**/api/**', (route) => (holding ? void held.push(() => route.continue()) : route.continue()));
  await page.goto(`${address}/`);
  await page.locator('#charts[data-drawn="initial"]').waitFor({ timeout: 10_000 });
  t.equal(await page.locator('#charts figure[data-pool="prod/type1"] svg polyline').count(), 3, 'drawn from the embedded samples');
  t.equal(await page.locator('#updated').getAttribute('data-state'), 'server', 'no API answer has come yet');
  t.match(await page.locator('#decisions tbody').textContent(), 'workload 2: start 1', 'the action is in view behind the holds');
  holding = false;
  for (const release of held) await release();
  await page.locator('#updated[data-state="ok"]').waitFor({ timeout: 10_000 });
  t.equal(await page.locator('#decisions tr.holds').count(), 2, 'one folded row of holds per pool after the redraw');

  await page.selectOption('#pool-filter', 'dev/type2');
  // the change refreshes at once; decisions and instances are redrawn together
  await page.locator('#instances tr[data-instance="gpu-prod-1"]').waitFor({ state: 'detached', timeout: 10_000 });
  t.notMatch(await page.locator('#decisions tbody').textContent(), 'prod/type1', 'only the chosen pool\'s decisions');
  t.match(await page.locator('#decisions tbody').textContent(), 'workload 1: start 1');
  t.equal(await page.locator('#instances tr[data-instance="gpu-prod-1"]').count(), 0, 'the other pool\'s instances are hidden');
  t.equal(await page.locator('#charts figure').count(), 1, 'one chart');
  t.equal(await page.locator('#charts figure').getAttribute('data-pool'), 'dev/type2');
  t.match(page.url(), /\?pool=dev%2Ftype2$/, 'the address keeps the filter');
  t.same(pageErrors, [], 'no script errors or CSP violations');
});

t.test('GET / says in the header who leads: this process, another one, or nobody', async (t) => {
  const cases = [
    { view: { self: 'a:1:x', leader: 'a:1:x', isLeader: true }, want: /<span id="leader" data-leader="self">leader: this process \(a:1:x\)<\/span>/ },
    { view: { self: 'a:1:x', leader: 'b:2:<y>', isLeader: false }, want: /data-leader="other">leader: b:2:&#60;y&#62; \(this process follows\)/ },
    { view: { self: 'a:1:x', isLeader: false }, want: /data-leader="none">no leader \(this process, a:1:x, follows\)/ },
  ];
  for (const c of cases) {
    const { app } = buildTestApp({ leader: () => c.view });
    t.teardown(() => app.close());
    const res = await app.inject({ method: 'GET', url: '/' });
    t.equal(res.statusCode, 200);
    t.match(res.body, c.want);
  }
  const alone = buildTestApp();
  t.teardown(() => alone.app.close());
  t.notMatch((await alone.app.inject({ method: 'GET', url: '/' })).body, /id="leader"/, 'no leader line without a leadership');
});
