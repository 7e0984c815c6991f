/**
 * disk-full: the real service (`bin/salt-autoscaler.js serve`) with its state on a 2 MiB tmpfs, and the disk filled
 * while it runs. Counts what it sends to salt-api while the disk is full (must be 0), checks that it says so
 * (/readyz 503 with a reason, `salt_autoscaler_store_writable 0`), then frees the space and checks that it acts again
 * by itself. Needs `mount -t tmpfs` (root); skipped, with the reason, where mounting is not permitted.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../src/emulator/index.ts';
import { TEST_SALT_LOGIN, testEmulatorOptions, waitFor } from '../support/engine-harness.ts';
import { freePort, startServiceProcess, writeConfig, HEARTBEAT_TIMEOUT } from '../support/service-process.ts';
import { notification, scaleAlert } from './scenario.ts';

const dir = mkdtempSync(join(tmpdir(), 'asc-disk-full-'));
let mountError: string | undefined;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'pipe' });
} catch (err) {
  mountError = `cannot mount a tmpfs here (${((err as { stderr?: Buffer }).stderr?.toString() ?? String(err)).trim()}): run as root to simulate a full disk`;
}
t.teardown(() => {
  if (mountError === undefined) execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  rmSync(dir, { recursive: true, force: true });
});

/** fill writes a file until the filesystem says ENOSPC, in shrinking chunks, and returns its path. */
function fill(path: string): string {
  const fd = openSync(path, 'w');
  try {
    for (const size of [65_536, 4_096, 512]) {
      const chunk = Buffer.alloc(size, 0x66);
      for (;;) {
        try { writeSync(fd, chunk); } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

const actions = (emu: Emulator, since: number): number =>
  emu.calls.slice(since).filter((c) => c.fun === 'cloud.action' || c.fun === 'cloud.profile' || c.fun === 'grains.setval').length;

t.test('a full disk under the running service: actions sent during disk-full: 0, and it resumes when space is freed', { skip: mountError ?? false }, async (t) => {
  const emu = await startEmulator(testEmulatorOptions({ instances: [{ id: 'gpu-df-1' }, { id: 'gpu-df-2' }], delays: { startMs: 50, bootMs: 100, deployMs: 100 } }));
  t.teardown(() => emu.close());
  const port = await freePort();
  const configPath = writeConfig(mkdtempSync(join(tmpdir(), 'asc-disk-full-config-')), {
    salt: { url: emu.url, ...TEST_SALT_LOGIN, heartbeatInterval: '1s', heartbeatTimeout: HEARTBEAT_TIMEOUT, timeout: '5s' },
    store: { path: join(dir, 'state.db') },
    http: { listen: `127.0.0.1:${port}` },
    engine: { evaluateInterval: '1s', reconcileInterval: '2s' },
    pools: [{ name: 'f/t1', env: 'f', instanceType: 't1', max: 2, strategy: 'target', perInstance: 1, provider: 'emu-cloud', reserved: ['gpu-df-1', 'gpu-df-2'], interval: '1s' }],
  });
  t.teardown(() => rmSync(join(configPath, '..'), { recursive: true, force: true }));
  const service = await startServiceProcess(configPath, port);
  t.teardown(() => service.kill('SIGKILL'));
  await waitFor('the startup reconcile', () => service.output().includes('"msg":"reconciled with Salt"'), 20_000);

  t.match(await (await fetch(`${service.url}/metrics`)).text(), /^salt_autoscaler_store_writable 1$/m, 'salt_autoscaler_store_writable 1 before');
  const filler = fill(join(dir, 'filler'));
  const before = emu.calls.length;
  const webhook = async (workload: number, second: number): Promise<void> => {
    const body = notification([scaleAlert('up', workload, new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString())]);
    const res = await fetch(`${service.url}/alertmanager/webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await res.arrayBuffer();
  };
  await webhook(2, 1);
  await waitFor('/readyz unready', async () => (await fetch(`${service.url}/readyz`)).status === 503, 15_000);
  // several evaluate intervals with the need standing: whatever it would send goes out now
  await new Promise((r) => setTimeout(r, 3_000));
  const sent = actions(emu, before);
  t.comment(`actions sent during disk-full: ${sent}`);
  t.equal(sent, 0, 'actions sent during disk-full: 0');
  const ready = await (await fetch(`${service.url}/readyz`)).json() as Record<string, unknown>;
  t.match(ready, { store: false, failed: ['store'], reason: /disk is full|SQLITE_FULL/ }, '/readyz says the store is the problem, and why');
  t.match(await (await fetch(`${service.url}/metrics`)).text(), /^salt_autoscaler_store_writable 0$/m, 'salt_autoscaler_store_writable 0');
  t.match(service.output(), /ASC_ERR_STORE_WRITE/, 'the log says it stops acting');

  rmSync(filler);
  await waitFor('/readyz ready again', async () => (await fetch(`${service.url}/readyz`)).status === 200, 15_000);
  await waitFor('two instances ready in Salt', () => emu.world.instances().filter((i) => i.state === 'running').length === 2, 20_000);
  const started = emu.calls.slice(before).filter((c) => c.fun === 'cloud.action').flatMap((c) => (c.kwarg as { instances: string[] }).instances);
  t.equal(started.length, 2, 'two starts for the need of two, once space was freed (one cloud.action may carry both)');
  t.match(service.output(), /state store writable again/, 'the log says it acts again');
  t.match(await (await fetch(`${service.url}/metrics`)).text(), /^salt_autoscaler_store_writable 1$/m, 'salt_autoscaler_store_writable 1 after');
  t.equal(await service.kill('SIGTERM'), 0);
});
