import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../src/commands.ts';
import { cliArgs } from './support/cli-process.ts';
import { STARTUP_CEILING_MS } from './support/service-process.ts';

const BIN = fileURLToPath(new URL('../bin/salt-autoscaler.js', import.meta.url));

function run(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, cliArgs(args), { encoding: 'utf8', env: { ...process.env, ...env }, timeout: STARTUP_CEILING_MS });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// each case is a child process through tsx: on 2 busy cores that is more than tap's default file timeout
t.setTimeout(400_000);
const dir = mkdtempSync(join(tmpdir(), 'asc-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const bad = join(dir, 'bad.yaml');
writeFileSync(bad, 'salt:\n  url: not-a-url\n  username: u\n  password: p\npools:\n  - env: prod\n    instanceType: t1\n    min: 3\n    max: 1\n    provider: c\n    reserved: [a]\n    colour: blue\n');

t.test('check-config prints every problem with its path and exits 2', async (t) => {
  const r = run(['check-config', bad]);
  t.equal(r.status, 2);
  t.match(r.stderr + r.stdout, /salt\.url/);
  t.match(r.stderr + r.stdout, /pools\[0\]\.colour: unknown key/);
  t.match(r.stderr, 'config: pools[0].max: must be >= min (3)', 'the cross-field problem, in the same run as the schema ones');
  t.notMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
});

t.test('serve refuses an invalid config with exit 2 before touching anything', async (t) => {
  const r = run(['serve', '--config', bad]);
  t.equal(r.status, 2);
  t.match(r.stderr, /salt\.url/);
});

t.test('a missing config file is a clear error with exit 2', async (t) => {
  const r = run(['check-config', join(dir, 'nope.yaml')]);
  t.equal(r.status, 2);
  t.match(r.stderr + r.stdout, /nope\.yaml/);
});

t.test('render-rules prints the generated rule file for a valid config', async (t) => {
  const r = run(['render-rules', '--config', fileURLToPath(new URL('../examples/config.yaml', import.meta.url))]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /SaltAutoscalerScaleUp/);
  t.match(r.stdout, /do not edit/);
});

t.test('an unknown command prints the usage and exits 2', async (t) => {
  const r = run(['frobnicate']);
  t.equal(r.status, 2);
  t.match(r.stderr, /usage: salt-autoscaler/);
});

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

t.test('--version prints the version of package.json', async (t) => {
  const r = run(['--version']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, `${PACKAGE_VERSION}\n`);
});

t.test('every command has --help with its flags and an example, exit 0, reading no config', async (t) => {
  // a config path that would fail if read: --help must not get that far
  for (const spec of COMMANDS) {
    const r = run([spec.name, '--help', '--config', join(dir, 'nope.yaml')]);
    t.equal(r.status, 0, `${spec.name} --help exits 0 (${r.stderr})`);
    t.match(r.stdout, new RegExp(`^usage: salt-autoscaler ${spec.name}`), `${spec.name}: usage line`);
    t.match(r.stdout, /\nexamples?:\n {2}\S/, `${spec.name}: an example`);
    for (const flag of Object.keys(spec.options)) t.match(r.stdout, `--${flag}`, `${spec.name} --help lists --${flag}`);
    t.equal(r.stderr, '', `${spec.name}: nothing on stderr`);
  }
  t.equal(run(['scale', '-h']).status, 0, '-h works too');
});

t.test('the top-level usage lists every command with its flags (demo --duration-s too)', async (t) => {
  const r = run(['--help']);
  t.equal(r.status, 0);
  for (const spec of COMMANDS) t.match(r.stdout, `\n  ${spec.name}`);
  t.match(r.stdout, 'demo [--port N] [--duration-s N]');
  t.equal(run([]).status, 2, 'no command at all is bad usage');
});

t.test('bad usage exits 2 in every command, with the reason and a pointer to --help', async (t) => {
  for (const args of [['serve', '--bogus'], ['check-config', 'a.yaml', 'b.yaml'], ['events', '--config'], ['render-rules', 'x'],
    ['simulate', '--bogus'], ['simulate'], ['status', '--limit'], ['pause'], ['scale', 'prod/type1'], ['serve', '--log-format', 'xml']]) {
    const r = run(args);
    t.equal(r.status, 2, `${args.join(' ')} exits 2`);
    t.match(r.stderr, new RegExp(`run 'salt-autoscaler ${args[0] ?? ''} --help'`), `${args.join(' ')} points to --help`);
  }
});

t.test('scale takes a negative delta as a positional (scale POOL -1)', async (t) => {
  const config = join(dir, 'ops.yaml');
  writeFileSync(config, 'salt: {url: "https://salt:8000", username: u}\nhttp: {listen: "127.0.0.1:1"}\npools:\n  - {env: prod, instanceType: type1, max: 2, provider: p, reserved: [a]}\n');
  const r = run(['scale', 'prod/type1', '-1', '--config', config]);
  t.notMatch(r.stderr, /unknown option/i);
  t.match(r.stderr, /http\.apiToken is not set/, 'it got past the parser to the token check');
  t.equal(r.status, 2);
});

t.test('the bin runs the compiled CLI in dist/ (built by npm ci through prepare)', async (t) => {
  const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8', timeout: STARTUP_CEILING_MS });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, `${PACKAGE_VERSION}\n`);
  t.notMatch(readFileSync(BIN, 'utf8'), /tsx/, 'no TypeScript loader at run time');
});

t.test('serve refuses a SALT_AUTOSCALER_HEAP_FLAGS that is not V8 flags with exit 2, before reading the config', async (t) => {
  const r = spawnSync(process.execPath, [BIN, 'serve', '--config', bad], { encoding: 'utf8', timeout: STARTUP_CEILING_MS, env: { ...process.env, SALT_AUTOSCALER_HEAP_FLAGS: 'small' } });
  t.equal(r.status, 2);
  t.equal(r.stderr, "salt-autoscaler serve: SALT_AUTOSCALER_HEAP_FLAGS: expected 'none' or V8 flags such as --heap-growing-percent=50, got 'small'\n");
});
