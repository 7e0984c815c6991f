import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { chromium } from 'playwright-core';
import { formatAge } from '../../src/http/status-page.ts';
import { buildTestApp } from './build.ts';
import { FakeEngine, instance, poolView } from './fake-engine.ts';

const CHROMIUM = '/usr/bin/chromium';
const NOW = Date.parse('2026-11-28T08:00:00Z');

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
  t.equal(await page.locator('#pools tr[data-pool="prod/type1"] td.in-flight').textContent(), '1', 'in flight counts it');
  t.match(await page.locator('#decisions tbody').textContent(), 'workload 2 >= upThreshold 1', 'the decision and its reason are listed');
  await page.locator('#charts figure[data-pool="prod/type1"] svg text.tick-workload', { hasText: '400' }).waitFor({ timeout: 10_000 });
  const redrawn = page.locator('#charts figure[data-pool="prod/type1"] svg');
  t.same(await redrawn.locator('text.tick-instances').allTextContents(), ['0', '3'], 'a workload of 400 does not rescale the instance axis');

  // It becomes ready: the next poll shows it so.
  engine.instanceList = engine.instanceList.map((i) => (i.id === 'gpu-prod-2' ? instance('gpu-prod-2', 'prod/type1', 'ready', Date.now(), 'ready event') : i));
  await page.locator('#instances tr[data-instance="gpu-prod-2"] td.state-ready').waitFor({ timeout: 10_000 });
  t.same(pageErrors, [], 'no script errors or CSP violations');
});
