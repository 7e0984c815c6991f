/**
 * metrics: salt-autoscaler's own Prometheus metrics, in a private prom-client Registry (never the global one,
 * so tests and several apps in one process do not collide).
 *
 * The metric names are a contract: `render-rules` (alerts about the autoscaler itself) and the Grafana dashboard
 * use them verbatim. Add metrics freely; never rename one.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PoolMetrics, type PoolSnapshot } from './pool-metrics.ts';

export type { PoolSnapshot } from './pool-metrics.ts';

/** METRIC_PREFIX starts every metric name of ours (process metrics keep prom-client's default names). */
export const METRIC_PREFIX = 'salt_autoscaler_';

/** DecisionOutcome is the `outcome` label of `salt_autoscaler_decisions_total`. */
export type DecisionOutcome = 'hold' | 'scaleUp' | 'scaleDown';

/** ActionResult is the `result` label of `salt_autoscaler_actions_total`. */
export type ActionResult = 'ok' | 'error' | 'dry_run';

/** Metrics holds every metric of ours, typed by label names, plus the registry that renders them. */
export interface Metrics {
  readonly registry: Registry;
  /** eventStreamConnected: 1 while the salt-api event stream is open and its heartbeat answers, else 0. */
  readonly eventStreamConnected: Gauge;
  readonly streamReconnects: Counter;
  /** streamPaused: the time the event stream's reads were paused while scale-ups came in a burst, in seconds. */
  readonly streamPaused: Counter;
  /** events: typed Salt events received, by `kind` (the SaltEventKind). */
  readonly events: Counter<'kind'>;
  readonly eventsMalformed: Counter;
  /** eventsSkipped: events the engine does not read, by the `kind` their tag says: counted, not parsed (also in `events`). */
  readonly eventsSkipped: Counter<'kind'>;
  /** eventLag: now - the event's `_stamp`, in seconds. */
  readonly eventLag: Histogram;
  /** heartbeatRtt: time from firing a heartbeat event to seeing it back on the stream, in seconds. */
  readonly heartbeatRtt: Histogram;
  /**
   * pools: the per-pool gauges (pool_instances by state, pool_max, pool_min, pool_waiting_share,
   * pool_wait_window_covered, pool_wait_budget, pool_workload, pool_start_lead_seconds), rendered from the engine's snapshot at each scrape, outside the registry (src/prometheus/pool-metrics.ts).
   */
  readonly pools: PoolMetrics;
  readonly decisions: Counter<'pool' | 'outcome'>;
  readonly actions: Counter<'action' | 'result'>;
  readonly instancesFailed: Counter<'pool'>;
  /**
   * startToReady: an instance's start (or create) issued to ready, over the fleet (no pool label: 16 series a pool would
   * make /metrics ~1 MB and 19 ms a scrape at 1,000 pools; each pool's lead is the pool_start_lead_seconds gauge).
   */
  readonly startToReady: Histogram;
  readonly lifecycleIgnored: Counter<'reason'>;
  readonly reconcileCorrections: Counter<'pool'>;
  readonly reconcileRuns: Counter<'result'>;
  readonly webhookRequests: Counter<'status'>;
  readonly intentsOpen: Gauge;
  /** storeWritable: 1 while the state store takes writes, 0 while a write failed or its file is lost (nothing is sent to salt-api). */
  readonly storeWritable: Gauge;
  /** storeFaults: store faults found, by `fault` (write, replaced, corrupt). */
  readonly storeFaults: Counter<'fault'>;
  /** leader: 1 while this process leads (acts), 0 while it follows or waits. */
  readonly leader: Gauge;
  /** leaderChanges: times this process became the leader (a takeover, or the first election). */
  readonly leaderChanges: Counter;
  /** leaderLost: times this process lost the leadership it held. */
  readonly leaderLost: Counter;
  /** takeoverSeconds: from winning the election to the end of the takeover reconcile (the new leader may act). */
  readonly takeoverSeconds: Histogram;
}

