import t from 'tap';
import fc from 'fast-check';
import Fastify from 'fastify';
import { pino } from 'pino';
import { alertmanagerWebhook } from '../../src/alertmanager/webhook.ts';
import { alert, notification, testConfig } from './payloads.ts';

const RUNS = 10_000;

const text = fc.oneof(fc.string(), fc.constantFrom('prod', 'dev', 'type1', 'type2', 'prod/type1', 'SaltAutoscalerScaleUp', 'SaltAutoscalerScaleDown', 'NaN', '+Inf', '-1', '1e308', ''));
const time = fc.oneof(fc.constantFrom('0001-01-01T00:00:00Z', '2026-11-28T07:00:00Z', '2026-11-28T07:00:00.123456789Z', 'not a time', ''), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()));
const kv = fc.dictionary(fc.oneof(fc.constantFrom('alertname', 'env', 'instance_type', 'pool', 'workload'), fc.string()), text, { maxKeys: 6 });
const looseAlert = fc.record({
  status: fc.oneof(fc.constantFrom('firing', 'resolved'), fc.string()),
  labels: fc.oneof(kv, fc.jsonValue()),
  annotations: fc.oneof(kv, fc.jsonValue()),
  startsAt: fc.oneof(time, fc.jsonValue()),
  endsAt: time,
  generatorURL: fc.string(),
  fingerprint: fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 16 }), fc.jsonValue()),
}, { requiredKeys: [] });
const payload = fc.record({
  version: fc.oneof(fc.constant('4'), fc.constant(4), fc.string()),
  groupKey: fc.oneof(fc.string(), fc.jsonValue()),
  truncatedAlerts: fc.oneof(fc.nat(), fc.integer(), fc.double()),
  status: fc.oneof(fc.constantFrom('firing', 'resolved'), fc.string()),
  receiver: fc.string(),
  groupLabels: kv,
  commonLabels: kv,
  commonAnnotations: kv,
  externalURL: fc.string(),
  alerts: fc.oneof(fc.array(looseAlert, { maxLength: 5 }), fc.jsonValue()),
}, { requiredKeys: [] });

const body = fc.oneof(
  payload.map((p) => JSON.stringify(p)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string(),
  fc.constant(JSON.stringify(notification([alert({ workload: '3' })]))),
  fc.tuple(fc.constant(JSON.stringify(notification([alert({})]))), fc.nat({ max: 300 })).map(([s, n]) => s.slice(0, n)),
  fc.nat({ max: 3 }).map((n) => JSON.stringify(notification([alert({})], { externalURL: 'x'.repeat(60_000 + n * 10_000) }))),
);
const contentType = fc.oneof(
  { arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8'), weight: 12 },
  { arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', ''), weight: 1 },
  { arbitrary: fc.string(), weight: 1 },
);
const authorization = fc.oneof(
  { arbitrary: fc.constant<string | undefined>('Bearer fuzz-tok-en'), weight: 12 },
  { arbitrary: fc.constantFrom<string | undefined>(undefined, 'Bearer wrong', 'Basic !!!', 'Bearer '), weight: 1 },
  { arbitrary: fc.string(), weight: 1 },
);

t.test('10,000 generated webhook requests: no crash, no 5xx, every rejection a 4xx with a reason', async (t) => {
  const app = Fastify();
  await app.register(alertmanagerWebhook, {
    config: testConfig({ webhookToken: 'fuzz-tok-en' }),
    onSignal: () => undefined,
    now: () => Date.parse('2026-11-28T07:00:30Z'),
    logger: pino({ level: 'silent' }),
  });
  t.teardown(() => app.close());
  const byStatus = new Map<number, number>();
  const unexplained: string[] = [];
  await fc.assert(
    fc.asyncProperty(body, contentType, authorization, async (b, ct, auth) => {
      const headers: Record<string, string> = {};
      if (ct !== '') headers['content-type'] = ct;
      if (auth !== undefined) headers['authorization'] = auth;
      const res = await app.inject({ method: 'POST', url: '/alertmanager/webhook', headers, payload: b });
      byStatus.set(res.statusCode, (byStatus.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode >= 500) return false;
      if (res.statusCode >= 400) {
        let reason: unknown;
        try {
          reason = (JSON.parse(res.body) as { reason?: unknown }).reason;
        } catch {
          reason = undefined;
        }
        if (typeof reason !== 'string' || reason === '') unexplained.push(`${res.statusCode} ${res.body.slice(0, 80)}`);
      }
      return res.statusCode === 200 || (res.statusCode >= 400 && res.statusCode < 500);
    }),
    { numRuns: RUNS, seed: 4242 },
  );
  const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
  t.comment(`webhook fuzz: ${total} requests, by status ${JSON.stringify(Object.fromEntries([...byStatus].sort()))}`);
  t.ok(total >= RUNS, `at least ${RUNS} requests sent`);
  t.same(unexplained.slice(0, 5), [], 'every rejection carries a reason');
  t.notOk([...byStatus.keys()].some((s) => s >= 500), 'no 5xx');
  for (const status of [200, 400, 401, 413, 415]) t.ok((byStatus.get(status) ?? 0) > 0, `the generator reaches ${status}`);
});
