/**
 * state-file-process: the state file is deleted under a running `salt-autoscaler serve` (`rm state.db*`) and a second
 * `serve` starts on the same path (it finds no lease in the new file and takes it). The first must notice that its
 * open file is no longer the one at the path, stop acting and exit 1 with ASC_ERR_STORE_REPLACED, so that one need
 * ends in one start, sent by the second.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/emulator/index.ts';
import { alert, notification } from '../alertmanager/payloads.ts';
import { TEST_SALT_LOGIN, testEmulatorOptions, waitFor } from '../support/engine-harness.ts';
import { freePort, spawnServiceProcess, writeConfig, HEARTBEAT_TIMEOUT } from '../support/service-process.ts';

t.test('a state file deleted under a running service: it exits 1 and only the new service acts', async (t) => {
  const emu = await startEmulator(testEmulatorOptions({ instances: [{ id: 'gpu-rm-1' }, { id: 'gpu-rm-2' }] }));
  const dir = mkdtempSync(join(tmpdir(), 'asc-state-rm-'));
  t.teardown(async () => { await emu.close(); rmSync(dir, { recursive: true, force: true }); });
  const dbPath = join(dir, 'state.db');
  const config = (port: number): Record<string, unknown> => ({
    salt: { url: emu.url, ...TEST_SALT_LOGIN, heartbeatInterval: '1s', heartbeatTimeout: HEARTBEAT_TIMEOUT, timeout: '5s' },
    store: { path: dbPath, leaseTtl: '60s' },
    http: { listen: `127.0.0.1:${port}` },
    engine: { evaluateInterval: '1s', reconcileInterval: '2s' },
    pools: [{ name: 'rm/t1', env: 'rm', instanceType: 't1', max: 2, strategy: 'target', perInstance: 1, provider: 'emu-cloud', reserved: ['gpu-rm-1', 'gpu-rm-2'], interval: '1s' }],
  });
  const [port1, port2] = [await freePort(), await freePort()];
  const first = spawnServiceProcess(writeConfig(dir, config(port1), 'first.yaml'), port1);
  t.teardown(() => first.kill('SIGKILL'));
  await first.healthy();
  await waitFor('the first service reconciled', () => first.output().includes('"msg":"reconciled with Salt"'), 20_000);

  for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
  const second = spawnServiceProcess(writeConfig(dir, config(port2), 'second.yaml'), port2);
  t.teardown(() => second.kill('SIGKILL'));
  await second.healthy();

  // one need of one instance, told to both (as one Alertmanager would, with both as receivers)
  const body = JSON.stringify(notification([alert({ name: 'SaltAutoscalerScaleUp', env: 'rm', type: 't1', workload: '1', startsAt: new Date().toISOString() })]));
  for (const s of [first, second]) {
    await fetch(`${s.url}/alertmanager/webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch(() => undefined);
  }
  const code = await Promise.race([first.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 10_000))]);
  t.equal(code, 1, 'the service whose file was deleted exits 1');
  if (code !== 1) t.comment(`the first service's last lines:\n${first.tail()}`);
  t.match(first.output(), /ASC_ERR_STORE_REPLACED/, 'with the code of a deleted or replaced state file');
  t.match(first.output(), /state store lost: this process stops acting/, 'and a log line that says it stops acting');
  await waitFor('one instance running in Salt', () => emu.world.instances().some((i) => i.state === 'running'), 15_000);
  // two evaluate intervals in which a second start (from either service) would show
  await new Promise((r) => setTimeout(r, 2_500));
  const starts = emu.calls.filter((c) => c.fun === 'cloud.action' && (c.kwarg as { func?: string } | undefined)?.func === 'start');
  t.equal(starts.length, 1, 'one start for the one need');
  t.equal(second.child.exitCode, null, 'the new service keeps running');
  t.equal(await second.kill('SIGTERM'), 0);
});
