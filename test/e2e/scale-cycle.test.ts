/**
 * scale-cycle: the whole chain on real processes (issue 5).
 *
 *   test --set--> exporter <--scrape 1s-- prometheus (rules from `salt-autoscaler render-rules`)
 *                                              | alerts
 *                                              v
 *                                        alertmanager (shipped alertmanager.yml, short timings)
 *                                              | webhook, bearer token (credentials_file)
 *                                              v
 *   emulator (salt-api) <--cloud.action, grains, cmd.retcode, events-- salt-autoscaler serve (child process)
 *
 * The service has no `prometheus:` section: the Alertmanager webhook is its only workload signal, so every
 * action below was caused by an alert that went through Prometheus and Alertmanager.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, type CallRecord, type Emulator } from '../../src/emulator/index.ts';
import { TEST_SALT_LOGIN, testEmulatorOptions, waitFor } from '../support/engine-harness.ts';
import { startQueueExporter, type QueueExporter } from '../support/e2e-exporter.ts';
import {
  alertmanagerConfigFromShipped, missingBinaries, prometheusConfig, startAlertmanager, startPrometheus, type ManagedProcess,
} from '../support/e2e-processes.ts';
import { freePort, startServiceProcess, writeConfig, type ServiceProcess, HEARTBEAT_TIMEOUT } from '../support/service-process.ts';
import { cliArgs } from '../support/cli-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const POOL = 'e2e/t1';
const IDS = ['gpu-e2e-t1-1', 'gpu-e2e-t1-2'] as const;
// a second pool on the budget strategy, never asked to scale: the dashboard's waiting panel reads its gauges
const BUDGET_POOL = 'e2e/t2';
const BUDGET_IDS = ['gpu-e2e-t2-1'] as const;
const INTERVAL_MS = 3_000;
const WEBHOOK_TOKEN = 'e2e-webhook-token-5f1c';
const API_TOKEN = 'e2e-api-token-93ab';
/** DEADLINE_MS bounds every wait for the chain (scrape 1s + eval 1s + group_wait 1s + engine) with a wide margin. */
const DEADLINE_MS = 30_000;

interface InstanceJson { id: string; pool: string; state: string; since: string; reason: string }
interface DecisionJson { pool: string; at: string; action: string; count: number; targets: string[]; reason: string }

/** stopService sends SIGTERM and, when the service has not exited within 5s, SIGKILL. */
async function stopService(service: ServiceProcess): Promise<void> {
  const timer = setTimeout(() => { void service.kill('SIGKILL'); }, 5_000);
  await service.kill('SIGTERM');
  clearTimeout(timer);
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return (await res.json()) as T;
}

async function apiState(service: ServiceProcess, id: string): Promise<string | undefined> {
  const list = await getJson<InstanceJson[]>(`${service.url}/api/instances`);
  return list.find((i) => i.id === id)?.state;
}

