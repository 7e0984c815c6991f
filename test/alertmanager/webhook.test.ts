import t from 'tap';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { alertmanagerWebhook, safeEqual } from '../../src/alertmanager/webhook.ts';
import { secretMatcher } from '../../src/secret.ts';
import { groupKeyDigest, hashGroupKey } from '../../src/alertmanager/alert-book.ts';
import { jsonContainersOver, MAX_ALERTS_PER_NOTIFICATION, MAX_FINGERPRINT_LENGTH, MAX_JSON_CONTAINERS, parseWebhookPayload } from '../../src/alertmanager/webhook-schema.ts';
import type { AlertSignal } from '../../src/core/types.ts';
import { alert, notification, testConfig } from './payloads.ts';

const T0 = Date.parse('2026-11-28T07:00:30Z');

async function build(t: { teardown(fn: () => unknown): void }, http: Record<string, unknown> = {}): Promise<{ app: FastifyInstance; signals: AlertSignal[]; statuses: string[] }> {
  const signals: AlertSignal[] = [];
  const statuses: string[] = [];
  const app = Fastify();
  await app.register(alertmanagerWebhook, {
    config: testConfig(http),
    onSignal: (s) => signals.push(s),
    now: () => T0,
    logger: pino({ level: 'silent' }),
    metrics: { webhookRequests: { inc: ({ status }) => statuses.push(status) } },
  });
  t.teardown(() => app.close());
  return { app, signals, statuses };
}

const post = (app: FastifyInstance, body: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/alertmanager/webhook', headers: { 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

t.test('a firing notification is accepted and signals its pool', async (t) => {
  const { app, signals, statuses } = await build(t);
  const res = await post(app, notification([alert({ workload: '3' })]));
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'ok', accepted: 1, ignored: [] });
  t.same(signals, [{ pool: 'prod/type1', direction: 'up', workload: 3, atMs: T0 }]);
  t.same(statuses, ['200']);
});

t.test('a resolved notification signals direction none', async (t) => {
  const { app, signals } = await build(t);
  await post(app, notification([alert({ workload: '3' })]));
  const res = await post(app, notification([alert({ status: 'resolved', endsAt: '2026-11-28T07:00:20Z' })]));
  t.equal(res.statusCode, 200);
  t.equal(signals.at(-1)?.direction, 'none');
});

t.test('several alerts in one group each reach their pool', async (t) => {
  const { app, signals } = await build(t);
  const res = await post(app, notification([
    alert({ fingerprint: 'f1', workload: '2' }),
    alert({ fingerprint: 'f2', env: 'dev', type: 'type2', name: 'SaltAutoscalerScaleDown', workload: '0' }),
    alert({ fingerprint: 'f3', name: 'Watchdog' }),
  ]));
  t.equal(res.statusCode, 200);
  t.equal(res.json().accepted, 2);
  t.match(res.json().ignored, [/Watchdog/]);
  t.same(signals.map((s) => [s.pool, s.direction]).sort(), [['dev/type2', 'down'], ['prod/type1', 'up']]);
});

t.test('truncatedAlerts is reported among the ignored', async (t) => {
  const { app } = await build(t);
  const res = await post(app, notification([alert({})], { truncatedAlerts: 2 }));
  t.equal(res.statusCode, 200);
  t.match(res.json().ignored, [/2 alert\(s\) truncated/]);
});

t.test('a duplicate notification changes nothing', async (t) => {
  const { app, signals } = await build(t);
  const body = notification([alert({ workload: '5' })]);
  await post(app, body);
  await post(app, body);
  t.equal(signals.length, 2);
  t.same(signals[1], signals[0]);
});

t.test('a wrong version is a 400 with a reason', async (t) => {
  const { app, signals } = await build(t);
  const res = await post(app, notification([alert({})], { version: '3' }));
  t.equal(res.statusCode, 400);
  t.match(res.json(), { status: 'error', reason: /version "3".*expected "4"/ });
  t.same(signals, []);
});

t.test('bad JSON is a 400 with a reason', async (t) => {
  const { app } = await build(t);
  const res = await post(app, '{"version": "4", ');
  t.equal(res.statusCode, 400);
  t.match(res.json(), { status: 'error', reason: /not valid JSON/ });
});

