import t from 'tap';
import { countSkippedEvents, createMetrics, exposition, observeEventLag } from '../../src/prometheus/metrics.ts';
import type { Instance, PoolView } from '../../src/core/types.ts';

/** CONTRACT_NAMES are the names render-rules and the Grafana dashboard rely on. */
const CONTRACT_NAMES = [
  'salt_autoscaler_event_stream_connected',
  'salt_autoscaler_stream_reconnects_total',
  'salt_autoscaler_events_total',
  'salt_autoscaler_events_malformed_total',
  'salt_autoscaler_event_lag_seconds',
  'salt_autoscaler_heartbeat_rtt_seconds',
  'salt_autoscaler_pool_instances',
  'salt_autoscaler_pool_max',
  'salt_autoscaler_pool_min',
  'salt_autoscaler_pool_workload',
  'salt_autoscaler_pool_waiting_share',
  'salt_autoscaler_pool_wait_window_covered',
  'salt_autoscaler_pool_wait_budget',
  'salt_autoscaler_pool_start_lead_seconds',
  'salt_autoscaler_decisions_total',
  'salt_autoscaler_actions_total',
  'salt_autoscaler_instances_failed_total',
  'salt_autoscaler_start_to_ready_seconds',
  'salt_autoscaler_lifecycle_ignored_total',
  'salt_autoscaler_reconcile_corrections_total',
  'salt_autoscaler_reconcile_runs_total',
  'salt_autoscaler_webhook_requests_total',
  'salt_autoscaler_intents_open',
  'salt_autoscaler_store_writable',
  'salt_autoscaler_store_faults_total',
];

const pool = (name: string, min: number, max: number): PoolView => ({
  name, min, max, ready: 0, inFlight: 0, draining: 0, failed: 0, reserved: 0, paused: false,
});
const instance = (id: string, poolName: string, state: Instance['state']): Instance => ({
  id, pool: poolName, state, sinceMs: 0, reason: 'test', created: false,
});

t.test('exposes every contract metric name with its HELP and TYPE', async (t) => {
  const metrics = createMetrics();
  const text = await exposition(metrics).render({ pools: [], instances: [], workloads: new Map() });
  for (const name of CONTRACT_NAMES) {
    t.match(text, new RegExp(`^# TYPE ${name} (gauge|counter|histogram)$`, 'm'), name);
  }
  t.match(text, /^process_cpu_user_seconds_total /m, 'default process metrics are collected');
});

t.test('two registries are independent: counting in one does not show in the other', async (t) => {
  const a = createMetrics({ defaultMetrics: false });
  const b = createMetrics({ defaultMetrics: false });
  a.decisions.inc({ pool: 'prod/type1', outcome: 'scaleUp' });
  a.actions.inc({ action: 'start', result: 'dry_run' }, 2);
  t.match(await a.registry.metrics(), 'salt_autoscaler_decisions_total{pool="prod/type1",outcome="scaleUp"} 1');
  t.match(await a.registry.metrics(), 'salt_autoscaler_actions_total{action="start",result="dry_run"} 2');
  t.notMatch(await b.registry.metrics(), 'outcome="scaleUp"');
});

t.test('start_to_ready_seconds buckets the fleet\'s start-to-ready times in seconds, with no pool label', async (t) => {
  const m = createMetrics({ defaultMetrics: false });
  m.startToReady.observe(75);
  m.startToReady.observe(400);
  const text = await m.registry.metrics();
  t.match(text, 'salt_autoscaler_start_to_ready_seconds_bucket{le="60"} 0');
  t.match(text, 'salt_autoscaler_start_to_ready_seconds_bucket{le="90"} 1');
  t.match(text, 'salt_autoscaler_start_to_ready_seconds_bucket{le="450"} 2');
  t.match(text, 'salt_autoscaler_start_to_ready_seconds_sum 475');
  t.match(text, 'salt_autoscaler_start_to_ready_seconds_count 2');
});

