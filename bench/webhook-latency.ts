/**
 * bench/webhook-latency: how long from an Alertmanager notification leaving the client to the salt-api call
 * that starts an instance, with 1,000 pools x 10 reserved instances, beside an EMPTY fastify route of the same
 * app in the same run. `npx tsx bench/webhook-latency.ts [--rounds N]`.
 *
 * ```
 *  undici (keep-alive, loopback) --POST /alertmanager/webhook--> real fastify app (buildApp + alertmanagerWebhook)
 *     t0                                                          --> AlertBook --> Engine.alertSignal --> decide()
 *                                                                 --> SQLite (the intent, committed)
 *                                                                 --> SaltActions.start(id)   <-- t1 (timestamped)
 *                                                                 --> SQLite (decision, pool state, instance: next commit)
 *  undici --GET /bench/empty--> same app, a route answering {} (baseline: full round trip)
 * ```
 * What is real: config (parseConfig of a matrix document) and main.ts managedPool/metricsObserver, the Engine,
 * the fastify app with the webhook plugin and bearer token, pino at info (written to /dev/null), prom-client
 * metrics, the SQLite store (WAL, synchronous=FULL) in a temp dir on the machine's disk.
 * The one stand-in: SaltActions is a port implementation whose `start()` goes through SaltApiActions' own
 * CloudActionBatcher (a start asked with no start call in flight is sent at once, in a call of its own; the ones
 * asked while one is in flight share one call at the end of the turn) and timestamps the moment that call is
 * handed to its send (where SaltApiActions hands it to undici); it answers as Salt does at once, keeping salt-api's
 * own answer time out of a figure meant to measure us.
 * Time: the engine and the webhook share a bench clock that the bench moves forward by one pool interval
 * between rounds, so each round's notification finds every pool out of its cooldown; each round asks every
 * pool once (a different pool per request), so round r starts the r-th reserved instance of each pool.
 * The first round is warm-up and not counted.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { pino } from 'pino';
import { Pool } from 'undici';
import { alertmanagerWebhook, WEBHOOK_PATH } from '../src/alertmanager/webhook.ts';
import { parseConfig } from '../src/config/load.ts';
import { Engine } from '../src/engine/engine.ts';
import type { CloudInstance, IdleResult, ReadyGrain, SaltActions, StateStore } from '../src/engine/ports.ts';
import { CloudActionBatcher } from '../src/salt-api/cloud-batch.ts';
import { buildApp } from '../src/http/app.ts';
import { createLogger } from '../src/log.ts';
import { managedPool, metricsObserver } from '../src/main.ts';
import { createMetrics, exposition } from '../src/prometheus/metrics.ts';
import { openStore } from '../src/store/sqlite-store.ts';
import { DEFAULT_FLEET, FLEET_PROVIDER, fleetConfig, fleetInstanceIds, fleetPools, scaleUpPayload, type FleetShape } from './fleet.ts';
import { latencyStats, round3, type LatencyStats } from './latency-stats.ts';

/** WebhookLatencyBench is the outcome of one run. */
export interface WebhookLatencyBench {
  readonly name: 'webhook-latency';
  readonly pools: number;
  readonly instances: number;
  /** webhookToStart: client sends the notification -> SaltActions.start(id) invoked. */
  readonly webhookToStart: LatencyStats;
  /** webhookRoundTrip: client sends the notification -> client has the whole 200 answer. */
  readonly webhookRoundTrip: LatencyStats;
  /** emptyRoundTrip: client sends GET /bench/empty -> client has the whole answer (same app, same run). */
  readonly emptyRoundTrip: LatencyStats;
  /** ratioP50 / ratioP99: webhookToStart over emptyRoundTrip, at p50 / p99 (target p50 <= 2). */
  readonly ratioP50: number;
  readonly ratioP99: number;
  /** targetMet: webhookToStart p50 <= 2x the empty route p50 (issue 16) and p99 <= 5 ms. */
  readonly targetMet: boolean;
  readonly startupMs: number;
  /** commitsBeforeStart: median number of store commits between the notification and start() (each an fsync on disk). */
  readonly commitsBeforeStart: number;
  readonly storeDir: string;
  /** diskCommitMs: median time of one store commit (openIntent) with the SQLite file on os.tmpdir()'s disk. */
  readonly diskCommitMs: number;
  /** loopDelayP99Ms / loopDelayMaxMs: event-loop delay while measuring (what blocks every request alike). */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** gcPauses / gcPauseMs / gcPauseMaxMs: V8 garbage collections while measuring, their total and longest pause. */
  readonly gcPauses: number;
  readonly gcPauseMs: number;
  readonly gcPauseMaxMs: number;
}

