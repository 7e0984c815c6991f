import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { PrometheusSource } from '../../src/prometheus/source.ts';
import { defaultWorkloadQuery } from '../../src/config/schema.ts';
import { answerer, type Handler } from '../support/http-answerer.ts';

/** prometheus starts a tiny real HTTP server answering /api/v1/query with `handler`; `queries` are the PromQL it was asked. */
async function prometheus(t: { teardown(fn: () => unknown): void }, handler: Handler): Promise<{ url: string; readonly queries: string[] }> {
  const server = await answerer(t, '/api/v1/query', handler);
  return { url: server.url, get queries() { return server.calls.map((c) => c.get('query') ?? ''); } };
}

const json = (status: number, body: unknown): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};
const vector = (...values: string[]) => ({
  status: 'success',
  data: { resultType: 'vector', result: values.map((v, i) => ({ metric: { env: 'prod', shard: String(i) }, value: [1764313230.781, v] })) },
});

function source(url: string, timeoutMs = 2000): { src: PrometheusSource; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const dest = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const src = new PrometheusSource({ url, timeoutMs, logger: pino({ level: 'warn' }, dest) });
  return { src, lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const pool = { name: 'prod/type1', query: defaultWorkloadQuery({ env: 'prod', instanceType: 'type1' }) };

t.test('one finite sample is the workload, at the sample time', async (t) => {
  const prom = await prometheus(t, json(200, vector('7')));
  const { src } = source(prom.url);
  t.same(await src.workload(pool), { value: 7, atMs: 1764313230781, source: 'prometheus' });
  t.same(prom.queries, ['sum(queue_length{env="prod",instance_type="type1"})']);
});

t.test('the pool workloadQuery is sent as is; a scalar answer counts', async (t) => {
  const prom = await prometheus(t, json(200, { status: 'success', data: { resultType: 'scalar', result: [1764313230, '2.5'] } }));
  const { src } = source(`${prom.url}/`);
  t.same(await src.workload({ ...pool, query: 'scalar(sum(x{a="b"}))' }), { value: 2.5, atMs: 1764313230000, source: 'prometheus' });
  t.same(prom.queries, ['scalar(sum(x{a="b"}))']);
});

t.test('by pool name, the configured query is used and atMs comes from our clock', async (t) => {
  const prom = await prometheus(t, json(200, vector('3')));
  const src = new PrometheusSource({ url: prom.url, timeoutMs: 2000, logger: pino({ level: 'silent' }), queries: { 'prod/type1': 'sum(q)' }, now: () => 42 });
  t.same(await src.workload('prod/type1'), { value: 3, atMs: 42, source: 'prometheus' });
  t.equal(await src.workload('dev/type2'), undefined, 'a pool without a query has no Prometheus signal');
  t.same(prom.queries, ['sum(q)']);
  t.same(src.failures, {});
});

t.test('no series is a stale signal, never zero', async (t) => {
  const prom = await prometheus(t, json(200, vector()));
  const { src, lines } = source(prom.url);
  t.equal(await src.workload(pool), undefined);
  t.same(src.failures, { empty: 1 });
  t.match(lines()[0], { pool: 'prod/type1', reason: 'empty', msg: 'workload query gave no value' });
});

t.test('NaN and infinities are rejected', async (t) => {
  for (const v of ['NaN', '+Inf', '-Inf']) {
    const prom = await prometheus(t, json(200, vector(v)));
    t.equal(await source(prom.url).src.workload(pool), undefined, v);
  }
});

t.test('several series are ambiguous', async (t) => {
  const prom = await prometheus(t, json(200, vector('1', '2')));
  const { src } = source(prom.url);
  t.equal(await src.workload(pool), undefined);
  t.same(src.failures, { ambiguous: 1 });
});

t.test('a PromQL error (400 status:error) is counted as query_error', async (t) => {
  const prom = await prometheus(t, json(400, { status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:5: parse error' }));
  const { src, lines } = source(prom.url);
  t.equal(await src.workload(pool), undefined);
  t.same(src.failures, { query_error: 1 });
  const err = lines()[0]?.['err'] as { message?: string; code?: string } | undefined;
  t.match(err, { code: 'ASC_ERR_PROMETHEUS_QUERY', message: /bad_data.*parse error/ });
});

t.test('a 503 HTML page, a non-JSON body and a connection refused are stale signals', async (t) => {
  const html = await prometheus(t, (_req, res) => { res.writeHead(503, { 'content-type': 'text/html' }).end('<html>Service Unavailable</html>'); });
  const a = source(html.url);
  t.equal(await a.src.workload(pool), undefined);
  t.same(a.src.failures, { http: 1 });
  const junk = await prometheus(t, (_req, res) => { res.writeHead(200).end('{"status":"success","data":'); });
  const b = source(junk.url);
  t.equal(await b.src.workload(pool), undefined);
  t.same(b.src.failures, { response: 1 });
  const c = source('http://127.0.0.1:1');
  t.equal(await c.src.workload(pool), undefined);
  t.same(c.src.failures, { network: 1 });
});

t.test('a slow Prometheus times out', async (t) => {
  const prom = await prometheus(t, () => { /* never answers */ });
  const { src } = source(prom.url, 100);
  t.equal(await src.workload(pool), undefined);
  t.same(src.failures, { timeout: 1 }, 'counted as a timeout: the query\'s own 100 ms signal ended it (a hang would end at tap\'s timeout)');
});

t.test('defaultWorkloadQuery escapes label values', async (t) => {
  t.equal(defaultWorkloadQuery({ env: 'a"b', instanceType: 'c\\d' }), 'sum(queue_length{env="a\\"b",instance_type="c\\\\d"})');
});
