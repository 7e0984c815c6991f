/**
 * docs commands: every `salt-autoscaler …` / `npx salt-autoscaler …` command in the fenced blocks of the README,
 * salt/README.md and docs/*.md is run, in a temp dir, against the bundled salt-api emulator and a real `serve` child
 * process, so the docs cannot drift from the CLI again.
 *
 *   docs ──extract──► command ──rewrite paths (/etc/salt-autoscaler/config.yaml -> temp config, …)──► sh -c in a temp dir
 *                                     └─ long-running (serve, events, demo): wait until it works, then SIGINT: exit 0
 *
 * `salt-autoscaler` is put on PATH as the Salt formula installs it; `npx salt-autoscaler` is what a clone runs (both
 * run this checkout's sources). A command that needs what no test can give (a real Salt master,
 * systemd) goes in NEEDS_REAL_SYSTEM with its reason; the test fails when a listed command is no longer in the docs.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../../src/emulator/index.ts';
import { freePort, startServiceProcess, writeConfig, HEARTBEAT_TIMEOUT } from '../support/service-process.ts';
import { cliArgs } from '../support/cli-process.ts';
import { allDocCommands } from './doc-commands.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** NEEDS_REAL_SYSTEM: documented commands this test does not run, each with why. */
const PROMETHEUS_HISTORY = 'a Prometheus holding the pool\'s history: test/e2e/simulate-prometheus.test.ts runs simulate --prometheus, with --query and with --config, against a real one';
const NEEDS_REAL_SYSTEM: ReadonlyMap<string, string> = new Map<string, string>([
  ['npx salt-autoscaler simulate --prometheus http://127.0.0.1:9090 --query \'sum(training_gpus_demand{env="prod"})\' --since 30d', PROMETHEUS_HISTORY],
  ['npx salt-autoscaler simulate --config /etc/salt-autoscaler/config.yaml --pool prod/type1 --prometheus http://127.0.0.1:9090', PROMETHEUS_HISTORY],
]);

/** LONG_RUNNING: commands that run until stopped, and what shows that they work. */
const LONG_RUNNING: readonly { match: RegExp; ready: RegExp }[] = [
  { match: /salt-autoscaler events\b/, ready: /^\{"kind":/m },
  { match: /salt-autoscaler serve\b/, ready: /salt-autoscaler listening/ },
  { match: /salt-autoscaler demo\b/, ready: /status page http/ },
];

interface Result { code: number | null; out: string }

function runShell(command: string, cwd: string, env: NodeJS.ProcessEnv, ready?: RegExp): Promise<Result> {
  return new Promise((resolve) => {
    // exec: the signal reaches the command itself, not a shell around it
    const child = spawn('sh', ['-c', command.replace(/^((?:[A-Z_]+=\S+\s+)*)/, '$1exec ')], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let signalled = false;
    const stop = (): void => {
      if (signalled || child.pid === undefined) return;
      signalled = true;
      process.kill(-child.pid, 'SIGINT');
    };
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (ready !== undefined && ready.test(out)) stop();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const deadline = setTimeout(() => { if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL'); }, 60_000);
    child.once('exit', (code) => { clearTimeout(deadline); resolve({ code, out }); });
  });
}

// the docs' commands include month-long simulations and process starts: more than tap's default file timeout
t.setTimeout(600_000);
const commands = allDocCommands(ROOT);

t.test('the docs show product commands, and every command of the allow-list is still in them', async (t) => {
  t.ok(commands.length >= 10, `found ${commands.length} commands`);
  const texts = new Set(commands.map((c) => c.command));
  for (const [command, why] of NEEDS_REAL_SYSTEM) t.ok(texts.has(command), `allow-listed (${why}) and still documented: ${command}`);
});

t.test('every documented command runs against the emulator', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-docs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const emu = await startEmulator({ instances: [{ id: 'gpu-prod-type1-1' }, { id: 'gpu-prod-type1-2' }, { id: 'gpu-prod-type1-3' }] });
  t.teardown(() => emu.close());
  const port = await freePort();
  const config = writeConfig(dir, {
    salt: { url: emu.url, username: 'autoscaler', eauth: 'pam', heartbeatInterval: '1s', heartbeatTimeout: HEARTBEAT_TIMEOUT },
    store: { path: join(dir, 'state.db') },
    http: { listen: `127.0.0.1:${port}`, apiToken: 'docs-token' },
    engine: { evaluateInterval: '1s' },
    pools: [{ name: 'prod/type1', env: 'prod', instanceType: 'type1', min: 0, max: 3, interval: '1s', provider: 'emu-cloud', reservedPattern: 'gpu-prod-type1-*', idleCheck: { fun: 'cmd.retcode', args: ['true'] } }],
  });
  const serveConfig = writeConfig(dir, {
    salt: { url: emu.url, username: 'autoscaler' },
    store: { path: join(dir, 'serve.db') },
    http: { listen: `127.0.0.1:${await freePort()}` },
    pools: [{ name: 'dev/type1', env: 'dev', instanceType: 'type1', max: 1, provider: 'emu-cloud', reserved: ['gpu-dev-type1-1'] }],
  }, 'serve.yaml');
  // the paths the docs use, relative to a checkout, resolve in the temp dir too
  symlinkSync(join(ROOT, 'test'), join(dir, 'test'));
  symlinkSync(join(ROOT, 'examples'), join(dir, 'examples'));
  // `salt-autoscaler` on PATH, as the formula's `npm install -g` puts it there
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'salt-autoscaler'), `#!/bin/sh\nexec ${[process.execPath, ...cliArgs([])].map((a) => `"${a}"`).join(' ')} "$@"\n`);
  chmodSync(join(bin, 'salt-autoscaler'), 0o755);
  const env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, SALT_AUTOSCALER_SALT_PASSWORD: 'secret' };
  const service = await startServiceProcess(config, port, { SALT_AUTOSCALER_SALT_PASSWORD: 'secret' });
  t.teardown(() => service.kill());

  for (const doc of commands) {
    if (NEEDS_REAL_SYSTEM.has(doc.command)) continue;
    const rewritten = doc.command
      .replace(/^((?:[A-Z_]+=\S+\s+)*)npx salt-autoscaler /, '$1salt-autoscaler ')
      .replaceAll('/etc/salt-autoscaler/config.yaml', config)
      .replaceAll('/etc/prometheus/rules/', `${dir}/`);
    const long = LONG_RUNNING.find((l) => l.match.test(rewritten));
    // a second serve on the running service's state file would wait on standby: it gets its own file and port
    const own = /salt-autoscaler serve\b/.test(rewritten) ? rewritten.replaceAll(config, serveConfig) : rewritten;
    const r = await runShell(own, dir, env, long?.ready);
    t.equal(r.code, 0, `${doc.file}:${doc.line}: ${doc.command}\n${r.out.slice(-1500)}`);
  }
});
