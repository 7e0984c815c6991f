/**
 * main: the composition root, the only file that wires concrete adapters into the engine.
 *
 * ```
 * config ─► logger ─► store (SQLite) ─► lease (standby until held) ─► SaltClient ─► SaltApiActions ─┐
 *                                   └─► SaltEventStream ───────────────┼─► Engine ─► fastify (API, webhook, /metrics, status page)
 *                     PrometheusSource (optional) ─────────────────────┘
 *   with `ha`: EtcdClient ─► EtcdLeadership (gate, with the lease) + EtcdSharedState (replica) ─► Engine as a follower;
 *              campaign: won ─► engine.takeOver() ─► leads ─► lost ─► follows ─► campaign again
 * ```
 */
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config, PoolConfig } from './config/load.ts';
import { toPoolSpec } from './config/load.ts';
import { Engine, type EngineObserver, type ManagedPool } from './engine/engine.ts';
import type { ActGate, Clock, LeaderView, WorkloadSource } from './engine/ports.ts';
import type { PoolSpec } from './core/types.ts';
import { LeaseKeeper } from './store/sqlite-lease.ts';
import { configWarnings } from './config/warnings.ts';
import { createLogger } from './log.ts';
import { countSkippedEvents, createMetrics, exposition, observeEventLag, type Metrics } from './prometheus/metrics.ts';
import { PrometheusSource, type PoolQuery } from './prometheus/source.ts';
import { SaltApiActions } from './salt-api/actions.ts';
import { SaltClient } from './salt-api/client.ts';
import { SaltEventStream } from './salt-api/event-stream.ts';
import { openStore } from './store/sqlite-store.ts';
import { EtcdClient } from './etcd/client.ts';
import { EtcdLeadership } from './etcd/leadership.ts';
import { EtcdSharedState } from './etcd/shared-state.ts';
import { AutoscalerError } from './errors.ts';
import { buildApp } from './http/app.ts';
import { alertmanagerWebhook, type WebhookConfig } from './alertmanager/webhook.ts';

/** Service is a running salt-autoscaler: its engine, HTTP server and a stop function. */
export interface Service {
  readonly engine: Engine;
  readonly app: FastifyInstance;
  readonly metrics: Metrics;
  readonly url: string;
  /**
   * lost resolves when this process can no longer act safely, with why: another process took the store lease, or the
   * state file was deleted, replaced or found corrupt. The service should stop and exit 1.
   */
  readonly lost: Promise<AutoscalerError>;
  stop(): Promise<void>;
}

/** managedPool maps one configured pool to what the engine runs. */
export function managedPool(pool: PoolConfig): ManagedPool {
  return {
    spec: toPoolSpec(pool),
    provider: pool.provider,
    reserved: pool.reserved,
    ...(pool.reservedPattern === undefined ? {} : { reservedPattern: pool.reservedPattern }),
    ...(pool.profile === undefined ? {} : { profile: pool.profile }),
    idleCheck: pool.idleCheck,
  };
}

/** webhookConfig maps the config to what the Alertmanager receiver reads: its credentials, body limit, alert contract and pools. */
export function webhookConfig(config: Pick<Config, 'http' | 'alerts' | 'pools'>): WebhookConfig {
  const { webhookToken, webhookBasicAuth, bodyLimitBytes } = config.http;
  return { http: { webhookToken, webhookBasicAuth, bodyLimitBytes }, alerts: config.alerts, pools: config.pools };
}

