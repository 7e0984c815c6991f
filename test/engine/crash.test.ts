import t from 'tap';
import BetterSqlite3 from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/emulator/index.ts';
import { startCalls, TEST_SALT_LOGIN, testEmulatorOptions, waitFor } from '../support/engine-harness.ts';
import { freePort, startServiceProcess, writeConfig, HEARTBEAT_TIMEOUT } from '../support/service-process.ts';

function openStartIntents(dbPath: string): number {
  try {
    const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare(`SELECT count(*) AS n FROM intents WHERE status = 'open' AND kind = 'start'`).get() as { n: number };
      return row.n;
    } finally { db.close(); }
  } catch { return 0; }
}

t.test('a service killed right after writing a start intent starts the instance exactly once after restart', async (t) => {
  const emu = await startEmulator(testEmulatorOptions({ instances: [{ id: 'gpu-c-1' }, { id: 'gpu-c-2' }], delays: { startMs: 20, bootMs: 100, deployMs: 100 } }));
  const dir = mkdtempSync(join(tmpdir(), 'asc-crash-'));
  t.teardown(async () => { await emu.close(); rmSync(dir, { recursive: true, force: true }); });
  const port = await freePort();
  const dbPath = join(dir, 'state.db');
  const configPath = writeConfig(dir, {
    salt: { url: emu.url, ...TEST_SALT_LOGIN, heartbeatInterval: '1s', heartbeatTimeout: HEARTBEAT_TIMEOUT, timeout: '3s' }, // within startConfirmWindow
    store: { path: dbPath },
    http: { listen: `127.0.0.1:${port}` },
    engine: { evaluateInterval: '1s', reconcileInterval: '1h', startConfirmWindow: '3s' },
    pools: [{ name: 'crash/t1', env: 'crash', instanceType: 't1', min: 1, max: 2, interval: '1s', strategy: 'threshold', provider: 'emu-cloud', reserved: ['gpu-c-1', 'gpu-c-2'] }],
  });
  // salt-api holds the start call: the service writes its intent, sends the call, and dies before the answer
  emu.faults.delayNext(1, 1500, { fun: 'cloud.action' });
  const first = await startServiceProcess(configPath, port);
  await waitFor('an open start intent in the database', () => openStartIntents(dbPath) === 1, 20_000);
  await first.kill('SIGKILL');
  t.equal(first.child.signalCode, 'SIGKILL', 'the service was killed');
  // the call may or may not have reached salt-api before the kill (a few ms on loopback): both must end in one start
  await new Promise((r) => setTimeout(r, 1_600)); // let a held call (delayNext 1500 ms) be carried out by Salt
  const reachedSalt = emu.world.instance('gpu-c-1')?.state === 'running';
  t.comment(`the start call ${reachedSalt ? 'reached' : 'did not reach'} salt-api before the kill`);

  const second = await startServiceProcess(configPath, port);
  t.teardown(() => second.kill());
  await waitFor('one instance is ready in the restarted service', async () => {
    const res = await fetch(`${second.url}/api/instances`);
    const list = (await res.json()) as { id: string; state: string }[];
    return list.filter((i) => i.state === 'ready').length === 1;
  }, 20_000);
  // give the restarted engine a few evaluations (evaluateInterval 1 s) to (wrongly) start something else
  await new Promise((r) => setTimeout(r, 2_500));
  t.equal(startCalls(emu, 'gpu-c-1') + startCalls(emu, 'gpu-c-2'), 1, 'exactly one start happened in Salt for the one need');
  if (reachedSalt) t.equal(startCalls(emu, 'gpu-c-2'), 0, 'the start Salt had received was not redone on another instance');
  t.equal(openStartIntents(dbPath), 0, 'the open intent was resolved on restart');
  const db = new BetterSqlite3(dbPath, { readonly: true });
  const resolved = db.prepare(`SELECT status, detail FROM intents WHERE kind = 'start' ORDER BY id LIMIT 1`).get() as { status: string; detail: string };
  db.close();
  t.equal(resolved.status, reachedSalt ? 'done' : 'failed', 'the crashed start is resolved from Salt\'s state, not redone blindly');
  t.match(resolved.detail, /reconcile/);
});
