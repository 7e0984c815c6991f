import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/salt-autoscaler.js', import.meta.url));

function run(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

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
