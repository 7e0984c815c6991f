/**
 * bench/aged-state: what four weeks of running leave in the state store of the bench fleet, written before `serve`
 * starts so the memory bench measures a month-old process, not a fresh one.
 *
 * ```
 *  synthetic 4-week demand (daily + weekly rhythm, seeded noise), one observation a minute
 *    --core observeWorkload / afterTransition (the engine's own bookkeeping)--> one pool's PoolHistory
 *       (BudgetMemory full: 865 peaks, 672 hours, 720 fine buckets, 168 x 2 window buckets, scores; 16 start latencies)
 *  for every pool:     store.setPoolState(pool, {history, paused})          (the same history, its own row)
 *                      store.recordDecision x decisionsPerPool             (the store's retention bound)
 *  for every instance: store.saveInstances: start -> ready -> drain -> stop cycles, transitionsPerInstance rows, ending stopped
 *  intents:            finishedIntentsKept done intents                    (what openStore keeps)
 * ```
 * Everything goes through the real store API (src/store), so the rows are what the service wrote itself would be.
 */
import type { Decision, Instance, InstanceState, PoolHistory, PoolSpec, Transition } from '../src/core/types.ts';
import { EMPTY_HISTORY, afterDecision, afterTransition, observeWorkload } from '../src/core/bookkeeping.ts';
import { parseConfig, toPoolSpec } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { openStore } from '../src/store/sqlite-store.ts';
import { seededRandom } from '../src/sim/latency.ts';
import { fleetConfig, fleetInstanceIds, fleetPools, type FleetShape } from './fleet.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** AGE_MS is how long the aged fleet has run: four weeks (the longest window any per-pool memory keeps). */
export const AGE_MS = 28 * DAY_MS;
/** the store's default retention (src/store/sqlite-store.ts StoreOptions): the bounds the fill reaches. */
const DECISIONS_PER_POOL = 1_000;
const TRANSITIONS_PER_INSTANCE = 500;
const FINISHED_INTENTS_KEPT = 10_000;

/** CYCLE is one start-to-stop round of a reserved instance, as the lifecycle moves it. */
const CYCLE: readonly InstanceState[] = ['starting', 'booted', 'deploying', 'ready', 'draining', 'stopping', 'stopped'];

/** demandAt is the synthetic workload of a pool at minute `m`: busy working days, quiet nights and weekends, noise. */
function demandAt(m: number, max: number, noise: number): number {
  const hourOfDay = (m / 60) % 24;
  const weekend = Math.floor(m / 1_440) % 7 >= 5;
  const day = Math.max(0, Math.sin(((hourOfDay - 7) / 14) * Math.PI));
  const level = (weekend ? 0.25 : 0.8) * max * day + noise * 2 - 0.5;
  return Math.max(0, Math.min(max, Math.round(level)));
}

/**
 * agedHistory runs one budget pool through `ageMs` of synthetic demand with the core's bookkeeping: an observation
 * a minute (ready capacity following the demand one start lead behind), a start-to-ready time per scale-up, the
 * cooldown stamps of its decisions. The result is the history a pool carries after that long.
 */
export function agedHistory(spec: PoolSpec, endMs: number, ageMs: number = AGE_MS, seed = 1): PoolHistory {
  const random = seededRandom(seed);
  const minutes = Math.floor(ageMs / MINUTE_MS);
  const startMs = endMs - minutes * MINUTE_MS;
  const leadMin = 4;
  const demand: number[] = [];
  let history: PoolHistory = EMPTY_HISTORY;
  let ready = 0;
  for (let m = 0; m < minutes; m += 1) {
    const now = startMs + m * MINUTE_MS;
    const workload = demandAt(m, spec.max, random());
    demand.push(workload);
    history = observeWorkload(history, spec, { value: workload, atMs: now, source: 'alertmanager' }, now, ready);
    const wanted = demand[Math.max(0, m - leadMin)] ?? 0;
    if (wanted > ready) {
      history = afterDecision(history, { kind: 'scaleUp', count: wanted - ready, targets: [], reason: 'aged' }, now);
      const instance: Instance = { id: 'aged', pool: spec.name, state: 'ready', sinceMs: now, reason: 'aged', created: false, lastStartMs: now - (3 + 3 * random()) * MINUTE_MS };
      history = afterTransition(history, instance, 'deploying', now).history;
    } else if (wanted < ready) {
      history = afterDecision(history, { kind: 'scaleDown', count: ready - wanted, targets: [], reason: 'aged' }, now);
    }
    ready = wanted;
  }
  return history;
}

