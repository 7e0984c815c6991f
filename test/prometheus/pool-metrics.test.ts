import t from 'tap';
import fc from 'fast-check';
import { Gauge, Registry } from 'prom-client';
import { INSTANCE_STATES, type Instance, type InstanceState, type PoolView } from '../../src/core/types.ts';
import { POOL_FAMILIES, PoolMetrics, type PoolSnapshot } from '../../src/prometheus/pool-metrics.ts';
import { createMetrics, exposition } from '../../src/prometheus/metrics.ts';

/**
 * promClientPage is the reference: the seven value families and pool_instances as prom-client gauges, reset and set from the snapshot on every
 * scrape (level-triggered, as the service did before it kept rendered lines), rendered by prom-client's registry.
 */
function promClientPage(): (snapshot: PoolSnapshot) => Promise<string> {
  const registry = new Registry();
  const registers = [registry];
  const f = POOL_FAMILIES;
  const instances = new Gauge({ ...f.instances, labelNames: ['pool', 'state'] as const, registers });
  const [max, min, waitingShare, waitWindowCovered, waitBudget, workload, startLead] = [f.max, f.min, f.waitingShare, f.waitWindowCovered, f.waitBudget, f.workload, f.startLead]
    .map((family) => new Gauge({ ...family, labelNames: ['pool'] as const, registers }));
  return async (snapshot) => {
    for (const gauge of [instances, max, min, waitingShare, waitWindowCovered, waitBudget, workload, startLead]) gauge?.reset();
    const pools = [...snapshot.pools.map((pool) => pool.name), ...snapshot.instances.map((i) => i.pool)];
    for (const pool of new Set(pools)) {
      for (const state of INSTANCE_STATES) {
        instances.set({ pool, state }, snapshot.instances.filter((i) => i.pool === pool && i.state === state).length);
      }
    }
    for (const pool of snapshot.pools) {
      max?.set({ pool: pool.name }, pool.max);
      min?.set({ pool: pool.name }, pool.min);
      if (pool.waitingShare !== undefined) waitingShare?.set({ pool: pool.name }, pool.waitingShare);
      if (pool.waitWindowCovered !== undefined) waitWindowCovered?.set({ pool: pool.name }, pool.waitWindowCovered);
      if (pool.waitBudget !== undefined) waitBudget?.set({ pool: pool.name }, pool.waitBudget);
      const w = snapshot.workloads.get(pool.name);
      if (w !== undefined && Number.isFinite(w)) workload?.set({ pool: pool.name }, w);
      if (pool.startLeadMs !== undefined) startLead?.set({ pool: pool.name }, pool.startLeadMs / 1000);
    }
    return registry.metrics();
  };
}

const poolView = (name: string, min: number, max: number, budget?: { waitBudget: number; waitingShare: number; waitWindowCovered?: number }, startLeadMs?: number): PoolView => ({
  name, min, max, ready: 0, inFlight: 0, draining: 0, failed: 0, reserved: 0, paused: false, ...budget, ...(startLeadMs === undefined ? {} : { startLeadMs }),
});
const instance = (id: string, pool: string, state: InstanceState): Instance => ({ id, pool, state, sinceMs: 0, reason: 'test', created: false });

// pool names with what the text format escapes; a few so that scrapes share, drop and bring back pools
const poolName = fc.constantFrom('prod/type1', 'prod/type2', 'gpu "a100"', 'back\\slash', 'new\nline', 'ünï', '');
const value = fc.oneof(fc.integer({ min: -5, max: 50 }), fc.double(), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0));
const snapshotArb: fc.Arbitrary<PoolSnapshot> = fc.record({
  pools: fc.uniqueArray(fc.record({ name: poolName, min: fc.nat(3), max: fc.integer({ min: 3, max: 9 }), budget: fc.option(fc.record({ waitBudget: value, waitingShare: value, waitWindowCovered: value }, { requiredKeys: ['waitBudget', 'waitingShare'] }), { nil: undefined }), startLeadMs: fc.option(fc.constantFrom(240_000, 61_500, 300_000), { nil: undefined }) }), { selector: (p) => p.name, maxLength: 5 })
    .map((pools) => pools.map((p) => poolView(p.name, p.min, p.max, p.budget, p.startLeadMs))),
  instances: fc.array(fc.tuple(poolName, fc.constantFrom(...INSTANCE_STATES)), { maxLength: 12 })
    .map((xs) => xs.map(([pool, state], i) => instance(`m${i}`, pool, state))),
  workloads: fc.array(fc.tuple(poolName, fc.option(value, { nil: undefined }))).map((xs) => new Map(xs)),
});