/** createMetrics builds a fresh registry with all our metrics and the default process metrics. */
export function createMetrics(opts: { readonly defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const metrics: Metrics = {
    registry,
    eventStreamConnected: new Gauge({
      name: `${METRIC_PREFIX}event_stream_connected`,
      help: '1 while the salt-api event stream is connected and its heartbeat answers, else 0',
      registers,
    }),
    streamReconnects: new Counter({
      name: `${METRIC_PREFIX}stream_reconnects_total`,
      help: 'Reconnections of the salt-api event stream',
      registers,
    }),
    streamPaused: new Counter({
      name: `${METRIC_PREFIX}stream_paused_seconds_total`,
      help: 'Time the salt-api event stream was not read while scale-ups came in a burst (at most 1 s a pause; no event lost), in seconds',
      registers,
    }),
    events: new Counter({
      name: `${METRIC_PREFIX}events_total`,
      help: 'Salt events received from the event stream, by kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    eventsMalformed: new Counter({
      name: `${METRIC_PREFIX}events_malformed_total`,
      help: 'Event stream frames that could not be parsed into a Salt event',
      registers,
    }),
    eventsSkipped: new Counter({
      name: `${METRIC_PREFIX}events_skipped_total`,
      help: 'Salt events the engine does not read, by the kind their tag says: counted (also in events_total), their body not parsed',
      labelNames: ['kind'] as const,
      registers,
    }),
    eventLag: new Histogram({
      name: `${METRIC_PREFIX}event_lag_seconds`,
      help: 'Delay between an event _stamp and its arrival here, in seconds',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    pools: new PoolMetrics(),
    heartbeatRtt: new Histogram({
      name: `${METRIC_PREFIX}heartbeat_rtt_seconds`,
      help: 'Round trip of a heartbeat event fired through salt-api and seen on the event stream, in seconds',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    decisions: new Counter({
      name: `${METRIC_PREFIX}decisions_total`,
      help: 'Pool evaluations, by outcome (hold, scaleUp, scaleDown)',
      labelNames: ['pool', 'outcome'] as const,
      registers,
    }),
    actions: new Counter({
      name: `${METRIC_PREFIX}actions_total`,
      help: 'Scaling actions sent to salt-api, by action and result (ok, error, dry_run)',
      labelNames: ['action', 'result'] as const,
      registers,
    }),
    startToReady: new Histogram({
      name: `${METRIC_PREFIX}start_to_ready_seconds`,
      help: 'From an instance\'s start (or create) issued to ready (minion started, deploy orchestrate succeeded), over the fleet, in seconds',
      buckets: [30, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800, 3600],
      registers,
    }),
    instancesFailed: new Counter({
      name: `${METRIC_PREFIX}instances_failed_total`,
      help: 'Instances that failed to become ready (provision timeout or failed event)',
      labelNames: ['pool'] as const,
      registers,
    }),
    lifecycleIgnored: new Counter({
      name: `${METRIC_PREFIX}lifecycle_ignored_total`,
      help: 'Events the instance lifecycle ignored (unknown minion, out of order), by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    reconcileCorrections: new Counter({
      name: `${METRIC_PREFIX}reconcile_corrections_total`,
      help: 'Instance states corrected by a reconcile with Salt (events were missed)',
      labelNames: ['pool'] as const,
      registers,
    }),
    reconcileRuns: new Counter({
      name: `${METRIC_PREFIX}reconcile_runs_total`,
      help: 'Reconcile runs with Salt, by result',
      labelNames: ['result'] as const,
      registers,
    }),
    webhookRequests: new Counter({
      name: `${METRIC_PREFIX}webhook_requests_total`,
      help: 'Alertmanager webhook requests, by HTTP status answered',
      labelNames: ['status'] as const,
      registers,
    }),
    intentsOpen: new Gauge({
      name: `${METRIC_PREFIX}intents_open`,
      help: 'Intents written to the store whose salt-api call has not finished',
      registers,
    }),
    storeWritable: new Gauge({
      name: `${METRIC_PREFIX}store_writable`,
      help: '1 while the state store takes writes, 0 while a write failed or its file is lost: nothing is sent to salt-api',
      registers,
    }),
    storeFaults: new Counter({
      name: `${METRIC_PREFIX}store_faults_total`,
      help: 'State store faults found, by fault (write: a store call failed, replaced: the file was deleted or replaced, corrupt: quick_check failed)',
      labelNames: ['fault'] as const,
      registers,
    }),
    leader: new Gauge({
      name: `${METRIC_PREFIX}leader`,
      help: '1 while this process leads (evaluates and acts), 0 while it follows or waits for the lease',
      registers,
    }),
    leaderChanges: new Counter({
      name: `${METRIC_PREFIX}leader_changes_total`,
      help: 'Times this process became the leader (the first election or a takeover)',
      registers,
    }),
    leaderLost: new Counter({
      name: `${METRIC_PREFIX}leader_lost_total`,
      help: 'Times this process lost the leadership it held (lease expired, deposed, or fenced out)',
      registers,
    }),
    takeoverSeconds: new Histogram({
      name: `${METRIC_PREFIX}takeover_seconds`,
      help: 'From winning the election to the end of the takeover reconcile (the old leader\'s intents resolved)',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
  };
  return metrics;
}

/** POOLS_AFTER names the registry's metric the per-pool families follow on the page (their place among the others). */
const POOLS_AFTER = `${METRIC_PREFIX}heartbeat_rtt_seconds`;

/**
 * exposition is the `/metrics` page (the http app's MetricsExposition): the registry's metrics as prom-client renders
 * them (Registry.metrics: families apart by a blank line, a newline at the end), with the per-pool families rendered
 * from the engine's snapshot (metrics.pools) after POOLS_AFTER.
 */
export function exposition(metrics: Metrics): { readonly contentType: string; render(snapshot: PoolSnapshot): Promise<string> } {
  const { registry } = metrics;
  return {
    contentType: registry.contentType,
    render: async (snapshot) => {
      const names = registry.getMetricsAsArray().map((metric) => metric.name);
      const texts = await Promise.all(names.map(async (name) => registry.getSingleMetricAsString(name)));
      const at = names.indexOf(POOLS_AFTER) + 1;
      texts.splice(at === 0 ? texts.length : at, 0, metrics.pools.render(snapshot));
      return `${texts.join('\n\n')}\n`;
    },
  };
}

/**
 * countSkippedEvents adds what the stream skipped since `seen` (its cumulative counts by kind) to events_skipped_total
 * and to events_total, which counts every event received; it returns the counts to pass as `seen` next time.
 */
export function countSkippedEvents(metrics: Metrics, skipped: Readonly<Record<string, number | undefined>>, seen: Readonly<Record<string, number | undefined>>): Record<string, number> {
  const now: Record<string, number> = {};
  for (const [kind, n = 0] of Object.entries(skipped)) {
    const added = n - (seen[kind] ?? 0);
    if (added > 0) {
      metrics.eventsSkipped.inc({ kind }, added);
      metrics.events.inc({ kind }, added);
    }
    now[kind] = n;
  }
  return now;
}

/** observeEventLag records `nowMs - stampMs` in seconds; a stamp in the future (clock skew) counts as 0. */
export function observeEventLag(metrics: Metrics, stampMs: number, nowMs: number): void {
  metrics.eventLag.observe(Math.max(0, nowMs - stampMs) / 1000);
}
