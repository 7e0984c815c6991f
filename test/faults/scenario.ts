/**
 * scenario: the fault-matrix runner. One scenario = one salt-api emulator + the REAL service as a child process
 * (`bin/salt-autoscaler.js serve`) in its own temp dir and port, workload fed through the real Alertmanager
 * webhook, faults injected through the emulator, and four invariants checked while and after it runs.
 *
 *   startEmulator ─► writeConfig ─► startServiceProcess ─► sampler (every SAMPLE_MS: /api/pools + world)
 *        │                                                      │
 *        └──────── scenario.run(ctx): webhook, faults, SIGKILL + restart, waits on the world ───────┘
 *                                                      │
 *        invariants: starts (salt/cloud/<id>/starting vs needs) · busy stops · bounds · state == truth
 *
 * Invariants:
 *   starts   no instance started twice for one need: `cloud.action func=start` calls Salt answered === needs, and
 *            no instance gets a second start before a stop of it (see countStarts).
 *   busy     no busy minion (emu.world.setBusy) is ever stopped: zero `salt/cloud/<id>/stopping` for them. Checked
 *            only in scenarios that have a busy minion (elsewhere it cannot fail: the cell says `not checked`).
 *   bounds   never above max or below min: every sample of /api/pools (ready + inFlight) and of the emulator's
 *            world (instances neither stopped nor stopping) is <= max, and >= min once min was reached.
 *   state    /api/instances equals the emulator's truth (ready <-> running+ready, stopped <-> stopped) within
 *            one reconcile interval after the world settled.
 */
import BetterSqlite3 from 'better-sqlite3';
import type { Test } from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_USER, startEmulator, type Emulator, type InstanceView } from '../../src/emulator/index.ts';
import type { InstanceJson, PoolJson } from '../../src/http/api-shapes.ts';
import { waitFor } from '../support/engine-harness.ts';
import { freePort, startServiceProcess, writeConfig, type ServiceProcess, HEARTBEAT_TIMEOUT } from '../support/service-process.ts';

/** SCENARIO_API_TOKEN is the service's apiToken in the scenarios (for POST /api/pools/<pool>/...). */
export const SCENARIO_API_TOKEN = 'faults-api-token';
/** POOL is the one pool every scenario runs. */
export const POOL = 'f/t1';
/** RECONCILE_INTERVAL_MS is the service's reconcile interval in the scenarios (config `engine.reconcileInterval`). */
export const RECONCILE_INTERVAL_MS = 3000;
/** STATE_SLACK_MS is what the state check allows on top of one reconcile interval (one reconcile run + polling). */
export const STATE_SLACK_MS = 1500;
const SAMPLE_MS = 100;
/** QUIET_MS is how long a settled scenario is watched for late extra actions (two evaluate intervals). */
const QUIET_MS = 2000;

/** ScenarioSpec describes one fault scenario. */
export interface ScenarioSpec {
  readonly name: string;
  /** instances: how many reserved instances the pool has (gpu-dev-<tag>-1 .. n, inside the shipped ACL's target); default 4. */
  readonly instances?: number;
  readonly min?: number;
  readonly max?: number;
  /** running: instances already running and ready in Salt when the scenario starts. */
  readonly running?: readonly number[];
  /** busy: instances (by number) whose idle check says busy for the whole scenario. */
  readonly busy?: readonly number[];
  /**
   * needs: how many starts the scenario's workload needs in total, or `any` for a generated scenario whose count
   * is not known in advance (then the starts invariant checks only that no instance is started twice without a stop).
   */
  readonly needs: number | 'any';
  /**
   * early: run() starts as soon as /healthz answers, while the service's startup reconcile may still run. By
   * default the runner (and restart()) first waits for the startup reconcile, so each scenario tests its own fault.
   */
  readonly early?: boolean;
  /** setup: runs on the emulator before the service starts (faults for its startup). */
  readonly setup?: (emu: Emulator) => void;
  /** proxy: reach salt-api through a TCP proxy the scenario can blackhole (ctx.blackhole). */
  readonly proxy?: boolean;
  /** salt: overrides of the config's salt section (e.g. a short timeout). */
  readonly salt?: Record<string, unknown>;
  run(ctx: ScenarioContext): Promise<void>;
}