/** metricsObserver turns engine notifications into prom-client metric updates. */
export function metricsObserver(metrics: Metrics, clock: Clock): EngineObserver {
  // a reconcile reports every instance it finds consistent (10,000 a pass at fleet size): one labelled child per
  // reason, so the label is validated once, not at each increment (10,000 increments: ~1.5 ms instead of 3-11)
  const ignoredBy = new Map<string, { inc(): void }>();
  return {
    event: (kind, lagMs) => {
      metrics.events.inc({ kind });
      if (lagMs !== undefined) observeEventLag(metrics, clock.now() - lagMs, clock.now());
    },
    ignored: (reason) => {
      const colon = reason.indexOf(':');
      const label = (colon === -1 ? reason : reason.slice(0, colon)).slice(0, 60);
      let child = ignoredBy.get(label);
      if (child === undefined) ignoredBy.set(label, child = metrics.lifecycleIgnored.labels({ reason: label }));
      child.inc();
    },
    decision: (pool, outcome) => metrics.decisions.inc({ pool, outcome }),
    action: (action, result) => metrics.actions.inc({ action, result }),
    instanceFailed: (pool) => metrics.instancesFailed.inc({ pool }),
    startToReady: (_pool, ms) => metrics.startToReady.observe(ms / 1000),
    correction: (pool) => metrics.reconcileCorrections.inc({ pool }),
    reconcile: (result) => metrics.reconcileRuns.inc({ result }),
    openIntents: (n) => metrics.intentsOpen.set(n),
    storeWritable: (writable) => metrics.storeWritable.set(writable ? 1 : 0),
    storeFault: (fault) => metrics.storeFaults.inc({ fault }),
  };
}

/** StartOptions are what a caller may add to the config: a logger, a clock, an abort signal, and the demo's tuning. */
export interface StartOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  /** tunePool adjusts a pool's spec where the config has no key for it (the demo's short adaptive peak window). */
  readonly tunePool?: (spec: PoolSpec) => PoolSpec;
  /** notice is shown on top of the status page. */
  readonly notice?: string;
}

/**
 * startService runs salt-autoscaler from a validated config until stop() is called. It first takes the store lease
 * (one writer per state file): while another live process holds it, it waits on standby, with no HTTP server and no
 * Salt calls; an abort of `signal` meanwhile returns undefined.
 */
