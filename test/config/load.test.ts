import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.ts';
import { formatProblems, loadConfig, parseConfig, parseConfigText, toPoolSpec } from '../../src/config/load.ts';
import { parseDurationMs } from '../../src/config/schema.ts';

const salt = { url: 'https://salt:8000', username: 'autoscaler', password: 'secret' };
const pool = { env: 'prod', instanceType: 'type1', max: 5, provider: 'my-cloud', reserved: ['gpu-prod-1'] };

function problemsOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('a minimal config gets every default, in ms', async (t) => {
  const config = parseConfig({ salt, pools: [pool] }, {});
  t.match(config.salt, { eauth: 'pam', transport: 'sse', tlsVerify: true, heartbeatIntervalMs: 30_000, heartbeatTimeoutMs: 10_000, timeoutMs: 30_000 });
  t.same(config.http, { listen: '127.0.0.1:9717', host: '127.0.0.1', port: 9717, bodyLimitBytes: 1_048_576 });
  t.same(config.store, { path: '/var/lib/salt-autoscaler/state.db', leaseTtlMs: 15_000 });
  t.same(config.engine, { reconcileIntervalMs: 300_000, evaluateIntervalMs: 15_000, startConfirmWindowMs: 60_000 });
  t.equal(config.alerts.scaleUpAlert, 'SaltAutoscalerScaleUp');
  t.match(config.pools[0], {
    name: 'prod/type1', min: 0, upThreshold: 1, downThreshold: 0, intervalMs: 270_000, upCooldownMs: 270_000,
    downCooldownMs: 270_000, step: 1, strategy: 'budget', perInstance: 1, waitBudget: 0.0025, waitWindowMs: 604_800_000, provisionTimeoutMs: 900_000,
    drainTimeoutMs: 600_000, scaleIn: 'stop', signalMaxAgeMs: 810_000, failureBackoff: { baseMs: 60_000, maxMs: 1_800_000 },
    idleCheck: { fun: 'cmd.retcode', args: ['/usr/local/bin/training-idle'] }, dryRun: false, paused: false,
  });
  t.equal(config.prometheus, undefined);
});

t.test('durations accept units, compounds and seconds', async (t) => {
  t.equal(parseDurationMs('270s'), 270_000);
  t.equal(parseDurationMs('5m'), 300_000);
  t.equal(parseDurationMs('1h30m'), 5_400_000);
  t.equal(parseDurationMs('500ms'), 500);
  t.equal(parseDurationMs(90), 90_000);
  t.equal(parseDurationMs('90'), 90_000);
  t.equal(parseDurationMs('5 minutes'), undefined);
  t.equal(parseDurationMs(-1), undefined);
  const config = parseConfig({ salt, pools: [{ ...pool, interval: 60, upCooldown: '2m', signalMaxAge: '500ms' }] }, {});
  t.match(config.pools[0], { intervalMs: 60_000, upCooldownMs: 120_000, downCooldownMs: 60_000, signalMaxAgeMs: 500 });
});

t.test('the result is deep-frozen', async (t) => {
  const config = parseConfig({ salt, pools: [pool] }, {});
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.pools) && Object.isFrozen(config.pools[0]?.reserved) && Object.isFrozen(config.salt));
});

t.test('every problem is reported at once, each with its path', async (t) => {
  const problems = problemsOf(() => parseConfig({
    salt: { url: 'not a url', username: 'u', password: 'p', colour: 'blue' },
    http: { listen: 'nowhere' },
    pools: [pool, { ...pool, name: 'b', min: 3, max: 1, downThreshold: 2, upThreshold: 1, interval: 'soon' }],
  }, {}));
  const paths = problems.map((p) => p.path).sort();
  t.same(paths, ['http.listen', 'pools[1].downThreshold', 'pools[1].interval', 'pools[1].max', 'salt.colour', 'salt.url'], 'schema and cross-field problems in one run');
  t.same(problems.slice(-2), [
    { path: 'pools[1].max', message: 'must be >= min (3)' },
    { path: 'pools[1].downThreshold', message: 'must be < upThreshold (1)' },
  ], 'cross-field problems after the schema ones');
  t.match(problems.find((p) => p.path === 'salt.colour'), { message: 'unknown key' });
  const cross = problemsOf(() => parseConfig({ salt, pools: [pool, { ...pool, name: 'b', min: 3, max: 1, downThreshold: 2, upThreshold: 1 }] }, {}));
  t.same(cross, [
    { path: 'pools[1].max', message: 'must be >= min (3)' },
    { path: 'pools[1].downThreshold', message: 'must be < upThreshold (1)' },
  ]);
});