/** ScenarioContext is what a scenario's run() drives. */
export interface ScenarioContext {
  readonly emu: Emulator;
  /** ids are the pool's instance ids, in order (ids[0] = gpu-dev-<tag>-1). */
  readonly ids: readonly string[];
  readonly dbPath: string;
  /** service is the running service process (the current one after a restart). */
  service(): ServiceProcess;
  /** setWorkload sends the pool's workload as one Alertmanager notification (ScaleUp above 0, else ScaleDown). */
  setWorkload(workload: number): Promise<void>;
  /** workloadNotification is the next body setWorkload would send (its alert starts one step later than the last). */
  workloadNotification(workload: number): Record<string, unknown>;
  /** notify posts a raw webhook body and returns the HTTP status. */
  notify(body: unknown): Promise<number>;
  /** poolAction posts `POST /api/pools/<pool>/pause|resume|scale` with the API token and returns the HTTP status. */
  poolAction(action: 'pause' | 'resume' | 'scale', delta?: number): Promise<number>;
  /** kill SIGKILLs the service (the sampler pauses until restart()). */
  kill(): Promise<void>;
  /** restart starts the service again on the same config, port and database. */
  restart(): Promise<void>;
  /** instances is the service's GET /api/instances. */
  instances(): Promise<ApiInstance[]>;
  /** waitWorld waits until `count` pool instances are running+ready (and the rest stopped) in the emulator. */
  waitWorld(readyCount: number, timeoutMs?: number): Promise<void>;
  /** waitService waits until the service reports `count` ready instances. */
  waitService(readyCount: number, timeoutMs?: number): Promise<void>;
  /** openIntents counts open intents of `kind` in the service's database. */
  openIntents(kind: string): number;
  /**
   * blackhole (with spec.proxy): while on, bytes from the service to salt-api are dropped, so no request sent
   * meanwhile ever reaches Salt (answers and the event stream still flow back).
   */
  blackhole(on: boolean): void;
  /** until waits for a condition on the service's API with a deadline (never a fixed sleep). */
  until(label: string, cond: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<void>;
}

/** ApiInstance is one element of GET /api/instances (the contract shape). */
export type ApiInstance = InstanceJson;

/** ApiPool is one element of GET /api/pools (the contract shape). */
type ApiPool = PoolJson;

/** InvariantResult is one cell of the matrix; `checked` false = the scenario cannot break it (no assertion is counted). */
export interface InvariantResult {
  readonly ok: boolean;
  readonly checked?: false;
  readonly cell: string;
  readonly detail: string;
}

/** ScenarioResult is one row of the matrix. */
export interface ScenarioResult {
  readonly name: string;
  readonly error: string | undefined;
  readonly starts: InvariantResult;
  readonly busy: InvariantResult;
  readonly bounds: InvariantResult;
  readonly state: InvariantResult;
  readonly durationMs: number;
  /** output is the service's captured log (all processes of the scenario), for diagnosis. */
  readonly output: string;
}

/** inWorldPool says whether an emulated instance counts toward the pool's size (not stopped, not stopping). */
function counts(v: InstanceView): boolean {
  return v.phase !== 'stopped' && v.phase !== 'stopping';
}

/** expectedServiceStates maps an emulated instance's phase to the service states that agree with it. */
function agreeingStates(v: InstanceView): readonly string[] {
  switch (v.phase) {
    case 'stopped': return ['stopped'];
    case 'ready': return v.state === 'running' ? ['ready'] : [];
    case 'starting':
    case 'booting':
    case 'deploying': return ['creating', 'starting', 'booted', 'deploying'];
    case 'stopping': return ['draining', 'stopping'];
    case 'failed': return ['failed'];
    default: return v.phase satisfies never;
  }
}

/**
 * countStarts counts the starts Salt carried out, from the emulator's call log (events can be lost in a master
 * restart; calls cannot): every `cloud.action func=start` salt-api answered 200, per instance. A start of an
 * instance whose previous start was not followed by a stop is a double start (even when Salt found it running).
 */
export function countStarts(emu: Emulator, ids: readonly string[], running: ReadonlySet<string>): { total: number; doubles: string[] } {
  // instances running when the scenario began count as started: a start call for one of them is a double start
  const started = new Set<string>(running);
  const doubles: string[] = [];
  let total = 0;
  for (const c of emu.calls) {
    if (c.fun !== 'cloud.action' || c.status !== 200 || typeof c.kwarg !== 'object' || c.kwarg === null) continue;
    const kwarg = c.kwarg as { func?: unknown; instances?: unknown };
    const targets = Array.isArray(kwarg.instances) ? kwarg.instances.filter((i): i is string => typeof i === 'string' && ids.includes(i)) : [];
    for (const id of targets) {
      if (kwarg.func === 'start') {
        total += 1;
        if (started.has(id)) doubles.push(id);
        started.add(id);
      } else if (kwarg.func === 'stop') {
        started.delete(id);
      }
    }
  }
  return { total, doubles };
}

let scenarioSeq = 0;

/** runScenario runs one scenario end to end and returns its matrix row (it never throws). */
export async function runScenario(spec: ScenarioSpec): Promise<ScenarioResult> {
  const t0 = Date.now();
  scenarioSeq += 1;
  const tag = `f${scenarioSeq}`;
  const n = spec.instances ?? 4;
  const min = spec.min ?? 0;
  const max = spec.max ?? 3;
  const ids = Array.from({ length: n }, (_, i) => `gpu-dev-${tag}-${i + 1}`);
  const running = new Set((spec.running ?? []).map((i) => ids[i - 1] ?? ''));
  const busyIds = (spec.busy ?? []).map((i) => ids[i - 1] ?? '');
  const emu = await startEmulator({
    instances: ids.map((id) => (running.has(id) ? { id, state: 'running' as const } : { id })),
    busy: busyIds,
    delays: { startMs: 150, bootMs: 250, deployMs: 250, stopMs: 150 },
  });
  const dir = mkdtempSync(join(tmpdir(), 'asc-faults-'));
  const dbPath = join(dir, 'state.db');
  const port = await freePort();
  const proxy = spec.proxy === true ? await startProxy(emu.url) : undefined;
  const configPath = writeConfig(dir, {
    // the product's user with the shipped ACL (the emulator's default): a call outside the ACL fails here too
    salt: { url: proxy?.url ?? emu.url, username: DEFAULT_USER.username, password: DEFAULT_USER.password, eauth: DEFAULT_USER.eauth, heartbeatInterval: '1s', heartbeatTimeout: HEARTBEAT_TIMEOUT, timeout: '5s', ...spec.salt },
    store: { path: dbPath },
    http: { listen: `127.0.0.1:${port}`, apiToken: SCENARIO_API_TOKEN },
    engine: { evaluateInterval: '1s', reconcileInterval: `${RECONCILE_INTERVAL_MS}ms`, startConfirmWindow: '5s' }, // at least salt.timeout
    log: { level: 'debug' },
    pools: [{
      name: POOL, env: 'f', instanceType: 't1', min, max, strategy: 'target', perInstance: 1, upThreshold: 1, downThreshold: 0,
      interval: '1s', signalMaxAge: '10m', provisionTimeout: '30s', drainTimeout: '30s', provider: 'emu-cloud', reserved: ids,
    }],
  });

  let service: ServiceProcess | undefined;
  const outputs: string[] = [];
  const violations: string[] = [];
  const samples = { api: 0, world: 0 };
  let reachedMinApi = min === 0;
  let reachedMinWorld = min === 0;
  let sampling = true;
  let alertSeq = 0;

  const get = async <T>(path: string): Promise<T> => {
    if (service === undefined) throw new Error('service is not running');
    const res = await fetch(`${service.url}${path}`);
    if (!res.ok) throw new Error(`GET ${path} answered ${res.status}`);
    return (await res.json()) as T;
  };
  const worldViews = (): InstanceView[] => ids.flatMap((id) => emu.world.instance(id) ?? []);
  const sampleOnce = async (): Promise<void> => {
    const sizeWorld = worldViews().filter(counts).length;
    samples.world += 1;
    if (sizeWorld > max) violations.push(`world: ${sizeWorld} running > max ${max}`);
    if (sizeWorld >= min) reachedMinWorld = true;
    else if (reachedMinWorld) violations.push(`world: ${sizeWorld} running < min ${min}`);
    if (service === undefined) return;
    let pools: ApiPool[];
    try { pools = await get<ApiPool[]>('/api/pools'); } catch { return; }
    const pool = pools.find((p) => p.name === POOL);
    if (pool === undefined) return;
    samples.api += 1;
    const size = pool.ready + pool.inFlight;
    if (size > max) violations.push(`api: ready ${pool.ready} + inFlight ${pool.inFlight} > max ${max}`);
    if (size >= min) reachedMinApi = true;
    else if (reachedMinApi) violations.push(`api: ready ${pool.ready} + inFlight ${pool.inFlight} < min ${min}`);
  };
  const sampler = (async () => {
    while (sampling) {
      await sampleOnce();
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
  })();

  const notify = async (body: unknown): Promise<number> => {
    if (service === undefined) throw new Error('service is not running');
    const res = await fetch(`${service.url}/alertmanager/webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await res.arrayBuffer();
    return res.status;
  };
  const ctx: ScenarioContext = {
    emu, ids, dbPath,
    service: () => {
      if (service === undefined) throw new Error('service is not running');
      return service;
    },
    workloadNotification(workload) {
      alertSeq += 1;
      const startsAt = new Date(Date.UTC(2026, 0, 1, 0, 0, alertSeq)).toISOString();
      return notification([scaleAlert(workload > 0 ? 'up' : 'down', workload, startsAt)]);
    },
    async setWorkload(workload) {
      const status = await notify(ctx.workloadNotification(workload));
      if (status !== 200) throw new Error(`webhook answered ${status}`);
    },
    notify,
    async poolAction(action, delta) {
      if (service === undefined) throw new Error('service is not running');
      const res = await fetch(`${service.url}/api/pools/${encodeURIComponent(POOL)}/${action}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SCENARIO_API_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(action === 'scale' ? { delta } : {}),
      });
      await res.arrayBuffer();
      return res.status;
    },
    async kill() {
      if (service === undefined) return;
      const s = service;
      service = undefined;
      await s.kill('SIGKILL');
      outputs.push(s.output());
    },
    async restart() {
      service = await startServiceProcess(configPath, port);
      await startupReconciled(service);
    },
    instances: () => get<ApiInstance[]>('/api/instances'),
    async waitWorld(readyCount, timeoutMs = 20_000) {
      await waitFor(`${readyCount} instances ready in the emulator`, () => {
        const views = worldViews();
        return views.filter((v) => v.phase === 'ready' && v.state === 'running').length === readyCount
          && views.every((v) => v.phase === 'ready' || v.phase === 'stopped');
      }, timeoutMs);
    },
    async waitService(readyCount, timeoutMs = 20_000) {
      await waitFor(`${readyCount} instances ready in the service`, async () => {
        try { return (await ctx.instances()).filter((i) => i.state === 'ready').length === readyCount; } catch { return false; }
      }, timeoutMs);
    },
    openIntents(kind) {
      try {
        const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
        try {
          return (db.prepare(`SELECT count(*) AS n FROM intents WHERE status = 'open' AND kind = ?`).get(kind) as { n: number }).n;
        } finally { db.close(); }
      } catch { return 0; }
    },
    until: (label, cond, timeoutMs = 20_000) => waitFor(label, cond, timeoutMs),
    blackhole(on) {
      if (proxy === undefined) throw new Error('blackhole needs spec.proxy');
      proxy.blackhole = on;
    },
  };

