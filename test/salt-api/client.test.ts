// SaltClient against a real HTTP server: token renewal before expiry, one re-login + one retry on a 401,
// timeouts, unreachable salt-api, TLS options, and no secret in any message or log line.
import t from 'tap';
import { Writable } from 'node:stream';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SaltClient, htmlText, tlsOptions } from '../../src/salt-api/client.ts';
import { AutoscalerError, SaltApiError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { fixtureReply, loginReply, startFixtureServer } from './fixture-server.ts';

const silent = createLogger({ level: 'silent' });
const PASSWORD = 'pa55-very-secret';

function captureLogger(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb(); } });
  return { logger: createLogger({ level: 'trace', destination }), lines };
}

t.test('renews the token before it expires (10% of a short lifetime), on our own clock', async (tt) => {
  let n = 0;
  const server = await startFixtureServer((seen) => {
    if (seen.path === '/login') { n += 1; return loginReply(String(n).padStart(40, '0'), 100); }
    return { status: 200, contentType: 'application/json', body: '{"return": [{"m1": true}]}' };
  });
  let nowMs = 1_000_000;
  const client = new SaltClient({ url: server.url, username: 'u', password: PASSWORD, eauth: 'pam', tlsVerify: true, timeoutMs: 2000, logger: silent, now: () => nowMs });
  tt.teardown(async () => { await client.close(); await server.close(); });
  await client.local('*', 'test.ping');
  nowMs += 89_000;
  await client.local('*', 'test.ping');
  tt.equal(client.logins, 1, 'still valid at 89 s of 100 s');
  nowMs += 2_000;
  await client.local('*', 'test.ping');
  tt.equal(client.logins, 2, 'renewed at 91 s (margin 10 s)');
  tt.same(server.seen.filter((s) => s.path === '/').map((s) => s.token), ['1'.padStart(40, '0'), '1'.padStart(40, '0'), '2'.padStart(40, '0')]);
});

t.test('an explicit renewBeforeMs wins over the default margin', async (tt) => {
  const server = await startFixtureServer(() => loginReply('a'.repeat(40), 3600));
  const client = new SaltClient({ url: server.url, username: 'u', password: 'p', eauth: 'pam', tlsVerify: true, timeoutMs: 2000, logger: silent, renewBeforeMs: 5_000, now: () => 0 });
  tt.teardown(async () => { await client.close(); await server.close(); });
  const s = await client.login();
  tt.equal(s.renewAtMs, 3_595_000);
});

t.test('a 401 in the middle of a call logs in again once and retries the call once', async (tt) => {
  let logins = 0;
  const server = await startFixtureServer((seen) => {
    if (seen.path === '/login') { logins += 1; return loginReply(String(logins).padStart(40, '0')); }
    return seen.token === '1'.padStart(40, '0') ? fixtureReply('auth_11_expired_token_root') : fixtureReply('req_02_local_sync_test_ping');
  });
  const client = new SaltClient({ url: server.url, username: 'u', password: PASSWORD, eauth: 'pam', tlsVerify: true, timeoutMs: 2000, logger: silent });
  tt.teardown(async () => { await client.close(); await server.close(); });
  tt.same(await client.local('*', 'test.ping'), { 'lab-m1': true, 'lab-m2': true });
  tt.same(server.seen.map((s) => s.path), ['/login', '/', '/login', '/']);
});

t.test('concurrent calls share one login', async (tt) => {
  const server = await startFixtureServer((seen) => seen.path === '/login' ? loginReply('c'.repeat(40)) : fixtureReply('req_11_runner_sync_manage_up'));
  const client = new SaltClient({ url: server.url, username: 'u', password: 'p', eauth: 'pam', tlsVerify: true, timeoutMs: 2000, logger: silent });
  tt.teardown(async () => { await client.close(); await server.close(); });
  await Promise.all([client.runner('manage.up'), client.runner('manage.up'), client.runner('manage.up')]);
  tt.equal(server.seen.filter((s) => s.path === '/login').length, 1);
});

