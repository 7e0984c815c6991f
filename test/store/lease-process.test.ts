/**
 * lease-process: two real `salt-autoscaler serve` processes on one state file and one config. The second waits on
 * standby (no port bound, no salt-api calls) until the first stops, then takes over; after a SIGKILL of the holder
 * the standby takes over without waiting out the lease TTL (the holder's pid is gone on this host).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/emulator/index.ts';
import { TEST_SALT_LOGIN, testEmulatorOptions, waitFor } from '../support/engine-harness.ts';
import { STARTUP_CEILING_MS, freePort, spawnServiceProcess, writeConfig, HEARTBEAT_TIMEOUT } from '../support/service-process.ts';

t.test('one writer per state file: standby, take-over on a clean stop and after a SIGKILL', async (t) => {
  const emu = await startEmulator(testEmulatorOptions({ instances: [{ id: 'gpu-lease-1' }] }));
  const dir = mkdtempSync(join(tmpdir(), 'asc-lease-proc-'));
  t.teardown(async () => { await emu.close(); rmSync(dir, { recursive: true, force: true }); });
  const port = await freePort();
  const configPath = writeConfig(dir, {
    salt: { url: emu.url, ...TEST_SALT_LOGIN, heartbeatInterval: '1s', heartbeatTimeout: HEARTBEAT_TIMEOUT, timeout: '5s' },
    // a long TTL: the take-overs below must come from the release and from the dead pid, not from expiry
    store: { path: join(dir, 'state.db'), leaseTtl: '60s' },
    http: { listen: `127.0.0.1:${port}` },
    engine: { evaluateInterval: '1s', reconcileInterval: '2s' },
    pools: [{ name: 'lease/t1', env: 'lease', instanceType: 't1', max: 1, provider: 'emu-cloud', reserved: ['gpu-lease-1'], interval: '1s' }],
  });

  const first = spawnServiceProcess(configPath, port);
  t.teardown(() => first.kill('SIGKILL'));
  await first.healthy();
  const second = spawnServiceProcess(configPath, port);
  t.teardown(() => second.kill('SIGKILL'));
  await waitFor('the second on standby', () => second.output().includes('standby: another salt-autoscaler holds the store lease'), STARTUP_CEILING_MS, () => second.tail());
  const loginsBefore = emu.calls.filter((c) => c.path === '/login').length;
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  t.equal(second.child.exitCode, null, 'the standby keeps running');
  t.notOk(second.output().includes('salt-autoscaler listening'), 'the standby binds no port');
  t.equal(emu.calls.filter((c) => c.path === '/login').length, loginsBefore, 'and makes no salt-api call');

  t.equal(await first.kill('SIGTERM'), 0, 'the holder stops cleanly and releases the lease');
  await second.healthy(15_000);
  t.match(second.output(), /store lease acquired/, 'the standby took over on the release (the 60 s TTL had not run out)');

  const third = spawnServiceProcess(configPath, port);
  t.teardown(() => third.kill('SIGKILL'));
  await waitFor('the third on standby', () => third.output().includes('standby: another salt-autoscaler holds the store lease'), STARTUP_CEILING_MS, () => third.tail());
  await second.kill('SIGKILL');
  await third.healthy(15_000);
  t.match(third.output(), /store lease acquired/, 'after a SIGKILL of the holder the standby takes over without waiting out the TTL');
  t.equal(await third.kill('SIGTERM'), 0);
});
