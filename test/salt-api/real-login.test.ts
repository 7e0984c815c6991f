// real-login: SaltClient logs in with the answer the real Salt 3006.10 master gave the product's user (real_01:
// perms as Salt stores them, strings and objects), then uses the token; an ACL refusal (real_02) is a typed error.
import t, { type Test } from 'tap';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { SaltClient } from '../../src/salt-api/client.ts';
import { SaltApiActions } from '../../src/salt-api/actions.ts';
import { createLogger } from '../../src/log.ts';

const logger = createLogger({ level: 'silent' });
const read = (name: string): string => readFileSync(new URL(`../fixtures/salt-api/${name}`, import.meta.url), 'utf8');

interface Seen { readonly path: string; readonly token: string | undefined; readonly body: string }

/** replay serves `/login` with real_01 and `POST /` with `rootFixture`, status, headers and body as recorded. */
async function replay(t: Test, rootFixture: string): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const token = req.headers['x-auth-token'];
      seen.push({ path: req.url ?? '', token: typeof token === 'string' ? token : undefined, body: Buffer.concat(chunks).toString('utf8') });
      const name = req.url === '/login' ? 'real_01_login_shipped_acl' : rootFixture;
      const [status = '', ...lines] = read(`${name}.headers`).split('\r\n').filter((l) => l !== '');
      const body = read(`${name}.body`);
      res.statusCode = Number(status.split(' ')[1]);
      for (const l of lines) {
        const k = l.slice(0, l.indexOf(':'));
        if (!['content-length', 'date', 'transfer-encoding'].includes(k.toLowerCase())) res.setHeader(k, l.slice(l.indexOf(':') + 1).trim());
      }
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const addr = server.address();
  return { url: `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`, seen };
}

const recordedLogin = JSON.parse(read('real_01_login_shipped_acl.body')) as { return: [{ token: string; start: number; expire: number; perms: unknown[] }] };

t.test('logs in with the perms real Salt answers for the shipped ACL (strings and objects) and uses the token', async (t) => {
  t.ok(recordedLogin.return[0].perms.some((p) => typeof p === 'object') && recordedLogin.return[0].perms.some((p) => typeof p === 'string'), 'the recording mixes strings and objects');
  const { url, seen } = await replay(t, 'real_10_idle_check_idle');
  const client = new SaltClient({ url, username: 'salt-autoscaler', password: 'p', eauth: 'sharedsecret', tlsVerify: true, timeoutMs: 2000, logger, now: () => 1_000_000 });
  t.teardown(() => client.close());
  const session = await client.login();
  const { token, start, expire } = recordedLogin.return[0];
  t.equal(session.token, token);
  t.ok(Math.abs(session.expiresAtMs - 1_000_000 - (expire - start) * 1000) < 1, 'lifetime from the answer (expire - start)');
  t.equal(Math.round(expire - start), 43_200, 'Salt\'s 12 h token_expire');
  const idle = await new SaltApiActions(client, logger).idleCheck('gpu-prod-type1-1', 'cmd.retcode', ['/usr/local/bin/training-idle']);
  t.equal(idle, 'idle', 'real_10 answered 0');
  t.same(seen.map((s) => [s.path, s.token]), [['/login', undefined], ['/', token]]);
});

t.test('a call the ACL refuses (real_02) is ASC_ERR_SALT_AUTH at once, naming the call, without a useless re-login', async (t) => {
  const { url, seen } = await replay(t, 'real_02_acl_denied_local_fun');
  const client = new SaltClient({ url, username: 'salt-autoscaler', password: 'p', eauth: 'sharedsecret', tlsVerify: true, timeoutMs: 2000, logger });
  t.teardown(() => client.close());
  await t.rejects(client.local('gpu-prod-type1-1', 'cmd.run', { arg: ['id'] }), {
    code: 'ASC_ERR_SALT_AUTH', status: 401, message: /^salt-api refused local cmd\.run: the user's external_auth entry does not grant it \(Authorization error occurred\.\)$/,
  });
  t.same(seen.map((s) => s.path), ['/login', '/'], 'a refusal of a valid token is not taken for a dead token: no second login');
});