export async function startService(config: Config, opts: StartOptions = {}): Promise<Service | undefined> {
  const logger = opts.logger ?? createLogger({ level: process.env['SALT_AUTOSCALER_LOG_LEVEL'] ?? config.log.level });
  const clock: Clock = opts.clock ?? { now: () => Date.now() };
  for (const w of configWarnings(config)) logger.warn({ component: 'config', path: w.path, reason: w.message }, 'dangerous setting');
  const store = openStore(config.store.path, { logger });
  let onLost = (_err: AutoscalerError): void => {};
  const lost = new Promise<AutoscalerError>((resolve) => { onLost = resolve; });
  const lease = new LeaseKeeper({
    store, clock, ttlMs: config.store.leaseTtlMs, logger: logger.child({ component: 'lease' }),
    onLost: (holder) => onLost(new AutoscalerError('ASC_ERR_LEASE_NOT_HELD', `the store lease was taken by ${holder.owner}: this process stops acting`)),
  });
  if (!await lease.acquire(opts.signal)) {
    store.close();
    return undefined;
  }
  lease.keep();
  const metrics = createMetrics();
  const ha = config.ha === undefined ? undefined : haParts(config.ha.etcd, logger);
  // with ha, this process acts only while it holds both: its state file's lease and the etcd leadership
  const gate: ActGate = ha === undefined ? lease : { mayAct: () => lease.mayAct() && ha.leadership.mayAct() };
  const leaderView = (): LeaderView => (ha === undefined ? lease.view() : ha.leadership.view());
  if (ha === undefined) metrics.leaderChanges.inc();
  const client = new SaltClient({
    url: config.salt.urls,
    username: config.salt.username,
    password: config.salt.password,
    eauth: config.salt.eauth,
    caFile: config.salt.caFile,
    tlsVerify: config.salt.tlsVerify,
    timeoutMs: config.salt.timeoutMs,
    logger,
  });
  const actions = new SaltApiActions(client, logger);
  const events = new SaltEventStream({
    client,
    transport: config.salt.transport,
    logger,
    heartbeatIntervalMs: config.salt.heartbeatIntervalMs,
    heartbeatTimeoutMs: config.salt.heartbeatTimeoutMs,
  });
  const prom = config.prometheus === undefined ? undefined : new PrometheusSource({
    url: config.prometheus.url,
    timeoutMs: config.prometheus.timeoutMs,
    logger,
  });
  // a pool reads PromQL only when it has a workloadQuery (waitingQuery); the others live on Alertmanager notifications
  const workloadSource = prom === undefined ? undefined : querySource(prom, config.pools, (p) => p.workloadQuery);
  const queuedSource = prom === undefined ? undefined : querySource(prom, config.pools, (p) => p.waitingQuery);
  const engine = new Engine({
    pools: config.pools.map(managedPool).map((m) => (opts.tunePool === undefined ? m : { ...m, spec: opts.tunePool(m.spec) })),
    cloud: actions,
    minions: actions,
    store,
    clock,
    logger,
    observer: metricsObserver(metrics, clock),
    events,
    ...(workloadSource === undefined ? {} : { workloadSource }),
    ...(queuedSource === undefined ? {} : { queuedSource }),
    reconcileIntervalMs: config.engine.reconcileIntervalMs,
    evaluateIntervalMs: config.engine.evaluateIntervalMs,
    startConfirmWindowMs: config.engine.startConfirmWindowMs,
    gate,
    ...(ha === undefined ? {} : { replica: ha.shared }),
    onStoreLost: (err) => onLost(err),
  });
  const app = buildApp({
    engine,
    metrics: exposition(metrics),
    config: {
      ...(config.http.apiToken === undefined ? {} : { apiToken: config.http.apiToken }),
      bodyLimit: config.http.bodyLimitBytes,
    },
    logger,
    ...(opts.notice === undefined ? {} : { notice: opts.notice }),
    leader: leaderView,
    registerWebhook: (instance) => alertmanagerWebhook(instance, {
      config: webhookConfig(config),
      onSignal: (signal) => engine.alertSignal(signal),
      now: () => clock.now(),
      logger,
      metrics,
    }),
  });
  // the stream keeps plain counters; mirror them into prom-client (counters only move forward)
  let seen = { reconnects: 0, malformed: 0, pausedMs: 0 };
  let seenSkipped: Record<string, number> = {};
  const mirror = setInterval(() => {
    const stats = events.stats;
    metrics.eventStreamConnected.set(events.connected ? 1 : 0);
    metrics.leader.set(engine.leading() ? 1 : 0);
    metrics.streamReconnects.inc(Math.max(0, stats.reconnects - seen.reconnects));
    metrics.eventsMalformed.inc(Math.max(0, stats.malformed - seen.malformed));
    metrics.streamPaused.inc(Math.max(0, stats.pausedMs - seen.pausedMs) / 1000);
    seenSkipped = countSkippedEvents(metrics, stats.skipped, seenSkipped);
    if (stats.heartbeatRttMs !== undefined) metrics.heartbeatRtt.observe(stats.heartbeatRttMs / 1000);
    seen = { reconnects: stats.reconnects, malformed: stats.malformed, pausedMs: stats.pausedMs };
  }, 2_000);
  mirror.unref();
  const { host, port } = config.http;
  try {
    await app.listen({ host, port });
  } catch (err) {
    // nothing may keep the process alive after a failed start (a port in use): release what was taken, then throw
    clearInterval(mirror);
    await app.close();
    await client.close();
    lease.release();
    store.close();
    throw err;
  }
  const address = app.server.address();
  const url = typeof address === 'object' && address !== null ? `http://${host}:${address.port}` : `http://${host}:${port}`;
  logger.info({ url, pools: config.pools.length, transport: config.salt.transport }, 'salt-autoscaler listening');
  // the engine starts after the HTTP server so /healthz answers while the first reconcile runs
  await engine.start();
  const campaignAbort = new AbortController();
  const campaign = ha === undefined ? Promise.resolve() : campaignLoop(ha.leadership, engine, metrics, logger, campaignAbort.signal);
  let stopped = false;
  return {
    engine,
    app,
    metrics,
    url,
    lost,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(mirror);
      campaignAbort.abort();
      await app.close();
      await engine.stop();
      await campaign;
      if (ha !== undefined) {
        await ha.leadership.release(); // a clean stop hands over at once
        await ha.client.close();
      }
      await client.close();
      lease.release();
      store.close();
    },
  };
}

