/**
 * range: the answers a real Prometheus gives on demand are in test/e2e/simulate-prometheus.test.ts (a backfilled
 * server: two calls, a gap, several series, a negative value, a rejected query, no server). Here, over a tiny real
 * HTTP server, the ones it does not give on demand: an error page, a body of another shape, a silent server, NaN and
 * Inf samples, and the calls' ranges at the chunk boundary.
 */
import t from 'tap';
import { RANGE_CHUNK_MINUTES, fetchDemandRange } from '../../src/prometheus/range.ts';
import { answerer, type Handler } from '../support/http-answerer.ts';

const MINUTE_MS = 60_000;
const T0 = Date.parse('2026-12-01T00:00:00Z');

const server = (t: { teardown(fn: () => unknown): void }, handler: Handler) => answerer(t, '/api/v1/query_range', handler);

const matrix = (values: [number, string][]): unknown => ({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values }] } });

/** everyMinute answers each call with `value(minute)` at every step of its range (minute counted from T0). */
const everyMinute = (value: (minute: number) => string): Handler => (_req, res, params) => {
  const values: [number, string][] = [];
  for (let s = Number(params.get('start')); s <= Number(params.get('end')); s += Number(params.get('step'))) values.push([s, value((s * 1000 - T0) / MINUTE_MS)]);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(matrix(values)));
};

t.test('the range is asked in calls of RANGE_CHUNK_MINUTES minutes, step 60 s, each minute read once', async (t) => {
  const prom = await server(t, everyMinute((m) => String(m % 7)));
  const minutes = RANGE_CHUNK_MINUTES * 2 + 5;
  // the ends rounded down to the minute
  const range = await fetchDemandRange({ url: prom.url, query: 'q', startMs: T0 + 30_000, endMs: T0 + (minutes - 1) * MINUTE_MS + 59_000, timeoutMs: 5_000 });
  t.same(prom.calls.map((c) => [(Number(c.get('start')) * 1000 - T0) / MINUTE_MS, (Number(c.get('end')) * 1000 - T0) / MINUTE_MS, c.get('step'), c.get('query')]), [
    [0, RANGE_CHUNK_MINUTES - 1, '60', 'q'], [RANGE_CHUNK_MINUTES, 2 * RANGE_CHUNK_MINUTES - 1, '60', 'q'], [2 * RANGE_CHUNK_MINUTES, minutes - 1, '60', 'q'],
  ]);
  t.same([range.firstMs, range.values.length, range.filled], [T0, minutes, 0]);
  t.ok(range.values.every((v, m) => v === m % 7), 'every minute holds its own value');
});

t.test('NaN and Inf are no sample; fractions round to whole units; samples off the range are dropped', async (t) => {
  const odd: Record<number, string> = { 3: 'NaN', 4: '+Inf', 5: '-Inf', 6: '2.5', 7: '2.4' };
  const prom = await server(t, (_req, res, params) => {
    const start = Number(params.get('start'));
    const end = Number(params.get('end'));
    // one sample before the range asked and one after it: not minutes of this range
    const values: [number, string][] = [[start - 60, '50']];
    for (let s = start; s <= end; s += 60) values.push([s, odd[(s * 1000 - T0) / MINUTE_MS] ?? '9']);
    values.push([end + 60, '50']);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(matrix(values)));
  });
  const range = await fetchDemandRange({ url: prom.url, query: 'q', startMs: T0, endMs: T0 + 9 * MINUTE_MS, timeoutMs: 5_000 });
  t.same(range.values, [9, 9, 9, 9, 9, 9, 3, 2, 9, 9], 'minutes 3-5 take minute 2\'s value; 2.5 rounds to 3, 2.4 to 2');
  t.equal(range.filled, 3);
});

t.test('what is wrong is said: an error page, another shape, a vector, a silent server, an empty range', async (t) => {
  const fails = async (handler: Handler, message: RegExp, timeoutMs = 5_000): Promise<void> => {
    const prom = await server(t, handler);
    await t.rejects(fetchDemandRange({ url: prom.url, query: 'q', startMs: T0, endMs: T0 + 10 * MINUTE_MS, timeoutMs }), { code: 'ASC_ERR_SIM_PROMETHEUS', message }, String(message));
  };
  await fails((_q, res) => { res.writeHead(503).end('<html>Service Unavailable</html>'); }, /answered 503 with a non-JSON body: <html>Service Unavailable/);
  await fails((_q, res) => { res.writeHead(200).end('{"data":[]}'); }, /answered 200 with an unexpected body/);
  await fails((_q, res) => { res.writeHead(502).end(JSON.stringify(matrix([]))); }, /answered 502$/);
  await fails((_q, res) => { res.writeHead(200).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } })); }, /gives a vector, not a series over time/);
  await fails((_q, res) => { res.writeHead(200).end(JSON.stringify(matrix([]))); }, /has no sample over 2026-12-01T00:00:00.000Z..2026-12-01T00:10:00.000Z: q/);
  await fails(() => { /* never answers */ }, /did not answer the range .* within 200ms/, 200);
  await t.rejects(fetchDemandRange({ url: 'http://127.0.0.1:1', query: 'q', startMs: T0, endMs: T0 + 30_000, timeoutMs: 1_000 }), { code: 'ASC_ERR_SIM_PROMETHEUS', message: /holds no minute/ });
});
