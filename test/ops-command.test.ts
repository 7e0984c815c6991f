/**
 * ops-command: `salt-autoscaler status|pause|resume|scale` against the real HTTP app (over a FakeEngine) listening
 * on a loopback port, with the address and token read from a parsed config, and through the real CLI binary.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.ts';
import { runOpsCommand, serviceUrl, type OpsAction } from '../src/ops-command.ts';
import { buildTestApp } from './http/build.ts';
import { instance, poolView } from './http/fake-engine.ts';
import { STARTUP_CEILING_MS, freePort, writeConfig } from './support/service-process.ts';

const TOKEN = 'ops-token-5b1e';
import { cliArgs } from './support/cli-process.ts';

function configFor(port: number, apiToken?: string): ReturnType<typeof parseConfig> {
  return parseConfig({
    salt: { url: 'https://salt:8000', username: 'autoscaler', password: 'x' },
    http: { listen: `127.0.0.1:${port}`, ...(apiToken === undefined ? {} : { apiToken }) },
    pools: [{ name: 'prod/type1', env: 'prod', instanceType: 'type1', max: 5, provider: 'p', reserved: ['gpu-prod-1'] }],
  }, {});
}

async function run(action: OpsAction, args: string[], config: ReturnType<typeof parseConfig>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runOpsCommand(action, args, config, { write: (c: string) => { out += c; } }, { write: (c: string) => { err += c; } });
  return { code, out, err };
}

t.test('serviceUrl reaches a wildcard bind on loopback', async (t) => {
  t.equal(serviceUrl({ http: { listen: '0.0.0.0:9717', host: '0.0.0.0', port: 9717, bodyLimitBytes: 1 } }), 'http://127.0.0.1:9717');
  t.equal(serviceUrl({ http: { listen: '[::]:9717', host: '::', port: 9717, bodyLimitBytes: 1 } }), 'http://[::1]:9717');
  t.equal(serviceUrl({ http: { listen: '10.0.0.5:80', host: '10.0.0.5', port: 80, bodyLimitBytes: 1 } }), 'http://10.0.0.5:80');
});

t.test('status, pause, resume and scale over the real HTTP API', async (t) => {
  const { app, engine } = buildTestApp({ config: { bodyLimit: 65_536, apiToken: TOKEN } });
  t.teardown(() => app.close());
  const port = await freePort();
  await app.listen({ host: '127.0.0.1', port });
  const now = Date.now();
  engine.poolViews = [poolView('prod/type1', { min: 0, max: 5, ready: 1, inFlight: 1, reserved: 3 })];
  engine.instanceList = [
    instance('gpu-prod-1', 'prod/type1', 'ready', now - 125_000, 'ready event'),
    instance('gpu-prod-2', 'prod/type1', 'deploying', now - 30_000, 'deploy orchestrate running'),
    instance('gpu-prod-3', 'prod/type1', 'stopped', now - 900_000, 'stop issued'),
  ];
  engine.decisionList = [{ pool: 'prod/type1', atMs: Date.parse('2026-11-28T08:00:00Z'), decision: { kind: 'scaleUp', count: 1, targets: [{ kind: 'start', id: 'gpu-prod-2' }], reason: 'workload 3 >= upThreshold 1' }, dryRun: false }];
  const config = configFor(port, TOKEN);

  const status = await run('status', [], config);
  t.equal(status.code, 0, status.err);
  t.match(status.out, /^POOL\s+READY\s+IN FLIGHT\s+DRAINING\s+FAILED\s+RESERVED\s+MIN\s+MAX\s+PAUSED\s+LEAD\s+WAITING\nprod\/type1\s+1\s+1\s+0\s+0\s+3\s+0\s+5\s+no\s+-\s+-\n/);
  t.match(status.out, /gpu-prod-1\s+prod\/type1\s+ready\s+2m 5s\s+ready event/);
  t.match(status.out, /gpu-prod-2\s+prod\/type1\s+deploying\s+30s\s+deploy orchestrate running/);
  t.notMatch(status.out, /gpu-prod-3\s/, 'stopped instances are only counted');
  t.match(status.out, '(1 more stopped)');
  t.match(status.out, /2026-11-28 08:00:00Z\s+prod\/type1\s+scaleUp\s+gpu-prod-2\s+workload 3 >= upThreshold 1/);
  // budget pools: the waiting against the budget, with a young pool's part of the window, OVER as the alert judges it
  const budgetPool = (name: string, waitingShare: number, waitWindowCovered: number) =>
    ({ ...poolView(name, { min: 0, max: 3 }), waitBudget: 0.0025, waitingShare, waitWindowMs: 604_800_000, waitWindowCovered });
  engine.poolViews = [
    budgetPool('young', 0.004, 0.1), budgetPool('spent', 0.04, 0.1), budgetPool('whole', 0.004, 1), { ...budgetPool('calm', 0.0012, 1), startLeadMs: 241_500 },
    { ...budgetPool('strict', 0.0012, 1), waitWindowStrict: true },
  ];
  const budgets = await run('status', [], config);
  t.match(budgets.out, /\ncalm\s.*\sno\s+4m 1s\s+0\.12% of 0\.25%\n/, 'the measured start lead of a pool that has started one');
  t.match(budgets.out, /\nyoung\s.*\s0\.40% of 0\.25% over 16h of 7d\n/, 'a young pool over its share so far is not marked');
  t.match(budgets.out, /\nspent\s.*\s4\.00% of 0\.25% over 16h of 7d OVER\n/);
  t.match(budgets.out, /\nwhole\s.*\s0\.40% of 0\.25% OVER\n/);
  t.match(budgets.out, /\ncalm\s.*\s0\.12% of 0\.25%\n/);
  t.match(budgets.out, /\nstrict\s.*\s0\.12% of 0\.25%, every window\n/, 'a pool that keeps every window says so');
  engine.poolViews = [poolView('prod/type1', { min: 0, max: 5, ready: 1, inFlight: 1, reserved: 3 })];
  const json = await run('status', ['--json'], config);
  t.same(Object.keys(JSON.parse(json.out) as object), ['pools', 'instances', 'decisions']);

  const paused = await run('pause', ['prod/type1'], config);
  t.same([paused.code, paused.out], [0, 'prod/type1: paused\n']);
  t.equal(engine.poolViews[0]?.paused, true, 'the engine was asked to pause the pool');
  const resumed = await run('resume', ['prod/type1', '--config', '/ignored/here'], config);
  t.same([resumed.code, resumed.out], [0, 'prod/type1: resumed\n']);
  engine.onScale = async () => ({ kind: 'scaleUp', count: 2, targets: [{ kind: 'start', id: 'gpu-prod-3' }, { kind: 'create' }], reason: 'manual scale +2: start 2' });
  const scaled = await run('scale', ['prod/type1', '2'], config);
  t.same([scaled.code, scaled.out], [0, 'prod/type1: scaleUp gpu-prod-3,(create) — manual scale +2: start 2\n']);
  t.ok(engine.calls.includes('scale prod/type1 2'));

  const unknown = await run('pause', ['dev/nope'], config);
  t.equal(unknown.code, 1);
  t.match(unknown.err, /answered 404: unknown pool "dev\/nope"/);
  const wrong = await run('pause', ['prod/type1'], configFor(port, 'not-the-token'));
  t.equal(wrong.code, 1);
  t.match(wrong.err, /answered 401: the bearer token does not match/);
});

t.test('usage errors exit 2 before any request; an unreachable service exits 1 with the address', async (t) => {
  const port = await freePort(); // nothing listens there
  const config = configFor(port, TOKEN);
  t.equal((await run('scale', ['prod/type1', 'x'], config)).code, 2, 'a delta that is not a number');
  t.equal((await run('scale', ['prod/type1', '0'], config)).code, 2, 'a zero delta');
  t.equal((await run('pause', [], config)).code, 2, 'no pool');
  t.equal((await run('status', ['--bogus'], config)).code, 2, 'an unknown option');
  const noToken = await run('pause', ['prod/type1'], configFor(port));
  t.equal(noToken.code, 2);
  t.match(noToken.err, /http\.apiToken is not set/);
  const down = await run('status', [], config);
  t.equal(down.code, 1);
  t.match(down.err, new RegExp(`cannot reach the service at http://127\\.0\\.0\\.1:${port}`));
});

t.test('the CLI binary wires status to the config file, without the salt password (and a bad config exits 2)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-ops-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { app, engine } = buildTestApp();
  t.teardown(() => app.close());
  const port = await freePort();
  await app.listen({ host: '127.0.0.1', port });
  engine.poolViews = [poolView('prod/type1')];
  // like /etc/salt-autoscaler/config.yaml with the password in the unit's EnvironmentFile: not in this shell
  const configPath = writeConfig(dir, {
    salt: { url: 'https://salt:8000', username: 'autoscaler' },
    http: { listen: `127.0.0.1:${port}` },
    pools: [{ name: 'prod/type1', env: 'prod', instanceType: 'type1', max: 5, provider: 'p', reserved: ['gpu-prod-1'] }],
  });
  // spawnSync would block this process's event loop, and with it the app the child asks: run it asynchronously
  const { spawn } = await import('node:child_process');
  const { SALT_AUTOSCALER_SALT_PASSWORD: _unset, ...env } = process.env;
  const child = spawn(process.execPath, cliArgs(['status', '--config', configPath]), { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.equal(code, 0);
  t.match(out, /^POOL\s+READY/);
  const bad = spawnSync(process.execPath, cliArgs(['status', '--config', join(dir, 'missing.yaml')]), { encoding: 'utf8', timeout: STARTUP_CEILING_MS });
  t.equal(bad.status, 2, 'a missing config file exits 2');
});
