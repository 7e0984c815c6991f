import t from 'tap';
import { Writable } from 'node:stream';
import { alertmanagerWebhook } from '../../src/alertmanager/webhook.ts';
import { createLogger, redactUrl } from '../../src/log.ts';
import { testConfig } from '../alertmanager/payloads.ts';
import { buildTestApp } from './build.ts';

const QUERY_SECRET = 'token-in-the-query-string-1234';

t.test('a token in the query string never reaches the request log', async (t) => {
  const { app, logLines } = buildTestApp({
    registerWebhook: async (child) => {
      await child.register(alertmanagerWebhook, {
        config: testConfig({ webhookToken: 'the-configured-webhook-token' }),
        onSignal: () => undefined,
        now: () => 0,
        logger: createLogger({ level: 'silent' }),
      });
    },
  });
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'POST', url: `/alertmanager/webhook?token=${QUERY_SECRET}`, headers: { 'content-type': 'application/json' }, payload: '{}' });
  t.equal(res.statusCode, 401);
  await app.inject({ method: 'GET', url: `/api/decisions?pool=prod%2Ftype1&token=${QUERY_SECRET}` });
  await app.inject({ method: 'GET', url: `/nowhere?token=${QUERY_SECRET}` });
  const log = logLines.join('');
  t.notMatch(log, QUERY_SECRET);
  t.match(log, '"url":"/alertmanager/webhook?token=[redacted]"');
  t.match(log, '"url":"/api/decisions?pool=[redacted]&token=[redacted]"');
  t.match(log, '"url":"/nowhere?token=[redacted]"');
});

t.test('any logged url field loses its query values and credentials', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: new Writable({ write: (chunk: Buffer, _e, cb) => { lines.push(chunk.toString()); cb(); } }) });
  logger.child({ component: 'x' }).warn({ url: 'https://user:hunter2@salt:8000/login?token=abc&flag' }, 'salt-api TLS verification disabled');
  t.notMatch(lines.join(''), /hunter2|abc/);
  t.match(lines.join(''), '"url":"https://[redacted]@salt:8000/login?token=[redacted]&flag"');
  t.equal(redactUrl('/healthz'), '/healthz');
  t.equal(redactUrl(`/${'p'.repeat(2000)}`).length, 512 + '…(2001 chars)'.length, 'a long path is cut');
});
