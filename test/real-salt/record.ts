/**
 * record: re-records the `real_*` fixtures in test/fixtures/salt-api/ from a real master (the real-Salt lab),
 * logged in as the product's user with the product's own ACL (salt/master.d/salt-autoscaler.conf, through
 * sharedsecret) and running the product's own reactor, orchestrate and training-env.
 *
 *   npx tsx test/real-salt/record.ts [3006|3007]      (as root, with ../shared/salt or SALT_SRC; see salt/README.md)
 *
 * Each exchange is written as `<name>.request` / `.headers` / `.body`; event streams as `<name>.sse` (the bytes an
 * EventSource parser sees). The emulator serves these (src/emulator/) and a test replays them through the client.
 */
import { request as httpRequest } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHARED_SECRET, SaltLab, findSaltSources } from '../support/real-salt.ts';

const OUT = fileURLToPath(new URL('../fixtures/salt-api/', import.meta.url));
const want = process.argv[2] ?? '3006';
const found = findSaltSources();
const source = found.sources.find((s) => s.label.startsWith(want));
if (source === undefined) {
  console.error(`record: no Salt ${want}: ${found.skip ?? found.sources.map((s) => s.label).join(', ')}`);
  process.exit(2);
}

interface Exchange { status: number; head: string; body: string }

