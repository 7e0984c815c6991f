// The service's first salt-cloud call goes to the master alone. Every salt-cloud runner (cloud.query, cloud.action,
// cloud.profile, cloud.destroy) makes salt-cloud's cache dir on its way in (CloudClient -> verify_env); on a fresh
// Salt 3007.0 master two first calls at once race there and one answers SystemExit 17 (docs/benchmarks.md). A
// manual scale asked while the startup reconcile's cloud.query runs was such a pair: the HTTP server answers
// before the first reconcile (a manual scale now also waits for that reconcile to decide on Salt's state:
// test/engine/ports/scale-before-reconcile.test.ts). Against the emulator answering at a real
// master's speed (each cloud call about a second), the service as a child process, as users run it.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REAL_MASTER_CALL_DELAYS, startEmulator, type CallRecord } from '../../src/emulator/index.ts';
import { startCalls, TEST_SALT_LOGIN, testEmulatorOptions, waitFor } from '../support/engine-harness.ts';
import { freePort, startServiceProcess, writeConfig, HEARTBEAT_TIMEOUT } from '../support/service-process.ts';

/** overlapping: the salt-cloud calls that reached salt-api before the first one had been answered. */
function overlapping(calls: readonly CallRecord[]): string[] {
  const cloud = calls.filter((c) => c.fun?.startsWith('cloud.') === true).sort((a, b) => a.receivedAtMs - b.receivedAtMs);
  const first = cloud[0];
  if (first === undefined) return [];
  return cloud.slice(1).filter((c) => c.receivedAtMs < first.atMs).map((c) => `${c.fun ?? ''} received ${c.receivedAtMs - first.receivedAtMs} ms after ${first.fun ?? ''}, which answered after ${first.atMs - first.receivedAtMs} ms`);
}

t.test('a manual scale asked while the startup reconcile asks cloud.query reaches salt-cloud only after its answer', async (t) => {
  const emu = await startEmulator(testEmulatorOptions({ instances: [{ id: 'gpu-f-1' }, { id: 'gpu-f-2' }], callDelays: REAL_MASTER_CALL_DELAYS, delays: { startMs: 20, bootMs: 50, deployMs: 50 } }));
  const dir = mkdtempSync(join(tmpdir(), 'asc-first-cloud-'));
  t.teardown(async () => { await emu.close(); rmSync(dir, { recursive: true, force: true }); });
  const port = await freePort();
  const configPath = writeConfig(dir, {
    salt: { url: emu.url, ...TEST_SALT_LOGIN, heartbeatInterval: '1s', heartbeatTimeout: HEARTBEAT_TIMEOUT },
    store: { path: join(dir, 'state.db') },
    http: { listen: `127.0.0.1:${port}`, apiToken: 'api-token-first' },
    engine: { evaluateInterval: '1h', reconcileInterval: '1h' },
    pools: [{ name: 'first/t1', env: 'first', instanceType: 't1', min: 0, max: 2, interval: '1s', strategy: 'threshold', provider: 'emu-cloud', reserved: ['gpu-f-1', 'gpu-f-2'] }],
  });
  const service = await startServiceProcess(configPath, port);
  t.teardown(() => service.kill());
  // /healthz answers while the first reconcile runs: the scale goes in at once
  const res = await fetch(`${service.url}/api/pools/${encodeURIComponent('first/t1')}/scale`, {
    method: 'POST', headers: { authorization: 'Bearer api-token-first', 'content-type': 'application/json' }, body: JSON.stringify({ delta: 1 }),
  });
  t.equal(res.status, 200, 'the manual scale is answered');
  await waitFor('one start carried out and the startup reconcile answered', () =>
    startCalls(emu, 'gpu-f-1') + startCalls(emu, 'gpu-f-2') === 1 && emu.calls.some((c) => c.fun === 'cloud.query'), 20_000, () => service.tail());
  const cloud = emu.calls.filter((c) => c.fun?.startsWith('cloud.') === true);
  t.ok(cloud.some((c) => c.fun === 'cloud.action') && cloud.some((c) => c.fun === 'cloud.query'), `a cloud.query and a cloud.action reached salt-api (${cloud.map((c) => c.fun ?? '').join(', ')})`);
  t.same(overlapping(emu.calls), [], 'no salt-cloud call reached salt-api while the first one was unanswered');
});