t.test('cross-field rules: instances source, destroy needs profile, unique names, backoff, required fields', async (t) => {
  const problems = problemsOf(() => parseConfig({
    salt,
    pools: [
      { env: 'prod', instanceType: 't', max: 1, provider: 'c' },
      { ...pool, scaleIn: 'destroy', failureBackoff: { base: '1h', max: '1m' } },
      { ...pool },
      { instanceType: 'x', reserved: ['a'] },
    ],
  }, {}));
  t.same(problems.map((p) => p.path), [
    'pools[2].name', 'pools[0].reserved', 'pools[1].scaleIn', 'pools[1].failureBackoff.base',
    'pools[3].env', 'pools[3].max', 'pools[3].provider',
  ]);
  t.match(problems[0]?.message, /duplicate pool name prod\/type1/);
});

t.test('at least one pool is required', async (t) => {
  t.same(problemsOf(() => parseConfig({ salt }, {})), [{ path: 'pools', message: 'at least one pool is required (in pools or matrix)' }]);
});

t.test('the matrix makes one pool per env x type, substitutes placeholders, and a pools entry merges over it', async (t) => {
  const config = parseConfig({
    salt,
    defaults: { provider: 'cloud', interval: '3m', idleCheck: { args: ['/bin/idle'] } },
    matrix: { envs: ['prod', 'dev'], instanceTypes: ['t1', 't2'], pool: { max: 3, reservedPattern: 'gpu-{env}-{instanceType}-*' } },
    pools: [
      { name: 'dev/t2', max: 1, paused: true },
      { env: 'lab', instanceType: 't9', max: 1, profile: 'p9' },
    ],
  }, {});
  t.same(config.pools.map((p) => p.name), ['prod/t1', 'prod/t2', 'dev/t1', 'dev/t2', 'lab/t9']);
  t.match(config.pools[1], { env: 'prod', instanceType: 't2', reservedPattern: 'gpu-prod-t2-*', max: 3, intervalMs: 180_000, provider: 'cloud' });
  t.match(config.pools[3], { name: 'dev/t2', max: 1, paused: true, reservedPattern: 'gpu-dev-t2-*' });
  t.same(config.pools[0]?.idleCheck, { fun: 'cmd.retcode', args: ['/bin/idle'] });
  t.match(config.pools[4], { provider: 'cloud', profile: 'p9' });
});

t.test('a merged matrix pool reports problems at the pools entry path', async (t) => {
  const problems = problemsOf(() => parseConfig({
    salt,
    matrix: { envs: ['prod'], instanceTypes: ['t1'], pool: { max: 3, provider: 'c', reserved: ['a'] } },
    pools: [{ name: 'prod/t1', min: 4 }],
  }, {}));
  t.same(problems, [{ path: 'pools[0].max', message: 'must be >= min (4)' }]);
});

t.test('secrets come from the file first, from env when the file does not set them', async (t) => {
  const env = { SALT_AUTOSCALER_SALT_PASSWORD: 'env-pw', SALT_AUTOSCALER_WEBHOOK_TOKEN: 'env-webhook-token', SALT_AUTOSCALER_API_TOKEN: 'env-api-token' };
  const fromEnv = parseConfig({ salt: { url: salt.url, username: 'u' }, pools: [pool] }, env);
  t.equal(fromEnv.salt.password, 'env-pw');
  t.equal(fromEnv.http.webhookToken, 'env-webhook-token');
  t.equal(fromEnv.http.apiToken, 'env-api-token');
  const fromFile = parseConfig({ salt, http: { webhookToken: 'file-webhook-token' }, pools: [pool] }, env);
  t.equal(fromFile.salt.password, 'secret');
  t.equal(fromFile.http.webhookToken, 'file-webhook-token');
  t.same(problemsOf(() => parseConfig({ salt: { url: salt.url, username: 'u' }, pools: [pool] }, { SALT_AUTOSCALER_SALT_PASSWORD: '' })), [
    { path: 'salt.password', message: 'is required: set it in the file or in env SALT_AUTOSCALER_SALT_PASSWORD' },
  ]);
});

t.test('a YAML syntax error is ASC_ERR_CONFIG_READ with its line', async (t) => {
  try {
    parseConfigText('salt:\n  url: x\n  username: [a, b\npools: []\n', {});
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof ConfigError);
    t.equal((err as ConfigError).code, 'ASC_ERR_CONFIG_READ');
    t.match((err as ConfigError).problems[0]?.path, /^line \d+:\d+$/);
  }
  t.throws(() => parseConfigText('a: 1\na: 2\n', {}), { code: 'ASC_ERR_CONFIG_READ' }, 'duplicate keys are an error');
});