t.test('pool gauges count every state and reset a state that empties', async (t) => {
  const page = exposition(createMetrics({ defaultMetrics: false }));
  let text = await page.render({
    pools: [pool('prod/type1', 1, 5)],
    instances: [instance('a', 'prod/type1', 'ready'), instance('b', 'prod/type1', 'ready'), instance('c', 'prod/type1', 'starting')],
    workloads: new Map([['prod/type1', 7]]),
  });
  t.match(text, 'salt_autoscaler_pool_instances{pool="prod/type1",state="ready"} 2');
  t.match(text, 'salt_autoscaler_pool_instances{pool="prod/type1",state="starting"} 1');
  t.match(text, 'salt_autoscaler_pool_instances{pool="prod/type1",state="failed"} 0');
  t.match(text, 'salt_autoscaler_pool_max{pool="prod/type1"} 5');
  t.match(text, 'salt_autoscaler_pool_min{pool="prod/type1"} 1');
  t.match(text, 'salt_autoscaler_pool_workload{pool="prod/type1"} 7');

  text = await page.render({
    pools: [pool('prod/type1', 1, 5)],
    instances: [instance('a', 'prod/type1', 'ready')],
    workloads: new Map(),
  });
  t.match(text, 'salt_autoscaler_pool_instances{pool="prod/type1",state="ready"} 1');
  t.match(text, 'salt_autoscaler_pool_instances{pool="prod/type1",state="starting"} 0');
  t.notMatch(text, 'salt_autoscaler_pool_workload{pool="prod/type1"}', 'an unknown workload is not reported as a stale value');
});

t.test('skipped events count by kind in events_skipped_total and in events_total, each only once', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.events.inc({ kind: 'job-ret' });
  let seen = countSkippedEvents(metrics, { other: 3, 'job-ret': 2 }, {});
  seen = countSkippedEvents(metrics, { other: 5, 'job-ret': 2, auth: 1 }, seen);
  t.same(seen, { other: 5, 'job-ret': 2, auth: 1 });
  const text = await metrics.registry.metrics();
  t.match(text, 'salt_autoscaler_events_skipped_total{kind="other"} 5');
  t.match(text, 'salt_autoscaler_events_skipped_total{kind="job-ret"} 2');
  t.match(text, 'salt_autoscaler_events_skipped_total{kind="auth"} 1');
  t.match(text, 'salt_autoscaler_events_total{kind="job-ret"} 3', 'one read and two skipped');
  t.match(text, 'salt_autoscaler_events_total{kind="other"} 5');
});

t.test('event lag is observed in seconds and a future stamp counts as zero lag', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  observeEventLag(metrics, 1_000, 3_500);
  observeEventLag(metrics, 5_000, 4_000);
  const text = await metrics.registry.metrics();
  t.match(text, 'salt_autoscaler_event_lag_seconds_sum 2.5');
  t.match(text, 'salt_autoscaler_event_lag_seconds_count 2');
  t.match(text, 'salt_autoscaler_event_lag_seconds_bucket{le="0.01"} 1');
});

t.test('a budget pool exports its waiting share, the part of its window measured and its budget; a pool without one exports none', async (t) => {
  const text = await exposition(createMetrics({ defaultMetrics: false })).render({
    pools: [{ ...pool('prod/type1', 0, 5), waitBudget: 0.0025, waitingShare: 0.001, waitWindowCovered: 0.25 }, pool('prod/type2', 0, 5)],
    instances: [],
    workloads: new Map(),
  });
  t.match(text, 'salt_autoscaler_pool_waiting_share{pool="prod/type1"} 0.001');
  t.match(text, 'salt_autoscaler_pool_wait_budget{pool="prod/type1"} 0.0025');
  t.match(text, 'salt_autoscaler_pool_wait_window_covered{pool="prod/type1"} 0.25');
  t.notMatch(text, /salt_autoscaler_pool_wait_budget\{pool="prod\/type2"\}/);
  t.notMatch(text, /salt_autoscaler_pool_wait_window_covered\{pool="prod\/type2"\}/);
});