/**
 * querySource reads, through `prom`, the PromQL `query` picks from each pool's config; pools without one give no value.
 * Undefined when no pool has one: the engine then waits for no query at all.
 */
export function querySource(prom: PrometheusSource, pools: readonly PoolConfig[], query: (pool: PoolConfig) => string | undefined): WorkloadSource | undefined {
  const queries = new Map<string, PoolQuery>();
  for (const p of pools) {
    const q = query(p);
    if (q !== undefined) queries.set(p.name, { name: p.name, query: q });
  }
  if (queries.size === 0) return undefined;
  return async (pool) => {
    const q = queries.get(pool);
    return q === undefined ? undefined : prom.workload(q);
  };
}

/** HaParts are the etcd adapters of `ha.etcd`: one client, the leadership on it, the shared state fenced by it. */
interface HaParts {
  readonly client: EtcdClient;
  readonly leadership: EtcdLeadership;
  readonly shared: EtcdSharedState;
}

function haParts(etcd: NonNullable<Config['ha']>['etcd'], logger: Logger): HaParts {
  const log = logger.child({ component: 'etcd' });
  const client = new EtcdClient({
    endpoints: etcd.endpoints, tls: etcd.tls, username: etcd.username, password: etcd.password, timeoutMs: etcd.timeoutMs, logger: log,
  });
  const leadership = new EtcdLeadership({ client, prefix: etcd.prefix, ttlMs: etcd.leaseTtlMs, logger: log });
  const shared = new EtcdSharedState({ client, leadership, prefix: etcd.prefix });
  return { client, leadership, shared };
}

/**
 * campaignLoop runs for the life of an HA service: campaign; when won, take the old leader's state over and lead;
 * when lost, follow and campaign again. A takeover that fails (etcd gone mid-way) gives the leadership up, so another
 * process can take it, and campaigns again.
 */
async function campaignLoop(leadership: EtcdLeadership, engine: Engine, metrics: Metrics, logger: Logger, signal: AbortSignal): Promise<void> {
  const log = logger.child({ component: 'ha' });
  let lostTerm: (() => void) | undefined;
  leadership.onLost((why) => {
    engine.stepDown();
    metrics.leaderLost.inc();
    log.warn({ why }, 'leadership lost: this process follows (no intents, no calls) and campaigns again');
    lostTerm?.();
  });
  while (!signal.aborted) {
    let won: boolean;
    try {
      won = await leadership.acquire(signal);
    } catch (err) {
      log.error({ err }, 'etcd campaign failed: retrying');
      await new Promise((resolve) => { setTimeout(resolve, 1_000).unref(); });
      continue;
    }
    if (!won) return;
    const lost = new Promise<void>((resolve) => { lostTerm = resolve; });
    leadership.keep();
    const began = performance.now();
    try {
      await engine.takeOver();
    } catch (err) {
      log.error({ err }, 'takeover failed: leadership given up');
      await leadership.release();
      continue;
    }
    metrics.takeoverSeconds.observe((performance.now() - began) / 1000);
    metrics.leaderChanges.inc();
    log.info({ self: leadership.self, takeoverMs: Math.round(performance.now() - began) }, 'this process leads');
    await Promise.race([lost, new Promise<void>((resolve) => { signal.addEventListener('abort', () => { resolve(); }, { once: true }); })]);
  }
}
