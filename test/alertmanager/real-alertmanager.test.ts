import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { alertmanagerWebhook } from '../../src/alertmanager/webhook.ts';
import type { AlertSignal } from '../../src/core/types.ts';
import { testConfig } from './payloads.ts';

const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function until<T>(what: string, deadlineMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

t.test('a real Alertmanager delivers firing then resolved scale alerts through the webhook', { skip: existsSync(ALERTMANAGER) ? false : `${ALERTMANAGER} not installed (apt install prometheus-alertmanager)` }, async (t) => {
  const signals: AlertSignal[] = [];
  const statuses: string[] = [];
  const app = Fastify();
  await app.register(alertmanagerWebhook, {
    config: testConfig({ webhookToken: 'real-am-token' }),
    onSignal: (s) => signals.push(s),
    now: () => Date.now(),
    logger: pino({ level: 'silent' }),
    metrics: { webhookRequests: { inc: ({ status }) => statuses.push(status) } },
  });
  t.teardown(() => app.close());
  const hookUrl = await app.listen({ host: '127.0.0.1', port: 0 });

  const dir = mkdtempSync(join(tmpdir(), 'asc-am-'));
  writeFileSync(join(dir, 'token'), 'real-am-token\n');
  writeFileSync(join(dir, 'alertmanager.yml'), `
route:
  receiver: salt-autoscaler
  group_by: [alertname, env, instance_type]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1m
receivers:
  - name: salt-autoscaler
    webhook_configs:
      - url: ${hookUrl}/alertmanager/webhook
        send_resolved: true
        http_config:
          authorization: {type: Bearer, credentials_file: ${join(dir, 'token')}}
`);
  const port = await freePort();
  const am = spawn(ALERTMANAGER, [
    `--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  am.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const amExited = new Promise((resolve) => am.once('exit', resolve));
  // alertmanager writes its data dir until it exits: remove the dir only after
  t.teardown(async () => { am.kill('SIGTERM'); await amExited; rmSync(dir, { recursive: true, force: true }); });
  const api = `http://127.0.0.1:${port}/api/v2/alerts`;
  await until('alertmanager to listen', 15_000, async () => (await fetch(`http://127.0.0.1:${port}/-/ready`).catch(() => undefined))?.ok ? true : undefined)
    .catch((err: unknown) => { throw new Error(`${String(err)}\n${stderr}`); });

  const startsAt = new Date().toISOString();
  const labels = { alertname: 'SaltAutoscalerScaleUp', env: 'prod', instance_type: 'type1', pool: 'prod/type1' };
  const post = async (body: unknown) => {
    const res = await fetch(api, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    t.equal(res.status, 200, 'alertmanager took the alert');
  };
  await post([{ labels, annotations: { workload: '4' }, startsAt }]);
  const firing = await until('the firing notification', 20_000, () => signals.find((s) => s.direction === 'up'));
  t.match(firing, { pool: 'prod/type1', direction: 'up', workload: 4 });
  t.ok(firing.expiresMs === undefined || firing.expiresMs > Date.now(), 'a firing alert is not already expired');

  await post([{ labels, annotations: { workload: '4' }, startsAt, endsAt: new Date().toISOString() }]);
  const resolved = await until('the resolved notification', 20_000, () => signals.find((s) => s.direction === 'none'));
  t.match(resolved, { pool: 'prod/type1', direction: 'none' });
  t.same([...new Set(statuses)], ['200'], 'every delivery was accepted (bearer token from credentials_file)');
});
