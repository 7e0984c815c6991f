import t from 'tap';
import { createServer, type Server } from 'node:http';
import { EtcdClient } from '../../src/etcd/client.ts';
import { etcdAvailable, startEtcdCluster } from '../support/etcd-cluster.ts';
import { freePort } from '../support/service-process.ts';
import { quietLogger } from '../support/etcd-candidates.ts';

async function fakeEtcd(handler: (path: string, body: string) => { status: number; body: string } | undefined): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => {
      const answer = handler(req.url ?? '', body);
      if (answer === undefined) return; // never answers
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { url: `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`, server };
}

const RANGE_OK = JSON.stringify({ header: { revision: '7' }, kvs: [{ key: Buffer.from('/k').toString('base64'), value: Buffer.from('v').toString('base64'), create_revision: '5', mod_revision: '7' }], count: '1' });

t.test('a refused first endpoint fails over to the next, which stays preferred and is logged', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const live = await fakeEtcd(() => ({ status: 200, body: RANGE_OK }));
  t.teardown(() => live.server.close());
  const warned: object[] = [];
  const client = new EtcdClient({ endpoints: [dead, live.url], logger: { ...quietLogger, warn: (o: object) => { warned.push(o); } }, timeoutMs: 1_000 });
  t.teardown(() => client.close());
  const answer = await client.range('/k');
  t.same(answer.kvs.map((kv) => [kv.key, kv.value, kv.create_revision]), [['/k', 'v', 5]]);
  t.equal(client.endpoint, live.url);
  t.match(warned, [{ endpoint: live.url, from: dead }]);
  await client.range('/k');
  t.equal(client.ops.get('/v3/kv/range'), 3, 'the dead endpoint is tried once, not on every call');
});

t.test('no endpoint answering is ASC_ERR_ETCD_UNAVAILABLE; a member saying "no leader" counts as not answering', async (t) => {
  const noLeader = await fakeEtcd(() => ({ status: 503, body: JSON.stringify({ error: 'etcdserver: no leader', message: 'etcdserver: no leader', code: 14 }) }));
  t.teardown(() => noLeader.server.close());
  const client = new EtcdClient({ endpoints: [`http://127.0.0.1:${await freePort()}`, noLeader.url], logger: quietLogger, timeoutMs: 1_000 });
  t.teardown(() => client.close());
  await t.rejects(client.range('/k'), { code: 'ASC_ERR_ETCD_UNAVAILABLE', message: /no etcd endpoint of 2 answered \/v3\/kv\/range .*no leader/ });
});

t.test('a member that never answers is ASC_ERR_ETCD_TIMEOUT after the timeout', async (t) => {
  const silent = await fakeEtcd(() => undefined);
  t.teardown(() => { silent.server.closeAllConnections(); silent.server.close(); });
  const client = new EtcdClient({ endpoints: [silent.url], logger: quietLogger, timeoutMs: 200 });
  t.teardown(() => client.close());
  await t.rejects(client.range('/k'), { code: 'ASC_ERR_ETCD_TIMEOUT', message: /did not answer \/v3\/kv\/range within 200 ms/ },
    'ended by the 200 ms timeout given, not the 5 s default');
});

t.test('an unexpected body is ASC_ERR_ETCD_RESPONSE, a bad request is not retried elsewhere', async (t) => {
  let calls = 0;
  const html = await fakeEtcd(() => { calls++; return { status: 200, body: '<html>proxy</html>' }; });
  const bad = await fakeEtcd(() => { calls++; return { status: 400, body: JSON.stringify({ message: 'illegal base64 data', code: 3 }) }; });
  t.teardown(() => { html.server.close(); bad.server.close(); });
  const c1 = new EtcdClient({ endpoints: [html.url], logger: quietLogger });
  const c2 = new EtcdClient({ endpoints: [bad.url, html.url], logger: quietLogger });
  t.teardown(async () => { await c1.close(); await c2.close(); });
  await t.rejects(c1.range('/k'), { code: 'ASC_ERR_ETCD_RESPONSE', message: /unexpected body/ });
  calls = 0;
  await t.rejects(c2.range('/k'), { code: 'ASC_ERR_ETCD_RESPONSE', message: /answered 400 .*illegal base64/ });
  t.equal(calls, 1, 'a 400 is the same on every member: not retried');
});

t.test('an unreadable TLS file is ASC_ERR_ETCD_TLS naming the field', async (t) => {
  t.throws(() => new EtcdClient({ endpoints: ['https://127.0.0.1:1'], tls: { caFile: '/nonexistent/ca.pem' }, logger: quietLogger }), { code: 'ASC_ERR_ETCD_TLS', message: /ha\.etcd\.tls\.caFile \/nonexistent\/ca\.pem \(ENOENT\)/ });
});

const skip = etcdAvailable();
t.test('against etcd with auth on: a wrong password is ASC_ERR_ETCD_AUTH, an expired token is renewed', { skip: skip ?? false }, async (t) => {
  const cluster = await startEtcdCluster(1, { extraArgs: ['--auth-token', 'simple', '--auth-token-ttl', '1'] });
  t.teardown(() => cluster.close());
  const root = new EtcdClient({ endpoints: cluster.endpoints, logger: quietLogger });
  t.teardown(() => root.close());
  const { z } = await import('zod');
  const any = z.object({}).passthrough();
  await root.call('/v3/auth/user/add', { name: 'root', password: 'root-secret' }, any);
  await root.call('/v3/auth/user/grant', { user: 'root', role: 'root' }, any);
  await root.call('/v3/auth/enable', {}, any);
  const wrong = new EtcdClient({ endpoints: cluster.endpoints, username: 'root', password: 'nope', logger: quietLogger });
  t.teardown(() => wrong.close());
  const err = await wrong.range('/k').catch((e: unknown) => e);
  t.match(err, { code: 'ASC_ERR_ETCD_AUTH', message: /refused the login of user root/ });
  t.notMatch(String((err as Error).message), /nope/, 'the password is not in the message');
  const anonymous = new EtcdClient({ endpoints: cluster.endpoints, logger: quietLogger });
  t.teardown(() => anonymous.close());
  await t.rejects(anonymous.range('/k'), { code: 'ASC_ERR_ETCD_AUTH' });
  const infos: object[] = [];
  const right = new EtcdClient({ endpoints: cluster.endpoints, username: 'root', password: 'root-secret', logger: { ...quietLogger, info: (o: object) => { infos.push(o); } } });
  t.teardown(() => right.close());
  await right.txn([], [{ put: '/k', value: 'v' }]);
  t.equal((await right.range('/k')).kvs[0]?.value, 'v');
  await new Promise((r) => setTimeout(r, 2_500)); // the simple token lives 1 s
  t.equal((await right.range('/k')).kvs[0]?.value, 'v', 'the call after the token expired succeeds');
  t.ok(infos.length >= 1, 'after authenticating again');
});
