/**
 * service-secrets: the security checks of issue 7 point 3 against the REAL service process
 * (`bin/salt-autoscaler.js serve`) and the salt-api emulator: the webhook and the control API require their
 * tokens, request bodies above http.bodyLimit get 413, and no secret (salt password, webhookToken, apiToken,
 * salt-api session token) ever reaches the log, at trace level, through login, a 401 re-login, right and wrong
 * tokens and API calls.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/emulator/index.ts';
import { waitFor } from '../support/engine-harness.ts';
import { freePort, startServiceProcess, writeConfig, HEARTBEAT_TIMEOUT } from '../support/service-process.ts';

const SALT_PASSWORD = 'saltPw-7f3a9c-Q2';
const WEBHOOK_TOKEN = 'whTok-51d0e8-K9';
const API_TOKEN = 'apiTok-a4c2b7-Z3';
const POOL = 'sec/t1';
const BODY_LIMIT_BYTES = 16_384;

function webhookBody(workload: number): string {
  return JSON.stringify({
    version: '4', groupKey: '{}:{env="sec", instance_type="t1"}', truncatedAlerts: 0, status: 'firing', receiver: 'salt-autoscaler',
    groupLabels: {}, commonLabels: { env: 'sec', instance_type: 't1' }, commonAnnotations: {}, externalURL: 'http://alertmanager:9093',
    alerts: [{
      status: 'firing', labels: { alertname: 'SaltAutoscalerScaleUp', env: 'sec', instance_type: 't1' }, annotations: { workload: String(workload) },
      startsAt: '2026-11-28T07:00:00Z', endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prometheus:9090/graph', fingerprint: 'aa00bb11cc22dd33',
    }],
  });
}

t.test('the service guards its webhook and API and keeps every secret out of its log', async (t) => {
  const emu = await startEmulator({
    instances: [{ id: 'gpu-dev-sec-1' }, { id: 'gpu-dev-sec-2' }],
    // the product's user, its perms the shipped ACL (instances inside its target)
    users: [{ username: 'salt-autoscaler', password: SALT_PASSWORD, eauth: 'pam' }],
    delays: { startMs: 50, bootMs: 100, deployMs: 100, stopMs: 50 },
  });
  const dir = mkdtempSync(join(tmpdir(), 'asc-security-'));
  t.teardown(async () => { await emu.close(); rmSync(dir, { recursive: true, force: true }); });
  const port = await freePort();
  const configPath = writeConfig(dir, {
    salt: { url: emu.url, username: 'salt-autoscaler', password: SALT_PASSWORD, eauth: 'pam', heartbeatInterval: '1s', heartbeatTimeout: HEARTBEAT_TIMEOUT, timeout: '5s' },
    store: { path: join(dir, 'state.db') },
    http: { listen: `127.0.0.1:${port}`, webhookToken: WEBHOOK_TOKEN, apiToken: API_TOKEN, bodyLimit: BODY_LIMIT_BYTES },
    engine: { evaluateInterval: '1s', reconcileInterval: '2s' },
    log: { level: 'trace' },
    pools: [{ name: POOL, env: 'sec', instanceType: 't1', max: 2, strategy: 'target', provider: 'emu-cloud', reserved: ['gpu-dev-sec-1', 'gpu-dev-sec-2'], interval: '1s' }],
  });
  const service = await startServiceProcess(configPath, port);
  t.teardown(() => service.kill());
  const url = service.url;
  const logins = (): number => emu.calls.filter((c) => c.path === '/login' && c.status === 200).length;
  const post = async (path: string, body: string, token?: string, type = 'application/json'): Promise<number> => {
    const headers: Record<string, string> = { 'content-type': type };
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    const res = await fetch(`${url}${path}`, { method: 'POST', headers, body });
    await res.arrayBuffer();
    return res.status;
  };
  const hook = '/alertmanager/webhook';
  const pause = `/api/pools/${encodeURIComponent(POOL)}/pause`;
  const resume = `/api/pools/${encodeURIComponent(POOL)}/resume`;

  await waitFor('the first salt-api login', () => logins() >= 1, 20_000);

  await t.test('the webhook answers 401 without or with a wrong bearer token, 200 with the right one', async (t) => {
    t.equal(await post(hook, webhookBody(1)), 401, 'no token');
    t.equal(await post(hook, webhookBody(1), 'not-the-token'), 401, 'wrong token');
    t.equal(await post(hook, webhookBody(1), `${WEBHOOK_TOKEN}x`), 401, 'the token with a suffix');
    t.equal(await post(hook, webhookBody(1), API_TOKEN), 401, 'the API token is not the webhook token');
    t.equal(await post(hook, webhookBody(1), WEBHOOK_TOKEN), 200, 'right token');
    await waitFor('the accepted alert started an instance', () => emu.events.some((e) => e.tag === 'salt/cloud/gpu-dev-sec-1/starting'), 15_000);
  });

  await t.test('POST /api/* answers 401 without or with a wrong bearer token, 200 with the right one', async (t) => {
    t.equal(await post(pause, '{}'), 401, 'no token');
    t.equal(await post(pause, '{}', 'not-the-token'), 401, 'wrong token');
    t.equal(await post(pause, '{}', WEBHOOK_TOKEN), 401, 'the webhook token is not the API token');
    const pools = async (): Promise<{ name: string; paused: boolean }[]> => (await (await fetch(`${url}/api/pools`)).json()) as { name: string; paused: boolean }[];
    t.equal((await pools()).find((p) => p.name === POOL)?.paused, false, 'refused calls changed nothing');
    t.equal(await post(pause, '{}', API_TOKEN), 200, 'right token pauses');
    t.equal((await pools()).find((p) => p.name === POOL)?.paused, true, 'the pool is paused');
    t.equal(await post(resume, '{}', API_TOKEN), 200, 'right token resumes');
  });

  await t.test('bodies above http.bodyLimit get 413 on the webhook and the API', async (t) => {
    const big = JSON.stringify({ padding: 'x'.repeat(BODY_LIMIT_BYTES * 2) });
    t.equal(await post(hook, big, WEBHOOK_TOKEN), 413, 'webhook');
    t.equal(await post(`/api/pools/${encodeURIComponent(POOL)}/scale`, big, API_TOKEN), 413, 'API');
    t.equal(await post(hook, webhookBody(1), WEBHOOK_TOKEN), 200, 'a normal body still passes afterwards');
  });

  await t.test('a salt-api token expiry makes the service log in again', async (t) => {
    const before = logins();
    // the next salt-api call (a heartbeat, an idle check or a reconcile) gets a 401 and every token dies
    emu.faults.failNext(1, 401, { path: '/' });
    emu.faults.expireTokens();
    await waitFor('a 401 and a re-login after it', () => {
      const first401 = emu.calls.findIndex((c) => c.path === '/' && c.status === 401);
      return first401 >= 0 && emu.calls.slice(first401).some((c) => c.path === '/login' && c.status === 200);
    }, 15_000);
    t.ok(logins() > before, 'logged in again');
  });

  await t.test('no secret appears anywhere in the captured log', async (t) => {
    const out = service.output();
    t.ok(out.split('\n').length > 50, 'the log has content (trace level)');
    t.match(out, /salt-api login/, 'the login was logged');
    for (const [name, secret] of [['salt password', SALT_PASSWORD], ['webhookToken', WEBHOOK_TOKEN], ['apiToken', API_TOKEN]] as const) {
      t.equal(out.split(secret).length - 1, 0, `${name}: 0 hits`);
    }
    // salt-api session tokens (and session_id cookies) are 40 hex characters
    t.same(out.match(/[0-9a-f]{40}/g) ?? [], [], 'no salt-api session token');
  });
});
