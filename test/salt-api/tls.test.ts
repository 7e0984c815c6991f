import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SaltClient } from '../../src/salt-api/client.ts';
import { SaltEventStream } from '../../src/salt-api/event-stream.ts';
import type { AutoscalerError } from '../../src/errors.ts';
import { capturingLogger } from '../support/engine-harness.ts';

// a private CA and a server certificate for 127.0.0.1, made with openssl for this run
const dir = mkdtempSync(join(tmpdir(), 'asc-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const sh = (args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }); };
sh(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=salt-autoscaler test CA']);
sh(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
sh(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);

const LOGIN = readFileSync(new URL('../fixtures/salt-api/auth_01_login_ok.body', import.meta.url), 'utf8');

/** saltApiOverTls answers /login with the recorded body, POST / with manage.up, and /events with one event. */
async function saltApiOverTls(): Promise<{ url: string; server: Server }> {
  const server = createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (req, res) => {
    if (req.url === '/login') {
      const start = Date.now() / 1000;
      const body = LOGIN.replace(/"expire": [\d.]+/, `"expire": ${start + 3600}`).replace(/"start": [\d.]+/, `"start": ${start}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } else if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream;charset=utf-8' });
      res.write('retry: 400\n');
      res.write('tag: salt/minion/gpu-1/start\n');
      res.write('data: {"data": {"id": "gpu-1", "_stamp": "2026-11-28T07:00:00.000000"}, "tag": "salt/minion/gpu-1/start"}\n\n');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"return": [["gpu-1"]]}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return { url: `https://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`, server };
}

function client(url: string, tls: { caFile?: string; tlsVerify: boolean }): SaltClient {
  return new SaltClient({ url, username: 'autoscaler', password: 'secret', eauth: 'pam', timeoutMs: 5_000, logger: capturingLogger([]), ...tls });
}

t.test('HTTPS with the CA file of salt-api\'s certificate: login, calls and the event stream work', async (t) => {
  const api = await saltApiOverTls();
  const c = client(api.url, { caFile: join(dir, 'ca.pem'), tlsVerify: true });
  t.teardown(async () => { await c.close(); api.server.closeAllConnections(); api.server.close(); });
  t.same(await c.runner('manage.up'), ['gpu-1']);
  const stream = new SaltEventStream({ client: c, transport: 'sse', logger: capturingLogger([]), heartbeatIntervalMs: 0 });
  const kinds: string[] = [];
  for await (const item of stream.items()) {
    kinds.push(item.kind);
    if (item.kind === 'minion-start') break;
  }
  await stream.close();
  t.same(kinds, ['gap', 'minion-start'], 'the stream connected over TLS and typed the event');
});

t.test('HTTPS without the CA: the certificate is refused with a typed network error', async (t) => {
  const api = await saltApiOverTls();
  const c = client(api.url, { tlsVerify: true });
  t.teardown(async () => { await c.close(); api.server.closeAllConnections(); api.server.close(); });
  let code: string | undefined;
  try { await c.runner('manage.up'); } catch (err) { code = (err as AutoscalerError).code; }
  t.equal(code, 'ASC_ERR_SALT_NETWORK');
});

t.test('tlsVerify: false is the explicit opt-out for a self-signed lab', async (t) => {
  const api = await saltApiOverTls();
  const c = client(api.url, { tlsVerify: false });
  t.teardown(async () => { await c.close(); api.server.closeAllConnections(); api.server.close(); });
  t.same(await c.runner('manage.up'), ['gpu-1']);
});