t.test('loadConfig reads a file; a missing file is ASC_ERR_CONFIG_READ', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'salt: {url: "http://s:8000", username: u, password: p}\npools: [{env: e, instanceType: t, max: 2, provider: c, profile: p}]\n');
  t.equal(loadConfig(file, {}).pools[0]?.name, 'e/t');
  t.throws(() => loadConfig(join(dir, 'missing.yaml'), {}), { code: 'ASC_ERR_CONFIG_READ', message: /ENOENT/ });
});

t.test('formatProblems prints one line per problem with its path', async (t) => {
  const err = new ConfigError('ASC_ERR_CONFIG_INVALID', 'x', [{ path: 'pools[1].max', message: 'must be >= min (0)' }, { path: 'salt.url', message: 'bad' }]);
  t.equal(formatProblems(err), 'config: pools[1].max: must be >= min (0)\nconfig: salt.url: bad');
});

t.test('toPoolSpec gives the core its view of a pool', async (t) => {
  const config = parseConfig({ salt, pools: [{ ...pool, strategy: 'target', perInstance: 4, profile: 'gpu' }, { ...pool, instanceType: 'type2', reserved: ['gpu-prod-2'], name: 'th', strategy: 'threshold' }] }, {});
  const spec = toPoolSpec(config.pools[0]!);
  t.match(spec, { name: 'prod/type1', strategy: { kind: 'target', perInstance: 4 }, canCreate: true, failureBackoffBaseMs: 60_000, intervalMs: 270_000 });
  t.same(toPoolSpec(config.pools[1]!).strategy, { kind: 'threshold' });
  t.equal(toPoolSpec(config.pools[1]!).canCreate, false);
});

t.test('hostile settings are refused in one run, each with its path and why', async (t) => {
  const problems = problemsOf(() => parseConfig({
    salt: { url: 'https://autoscaler:hunter2@salt:8000', username: 'u', password: 'p', timeout: 0, heartbeatInterval: 0 },
    http: { webhookToken: ' ', apiToken: 'x', bodyLimit: '2000MiB' },
    engine: { reconcileInterval: '1ms' },
    pools: [
      pool,
      { ...pool, name: 'twin' },
      { env: 'dev', instanceType: 't9', max: 1, provider: 'c', profile: 'p', interval: '99999999999h' },
    ],
  }, {}));
  const byPath = new Map(problems.map((p) => [p.path, p.message]));
  t.same([...byPath.keys()].sort(), [
    'engine.reconcileInterval', 'http.apiToken', 'http.bodyLimit', 'http.webhookToken', 'pools[1].instanceType', 'pools[1].reserved',
    'pools[2].interval', 'salt.heartbeatInterval', 'salt.timeout', 'salt.url',
  ]);
  t.match(byPath.get('salt.url'), /must not carry credentials \(user:password@\)/);
  t.notMatch(JSON.stringify(problems), /hunter2/, 'the password in the URL is never printed back');
  t.match(byPath.get('salt.timeout'), /must be at least 1s, got 0s: a salt-api call needs time to answer/);
  t.match(byPath.get('salt.heartbeatInterval'), /must be at least 1s, got 0s: .*cannot be switched off/);
  t.match(byPath.get('engine.reconcileInterval'), /must be at least 1s, got 1ms: .*floods the master/);
  t.match(byPath.get('pools[2].interval'), /must be at most 24d, .*Node timers cannot wait longer/);
  t.match(byPath.get('http.webhookToken'), /must not contain whitespace: .*could never match/);
  t.match(byPath.get('http.apiToken'), /must be at least 8 characters, got 1/);
  t.match(byPath.get('http.bodyLimit'), /must be at most 64MiB/);
  t.match(byPath.get('pools[1].reserved'), /gpu-prod-1 is also reserved by pool prod\/type1 \(pools\[0\]\)/);
  t.match(byPath.get('pools[1].instanceType'), /same env \(prod\) and instanceType \(type1\) as pool prod\/type1/);
});

t.test('a start confirm window shorter than salt.timeout is refused with its path', async (t) => {
  t.same(problemsOf(() => parseConfig({ salt: { ...salt, timeout: '30s' }, engine: { startConfirmWindow: '10s' }, pools: [pool] }, {})), [{
    path: 'engine.startConfirmWindow',
    message: 'must be at least salt.timeout (30s), got 10s: a start call may take that long to reach Salt, a shorter window gives the instance back to the reserve while its start is under way',
  }]);
  t.equal(parseConfig({ salt: { ...salt, timeout: '30s' }, engine: { startConfirmWindow: '30s' }, pools: [pool] }, {}).engine.startConfirmWindowMs, 30_000);
});