async function webhookRequests(service: ServiceProcess, status: string): Promise<number> {
  const res = await fetch(`${service.url}/metrics`);
  const text = await res.text();
  const m = new RegExp(`^salt_autoscaler_webhook_requests_total\\{status="${status}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

function isCloudAction(call: CallRecord, func: 'start' | 'stop', id?: string): boolean {
  if (call.fun !== 'cloud.action' || typeof call.kwarg !== 'object' || call.kwarg === null) return false;
  const kwarg = call.kwarg as { func?: unknown; instances?: unknown };
  if (kwarg.func !== func) return false;
  return id === undefined || (Array.isArray(kwarg.instances) && kwarg.instances.includes(id));
}

function firstCall(emu: Emulator, afterMs: number, pred: (c: CallRecord) => boolean): CallRecord | undefined {
  return emu.calls.find((c) => c.atMs >= afterMs && c.status === 200 && pred(c));
}

function instanceOf(call: CallRecord): string {
  const instances = (call.kwarg as { instances?: unknown } | undefined)?.instances;
  const id = Array.isArray(instances) ? instances[0] : undefined;
  if (typeof id !== 'string') throw new Error(`cloud.action call without an instance: ${JSON.stringify(call)}`);
  return id;
}

function grainDraining(emu: Emulator, id: string): unknown {
  const grain = emu.world.instance(id)?.grains['salt_autoscaler'];
  return typeof grain === 'object' && grain !== null ? (grain as Record<string, unknown>)['draining'] : undefined;
}

const missing = missingBinaries();

t.test('a queue raised then drained through real Prometheus and Alertmanager starts instances, then drains and stops only idle ones', async (t) => {
  t.same(missing, [], 'prometheus and alertmanager are installed (apt-get install prometheus prometheus-alertmanager)');
  if (missing.length > 0) return;

  const beganAtMs = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'asc-e2e-'));
  const procs: { name: string; proc: ManagedProcess | ServiceProcess }[] = [];
  const live: { emu?: Emulator; exporter?: QueueExporter } = {};
  t.teardown(async () => {
    if (!t.passing()) {
      for (const { name, proc } of procs) console.error(`\n===== ${name} output =====\n${proc.output().slice(-40_000)}`);
      if (live.emu) console.error(`\n===== emulator calls =====\n${live.emu.calls.map((c) => JSON.stringify(c)).join('\n').slice(-20_000)}`);
    }
    // stop the service first (it calls salt-api), then Alertmanager, Prometheus, the exporter and the emulator
    const teardownAtMs = Date.now();
    for (const { proc } of [...procs].reverse()) {
      if ('stop' in proc) await proc.stop();
      else await stopService(proc);
    }
    await live.exporter?.close();
    await live.emu?.close();
    rmSync(dir, { recursive: true, force: true });
    console.log(`# e2e teardown: ${Date.now() - teardownAtMs}ms`);
  });

  // (1) the exporter, (2) the salt-api emulator with two stopped reserved instances and short delays
  const exporter = await startQueueExporter({ env: 'e2e', instanceType: 't1' }, 0);
  live.exporter = exporter;
  const emu = await startEmulator(testEmulatorOptions({
    instances: [...IDS, ...BUDGET_IDS].map((id) => ({ id })),
    delays: { startMs: 100, bootMs: 300, deployMs: 300, stopMs: 100 },
  }));
  live.emu = emu;

  // (3) the service config; the rule file is rendered from this very file by the CLI
  const servicePort = await freePort();
  const configPath = writeConfig(dir, {
    salt: { url: emu.url, ...TEST_SALT_LOGIN, heartbeatInterval: '1s', heartbeatTimeout: HEARTBEAT_TIMEOUT, timeout: '10s' },
    store: { path: join(dir, 'state.db') },
    http: { listen: `127.0.0.1:${servicePort}`, webhookToken: WEBHOOK_TOKEN, apiToken: API_TOKEN },
    engine: { evaluateInterval: '1s', reconcileInterval: '1h' },
    log: { level: 'debug' },
    pools: [{
      name: POOL, env: 'e2e', instanceType: 't1', min: 0, max: 2, upThreshold: 1, downThreshold: 0,
      interval: `${INTERVAL_MS / 1000}s`, strategy: 'threshold', step: 1, provider: 'emu-cloud', reserved: [...IDS],
      workloadQuery: 'sum(queue_length{env="e2e",instance_type="t1"})',
      idleCheck: { fun: 'cmd.retcode', args: ['/usr/local/bin/training-idle'] },
    }, {
      name: BUDGET_POOL, env: 'e2e', instanceType: 't2', min: 0, max: 1, interval: `${INTERVAL_MS / 1000}s`, strategy: 'budget',
      provider: 'emu-cloud', reserved: [...BUDGET_IDS], workloadQuery: 'sum(queue_length{env="e2e",instance_type="t2"})',
    }],
  });
  const rules = execFileSync(process.execPath, cliArgs(['render-rules', '--config', configPath]), { cwd: ROOT, encoding: 'utf8' });
  t.match(rules, /queue_length\{env="e2e",instance_type="t1"\}\)\) >= 1/, 'render-rules wrote the scale-up rule of the pool');
  const ruleFile = join(dir, 'salt-autoscaler.rules.yml');
  writeFileSync(ruleFile, rules);

  const service = await startServiceProcess(configPath, servicePort);
  procs.push({ name: 'salt-autoscaler', proc: service });

  // (5) Alertmanager from the shipped config, (4) Prometheus with the generated rules
  const tokenFile = join(dir, 'webhook-token');
  writeFileSync(tokenFile, `${WEBHOOK_TOKEN}\n`, { mode: 0o600 });
  const alertmanager = await startAlertmanager(dir, alertmanagerConfigFromShipped({
    webhookUrl: `${service.url}/alertmanager/webhook`,
    tokenFile,
    // repeat_interval stays below the pool's signalMaxAge (3 x interval = 9s) so a firing alert stays fresh
    timings: { groupWait: '1s', groupInterval: '1s', repeatInterval: '2s' },
  }));
  procs.push({ name: 'alertmanager', proc: alertmanager });
  const prometheus = await startPrometheus(dir, prometheusConfig({
    // the service's own /metrics too: the shipped Grafana dashboard is checked against them below
    targets: [exporter.target, new URL(service.url).host],
    ruleFile,
    alertmanager: new URL(alertmanager.url).host,
  }));
  procs.push({ name: 'prometheus', proc: prometheus });

  // steady state: queue 0, so the scale-down alert already fires and reaches the service through Alertmanager
  await waitFor('the first authorized webhook notification (queue 0, scale-down alert, nothing to drain)',
    async () => (await webhookRequests(service, '200')) >= 1, DEADLINE_MS);
  t.equal(emu.calls.filter((c) => isCloudAction(c, 'start')).length, 0, 'nothing was started while the queue was empty');
  console.log(`# e2e setup: processes up and the first notification delivered in ${Date.now() - beganAtMs}ms (${exporter.scrapes} scrapes)`);

  let upLatencyMs = 0;
  let firstId = '';
  let secondId = '';
  await t.test('a queue of 3 fires the scale-up alert and Alertmanager makes the service start reserved instances until ready', async (t) => {
    const raisedAtMs = exporter.set(3);
    await waitFor('cloud.action start after the queue rose', () => firstCall(emu, raisedAtMs, (c) => isCloudAction(c, 'start')) !== undefined, DEADLINE_MS);
    const start = firstCall(emu, raisedAtMs, (c) => isCloudAction(c, 'start'))!;
    upLatencyMs = start.atMs - raisedAtMs;
    firstId = instanceOf(start);
    t.ok(IDS.includes(firstId as typeof IDS[number]), `a reserved instance was started (${firstId})`);
    await waitFor(`${firstId} ready in /api/instances`, async () => (await apiState(service, firstId)) === 'ready', DEADLINE_MS);
    const readyMs = Date.now() - raisedAtMs;
    t.equal(emu.world.instance(firstId)?.phase, 'ready', 'the emulator deployed it');
    // the queue stays above the threshold: one interval later the second reserved instance follows, then max holds
    secondId = IDS.find((id) => id !== firstId)!;
    await waitFor(`${secondId} ready in /api/instances`, async () => (await apiState(service, secondId)) === 'ready', DEADLINE_MS);
    const starts = emu.calls.filter((c) => isCloudAction(c, 'start'));
    t.same(starts.map(instanceOf).sort(), [...IDS].sort(), 'each reserved instance was started exactly once (max 2)');
    // the interval is between the pool's decisions: the calls they lead to come each after its own intent write and
    // round trip, which a loaded machine stretches unevenly
    const ups = (await getJson<DecisionJson[]>(`${service.url}/api/decisions?pool=${encodeURIComponent(POOL)}`))
      .filter((d) => d.action === 'scaleUp').map((d) => Date.parse(d.at)).sort((a, b) => a - b);
    t.ok(ups.length >= 2, `the two scale-up decisions are in /api/decisions (${ups.length})`);
    const gapMs = (ups[1] ?? 0) - (ups[0] ?? 0);
    t.ok(gapMs >= INTERVAL_MS, `the second scale-up waited for the pool interval (${gapMs}ms >= ${INTERVAL_MS}ms)`);
    t.equal(await webhookRequests(service, '401'), 0, 'Alertmanager always sent the right bearer token');
    console.log(`# e2e scale-up: queue 0->3 to cloud.action start ${upLatencyMs}ms; to ${firstId} ready ${readyMs}ms`);
  });

  let drainLatencyMs = 0;
  let stopLatencyMs = 0;
  let idleStopLatencyMs = 0;
  await t.test('a drained queue fires the scale-down alert: the idle instance is drained, idle-checked and stopped, the busy one kept', async (t) => {
    const busyId = secondId;
    const idleId = firstId;
    emu.world.setBusy(busyId, true);
    const drainedAtMs = exporter.set(0);
    const isDrainOf = (id: string) => (c: CallRecord) => c.fun === 'grains.setval' && c.tgt === id;
    await waitFor(`grains.setval draining on ${idleId}`, () => firstCall(emu, drainedAtMs, isDrainOf(idleId)) !== undefined, DEADLINE_MS);
    drainLatencyMs = firstCall(emu, drainedAtMs, isDrainOf(idleId))!.atMs - drainedAtMs;
    await waitFor(`the draining event of ${idleId}`, () => emu.events.some((e) => e.tag === `salt-autoscaler/instance/${idleId}/draining`), DEADLINE_MS);
    t.equal(grainDraining(emu, idleId), true, `grain salt_autoscaler:draining is set on ${idleId}`);
    await waitFor(`cloud.action stop of ${idleId}`, () => firstCall(emu, drainedAtMs, (c) => isCloudAction(c, 'stop', idleId)) !== undefined, DEADLINE_MS);
    const stop = firstCall(emu, drainedAtMs, (c) => isCloudAction(c, 'stop', idleId))!;
    stopLatencyMs = stop.atMs - drainedAtMs;
    const checkedBeforeStop = emu.calls.some((c) => c.fun === 'cmd.retcode' && c.tgt === idleId && c.atMs >= drainedAtMs && c.atMs <= stop.atMs);
    t.ok(checkedBeforeStop, `the idle check ran on ${idleId} before it was stopped`);
    await waitFor(`${idleId} stopped in the emulator`, () => emu.world.instance(idleId)?.state === 'stopped', DEADLINE_MS);
    await waitFor(`${idleId} stopped in /api/instances`, async () => (await apiState(service, idleId)) === 'stopped', DEADLINE_MS);

    // the busy instance: keep watching until the service has idle-checked it after a whole interval more
    await waitFor(`an idle check of busy ${busyId} one interval after the stop`,
      () => emu.calls.some((c) => c.fun === 'cmd.retcode' && c.tgt === busyId && c.atMs > stop.atMs + INTERVAL_MS + 500), DEADLINE_MS);
    t.equal(emu.world.instance(busyId)?.state, 'running', `busy ${busyId} is still running`);
    t.equal(await apiState(service, busyId), 'ready', `busy ${busyId} is still ready in /api/instances`);
    t.notOk(emu.calls.some((c) => isCloudAction(c, 'stop', busyId)), `no stop was sent for busy ${busyId}`);
    await waitFor('a hold decision saying no instance is confirmed idle', async () => {
      const decisions = await getJson<DecisionJson[]>(`${service.url}/api/decisions?pool=${encodeURIComponent(POOL)}`);
      return decisions.some((d) => d.action === 'hold' && /no ready instance is confirmed idle/.test(d.reason) && Date.parse(d.at) > stop.atMs);
    }, DEADLINE_MS);
    t.pass('the service recorded why it kept the busy instance (no ready instance confirmed idle)');

    // once the busy instance turns idle, the still-firing scale-down alert stops it too
    const idleAtMs = Date.now();
    emu.world.setBusy(busyId, false);
    await waitFor(`cloud.action stop of ${busyId} once idle`, () => firstCall(emu, idleAtMs, (c) => isCloudAction(c, 'stop', busyId)) !== undefined, DEADLINE_MS);
    idleStopLatencyMs = firstCall(emu, idleAtMs, (c) => isCloudAction(c, 'stop', busyId))!.atMs - idleAtMs;
    await waitFor(`${busyId} stopped in the emulator`, () => emu.world.instance(busyId)?.state === 'stopped', DEADLINE_MS);
    await waitFor(`${busyId} stopped in /api/instances`, async () => (await apiState(service, busyId)) === 'stopped', DEADLINE_MS);
    t.equal(emu.calls.filter((c) => isCloudAction(c, 'start')).length, 2, 'no instance was started again on the way down');
    console.log(`# e2e scale-down: queue 3->0 to grains.setval (drain) ${drainLatencyMs}ms; to cloud.action stop ${stopLatencyMs}ms`);
    console.log(`# e2e busy instance: marked idle to cloud.action stop ${idleStopLatencyMs}ms`);
  });

  await t.test('every query of the shipped Grafana dashboard runs on real Prometheus over the service\'s own metrics', async (t) => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'alertmanager/grafana/salt-autoscaler.json'), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
      templating: { list: { name: string; definition?: string }[] };
    };
    const query = async (expr: string): Promise<{ status: string; data?: { result: unknown[] }; error?: string }> => {
      const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      return (await res.json()) as { status: string; data?: { result: unknown[] }; error?: string };
    };
    // the $pool variable: label_values(salt_autoscaler_pool_max, pool) must offer this pool
    const variable = dashboard.templating.list.find((v) => v.name === 'pool')?.definition ?? '';
    const m = /^label_values\((\w+), (\w+)\)$/.exec(variable);
    t.ok(m, `the pool variable is a label_values query (${variable})`);
    const values = await (await fetch(`${prometheus.url}/api/v1/label/${m?.[2] ?? 'pool'}/values?match[]=${encodeURIComponent(m?.[1] ?? '')}`)).json() as { data: string[] };
    t.ok(values.data.includes(POOL), `the pool variable offers ${POOL} (${JSON.stringify(values.data)})`);
    // Grafana substitutes these before the query reaches Prometheus: All for $pool, a range for $__rate_interval
    const concrete = (expr: string): string => expr.replaceAll('$__rate_interval', '1m').replaceAll('$pool', '.*');
    // counters of failures have no series until a failure happens; every other panel must show data after this run
    const mayBeEmpty = (expr: string): boolean => /result="error"|instances_failed_total/.test(expr);
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => ({ title: p.title, expr: x.expr })));
    t.ok(exprs.length >= 8, `${exprs.length} panel queries`);
    for (const { title, expr } of exprs) {
      const answer = await query(concrete(expr));
      t.equal(answer.status, 'success', `${title}: ${expr} is valid PromQL${answer.error === undefined ? '' : ` (${answer.error})`}`);
      if (!mayBeEmpty(expr)) t.ok((answer.data?.result.length ?? 0) > 0, `${title}: ${expr} returns series`);
    }
    // the waiting panel shows the budget pool against its default budget, and nothing for the threshold pool
    const budget = exprs.find((x) => x.title === 'Waiting against the budget' && x.expr.includes('pool_wait_budget'));
    t.ok(budget, 'the dashboard has the waiting panel with the budget line');
    const series = ((await query(concrete(budget?.expr ?? ''))).data?.result ?? []) as { metric: { pool?: string }; value: [number, string] }[];
    t.same(series.map((x) => [x.metric.pool, Number(x.value[1])]), [[BUDGET_POOL, 0.0025]], 'one budget line: the budget pool\'s default 0.25%');
    // the start-to-ready panel: the two starts of the cycle, each observed once, under a minute each; the pool's lead
    // gauge (the p90 of its starts), none for the budget pool that started nothing
    const seriesOf = async (expr: string): Promise<[string | undefined, number][]> => (((await query(expr)).data?.result ?? []) as { metric: { pool?: string }; value: [number, string] }[])
      .map((x) => [x.metric.pool, Number(x.value[1])]);
    t.same(await seriesOf('salt_autoscaler_start_to_ready_seconds_count'), [[undefined, 2]], 'both starts of the cycle reached ready and were observed');
    t.same(await seriesOf('salt_autoscaler_start_to_ready_seconds_bucket{le="60"}'), [[undefined, 2]], 'each within the 60 s bucket (the emulator starts, boots and deploys in 700 ms)');
    const lead = await seriesOf('salt_autoscaler_pool_start_lead_seconds');
    t.same(lead.map(([pool]) => pool), [POOL], `a lead for the pool that started, none for the one that did not (${JSON.stringify(lead)})`);
    t.ok((lead[0]?.[1] ?? 0) > 0.7 && (lead[0]?.[1] ?? 0) < 30, 'in seconds: the emulator\'s 700 ms and the event round trips');
  });

  console.log(`# e2e summary: up ${upLatencyMs}ms, drain ${drainLatencyMs}ms, stop ${stopLatencyMs}ms, busy-then-idle stop ${idleStopLatencyMs}ms`);
});