/** exchange sends one raw HTTP request and writes the three fixture files. */
async function exchange(lab: SaltLab, name: string, method: string, path: string, body: unknown, token?: string): Promise<Exchange> {
  const text = body === undefined ? '' : JSON.stringify(body);
  const headers: Record<string, string> = { Host: `127.0.0.1:${lab.apiPort}`, Accept: 'application/json' };
  if (text !== '') { headers['Content-Type'] = 'application/json'; headers['Content-Length'] = String(Buffer.byteLength(text)); }
  if (token !== undefined) headers['X-Auth-Token'] = token;
  const reqText = `${method} ${path} HTTP/1.1\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${text}`;
  const res = await new Promise<Exchange>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: lab.apiPort, method, path, headers }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        const lines = [`HTTP/1.1 ${r.statusCode ?? 0} ${r.statusMessage ?? ''}`];
        for (let i = 0; i < r.rawHeaders.length; i += 2) lines.push(`${r.rawHeaders[i] ?? ''}: ${r.rawHeaders[i + 1] ?? ''}`);
        resolve({ status: r.statusCode ?? 0, head: `${lines.join('\r\n')}\r\n\r\n`, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
  writeFileSync(join(OUT, `${name}.request`), reqText);
  writeFileSync(join(OUT, `${name}.headers`), res.head);
  writeFileSync(join(OUT, `${name}.body`), res.body);
  console.log(`${name}: ${res.status} ${res.body.slice(0, 160).replace(/\s+/g, ' ')}`);
  return res;
}

/** Stream records `/events` until stop() and writes `<name>.sse`. */
class Stream {
  #text = '';
  readonly #ctl = new AbortController();
  readonly #done: Promise<void>;
  constructor(lab: SaltLab, token: string) {
    this.#done = (async () => {
      try {
        const res = await fetch(`${lab.apiUrl}/events`, { headers: { 'X-Auth-Token': token, Accept: 'text/event-stream' }, signal: this.#ctl.signal });
        const reader = res.body?.getReader();
        if (reader === undefined) return;
        const dec = new TextDecoder();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          this.#text += dec.decode(value, { stream: true });
        }
      } catch { /* aborted */ }
    })();
  }
  has(s: string): boolean { return this.#text.includes(s); }
  async stop(name: string): Promise<void> {
    this.#ctl.abort();
    await this.#done;
    writeFileSync(join(OUT, `${name}.sse`), this.#text);
    console.log(`${name}: ${this.#text.length} bytes, ${this.#text.split('\ntag: ').length - 1} events`);
  }
}

const reserved = ['gpu-prod-type1-1', 'gpu-prod-type1-2'];
const lab = await SaltLab.start(source, { reserved });
try {
  const login = await exchange(lab, 'real_01_login_shipped_acl', 'POST', '/login', { username: 'salt-autoscaler', password: SHARED_SECRET, eauth: 'sharedsecret' });
  const token = (JSON.parse(login.body) as { return: { token: string }[] }).return[0]?.token ?? '';
  await exchange(lab, 'real_02_acl_denied_local_fun', 'POST', '/', [{ client: 'local', tgt: 'gpu-prod-type1-1', fun: 'cmd.run', arg: ['id'] }], token);
  await exchange(lab, 'real_03_acl_denied_local_args', 'POST', '/', [{ client: 'local', tgt: 'gpu-prod-type1-1', fun: 'cmd.retcode', arg: ['/bin/true'] }], token);
  await exchange(lab, 'real_04_acl_denied_local_target', 'POST', '/', [{ client: 'local', tgt: 'lab-other-1', fun: 'test.ping' }], token);
  await exchange(lab, 'real_05_acl_denied_runner', 'POST', '/', [{ client: 'runner', fun: 'jobs.active' }], token); // granted by @jobs: {}
  await exchange(lab, 'real_06_acl_denied_wheel_client', 'POST', '/', [{ client: 'wheel', fun: 'key.list_all' }], token);
  await exchange(lab, 'real_07_cloud_query_reserve', 'POST', '/', [{ client: 'runner', fun: 'cloud.query' }], token);

  const success = new Stream(lab, token);
  await new Promise((r) => setTimeout(r, 1000));
  await exchange(lab, 'real_08_cloud_action_start', 'POST', '/', [{ client: 'runner', fun: 'cloud.action', kwarg: { func: 'start', instances: ['gpu-prod-type1-1'] } }], token);
  await lab.waitFor(() => success.has('salt-autoscaler/instance/gpu-prod-type1-1/ready'), 90_000, 'the ready event');
  await new Promise((r) => setTimeout(r, 1500));
  await success.stop('real_sse_01_deploy_success');

  await exchange(lab, 'real_09_grains_item_ready', 'POST', '/', [{ client: 'local', tgt: ['gpu-prod-type1-1'], tgt_type: 'list', fun: 'grains.item', arg: ['salt_autoscaler'] }], token);
  await exchange(lab, 'real_10_idle_check_idle', 'POST', '/', [{ client: 'local', tgt: 'gpu-prod-type1-1', fun: 'cmd.retcode', arg: ['/usr/local/bin/training-idle'] }], token);
  lab.setBusy('gpu-prod-type1-1', true);
  await exchange(lab, 'real_11_idle_check_busy', 'POST', '/', [{ client: 'local', tgt: 'gpu-prod-type1-1', fun: 'cmd.retcode', arg: ['/usr/local/bin/training-idle'] }], token);
  lab.setBusy('gpu-prod-type1-1', false);
  await exchange(lab, 'real_12_manage_up_list_short_timeouts', 'POST', '/', [{ client: 'runner', fun: 'manage.up', tgt: ['gpu-prod-type1-1'], tgt_type: 'list', timeout: 2, gather_job_timeout: 2 }], token);

  lab.setDeployFails('gpu-prod-type1-2', true);
  const failure = new Stream(lab, token);
  await new Promise((r) => setTimeout(r, 1000));
  await exchange(lab, 'real_13_cloud_action_start_failing_deploy', 'POST', '/', [{ client: 'runner', fun: 'cloud.action', kwarg: { func: 'start', instances: ['gpu-prod-type1-2'] } }], token);
  await lab.waitFor(() => failure.has('salt-autoscaler/instance/gpu-prod-type1-2/failed'), 90_000, 'the failed event');
  await new Promise((r) => setTimeout(r, 2000));
  await failure.stop('real_sse_02_deploy_failure');

  const stop = new Stream(lab, token);
  await new Promise((r) => setTimeout(r, 1000));
  await exchange(lab, 'real_14_cloud_action_stop', 'POST', '/', [{ client: 'runner', fun: 'cloud.action', kwarg: { func: 'stop', instances: ['gpu-prod-type1-2'] } }], token);
  await new Promise((r) => setTimeout(r, 1500));
  await stop.stop('real_sse_03_cloud_stop');
  const t0 = Date.now();
  await exchange(lab, 'real_15_manage_up_stopped_minion_short_timeouts', 'POST', '/', [{ client: 'runner', fun: 'manage.up', tgt: ['gpu-prod-type1-1', 'gpu-prod-type1-2'], tgt_type: 'list', timeout: 1, gather_job_timeout: 2 }], token);
  console.log(`manage.up with a stopped minion and short timeouts: ${Date.now() - t0} ms`);
  const t1 = Date.now();
  await exchange(lab, 'real_16_manage_up_stopped_minion_default_timeouts', 'POST', '/', [{ client: 'runner', fun: 'manage.up' }], token);
  console.log(`manage.up with a stopped minion and Salt's default timeouts: ${Date.now() - t1} ms`);
  console.log(`recorded from ${lab.saltVersion}`);
} finally {
  await lab.close();
}
