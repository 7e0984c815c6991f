import t from 'tap';
import { AlertBook, parseWorkload } from '../../src/alertmanager/alert-book.ts';
import { WebhookPayloadSchema } from '../../src/alertmanager/webhook-schema.ts';
import { alert, notification, testConfig } from './payloads.ts';

const config = testConfig();
const T0 = Date.parse('2026-11-28T07:00:30Z');
const book = () => new AlertBook(config.alerts, config.pools);
const payload = (alerts: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
  WebhookPayloadSchema.parse(notification(alerts, extra));

t.test('a firing scale-up alert gives the pool an up signal with its workload', async (t) => {
  const b = book();
  const r = b.apply(payload([alert({ workload: '7' })]), T0);
  t.same(r, { accepted: 1, ignored: [], pools: ['prod/type1'] });
  t.same(b.signal('prod/type1', T0), { pool: 'prod/type1', direction: 'up', workload: 7, atMs: T0 });
  t.equal(b.signal('dev/type2', T0).direction, 'none');
});

t.test('a resolved notification ends the signal', async (t) => {
  const b = book();
  b.apply(payload([alert({ workload: '3' })]), T0);
  b.apply(payload([alert({ status: 'resolved', endsAt: '2026-11-28T07:05:00Z' })]), T0 + 1000);
  t.equal(b.signal('prod/type1', T0 + 1000).direction, 'none');
});

t.test('a duplicate notification (HA pair) changes nothing', async (t) => {
  const b = book();
  const p = payload([alert({ workload: '4' })]);
  b.apply(p, T0);
  const before = b.signal('prod/type1', T0);
  const again = b.apply(p, T0);
  t.equal(again.accepted, 1);
  t.same(b.signal('prod/type1', T0), before);
});

t.test('an older firing notification arriving after the resolution does not resurrect the alert', async (t) => {
  const b = book();
  const firing = payload([alert({ workload: '4' })]);
  b.apply(firing, T0);
  b.apply(payload([alert({ status: 'resolved', endsAt: '2026-11-28T07:05:00Z' })]), T0 + 1000);
  const r = b.apply(firing, T0 + 2000);
  t.equal(r.accepted, 0);
  t.match(r.ignored[0], /older/);
  t.equal(b.signal('prod/type1', T0 + 2000).direction, 'none');
});

t.test('an older occurrence (earlier startsAt) is ignored, a newer one replaces', async (t) => {
  const b = book();
  b.apply(payload([alert({ workload: '5', startsAt: '2026-11-28T07:10:00Z' })]), T0);
  const old = b.apply(payload([alert({ workload: '9', startsAt: '2026-11-28T07:00:00Z' })]), T0 + 1);
  t.equal(old.accepted, 0);
  t.equal(b.signal('prod/type1', T0 + 1).workload, 5);
  b.apply(payload([alert({ workload: '2', startsAt: '2026-11-28T07:20:00Z' })]), T0 + 2);
  t.equal(b.signal('prod/type1', T0 + 2).workload, 2);
});

t.test('a firing alert expires at its endsAt', async (t) => {
  const b = book();
  const endsAt = '2026-11-28T07:04:00Z';
  b.apply(payload([alert({ workload: '3', endsAt })]), T0);
  t.same(b.signal('prod/type1', Date.parse(endsAt) - 1), { pool: 'prod/type1', direction: 'up', workload: 3, atMs: T0, expiresMs: Date.parse(endsAt) });
  t.equal(b.signal('prod/type1', Date.parse(endsAt)).direction, 'none');
});

t.test('a firing alert without endsAt goes stale after the pool signalMaxAge', async (t) => {
  const b = book();
  b.apply(payload([alert({ workload: '3' })]), T0);
  const maxAgeMs = config.pools[0]?.signalMaxAgeMs ?? 0;
  t.equal(maxAgeMs, 810_000);
  t.equal(b.signal('prod/type1', T0 + maxAgeMs).direction, 'up');
  t.equal(b.signal('prod/type1', T0 + maxAgeMs + 1).direction, 'none');
});

t.test('an alert no longer listed in its group (not truncated) is dropped', async (t) => {
  const b = book();
  b.apply(payload([alert({ fingerprint: 'f1' }), alert({ name: 'SaltAutoscalerScaleDown', fingerprint: 'f2', startsAt: '2026-11-28T06:00:00Z' })]), T0);
  b.apply(payload([alert({ name: 'SaltAutoscalerScaleDown', fingerprint: 'f2', startsAt: '2026-11-28T06:00:00Z' })]), T0 + 1);
  t.equal(b.signal('prod/type1', T0 + 1).direction, 'down');
});

t.test('a truncated notification does not drop unlisted alerts', async (t) => {
  const b = book();
  b.apply(payload([alert({ fingerprint: 'f1', workload: '6' })]), T0);
  const r = b.apply(payload([], { truncatedAlerts: 3 }), T0 + 1);
  t.match(r.ignored[0], /3 alert\(s\) truncated/);
  t.equal(b.signal('prod/type1', T0 + 1).workload, 6);
});

t.test('alerts map by the pool label, and unknown names or pools are ignored with a reason', async (t) => {
  const b = book();
  const r = b.apply(payload([
    alert({ fingerprint: 'p', env: 'x', type: 'y', labels: { pool: 'dev/type2' }, workload: '1' }),
    alert({ fingerprint: 'q', name: 'HighCPU' }),
    alert({ fingerprint: 'r', env: 'staging' }),
  ]), T0);
  t.equal(r.accepted, 1);
  t.same(r.pools, ['dev/type2']);
  t.match(r.ignored, [/HighCPU.*not a scale alert/, /matches no pool.*env=staging/]);
  t.equal(b.signal('dev/type2', T0).direction, 'up');
});

t.test('parseWorkload accepts finite numbers only', async (t) => {
  t.equal(parseWorkload('4.5'), 4.5);
  t.equal(parseWorkload('NaN'), undefined);
  t.equal(parseWorkload('+Inf'), undefined);
  t.equal(parseWorkload(''), undefined);
  t.equal(parseWorkload('12 tasks'), undefined);
});