t.test('a schema failure names the field', async (t) => {
  const { app } = await build(t);
  const res = await post(app, notification([{ ...alert({}), startsAt: 'yesterday' }]));
  t.equal(res.statusCode, 400);
  t.match(res.json().reason, /alerts\.0\.startsAt/);
});

t.test('the 1 MB body of 340,000 empty alerts is a 400 that says why, before it is parsed', async (t) => {
  const { app, signals } = await build(t, { bodyLimit: '2MiB' });
  // the adversarial body (zod once collected 1.36 M issues to report one of them)
  const body = `{"version":"4","groupKey":"g","status":"firing","receiver":"r","alerts":[${new Array(340_000).fill('{}').join(',')}]}`;
  const res = await post(app, body);
  t.equal(res.statusCode, 400);
  t.match(res.json(), { status: 'error', reason: `body holds more than ${MAX_JSON_CONTAINERS} JSON objects and arrays: a notification carries at most ${MAX_ALERTS_PER_NOTIFICATION} alerts` });
  t.same(signals, []);
});

t.test('a notification with more alerts than the cap is a 400 that says so, whatever its alerts hold', async (t) => {
  const { app, signals } = await build(t, { bodyLimit: '2MiB' });
  const res = await post(app, notification(new Array(MAX_ALERTS_PER_NOTIFICATION + 1).fill({})));
  t.equal(res.statusCode, 400);
  t.match(res.json(), { status: 'error', reason: `invalid payload: too many alerts: 1001 in one notification, at most ${MAX_ALERTS_PER_NOTIFICATION}` });
  t.same(signals, []);
  const atCap = await post(app, notification(new Array(MAX_ALERTS_PER_NOTIFICATION).fill(alert({}))));
  t.equal(atCap.statusCode, 200, 'the cap itself is accepted');
});

t.test('the container scan skips brackets inside strings and stops at the first container over the limit', async (t) => {
  t.equal(jsonContainersOver('{"a":"{{{[[[\\"{{"}', 1), false);
  t.equal(jsonContainersOver('{"a":[{}]}', 2), true);
  t.equal(jsonContainersOver('{"a":[{}]}', 3), false);
});

t.test('validation stops at the first invalid alert and never reads the ones after it', async (t) => {
  const reads = new Set<number>();
  const alerts = Array.from({ length: 500 }, (_, i) => new Proxy({}, { get: (target, key) => { reads.add(i); return Reflect.get(target, key); } }));
  const check = parseWebhookPayload({ ...notification([]), alerts: [alert({}), ...alerts] });
  t.match(check, { success: false, reason: /^alerts\.1\.status: / });
  t.same([...reads], [0], 'only the first invalid alert was looked at');
  const labels: Record<string, unknown> = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`l${i}`, i]));
  t.match(parseWebhookPayload(notification([{ ...alert({}), labels }])), { success: false, reason: /^alerts\.0\.labels: expected a string value, "l0" is not$/ });
});

t.test('an alert fingerprint longer than Alertmanager ever sends is a 400', async (t) => {
  const { app } = await build(t);
  const res = await post(app, notification([alert({ fingerprint: 'f'.repeat(MAX_FINGERPRINT_LENGTH + 1) })]));
  t.equal(res.statusCode, 400);
  t.match(res.json().reason, /alerts\.0\.fingerprint: fingerprint longer than 256 characters/);
});

t.test('an empty body is a 400', async (t) => {
  const { app } = await build(t);
  const res = await app.inject({ method: 'POST', url: '/alertmanager/webhook' });
  t.equal(res.statusCode, 400);
  t.match(res.json(), { status: 'error' });
});

t.test('a body over http.bodyLimit is a 413', async (t) => {
  const { app } = await build(t);
  const res = await post(app, notification([alert({})], { externalURL: 'x'.repeat(70 * 1024) }));
  t.equal(res.statusCode, 413);
  t.match(res.json(), { status: 'error', reason: 'body too large' });
});