t.test('tokens from env are held to the same rules as tokens in the file', async (t) => {
  t.same(problemsOf(() => parseConfig({ salt, pools: [pool] }, { SALT_AUTOSCALER_API_TOKEN: 'abc' })).map((p) => p.path), ['http.apiToken']);
  t.match(problemsOf(() => parseConfig({ salt, pools: [pool] }, { SALT_AUTOSCALER_WEBHOOK_TOKEN: 'a token' }))[0], { path: 'http.webhookToken', message: /from env SALT_AUTOSCALER_WEBHOOK_TOKEN.*whitespace/ });
});

t.test('a broken field hides no other problem and invents none', async (t) => {
  // upThreshold is broken: the threshold rule is skipped (it would compare with a default), max < min is still reported
  const problems = problemsOf(() => parseConfig({ salt, pools: [{ ...pool, min: 9, upThreshold: 'high', downThreshold: 5 }] }, {}));
  t.same(problems.map((p) => p.path), ['pools[0].upThreshold', 'pools[0].max']);
  // a field of the wrong type is not also "required"
  t.same(problemsOf(() => parseConfig({ salt, pools: [{ ...pool, max: 'many' }] }, {})).map((p) => p.path), ['pools[0].max']);
});

t.test('store.leaseTtl below 3s is refused with its path', async (t) => {
  t.same(problemsOf(() => parseConfig({ salt, pools: [pool], store: { leaseTtl: '2s' } }, {})).map((p) => p.path), ['store.leaseTtl']);
  t.equal(parseConfig({ salt, pools: [pool], store: { leaseTtl: '1m' } }, {}).store.leaseTtlMs, 60_000);
});

t.test('waitBudget takes a percentage or a fraction, from defaults or the pool, and reaches the core spec', async (t) => {
  const config = parseConfig({ salt, defaults: { waitBudget: '0.5%', waitWindow: '2d' }, pools: [pool, { ...pool, instanceType: 'type2', reserved: ['gpu-2'], waitBudget: 0.001 }, { ...pool, instanceType: 'type3', reserved: ['gpu-3'], waitBudget: 0 }] }, {});
  t.same(config.pools.map((p) => [p.waitBudget, p.waitWindowMs]), [[0.005, 172_800_000], [0.001, 172_800_000], [0, 172_800_000]]);
  const spec = toPoolSpec(config.pools[0]!);
  t.equal(spec.waitBudget, 0.005);
  t.equal(spec.waitWindowMs, 172_800_000);
  t.same(spec.strategy, { kind: 'budget', perInstance: 1 }, 'budget is the default strategy');
  t.equal(spec.waitWindowStrict, undefined, 'every window kept only when asked');
});

t.test('waitWindowStrict, from defaults or the pool, reaches the core spec; a non-boolean is reported with its path', async (t) => {
  const config = parseConfig({ salt, defaults: { waitWindowStrict: true }, pools: [pool, { ...pool, instanceType: 'type2', reserved: ['gpu-2'], waitWindowStrict: false }] }, {});
  t.same(config.pools.map((p) => p.waitWindowStrict), [true, false]);
  t.same(config.pools.map((p) => toPoolSpec(p).waitWindowStrict), [true, undefined]);
  t.same(problemsOf(() => parseConfig({ salt, pools: [{ ...pool, waitWindowStrict: 'yes' }] }, {})).map((p) => p.path), ['pools[0].waitWindowStrict']);
});

t.test('a waitBudget or waitWindow out of bounds is reported with its path and why', async (t) => {
  const problems = problemsOf(() => parseConfig({
    salt,
    defaults: { waitBudget: 'lots' },
    pools: [{ ...pool, waitBudget: '60%' }, { ...pool, instanceType: 'type2', waitBudget: -1 }, { ...pool, instanceType: 'type3', waitWindow: '10m' }],
  }, {}));
  const byPath = new Map(problems.map((p) => [p.path, p.message]));
  t.match(byPath.get('defaults.waitBudget'), /expected a share like 0\.25%/);
  t.match(byPath.get('pools[0].waitBudget'), /at most 50%, got 60%/);
  t.match(byPath.get('pools[1].waitBudget'), /expected a share/);
  t.match(byPath.get('pools[2].waitWindow'), /at least 1h, got 10m: the waiting share is measured over this window/);
});