t.test('a call that does not answer in timeoutMs is ASC_ERR_SALT_TIMEOUT', async (tt) => {
  const server = await startFixtureServer((seen) => seen.path === '/login' ? loginReply('d'.repeat(40)) : 'handled');
  // the timeout bounds the login too: 1 s leaves a loaded machine room to log in before the call that never answers
  const client = new SaltClient({ url: server.url, username: 'u', password: 'p', eauth: 'pam', tlsVerify: true, timeoutMs: 1_000, logger: silent });
  tt.teardown(async () => { await client.close(); await server.close(); });
  const err = await client.runner('manage.up').catch((e: unknown) => e);
  tt.ok(err instanceof SaltApiError);
  tt.match(err, { code: 'ASC_ERR_SALT_TIMEOUT', endpoint: '/', status: 0, message: /within 1000 ms/ });
});

t.test('an unreachable salt-api is ASC_ERR_SALT_NETWORK', async (tt) => {
  const server = await startFixtureServer(() => loginReply('e'.repeat(40)));
  const url = server.url;
  await server.close();
  const client = new SaltClient({ url, username: 'u', password: 'p', eauth: 'pam', tlsVerify: true, timeoutMs: 1000, logger: silent });
  tt.teardown(() => client.close());
  const err = await client.login().catch((e: unknown) => e);
  tt.match(err, { code: 'ASC_ERR_SALT_NETWORK', message: /could not be reached for POST \/login \(ECONNREFUSED\)/ });
});

t.test('HTTP errors are typed: 401 after a fresh login, 500 HTML, 404', async (tt) => {
  let mode = 'always401';
  const server = await startFixtureServer((seen) => {
    if (seen.path === '/login') return loginReply('f'.repeat(40));
    if (mode === 'always401') return fixtureReply('auth_06_bogus_token_root');
    if (mode === 'html500') return { status: 500, contentType: 'text/html', body: '<html><p>Internal Server Error</p></html>' };
    return { status: 404, contentType: 'text/html', body: '<p>Nothing matches the given URI</p>' };
  });
  const client = new SaltClient({ url: server.url, username: 'u', password: 'p', eauth: 'pam', tlsVerify: true, timeoutMs: 1000, logger: silent });
  tt.teardown(async () => { await client.close(); await server.close(); });
  tt.match(await client.runner('x').catch((e: unknown) => e), { code: 'ASC_ERR_SALT_AUTH', status: 401, message: /right after a fresh login/ });
  mode = 'html500';
  tt.match(await client.runner('x').catch((e: unknown) => e), { code: 'ASC_ERR_SALT_RUNNER', status: 500, message: /Internal Server Error/ });
  mode = '404';
  tt.match(await client.job('1').catch((e: unknown) => e), { code: 'ASC_ERR_SALT_HTTP', status: 404, body: 'Nothing matches the given URI' });
});

t.test('neither the password nor the token reaches an error message or a log line', async (tt) => {
  const token = '9'.repeat(40);
  const server = await startFixtureServer((seen) => {
    if (seen.path === '/login') return seen.rawBody.includes(PASSWORD) ? loginReply(token) : fixtureReply('auth_03_login_bad_password');
    return fixtureReply('auth_06_bogus_token_root');
  });
  const { logger, lines } = captureLogger();
  const client = new SaltClient({ url: server.url, username: 'u', password: PASSWORD, eauth: 'pam', tlsVerify: true, timeoutMs: 1000, logger });
  tt.teardown(async () => { await client.close(); await server.close(); });
  const err = await client.local('*', 'test.ping').catch((e: unknown) => e);
  tt.ok(err instanceof AutoscalerError);
  const everything = `${lines.join('')}\n${(err as Error).message}\n${JSON.stringify(err)}`;
  tt.ok(lines.length > 0, 'something was logged');
  tt.notOk(everything.includes(PASSWORD), 'no password');
  tt.notOk(everything.includes(token), 'no token');
});

t.test('TLS options: a CA file is read, a missing one is a typed error, tlsVerify false is explicit', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-salt-ca-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pem = join(dir, 'ca.pem');
  writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  tt.same(tlsOptions({ caFile: pem, tlsVerify: true }), { ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', rejectUnauthorized: true });
  tt.same(tlsOptions({ tlsVerify: false }), { rejectUnauthorized: false });
  let code: string | undefined;
  try { tlsOptions({ caFile: join(dir, 'missing.pem'), tlsVerify: true }); } catch (err) { code = (err as AutoscalerError).code; }
  tt.equal(code, 'ASC_ERR_SALT_NETWORK');
});

t.test('htmlText pulls the message out of a CherryPy error page', async (tt) => {
  tt.equal(htmlText(fixtureReply('auth_03_login_bad_password').body), 'Could not authenticate using provided credentials');
  tt.equal(htmlText('plain'), 'plain');
});
