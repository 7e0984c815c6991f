/**
 * demo: `salt-autoscaler demo` as a real child process — it fails fast with exit 2 on bad flags and a port in use,
 * shows its banner first, serves the status page with its scaled-settings notice, and removes its temp dir on exit.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CYCLE_S, DEMO_POOLS, queueAt } from '../src/demo.ts';
import { cliArgs } from './support/cli-process.ts';
import { STARTUP_CEILING_MS } from './support/service-process.ts';

// each case is a child process through tsx: 5 copies of this file at load ~20 on 2 cores took 109-118 s, against
// tap's default file timeout of 120 s
t.setTimeout(400_000);

function privateTmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'asc-demo-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const demoDirs = (tmp: string): string[] => readdirSync(tmp).filter((n) => n.startsWith('salt-autoscaler-demo-'));

t.test('the scripted queue rises, steps down, goes quiet and repeats every cycle', async (t) => {
  const prod = DEMO_POOLS[0];
  if (prod === undefined) throw new Error('no demo pool');
  t.same([0, 10, 70, 100].map((s) => queueAt(prod, s)), [0, 5, 2, 0]);
  t.equal(queueAt(prod, CYCLE_S + 10), 5, 'the next cycle starts over');
  t.ok(DEMO_POOLS.some((p) => p.failFirstDeploy !== undefined), 'one pool shows a failed deploy');
});

t.test('bad flags exit 2 at once and leave no temp dir', async (t) => {
  const tmp = privateTmp(t);
  for (const args of [['--port', 'abc'], ['--port', '70000'], ['--duration-s', '-5'], ['--log-format', 'xml'], ['--bogus']]) {
    const r = spawnSync(process.execPath, cliArgs(['demo', ...args]), { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp }, timeout: STARTUP_CEILING_MS });
    t.equal(r.status, 2, `demo ${args.join(' ')} exits 2`);
    t.match(r.stderr, /^demo: /, 'and says what is wrong');
  }
  t.same(demoDirs(tmp), []);
});

t.test('a port in use exits 2 with the port named, without hanging, and leaves no temp dir', async (t) => {
  const tmp = privateTmp(t);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const address = blocker.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  // a demo that waited (for the port, for its emulator) would be killed at the ceiling: status null, signal SIGTERM
  const r = spawnSync(process.execPath, cliArgs(['demo', '--port', String(port)]), { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp }, timeout: STARTUP_CEILING_MS });
  t.equal(r.signal, null, 'it does not wait: it exits by itself');
  t.equal(r.status, 2, r.stderr);
  t.match(r.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use`));
  t.same(demoDirs(tmp), []);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  t.test(`the banner comes first, the page says the settings are scaled, and ${signal} exits 0 and removes the temp dir`, async (t) => {
    const tmp = privateTmp(t);
    const child = spawn(process.execPath, cliArgs(['demo', '--port', '0']), { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const deadline = Date.now() + STARTUP_CEILING_MS;
    while (!/status page (http:\S+)\//.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no banner:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    t.match(out, /^\nsalt-autoscaler demo: status page http:\/\/127\.0\.0\.1:\d+\//, 'the banner is the first thing printed');
    const url = /status page (http:\S+)\//.exec(out)?.[1] ?? '';
    const page = await (await fetch(`${url}/`)).text();
    t.match(page, /<p id="notice">Demo: pool settings are scaled down/);
    t.equal(demoDirs(tmp).length, 1, 'the state lives in one temp dir while it runs');
    // the first scripted scale-up comes at about 8 s: wait for its line, then stop
    // the decision line and the status-page line after it are separate writes: wait for both
    while (!/scaleUp: .*\n {10}status page http/.test(out)) {
      if (Date.now() > deadline + 20_000 || child.exitCode !== null) throw new Error(`no scale-up line:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    t.notMatch(out, /^\{"level"/m, 'no raw JSON log lines on the console');
    t.match(out, /^\d\d:\d\d:\d\d {2}prod\/type1 {2}scaleUp: workload 5 \/ perInstance 2 wants 3: start 3/m, 'one short line per decision');
    t.match(out, /scaleUp: .*\n {10}status page http/, 'the URL again after a scale event');
    child.kill(signal);
    t.equal(await exited, 0);
    t.same(demoDirs(tmp), [], 'the temp dir is gone');
  });
}
