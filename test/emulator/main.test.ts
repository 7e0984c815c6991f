// main: the emulator runs as a child process, prints its URL as one JSON line and stops on SIGTERM.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { login, post, waitUntil } from './raw-client.ts';

const MAIN = fileURLToPath(new URL('../../src/emulator/main.ts', import.meta.url));

t.test('serves the world file as a process, drivable through the control API, until SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-emu-main-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const world = join(dir, 'world.yaml');
  writeFileSync(world, 'instances:\n  - id: gpu-1\n    state: running\nstaticMinions: [salt-master-minion]\n');
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--port', '0', '--world', world], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exitCode: number | null | undefined;
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.on('exit', (code) => { exitCode = code; });
  t.teardown(() => { if (exitCode === undefined) child.kill('SIGKILL'); });
  await waitUntil(() => out.includes('\n'), 15000, 'the URL line');
  const { url } = JSON.parse(out.split('\n')[0] ?? '{}') as { url: string };
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const token = await login(url);
  t.same((await post(url, token, { client: 'runner', fun: 'manage.up' })).body, { return: [['gpu-1', 'salt-master-minion']] });
  const fault = await fetch(`${url}/_emulator/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'failNext', n: 1, status: 503 }) });
  t.equal(fault.status, 200);
  t.equal((await post(url, token, { client: 'runner', fun: 'manage.up' })).status, 503);
  child.kill('SIGTERM');
  await waitUntil(() => exitCode !== undefined, 5000, 'exit');
  t.equal(exitCode, 0);
});

t.test('refuses an invalid world file with exit code 2 and the path of the problem', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-emu-main-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const world = join(dir, 'world.yaml');
  writeFileSync(world, 'instances:\n  - id: gpu-1\n    state: exploded\n');
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--world', world], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let exitCode: number | null | undefined;
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  child.on('exit', (code) => { exitCode = code; });
  t.teardown(() => { if (exitCode === undefined) child.kill('SIGKILL'); });
  await waitUntil(() => exitCode !== undefined, 15000, 'exit');
  t.equal(exitCode, 2);
  t.match(err, /instances\.0\.state/);
});