/** WebhookLatencyOptions sizes the run; rounds <= instancesPerPool (each round starts one instance per pool). */
export interface WebhookLatencyOptions {
  readonly shape?: FleetShape;
  /** rounds: measured rounds after the warm-up round (default 4); each asks every pool once. */
  readonly rounds?: number;
  /** storeDir: where the SQLite file lives (default /dev/shm when present: tmpfs, so fsync costs nothing). */
  readonly storeDir?: string;
}

/** STORE_WRITES are the StateStore methods that commit (each is one fsync with synchronous=FULL). */
const STORE_WRITES = new Set(['saveInstance', 'saveInstances', 'openIntent', 'finishIntent', 'recordDecision', 'setPoolState']);

/**
 * countingStore wraps the real store and counts its commits, so the bench can say how many sit before start():
 * a write outside `atomically` is one commit; an `atomically` block or a group commit is one commit whatever it writes.
 */
function countingStore(inner: StateStore): { store: StateStore; commits: () => number } {
  let commits = 0;
  let depth = 0;
  const store = new Proxy(inner, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]): unknown => {
        // a group commit (begin ... commit) is one commit, whatever joins it
        if (key === 'begin') { if (depth === 0) commits += 1; depth += 1; }
        if (key === 'commit') depth -= 1;
        if (key === 'atomically') {
          if (depth === 0) commits += 1;
          depth += 1;
          try { return fn.apply(target, args); } finally { depth -= 1; }
        }
        if (depth === 0 && typeof key === 'string' && STORE_WRITES.has(key)) commits += 1;
        return fn.apply(target, args);
      };
    },
  });
  return { store, commits: () => commits };
}

/** StartStamp is told the moment start(id) is invoked. */
type StartStamp = (id: string, atMs: number) => void;

/**
 * TimestampingSaltActions is the bench's SaltActions: `start()` goes through a CloudActionBatcher as in
 * SaltApiActions, and the call's send timestamps each of its instances (the moment SaltApiActions would send
 * `cloud.action func=start`, at once or at the end of the turn); the reconcile calls describe a fleet of stopped VMs.
 */
class TimestampingSaltActions implements SaltActions {
  readonly #ids: readonly string[];
  readonly #batcher: CloudActionBatcher;
  constructor(ids: readonly string[], onStart: StartStamp) {
    this.#ids = ids;
    this.#batcher = new CloudActionBatcher(async (_func, batch) => {
      const atMs = performance.now();
      for (const id of batch) onStart(id, atMs);
      return { [FLEET_PROVIDER]: { bench: Object.fromEntries(batch.map((id) => [id, { state: 'running', changed: true }])) } };
    });
  }
  async start(id: string): Promise<void> { await this.#batcher.request('start', id); }
  async create(): Promise<void> {}
  async stop(): Promise<void> {}
  async destroy(): Promise<void> {}
  async setDraining(): Promise<void> {}
  async fireEvent(): Promise<void> {}
  async idleCheck(): Promise<IdleResult> { return 'busy'; }
  async cloudInstances(): Promise<readonly CloudInstance[]> {
    return this.#ids.map((id) => ({ id, state: 'stopped', provider: FLEET_PROVIDER }));
  }
  async minionsUp(): Promise<readonly string[]> { return []; }
  async readyGrains(): Promise<ReadonlyMap<string, ReadyGrain>> { return new Map(); }
}