  let error: string | undefined;
  let state: InvariantResult = { ok: false, cell: 'state not checked', detail: '' };
  try {
    spec.setup?.(emu);
    service = await startServiceProcess(configPath, port);
    if (spec.early !== true) await startupReconciled(service);
    await spec.run(ctx);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  if (service !== undefined) {
    // checked after a failed run too: the mismatch says where the service got stuck
    state = await checkState(ctx, worldViews, ids);
    // an observation window, not a wait for a condition: two evaluations in which a wrong second start would show
    if (error === undefined) await new Promise((r) => setTimeout(r, QUIET_MS));
  }
  sampling = false;
  await sampler;
  if (service !== undefined) {
    const s = service;
    await s.kill('SIGTERM');
    outputs.push(s.output());
  }
  await proxy?.close();
  await emu.close();
  rmSync(dir, { recursive: true, force: true });

  const starts = countStarts(emu, ids, running);
  const startsOk = (spec.needs === 'any' || starts.total === spec.needs) && starts.doubles.length === 0;
  const busyStops = emu.events.filter((e) => busyIds.some((id) => e.tag === `salt/cloud/${id}/stopping`)).length;
  const distinct = [...new Set(violations)];
  return {
    name: spec.name,
    error,
    starts: {
      ok: startsOk,
      cell: `starts ${starts.total}/${spec.needs} ${startsOk ? 'ok' : 'FAIL'}`,
      detail: starts.doubles.length === 0 ? '' : `started twice: ${starts.doubles.join(', ')}`,
    },
    busy: busyIds.length === 0
      ? { ok: true, checked: false, cell: 'not checked (no busy)', detail: '' }
      : { ok: busyStops === 0, cell: `busy stops ${busyStops}/${busyIds.length} ${busyStops === 0 ? 'ok' : 'FAIL'}`, detail: '' },
    bounds: {
      ok: distinct.length === 0 && samples.api > 0,
      cell: `bounds ${violations.length}/${samples.api + samples.world} ${distinct.length === 0 && samples.api > 0 ? 'ok' : 'FAIL'}`,
      detail: distinct.slice(0, 3).join('; '),
    },
    state,
    durationMs: Date.now() - t0,
    output: outputs.join('\n----- restart -----\n'),
  };
}

interface Proxy {
  readonly url: string;
  blackhole: boolean;
  close(): Promise<void>;
}

/** startProxy forwards TCP to the emulator; while `blackhole` is on, client-to-server bytes are dropped. */
async function startProxy(target: string): Promise<Proxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const state = { blackhole: false };
  const server = createServer((client) => {
    const upstream = connect({ host: hostname, port: Number(port) });
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => { if (!state.blackhole) upstream.write(chunk); });
    upstream.on('data', (chunk: Buffer) => { client.write(chunk); });
    const end = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const proxyPort = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    get blackhole() { return state.blackhole; },
    set blackhole(on: boolean) { state.blackhole = on; },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** startupReconciled waits until the service logged the end of its startup reconcile. */
async function startupReconciled(service: ServiceProcess): Promise<void> {
  await waitFor('the startup reconcile', () => /"why":"startup"[^\n]*"msg":"reconciled with Salt"/.test(service.output()), 20_000);
}

/** checkState waits (up to one reconcile interval + slack) for /api/instances to equal the emulator's truth. */
async function checkState(ctx: ScenarioContext, worldViews: () => InstanceView[], ids: readonly string[]): Promise<InvariantResult> {
  const limitMs = RECONCILE_INTERVAL_MS + STATE_SLACK_MS;
  const t0 = Date.now();
  let mismatch: string[];
  for (;;) {
    let list: ApiInstance[] = [];
    try { list = await ctx.instances(); } catch { /* the service may be restarting */ }
    const byId = new Map(list.map((i) => [i.id, i.state]));
    mismatch = worldViews().flatMap((v) => {
      const got = byId.get(v.id) ?? 'absent';
      return agreeingStates(v).includes(got) ? [] : [`${v.id}: salt ${v.state}/${v.phase}, service ${got}`];
    });
    const tookMs = Date.now() - t0;
    if (mismatch.length === 0) return { ok: true, cell: `state ${ids.length}/${ids.length} in ${(tookMs / 1000).toFixed(1)}s ok`, detail: '' };
    if (tookMs > limitMs) break;
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
  }
  return {
    ok: false,
    cell: `state ${ids.length - mismatch.length}/${ids.length} after ${(limitMs / 1000).toFixed(1)}s FAIL`,
    detail: mismatch.join('; '),
  };
}

/** scaleAlert builds one ScaleUp / ScaleDown alert of the scenario pool carrying `workload`. */
export function scaleAlert(direction: 'up' | 'down', workload: number, startsAt: string, status: 'firing' | 'resolved' = 'firing'): Record<string, unknown> {
  return {
    status,
    labels: { alertname: direction === 'up' ? 'SaltAutoscalerScaleUp' : 'SaltAutoscalerScaleDown', env: 'f', instance_type: 't1' },
    annotations: { workload: String(workload) },
    startsAt,
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=sum%28queue_length%29',
    fingerprint: direction === 'up' ? 'f0f0f0f0f0f0f001' : 'f0f0f0f0f0f0f002',
  };
}

/** notification wraps alerts into an Alertmanager v4 webhook body of the scenario pool's group. */
export function notification(alerts: Record<string, unknown>[]): Record<string, unknown> {
  return {
    version: '4',
    groupKey: '{}/{alertname=~"^(?:SaltAutoscalerScale.*)$"}:{env="f", instance_type="t1"}',
    truncatedAlerts: 0,
    status: alerts.some((a) => a['status'] === 'firing') ? 'firing' : 'resolved',
    receiver: 'salt-autoscaler',
    groupLabels: { env: 'f', instance_type: 't1' },
    commonLabels: { env: 'f', instance_type: 't1' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
  };
}

/** formatMatrix renders the results as a fixed-width text table. */
export function formatMatrix(results: readonly ScenarioResult[]): string {
  const header = ['scenario', 'no double start', 'no busy stop', 'min <= size <= max', 'state == Salt', 'time'];
  const rows = results.map((r) => [
    r.error === undefined ? r.name : `${r.name} (ERROR)`, r.starts.cell, r.busy.cell, r.bounds.cell, r.state.cell, `${(r.durationMs / 1000).toFixed(1)}s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** runAll runs scenarios with at most `concurrency` at a time, keeping their order in the result. */
export async function runAll(specs: readonly ScenarioSpec[], concurrency: number): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = new Array<ScenarioResult>(specs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next;
      next += 1;
      const spec = specs[i];
      if (spec === undefined) return;
      results[i] = await runScenario(spec);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, worker));
  return results;
}

/**
 * reportResults writes each scenario's service log to FAULTS_LOG_DIR (when set, `<prefix>NN.log`) and asserts the
 * four invariants per scenario, with the tail of its log (without the sampler's request lines) when it did not run
 * to its end. `startsLabel` says what the starts column checks.
 */
export function reportResults(t: Test, results: readonly ScenarioResult[], opts: { readonly logPrefix: string; readonly startsLabel: string }): void {
  const logDir = process.env['FAULTS_LOG_DIR'];
  if (logDir !== undefined) {
    mkdirSync(logDir, { recursive: true });
    results.forEach((r, i) => writeFileSync(join(logDir, `${opts.logPrefix}${String(i + 1).padStart(2, '0')}.log`), `${r.name}\n${r.output}`));
  }
  for (const r of results) {
    t.test(r.name, async (t) => {
      const lines = r.output.split('\n').filter((l) => !/"url":"\/api\/(pools|instances)"/.test(l));
      const context = { output: lines.slice(-60).join('\n') };
      t.equal(r.error, undefined, 'the scenario ran to its end', r.error === undefined ? {} : context);
      t.ok(r.starts.ok, `${opts.startsLabel}: ${r.starts.cell} ${r.starts.detail}`);
      if (r.busy.checked === false) t.comment(`no busy instance in this scenario: "no busy instance stopped" cannot fail here and is not asserted`);
      else t.ok(r.busy.ok, `no busy instance stopped: ${r.busy.cell}`);
      t.ok(r.bounds.ok, `never above max or below min: ${r.bounds.cell} ${r.bounds.detail}`);
      t.ok(r.state.ok, `the service's state equals Salt's within one reconcile interval: ${r.state.cell} ${r.state.detail}`);
    });
  }
}