t.test('a content type other than JSON is a 415', async (t) => {
  const { app } = await build(t);
  const res = await app.inject({ method: 'POST', url: '/alertmanager/webhook', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
  t.equal(res.statusCode, 415);
  t.match(res.json(), { status: 'error', reason: /application\/json/ });
});

t.test('with webhookToken set, no token or a bad token is a 401 with WWW-Authenticate', async (t) => {
  const { app, signals } = await build(t, { webhookToken: 's3cret-token' });
  const body = notification([alert({})]);
  const none = await post(app, body);
  t.equal(none.statusCode, 401);
  t.match(none.headers['www-authenticate'], /^Bearer/);
  t.match(none.json(), { reason: 'missing credentials' });
  const bad = await post(app, body, { authorization: 'Bearer s3cret-tokem' });
  t.equal(bad.statusCode, 401);
  t.match(bad.json(), { reason: 'bad credentials' });
  const short = await post(app, body, { authorization: 'Bearer s' });
  t.equal(short.statusCode, 401);
  t.same(signals, []);
  const good = await post(app, body, { authorization: 'Bearer s3cret-token' });
  t.equal(good.statusCode, 200);
  t.equal(signals.length, 1);
});

t.test('with basic auth set, only the right user and password pass', async (t) => {
  const { app } = await build(t, { webhookBasicAuth: { username: 'am', password: 'pw' } });
  const body = notification([alert({})]);
  const basic = (s: string) => ({ authorization: `Basic ${Buffer.from(s).toString('base64')}` });
  t.equal((await post(app, body, basic('am:wrong'))).statusCode, 401);
  t.match((await post(app, body)).headers['www-authenticate'], /^Basic/);
  t.equal((await post(app, body, basic('am:pw'))).statusCode, 200);
});

t.test('safeEqual compares secrets of any length', async (t) => {
  t.ok(safeEqual('abc', 'abc'));
  t.notOk(safeEqual('abc', 'abcd'));
  t.notOk(safeEqual('', 'x'));
  const matches = secretMatcher('abc');
  t.same(['abc', 'abcd', 'ab', '', 'abd'].map(matches), [true, false, false, false, false], 'a matcher says what safeEqual says');
});

t.test('the webhook token never reaches the log', async (t) => {
  const lines: string[] = [];
  const app = Fastify({ logger: false });
  await app.register(alertmanagerWebhook, {
    config: testConfig({ webhookToken: 'very-secret-token-1234' }),
    onSignal: () => undefined,
    now: () => T0,
    logger: pino({ level: 'trace' }, { write: (s: string) => { lines.push(s); } }),
  });
  t.teardown(() => app.close());
  await post(app, notification([alert({})]), { authorization: 'Bearer very-secret-token-1234' });
  await post(app, notification([alert({})]), { authorization: 'Bearer very-secret-token-123' });
  await post(app, '{bad', { authorization: 'Bearer very-secret-token-1234' });
  t.ok(lines.length >= 3, 'the receiver logged');
  t.notMatch(lines.join(''), /very-secret-token/);
});

t.test('an accepted notification logs a bounded digest of its groupKey, never the whole key', async (t) => {
  const lines: string[] = [];
  const app = Fastify({ logger: false });
  await app.register(alertmanagerWebhook, {
    config: testConfig({ bodyLimit: '2MiB' }),
    onSignal: () => undefined,
    now: () => T0,
    logger: pino({ level: 'info' }, { write: (s: string) => { lines.push(s); } }),
  });
  t.teardown(() => app.close());
  const groupKey = `{}:{alertname="SaltAutoscalerScaleUp"}${'x'.repeat(900_000)}`;
  const res = await post(app, notification([alert({ status: 'resolved' })], { groupKey }));
  t.equal(res.statusCode, 200);
  const line = lines.find((l) => l.includes('webhook notification')) ?? '';
  t.ok(line.length > 0 && line.length < 1000, `the line is ${line.length} characters`);
  t.match(JSON.parse(line), { groupKey: /^\{\}:\{alertname="SaltAutoscalerScaleUp"\}x+…\(900038 chars\)$/, group: hashGroupKey(groupKey) });
  t.equal(groupKeyDigest('{}:{alertname="A"}'), '{}:{alertname="A"}', 'a short key is logged whole');
});