/** BenchClock is a Clock the bench moves forward (from the wall clock at creation). */
class BenchClock {
  #nowMs = Date.now();
  now(): number { return this.#nowMs; }
  advance(ms: number): void { this.#nowMs += ms; }
}

const WEBHOOK_TOKEN = 'bench-webhook-token';
const INTERVAL_S = 60;

/** benchWebhookLatency builds the real service pieces in-process and measures webhook -> start() beside an empty route. */
export async function benchWebhookLatency(opts: WebhookLatencyOptions = {}): Promise<WebhookLatencyBench> {
  const shape = opts.shape ?? DEFAULT_FLEET;
  const rounds = Math.min((opts.rounds ?? 4) + 1, shape.instancesPerPool);
  const storeDir = opts.storeDir ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
  const dir = mkdtempSync(join(storeDir, 'asc-bench-latency-'));
  const config = parseConfig(fleetConfig({
    shape, saltUrl: 'http://127.0.0.1:1', storePath: join(dir, 'state.db'), webhookToken: WEBHOOK_TOKEN, intervalS: INTERVAL_S,
  }), {});
  const ids = fleetInstanceIds(shape);
  const poolOfId = new Map<string, string>();
  for (const p of config.pools) for (const id of p.reserved) poolOfId.set(id, p.name);
  const waiters = new Map<string, (atMs: number) => void>();
  const startedIds: string[] = [];
  let commitsAtStart = 0;
  const salt = new TimestampingSaltActions(ids, (id, atMs) => {
    startedIds.push(id);
    commitsAtStart = counting.commits();
    const pool = poolOfId.get(id);
    const waiter = pool === undefined ? undefined : waiters.get(pool);
    if (pool !== undefined && waiter !== undefined) { waiters.delete(pool); waiter(atMs); }
  });
  const logger = createLogger({ level: process.env['BENCH_LOG'] ?? 'info', destination: pino.destination({ dest: process.env['BENCH_LOG'] === undefined ? '/dev/null' : '/tmp/bench-log.txt', sync: true }) });
  const clock = new BenchClock();
  const metrics = createMetrics();
  const sqlite = openStore(config.store.path, { logger });
  const counting = countingStore(sqlite);
  const store = counting.store;
  const began = performance.now();
  const engine = new Engine({
    pools: config.pools.map(managedPool),
    cloud: salt,
    minions: salt,
    store,
    clock,
    logger,
    observer: metricsObserver(metrics, clock),
    reconcileIntervalMs: config.engine.reconcileIntervalMs,
    evaluateIntervalMs: config.engine.evaluateIntervalMs,
  });
  const app = buildApp({
    engine,
    metrics: exposition(metrics),
    config: { bodyLimit: config.http.bodyLimitBytes },
    logger,
    registerWebhook: (instance) => alertmanagerWebhook(instance, {
      config, onSignal: (signal) => engine.alertSignal(signal), now: () => clock.now(), logger, metrics,
    }),
    now: () => clock.now(),
  });
  app.get('/bench/empty', async () => ({}));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await engine.start();
  // startup evaluates every pool once (a hold: no signal yet); wait until all of them are recorded
  await waitUntil(() => config.pools.every((p) => engine.decisions(p.name, 1).length > 0), 120_000);
  const startupMs = performance.now() - began;

  const http = new Pool(`http://127.0.0.1:${port}`, { connections: 1, pipelining: 1 });
  const toStart: number[] = [];
  const webhookRtt: number[] = [];
  const emptyRtt: number[] = [];
  const commitCounts: number[] = [];
  const pools = fleetPools(shape);
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  const gcs: number[] = [];
  const gcObserver = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcs.push(e.duration); });
  try {
    for (let round = 0; round < rounds; round += 1) {
      // the instances started last round boot and deploy: ready, so the threshold strategy may start the next one
      for (const id of startedIds.splice(0)) engine.handle({ kind: 'instance-ready', tag: `salt-autoscaler/instance/${id}/ready`, minion: id, data: {} });
      await new Promise((resolve) => setImmediate(resolve));
      clock.advance((INTERVAL_S + 1) * 1000);
      const counted = round > 0;
      if (round === 1) { loopDelay.enable(); gcObserver.observe({ entryTypes: ['gc'] }); }
      for (const pool of pools) {
        const body = JSON.stringify(scaleUpPayload(pool, clock.now(), 5));
        const started = new Promise<number>((resolve) => waiters.set(pool.name, resolve));
        const commitsBefore = counting.commits();
        const t0 = performance.now();
        const res = await http.request({
          path: WEBHOOK_PATH, method: 'POST', body,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
        });
        await res.body.dump();
        const t1 = performance.now();
        if (res.statusCode !== 200) throw new Error(`webhook answered ${res.statusCode} for ${pool.name}`);
        const tStart = await withDeadline(started, 5_000, `start() of a ${pool.name} instance after its webhook`);
        const e0 = performance.now();
        const empty = await http.request({ path: '/bench/empty', method: 'GET' });
        await empty.body.dump();
        const e1 = performance.now();
        if (counted) {
          toStart.push(tStart - t0);
          webhookRtt.push(t1 - t0);
          emptyRtt.push(e1 - e0);
          commitCounts.push(commitsAtStart - commitsBefore);
        }
      }
    }
  } finally {
    loopDelay.disable();
    gcObserver.disconnect();
    await http.close();
    await app.close();
    await engine.stop();
    sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const diskCommitMs = measureDiskCommitMs(logger);
  const webhookToStart = latencyStats(toStart);
  const emptyRoundTrip = latencyStats(emptyRtt);
  const ratioP50 = round3(webhookToStart.p50Ms / emptyRoundTrip.p50Ms);
  const ratioP99 = round3(webhookToStart.p99Ms / emptyRoundTrip.p99Ms);
  return {
    name: 'webhook-latency',
    pools: shape.pools,
    instances: ids.length,
    webhookToStart,
    webhookRoundTrip: latencyStats(webhookRtt),
    emptyRoundTrip,
    ratioP50,
    ratioP99,
    targetMet: webhookToStart.p99Ms <= 5 && ratioP50 <= 2,
    startupMs: Math.round(startupMs),
    commitsBeforeStart: latencyStats(commitCounts).p50Ms,
    storeDir,
    diskCommitMs,
    loopDelayP99Ms: round3(loopDelay.percentile(99) / 1e6),
    loopDelayMaxMs: round3(loopDelay.max / 1e6),
    gcPauses: gcs.length,
    gcPauseMs: round3(gcs.reduce((a, b) => a + b, 0)),
    gcPauseMaxMs: round3(Math.max(0, ...gcs)),
  };
}

/**
 * measureDiskCommitMs times 40 commits (openIntent, as before every salt-api action) of the real store on the
 * machine's disk (os.tmpdir()); the median says what each commit before start() costs when the store is on disk.
 */
export function measureDiskCommitMs(logger: Parameters<typeof openStore>[1]['logger']): number {
  const dir = mkdtempSync(join(tmpdir(), 'asc-bench-commit-'));
  const store = openStore(join(dir, 'state.db'), { logger });
  try {
    const times: number[] = [];
    for (let i = 0; i < 40; i += 1) {
      const t0 = performance.now();
      store.openIntent('start', `gpu-commit-${i}`, 'bench/commit', Date.now());
      times.push(performance.now() - t0);
    }
    return round3(latencyStats(times).p50Ms);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** waitUntil polls a condition (every 20 ms) until it holds or the deadline passes. */
export async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`bench: condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench: no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** formatWebhookLatency renders the result as a few lines. */
export function formatWebhookLatency(r: WebhookLatencyBench): string {
  const line = (label: string, s: LatencyStats): string =>
    `${label.padEnd(28)} p50 ${s.p50Ms.toFixed(3).padStart(8)} ms   p99 ${s.p99Ms.toFixed(3).padStart(8)} ms   max ${s.maxMs.toFixed(3).padStart(8)} ms   n=${s.n}`;
  return [
    `webhook latency: ${r.pools} pools, ${r.instances} instances, store in ${r.storeDir} (startup ${r.startupMs} ms)`,
    line('webhook -> start() sent', r.webhookToStart),
    line('webhook round trip', r.webhookRoundTrip),
    line('empty route round trip', r.emptyRoundTrip),
    `ratio webhook->start / empty: p50 ${r.ratioP50}x, p99 ${r.ratioP99}x   target (p50 <= 2x, p99 <= 5 ms): ${r.targetMet ? 'met' : 'NOT met'}`,
    `while measuring: event-loop delay p99 ${r.loopDelayP99Ms} ms, max ${r.loopDelayMaxMs} ms; ${r.gcPauses} GC pauses, ${r.gcPauseMs} ms in all, longest ${r.gcPauseMaxMs} ms`,
    `store commits between notification and start(): ${r.commitsBeforeStart} (each one fsync with synchronous=FULL; one commit on this disk: ${r.diskCommitMs} ms)`,
  ].join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, 'store-dir': { type: 'string' }, pools: { type: 'string' } }, strict: true });
  const result = await benchWebhookLatency({
    ...(values.rounds === undefined ? {} : { rounds: Number(values.rounds) }),
    ...(values['store-dir'] === undefined ? {} : { storeDir: values['store-dir'] }),
    ...(values.pools === undefined ? {} : { shape: { pools: Number(values.pools), instancesPerPool: DEFAULT_FLEET.instancesPerPool } }),
  });
  process.stdout.write(`${formatWebhookLatency(result)}\n`);
}
