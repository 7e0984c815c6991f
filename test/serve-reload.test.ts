/**
 * serve-reload: SIGHUP makes a running `salt-autoscaler serve` load its config file again — a valid file takes
 * effect (here a pool's max), an invalid one is refused with the path of the bad field while the service keeps
 * running on the previous config. Real child process, real salt-api emulator.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../src/emulator/index.ts';
import { TEST_SALT_LOGIN, testEmulatorOptions, waitFor } from './support/engine-harness.ts';
import { freePort, startServiceProcess, writeConfig, HEARTBEAT_TIMEOUT } from './support/service-process.ts';

t.test('SIGHUP reloads a valid config and refuses an invalid one without stopping', async (t) => {
  const emu = await startEmulator(testEmulatorOptions({ instances: [{ id: 'gpu-hup-1' }, { id: 'gpu-hup-2' }] }));
  const dir = mkdtempSync(join(tmpdir(), 'asc-hup-'));
  t.teardown(async () => { await emu.close(); rmSync(dir, { recursive: true, force: true }); });
  const port = await freePort();
  const config = (max: unknown): Record<string, unknown> => ({
    salt: { url: emu.url, ...TEST_SALT_LOGIN, heartbeatInterval: '1s', heartbeatTimeout: HEARTBEAT_TIMEOUT, timeout: '5s' },
    store: { path: join(dir, 'state.db') },
    http: { listen: `127.0.0.1:${port}` },
    engine: { evaluateInterval: '1s', reconcileInterval: '1h' },
    pools: [{ name: 'hup/t1', env: 'hup', instanceType: 't1', max, provider: 'emu-cloud', reserved: ['gpu-hup-1', 'gpu-hup-2'], interval: '1s' }],
  });
  const path = writeConfig(dir, config(2));
  const service = await startServiceProcess(path, port);
  t.teardown(() => service.kill('SIGKILL'));
  const maxOf = async (): Promise<number | undefined> => {
    try {
      const pools = await (await fetch(`${service.url}/api/pools`)).json() as { name: string; max: number }[];
      return pools.find((p) => p.name === 'hup/t1')?.max;
    } catch { return undefined; }
  };
  t.equal(await maxOf(), 2);

  writeConfig(dir, config(1));
  service.child.kill('SIGHUP');
  await waitFor('the new max after SIGHUP', async () => (await maxOf()) === 1, 20_000);
  t.pass('a valid file took effect');
  t.match(service.output(), /SIGHUP: reloading/);

  writeConfig(dir, config('lots'));
  service.child.kill('SIGHUP');
  await waitFor('the refusal', () => /SIGHUP: .* is invalid; still running the previous config/.test(service.output()), 20_000);
  t.match(service.output(), 'pools[0].max: Invalid input: expected number', 'the refusal names the bad field');
  t.equal(service.child.exitCode, null, 'the service keeps running');
  t.equal(await maxOf(), 1, 'on the previous config');

  t.equal(await service.kill('SIGTERM'), 0, 'and still stops cleanly');
});
