/**
 * The webhook's hand check (checkedPayload) against the zod schema (parseWithZod): whatever the hand check accepts,
 * zod accepts with the same output; whatever zod accepts (strings without surrogate pairs) the hand check accepts
 * too; and parseWebhookPayload gives zod's verdict and reason on every body. The generator takes valid notifications
 * and breaks one key of the envelope or of an alert at a time, so it reaches every rule of the schema (asserted).
 */
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import fc from 'fast-check';
import { checkedPayload, parseWebhookPayload, parseWithZod } from '../../src/alertmanager/webhook-schema.ts';

const RUNS = 20_000;

const text = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('prod', 'type1', 'SaltAutoscalerScaleUp', ''));
const kv = fc.dictionary(fc.oneof(fc.constantFrom('alertname', 'env', 'instance_type', 'workload'), fc.string({ maxLength: 8 })), text, { maxKeys: 5 });
const time = fc.oneof(fc.constantFrom('0001-01-01T00:00:00Z', '2026-11-28T07:00:00.123456789Z'), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()));
const validAlert = fc.record({
  status: fc.constantFrom('firing', 'resolved'),
  labels: kv,
  annotations: kv,
  startsAt: time,
  endsAt: time,
  generatorURL: fc.string({ maxLength: 20 }),
  fingerprint: fc.string({ minLength: 1, maxLength: 16 }),
  extra: fc.jsonValue({ maxDepth: 1 }),
}, { requiredKeys: ['status', 'labels', 'startsAt', 'fingerprint'] });
const validPayload = fc.record({
  version: fc.constant('4'),
  groupKey: fc.string({ maxLength: 30 }),
  truncatedAlerts: fc.nat(),
  status: fc.constantFrom('firing', 'resolved'),
  receiver: fc.string({ maxLength: 10 }),
  groupLabels: kv,
  commonLabels: kv,
  commonAnnotations: kv,
  externalURL: fc.string({ maxLength: 20 }),
  alerts: fc.array(validAlert, { maxLength: 4 }),
  extra: fc.jsonValue({ maxDepth: 1 }),
}, { requiredKeys: ['version', 'groupKey', 'status', 'receiver', 'alerts'] });

const ENVELOPE_KEYS = ['version', 'groupKey', 'truncatedAlerts', 'status', 'receiver', 'groupLabels', 'commonLabels', 'commonAnnotations', 'externalURL', 'alerts'];
const ALERT_KEYS = ['status', 'labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL', 'fingerprint'];
/** BAD: values that break some rule of some key (or none: a value may happen to be valid where it lands). */
const BAD = fc.oneof(
  fc.constantFrom<unknown>(undefined, null, 4, -1, 1.5, 2 ** 53, '', 'x', 'not a time', '2026-13-45T99:00:00Z', 'firing', [], {}, { k: 1 }, { k: null }, { k: 'v' }, ['a'],
    'x'.repeat(65), 'f'.repeat(256), 'f'.repeat(257), '2026-11-28T07:00:00Z'.padEnd(65, '0'), '💩'.repeat(200)),
  fc.jsonValue({ maxDepth: 2 }),
);

/** broken takes a valid payload and gives it one bad value: at an envelope key, at an alert's key, or as an alert. */
const broken = fc.tuple(validPayload, fc.nat(), fc.constantFrom('envelope', 'alert', 'whole alert'), BAD).map(([p, pick, where, bad]) => {
  const copy: Record<string, unknown> = { ...p, alerts: p.alerts.map((a) => ({ ...a })) };
  const alerts = copy['alerts'] as Record<string, unknown>[];
  const put = (o: Record<string, unknown>, key: string): void => { if (bad === undefined) delete o[key]; else o[key] = bad; };
  if (where === 'envelope' || alerts.length === 0) put(copy, ENVELOPE_KEYS[pick % ENVELOPE_KEYS.length] ?? 'version');
  else if (where === 'alert') put(alerts[pick % alerts.length] ?? {}, ALERT_KEYS[pick % ALERT_KEYS.length] ?? 'status');
  else alerts[pick % alerts.length] = bad as Record<string, unknown>;
  return copy;
});

const body = fc.oneof(
  { arbitrary: validPayload as fc.Arbitrary<unknown>, weight: 3 },
  { arbitrary: broken as fc.Arbitrary<unknown>, weight: 6 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<unknown>, weight: 1 },
);

/** SURROGATE: a string with a surrogate pair, where zod counts one character and `length` two. */
const SURROGATE = /[\ud800-\udbff][\udc00-\udfff]/;

t.test(`${RUNS} generated bodies: the hand check agrees with the zod schema, and the webhook's verdict is zod's`, async (t) => {
  let valid = 0;
  let invalid = 0;
  let fallbacks = 0;
  const rules = new Set<string>();
  fc.assert(fc.property(body, (b) => {
    const zod = parseWithZod(b);
    const hand = checkedPayload(b);
    if (hand !== undefined && !(zod.success && isDeepStrictEqual(hand, zod.data))) return false;
    if (zod.success && hand === undefined && !SURROGATE.test(JSON.stringify(b) ?? '')) return false;
    if (!isDeepStrictEqual(parseWebhookPayload(b), zod)) return false;
    if (zod.success) valid += 1;
    else {
      invalid += 1;
      // the rule broken: its path, without the alert's index (`alerts.2.fingerprint` -> `alerts.fingerprint`)
      rules.add(zod.reason.slice(0, zod.reason.indexOf(':')).replace(/\.\d+/, ''));
    }
    if (zod.success && hand === undefined) fallbacks += 1;
    return true;
  }), { numRuns: RUNS, seed: 1606 });
  t.ok(valid > RUNS * 0.2 && invalid > RUNS * 0.3, `both sides reached: ${valid} valid, ${invalid} invalid`);
  const wanted = ['body', ...ENVELOPE_KEYS, 'alerts', ...ALERT_KEYS.map((k) => `alerts.${k}`)];
  t.same(wanted.filter((r) => !rules.has(r)), [], `every rule broken at least once (${[...rules].sort().join(', ')})`);
  t.ok(fallbacks > 0, `valid bodies the hand check leaves to zod (surrogate pairs near a length limit): ${fallbacks}`);
});

t.test('the hand check is no verdict on a body zod accepts only by counting code points: zod decides', async (t) => {
  const alert = { status: 'firing', labels: {}, startsAt: '2026-11-28T07:00:00Z', fingerprint: '💩'.repeat(200) };
  const body = { version: '4', groupKey: 'g', status: 'firing', receiver: 'r', alerts: [alert] };
  t.equal(checkedPayload(body), undefined, '400 UTF-16 units: past the hand check');
  t.equal(parseWebhookPayload(body).success, true, 'accepted: 200 characters');
  t.match(parseWebhookPayload({ ...body, alerts: [{ ...alert, fingerprint: '💩'.repeat(257) }] }), { success: false, reason: /^alerts\.0\.fingerprint: / });
});
