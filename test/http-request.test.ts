/**
 * http-request: undici's Agent and `request` taken from undici's parts, not its package entry: a request goes out with
 * its method, path, query, headers and body, through the caller's Agent or undici's global dispatcher; and the HTTP
 * clients of `serve` load neither undici's entry nor Node's bundled undici (what the module is for).
 */
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { Agent, request } from '../src/http-request.ts';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly header: string | undefined;
  readonly body: string;
}

async function startServer(t: Test): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { body += chunk; });
    req.on('end', () => {
      const header = req.headers['x-probe'];
      seen.push({ method: req.method ?? '', url: req.url ?? '', header: typeof header === 'string' ? header : undefined, body });
      res.writeHead(201, { 'content-type': 'text/plain', 'x-answer': 'yes' });
      res.end(`answer to ${req.method ?? ''} ${req.url ?? ''}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

t.test('a request through an Agent carries its method, path, query, headers and body, and returns the answer', async (t) => {
  const { url, seen } = await startServer(t);
  const agent = new Agent({ keepAliveTimeout: 1_000 });
  t.teardown(() => agent.close());
  const res = await request(`${url}/run/this?x=1&y=two`, { method: 'POST', dispatcher: agent, headers: { 'x-probe': 'p1' }, body: '{"a":1}' });
  t.equal(res.statusCode, 201);
  t.equal(res.headers['x-answer'], 'yes');
  t.equal(await res.body.text(), 'answer to POST /run/this?x=1&y=two');
  t.same(seen, [{ method: 'POST', url: '/run/this?x=1&y=two', header: 'p1', body: '{"a":1}' }]);
});

t.test('a request without a dispatcher goes through undici\'s global one, and a URL object is taken as a string is', async (t) => {
  const { url, seen } = await startServer(t);
  const res = await request(new URL(`${url}/api/v1/query?query=up`), { method: 'GET', headers: { 'x-probe': 'p2' } });
  t.equal(res.statusCode, 201);
  t.equal(await res.body.text(), 'answer to GET /api/v1/query?query=up');
  t.same(seen, [{ method: 'GET', url: '/api/v1/query?query=up', header: 'p2', body: '' }]);
});

t.test('a request aborted by its signal rejects', async (t) => {
  const { url } = await startServer(t);
  const ac = new AbortController();
  ac.abort();
  await t.rejects(request(`${url}/x`, { method: 'GET', signal: ac.signal }));
});

t.test('the HTTP clients of serve load neither undici\'s package entry nor Node\'s bundled undici', (t) => {
  // a fresh process: this one has loaded undici's entry for other tests' sake
  const modules = ['src/salt-api/client.ts', 'src/salt-api/event-stream.ts', 'src/prometheus/source.ts', 'src/etcd/client.ts']
    .map((path) => fileURLToPath(new URL(`../${path}`, import.meta.url)));
  const script = `
    for (const m of ${JSON.stringify(modules)}) await import(m);
    const { createRequire } = await import('node:module');
    const cache = createRequire(import.meta.url).cache;
    process.stdout.write(JSON.stringify({
      entry: Object.keys(cache).filter((k) => /[\\\\/]undici[\\\\/]index\\.js$/.test(k)),
      parts: Object.keys(cache).filter((k) => /[\\\\/]undici[\\\\/]lib[\\\\/]dispatcher[\\\\/]agent\\.js$/.test(k)).length,
      bundled: process.moduleLoadList.includes('NativeModule internal/deps/undici/undici'),
    }));`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) });
  t.equal(child.status, 0, child.stderr);
  const loaded = JSON.parse(child.stdout) as { entry: string[]; parts: number; bundled: boolean };
  t.equal(loaded.parts, 1, 'undici\'s Agent is loaded (the check sees the require cache)');
  t.same(loaded.entry, [], 'undici/index.js is not loaded');
  t.equal(loaded.bundled, false, 'Node\'s bundled undici is not loaded');
  t.end();
});
