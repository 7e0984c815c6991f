import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AlertBook, MAX_BOOK_BYTES, MAX_ENTRIES_PER_POOL, RESOLVED_KEEP_MS, hashGroupKey, parseWorkload } from '../../src/alertmanager/alert-book.ts';
import { parseConfig } from '../../src/config/load.ts';
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
  t.same(r, { group: hashGroupKey(String(notification([]).groupKey)), accepted: 1, ignored: [], pools: ['prod/type1'] });
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

/** retainedHeapBytes is the heap in use after a full GC (what the process keeps, not GC sawtooth). */
const retainedHeapBytes = (() => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return (): number => { gc(); gc(); return process.memoryUsage().heapUsed; };
})();

t.test('a flood of unique 100 KB group keys keeps no key: each group is forgotten with its last entry', async (t) => {
  const b = book();
  const before = retainedHeapBytes();
  for (let i = 0; i < 2000; i++) {
    // as from the wire: each key a fresh 100 KB string (JSON.parse), one resolved alert of a real pool
    const body = JSON.stringify(notification([alert({ status: 'resolved', endsAt: '2026-11-28T07:00:20Z' })], { groupKey: `${i}:${'k'.repeat(100_000)}` }));
    b.apply(WebhookPayloadSchema.parse(JSON.parse(body)), T0 + i);
  }
  const grownMiB = (retainedHeapBytes() - before) / 1_048_576;
  t.same(b.size(), { groups: 1, entries: 1, bytes: b.size().bytes });
  t.ok(grownMiB < 20, `heap grew ${grownMiB.toFixed(1)} MiB for 2000 x 100 KB group keys (one copy each would be ~190 MiB)`);
  t.equal(hashGroupKey('g').length, 32);
});

t.test('many pools x many fingerprints stay within MAX_BOOK_BYTES, and live alerts outlast resolved ones', async (t) => {
  const pools = parseConfig({
    salt: { url: 'http://127.0.0.1:8000', username: 'u', password: 'p' },
    matrix: { envs: ['e'], instanceTypes: Array.from({ length: 20 }, (_, i) => `t${i}`), pool: { max: 1, provider: 'c', profile: 'p' } },
  }, {}).pools;
  const b = new AlertBook(config.alerts, pools);
  for (const [p, pool] of pools.entries()) {
    const alerts = Array.from({ length: MAX_ENTRIES_PER_POOL }, (_, i) =>
      alert({ env: 'e', type: pool.instanceType, status: 'resolved', endsAt: '2026-11-28T07:00:20Z', fingerprint: `${p}-${i}-${'f'.repeat(240)}` }));
    b.apply(payload(alerts, { groupKey: `g${p}` }), T0 + p);
  }
  b.apply(payload([alert({ env: 'e', type: 't0', workload: '7', fingerprint: 'live' })], { groupKey: 'live' }), T0 + 100);
  t.ok(b.size().bytes <= MAX_BOOK_BYTES, `${b.size().bytes} bytes <= ${MAX_BOOK_BYTES}`);
  t.ok(b.size().entries < pools.length * MAX_ENTRIES_PER_POOL, 'resolved entries were evicted');
  t.match(b.signal('e/t0', T0 + 101), { direction: 'up', workload: 7 }, 'the live alert survives the eviction');
});

t.test('an entry no longer live and not seen for RESOLVED_KEEP_MS is swept with its group', async (t) => {
  const b = book();
  b.apply(payload([alert({ workload: '3', endsAt: '2026-11-28T07:04:00Z' })], { groupKey: 'old' }), T0);
  t.equal(b.size().groups, 1);
  b.apply(payload([alert({ env: 'dev', type: 'type2', fingerprint: 'new' })], { groupKey: 'new' }), T0 + RESOLVED_KEEP_MS + 1);
  t.same(b.size(), { groups: 1, entries: 1, bytes: b.size().bytes }, 'the expired firing alert and its group are gone');
});

t.test('parseWorkload accepts finite numbers only', async (t) => {
  t.equal(parseWorkload('4.5'), 4.5);
  t.equal(parseWorkload('NaN'), undefined);
  t.equal(parseWorkload('+Inf'), undefined);
  t.equal(parseWorkload(''), undefined);
  t.equal(parseWorkload('12 tasks'), undefined);
});
