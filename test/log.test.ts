/**
 * log: redaction by explicit paths. Every path of REDACT_PATHS is censored, and the objects our log lines carry
 * secrets in (an error, request headers, the credential config blocks) lose them, through child loggers too.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { SaltApiError } from '../src/errors.ts';
import { createLogger, REDACT_PATHS } from '../src/log.ts';

function capture(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const lines: string[] = [];
  const destination = new Writable({ write: (chunk: Buffer, _e, cb) => { lines.push(chunk.toString()); cb(); } });
  return { logger: createLogger({ level: 'trace', destination }), text: () => lines.join('') };
}

/** segments splits a pino path (`a.b["x-y"]`) into its keys. */
function segments(path: string): string[] {
  return [...path.matchAll(/([^.[\]"]+)|\["([^"]+)"\]/g)].map((m) => m[2] ?? m[1] ?? '');
}

/** objectAt builds an object holding `value` at `keys`. */
function objectAt(keys: readonly string[], value: string): Record<string, unknown> {
  const [first, ...rest] = keys;
  if (first === undefined) throw new Error('empty path');
  return { [first]: rest.length === 0 ? value : objectAt(rest, value) };
}

t.test('every redact path is censored, at trace level as at info', async (t) => {
  t.ok(REDACT_PATHS.length > 0);
  t.notOk(REDACT_PATHS.some((p) => p.includes('*')), 'no wildcard path (each one walks every logged object)');
  for (const path of REDACT_PATHS) {
    const { logger, text } = capture();
    const secret = `secret-${path.replace(/\W+/g, '-')}-9f2c`;
    logger.child({ component: 'test' }).trace({ pool: 'prod/t1', ...objectAt(segments(path), secret) }, 'line');
    t.notMatch(text(), secret, `${path}: the secret is not in the line`);
    t.match(text(), '[redacted]', `${path}: censored`);
    t.match(text(), '"pool":"prod/t1"', `${path}: the other fields stay`);
  }
});

t.test('the secrets of an error, request headers and the credential config blocks never reach the log', async (t) => {
  const { logger, text } = capture();
  const log = logger.child({ component: 'salt-client' });
  const err = Object.assign(new SaltApiError('ASC_ERR_SALT_AUTH', 'salt-api answered 401 to /login', { endpoint: '/login', status: 401 }), {
    token: 'err-token-1a2b', headers: { 'x-auth-token': 'err-header-token-3c4d', authorization: 'Bearer err-bearer-5e6f' },
  });
  log.error({ err, endpoint: '/login' }, 'login failed');
  log.info({ headers: { authorization: 'Basic dXNlcjpodW50ZXIy', cookie: 'session_id=cookie-7a8b', 'x-auth-token': 'hdr-token-9c0d', accept: 'application/json' } }, 'headers');
  log.info({ req: { method: 'POST', headers: { authorization: 'Bearer req-bearer-1e2f', 'x-auth-token': 'req-token-3a4b' } } }, 'request');
  log.info({ salt: { url: 'https://salt:8000', username: 'salt-autoscaler', password: 'salt-pw-5c6d' } }, 'salt');
  log.info({ http: { webhookToken: 'wh-token-7e8f', apiToken: 'api-token-9a0b', webhookBasicAuth: { username: 'am', password: 'basic-pw-1c2d' } } }, 'http');
  log.info({ ha: { etcd: { username: 'root', password: 'etcd-pw-3e4f' } } }, 'ha');
  log.info({ password: 'top-pw-5a6b', token: 'top-token-7c8d', webhookToken: 'top-wh-9e0f', apiToken: 'top-api-1a2c' }, 'top level');
  const out = text();
  for (const secret of ['err-token-1a2b', 'err-header-token-3c4d', 'err-bearer-5e6f', 'dXNlcjpodW50ZXIy', 'cookie-7a8b', 'hdr-token-9c0d',
    'req-bearer-1e2f', 'req-token-3a4b', 'salt-pw-5c6d', 'wh-token-7e8f', 'api-token-9a0b', 'basic-pw-1c2d', 'etcd-pw-3e4f',
    'top-pw-5a6b', 'top-token-7c8d', 'top-wh-9e0f', 'top-api-1a2c']) {
    t.notMatch(out, secret, `${secret} is not logged`);
  }
  t.match(out, '"code":"ASC_ERR_SALT_AUTH"', 'the error is logged with its code');
  t.match(out, '"accept":"application/json"', 'a header that is no secret is logged');
  t.match(out, '"username":"salt-autoscaler"', 'the user name is logged');
});