t.test('each scrape renders the text prom-client renders for gauges set from the same snapshot', async (t) => {
  const reached = { dropped: 0, changed: 0, unlisted: 0, escaped: 0, unchanged: 0 };
  // a few distinct snapshots scraped in any order: pools drop and come back, values change and stay
  const scrapes = fc.array(snapshotArb, { minLength: 1, maxLength: 3 })
    .chain((distinct) => fc.array(fc.nat(distinct.length - 1), { minLength: 1, maxLength: 6 }).map((picks) => picks.map((i) => distinct[i] ?? distinct[0]!)));
  await fc.assert(fc.asyncProperty(scrapes, async (snapshots) => {
    const pools = new PoolMetrics();
    const reference = promClientPage();
    let last: string | undefined;
    let previous: PoolSnapshot | undefined;
    for (const snapshot of snapshots) {
      const text = pools.render(snapshot);
      if (`${text}\n` !== await reference(snapshot)) return false;
      const names = new Set([...snapshot.pools.map((p) => p.name), ...snapshot.instances.map((i) => i.pool)]);
      if (previous !== undefined && [...previous.pools, ...previous.instances.map((i) => ({ name: i.pool }))].some((p) => !names.has(p.name))) reached.dropped += 1;
      if (last !== undefined) reached[text === last ? 'unchanged' : 'changed'] += 1;
      if (snapshot.instances.some((i) => !snapshot.pools.some((p) => p.name === i.pool))) reached.unlisted += 1;
      if ([...names].some((n) => /["\\\n]/.test(n))) reached.escaped += 1;
      if (pools.poolsHeld !== names.size) return false;
      last = text;
      previous = snapshot;
    }
    return true;
  }), { numRuns: 200, seed: 16 });
  for (const [what, n] of Object.entries(reached)) t.ok(n > 0, `the generator reaches ${what} scrapes (${n})`);
});

t.test('pools that a reload removed leave the page and are not kept', async (t) => {
  const pools = new PoolMetrics();
  const all = Array.from({ length: 1_000 }, (_, i) => poolView(`fleet/pool-${i}`, 0, 10));
  const instances = all.flatMap((p, i) => [instance(`a${i}`, p.name, 'ready'), instance(`b${i}`, p.name, 'stopped')]);
  const workloads = new Map(all.map((p) => [p.name, 3]));
  pools.render({ pools: all, instances, workloads });
  t.equal(pools.poolsHeld, 1_000);

  const kept = all.slice(0, 2);
  const text = pools.render({ pools: kept, instances: instances.filter((i) => kept.some((p) => p.name === i.pool)), workloads });
  t.equal(pools.poolsHeld, 2, 'only the pools of the last snapshot are held');
  t.notMatch(text, 'fleet/pool-2"', 'a removed pool has no series left');
  t.match(text, 'salt_autoscaler_pool_instances{pool="fleet/pool-1",state="ready"} 1');
  t.match(text, 'salt_autoscaler_pool_workload{pool="fleet/pool-0"} 3');

  const back = pools.render({ pools: [all[5] ?? kept[0]!, ...kept], instances: [], workloads: new Map() });
  t.match(back, /pool_max\{pool="fleet\/pool-5"\} 10\nsalt_autoscaler_pool_max\{pool="fleet\/pool-0"\}/, 'a pool that comes back is listed in the snapshot\'s order');
  t.match(back, 'salt_autoscaler_pool_instances{pool="fleet/pool-1",state="ready"} 0', 'a state that empties shows 0');
  t.notMatch(back, 'salt_autoscaler_pool_workload{', 'unknown workloads have no series');
});

t.test('the page lists the pool families where the registry listed them: after the stream metrics, before decisions', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  const page = await exposition(metrics).render({ pools: [poolView('prod/type1', 1, 5)], instances: [], workloads: new Map() });
  const types = [...page.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
  const at = types.indexOf('salt_autoscaler_heartbeat_rtt_seconds');
  t.same(types.slice(at + 1, at + 10), [
    'salt_autoscaler_pool_instances', 'salt_autoscaler_pool_max', 'salt_autoscaler_pool_min', 'salt_autoscaler_pool_waiting_share',
    'salt_autoscaler_pool_wait_window_covered', 'salt_autoscaler_pool_wait_budget', 'salt_autoscaler_pool_workload',
    'salt_autoscaler_pool_start_lead_seconds', 'salt_autoscaler_decisions_total',
  ]);
  t.ok(page.endsWith('\n') && !page.endsWith('\n\n'), 'one newline at the end, as prom-client renders a page');
  t.match(page, '# TYPE salt_autoscaler_pool_start_lead_seconds gauge\n\n# HELP salt_autoscaler_decisions_total ', 'families apart by one blank line');
});