/** agedDecision is the k-th of a pool's kept decisions: mostly holds, some scale-ups and scale-downs, with real-length reasons. */
function agedDecision(pool: string, ids: readonly string[], k: number): Decision {
  const id = ids[k % ids.length] ?? 'unknown';
  switch (k % 5) {
    case 0:
      return { kind: 'scaleUp', count: 1, targets: [{ kind: 'start', id }], reason: `budget: hold the peak of the last 60 min (3) + 1 spare: wants 4, has 3 ready or starting; starting ${id} (reserved, stopped)` };
    case 1:
      return { kind: 'scaleDown', count: 1, targets: [id], reason: `budget: wants 2, has 3; ${id} idle for 12 min (longest idle), drained` };
    default:
      return { kind: 'hold', reason: `budget: wants 3, has 3 ready (pool ${pool}): nothing to do` };
  }
}

/** AgedFill says what fillAgedStore wrote. */
export interface AgedFill {
  readonly pools: number;
  readonly poolStateBytes: number;
  readonly decisions: number;
  readonly transitions: number;
  readonly intents: number;
  readonly ms: number;
}

/**
 * fillAgedStore writes into the state database at `path` what `ageMs` of running leave for every pool and instance
 * of the fleet (see the drawing above), as of `nowMs`. The pools run the budget strategy, the shipped default.
 */
export function fillAgedStore(path: string, shape: FleetShape, nowMs: number): AgedFill {
  const t0 = performance.now();
  const raw = fleetConfig({ shape, saltUrl: 'http://127.0.0.1:1', storePath: path, strategy: 'budget' });
  const specs = parseConfig(raw, {}).pools.map(toPoolSpec);
  const first = specs[0];
  if (first === undefined) throw new Error('the fleet has no pool');
  const history = agedHistory(first, nowMs);
  const value = { history, paused: false };
  const store = openStore(path, { logger: createLogger({ level: 'silent' }) });
  const ids = fleetInstanceIds(shape);
  let decisions = 0;
  let transitions = 0;
  try {
    for (const pool of fleetPools(shape)) {
      const poolIds = ids.filter((id) => id.startsWith(`gpu-${pool.env}-${pool.instanceType}-`));
      store.atomically(() => {
        store.setPoolState(pool.name, value);
        for (let k = 0; k < DECISIONS_PER_POOL; k += 1) {
          const atMs = nowMs - (DECISIONS_PER_POOL - k) * (AGE_MS / DECISIONS_PER_POOL);
          store.recordDecision({ pool: pool.name, atMs: Math.round(atMs), decision: agedDecision(pool.name, poolIds, k), dryRun: false });
          decisions += 1;
        }
      });
      const entries: { instance: Instance; transition: Transition }[] = [];
      for (const id of poolIds) {
        // the last transition lands on 'stopped' (the emulator's reserve is stopped): the kept rows start mid-cycle where that works out
        const offset = (CYCLE.length - (TRANSITIONS_PER_INSTANCE % CYCLE.length)) % CYCLE.length;
        let from: InstanceState = CYCLE[(offset + CYCLE.length - 1) % CYCLE.length] ?? 'stopped';
        for (let t = 0; t < TRANSITIONS_PER_INSTANCE; t += 1) {
          const to = CYCLE[(t + offset) % CYCLE.length] ?? 'stopped';
          const atMs = Math.round(nowMs - (TRANSITIONS_PER_INSTANCE - t) * (AGE_MS / TRANSITIONS_PER_INSTANCE));
          const reason = to === 'starting' ? 'start issued: the pool wants capacity' : `salt event moved it to ${to}`;
          entries.push({ instance: { id, pool: pool.name, state: to, sinceMs: atMs, reason, created: false, lastStartMs: atMs }, transition: { from, to, atMs, reason } });
          from = to;
        }
      }
      store.saveInstances(entries);
      transitions += entries.length;
    }
    store.atomically(() => {
      for (let k = 0; k < FINISHED_INTENTS_KEPT; k += 1) {
        const id = ids[k % ids.length] ?? 'unknown';
        const intent = store.openIntent(k % 2 === 0 ? 'start' : 'stop', id, id.replace(/^gpu-(env\d+)-(t\d+)-\d+$/, '$1/$2'), nowMs - AGE_MS + k * MINUTE_MS);
        store.finishIntent(intent.id, 'done', 'salt-api answered');
      }
    });
  } finally {
    store.close();
  }
  return {
    pools: shape.pools, poolStateBytes: Buffer.byteLength(JSON.stringify(value)), decisions, transitions, intents: FINISHED_INTENTS_KEPT,
    ms: Math.round(performance.now() - t0),
  };
}
