import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCheckConfig } from '../../src/config/check-config.ts';
import { runRenderRules } from '../../src/config/render-rules.ts';

function sink(): { write(s: string): boolean; text: () => string } {
  const chunks: string[] = [];
  return { write: (s: string) => chunks.push(s) > 0, text: () => chunks.join('') };
}

const dir = mkdtempSync(join(tmpdir(), 'asc-check-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const bad = join(dir, 'bad.yaml');
writeFileSync(bad, [
  'salt: {url: "http://s:8000", username: u, password: p, extra: 1}',
  'pools:',
  '  - {env: e, instanceType: t, max: 2, provider: c, profile: p}',
  '  - {name: b, env: e, instanceType: u, min: 3, max: 1, provider: c, profile: p}',
].join('\n'));
const shippedExample = new URL('../../examples/config.yaml', import.meta.url).pathname;
// the example names the CA file of a master; here it points at a file that exists
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n');
const example = join(dir, 'example.yaml');
writeFileSync(example, readFileSync(shippedExample, 'utf8').replace('/etc/ssl/salt-api.pem', caFile));
const salt = 'salt: {url: "https://s:8000", username: u, password: p}';
const pool = 'pools: [{env: e, instanceType: t, max: 2, provider: c, profile: p}]';

t.test('check-config prints every problem with its path and returns 2', async (t) => {
  const out = sink();
  const err = sink();
  t.equal(runCheckConfig(bad, out, err, {}), 2);
  t.equal(out.text(), '');
  t.match(err.text(), 'config: salt.extra: unknown key');
  t.match(err.text(), 'config: pools[1].max: must be >= min (3)\n', 'the cross-field problem is reported in the same run');
  t.match(err.text(), 'config ' + bad + ': 2 problem(s)');
  const err2 = sink();
  writeFileSync(join(dir, 'bad2.yaml'), 'salt: {url: "http://s:8000", username: u, password: p}\npools: [{name: b, env: e, instanceType: u, min: 3, max: 1, provider: c, profile: p}]\n');
  t.equal(runCheckConfig(join(dir, 'bad2.yaml'), sink(), err2, {}), 2);
  t.match(err2.text(), 'config: pools[0].max: must be >= min (3)\n');
});

t.test('check-config prints a summary and returns 0 for a valid file', async (t) => {
  const out = sink();
  t.equal(runCheckConfig(example, out, sink(), { SALT_AUTOSCALER_SALT_PASSWORD: 'x' }), 0);
  t.match(out.text(), /: ok\n/);
  t.match(out.text(), /pools: 5\n/);
  t.match(out.text(), /prod\/type3: .* \[dry-run\]/);
});

t.test('check-config refuses a salt.caFile it cannot read, with the other problems of the file', async (t) => {
  const path = join(dir, 'no-ca.yaml');
  writeFileSync(path, `salt: {url: "https://s:8000", username: u, password: p, caFile: ${join(dir, 'missing-ca.pem')}}\npools: [{env: e, instanceType: t, min: 3, max: 1, provider: c, profile: p}]\n`);
  const err = sink();
  t.equal(runCheckConfig(path, sink(), err, {}), 2);
  t.match(err.text(), `config: salt.caFile: ${join(dir, 'missing-ca.pem')} cannot be read (ENOENT)`);
  t.match(err.text(), 'config: pools[0].max: must be >= min (3)');
  writeFileSync(path, `salt: {url: "https://s:8000", username: u, password: p, caFile: ${dir}}\n${pool}\n`);
  const err2 = sink();
  t.equal(runCheckConfig(path, sink(), err2, {}), 2);
  t.match(err2.text(), 'is not a file');
});

t.test('check-config warns about legal but dangerous settings and still returns 0', async (t) => {
  const path = join(dir, 'risky.yaml');
  writeFileSync(path, [
    'salt: {url: "https://s:8000", username: u, password: p, tlsVerify: false}',
    'http: {listen: "0.0.0.0:9717"}',
    'pools: [{env: e, instanceType: t, max: 2, provider: c, profile: p, dryRun: true, provisionTimeout: 30s}]',
  ].join('\n'));
  const out = sink();
  const err = sink();
  t.equal(runCheckConfig(path, out, err, {}), 0);
  t.match(out.text(), /: ok\n/);
  t.same(err.text().trim().split('\n').map((l) => l.replace(/^(warning: [^:]+):.*$/, '$1')), [
    'warning: salt.tlsVerify', 'warning: http.webhookToken', 'warning: pools[e/t].dryRun', 'warning: pools[e/t].provisionTimeout',
  ]);
  const quiet = sink();
  writeFileSync(path, `${salt}\n${pool}\n`);
  t.equal(runCheckConfig(path, sink(), quiet, {}), 0);
  t.equal(quiet.text(), '', 'a plain config gets no warning');
});

t.test('check-config never prints credentials of the salt URL', async (t) => {
  const path = join(dir, 'creds.yaml');
  writeFileSync(path, `salt: {url: "https://autoscaler:hunter2@s:8000", username: u, password: p}\n${pool}\n`);
  const out = sink();
  const err = sink();
  t.equal(runCheckConfig(path, out, err, {}), 2);
  t.match(err.text(), 'config: salt.url: must not carry credentials');
  t.notMatch(out.text() + err.text(), 'hunter2');
});

t.test('check-config reports an unreadable file as a problem, exit 2', async (t) => {
  const err = sink();
  t.equal(runCheckConfig(join(dir, 'nope.yaml'), sink(), err, {}), 2);
  t.match(err.text(), /ENOENT/);
});

t.test('render-rules prints rules without needing the salt password, and 2 on a bad config', async (t) => {
  const out = sink();
  t.equal(runRenderRules(example, out, sink(), {}), 0);
  t.match(out.text(), /^# generated by salt-autoscaler render-rules, do not edit\n/);
  const err = sink();
  t.equal(runRenderRules(bad, sink(), err, {}), 2);
  t.match(err.text(), 'salt.extra');
});
