/**
 * bench/budget-memory: the heap a month-old process holds for its pools' budget memory, in process. One pool's
 * history is aged four weeks (bench/aged-state.ts, the core's own bookkeeping), saved as the store saves it (JSON);
 * then `pools` pools load it the way the engine does (`loadPool` over `store.poolState`, one parsed copy each) and
 * each is evaluated once more (`observeWorkload` a minute later: the memory the service then keeps).
 * `npx tsx bench/budget-memory.ts [--pools 1000] [--rounds 3]`.
 *
 * ```
 *  agedHistory --JSON--> pools x loadPool --gc--> held after load (MiB)
 *                                   └──observeWorkload--gc--> held after one evaluation (MiB)
 *  one pool: observeWorkload x 1,000 (a minute apart) -> us per evaluation (the memory's share of the webhook path)
 * ```
 * Held = heap used + ArrayBuffers' backing stores, growth after a forced GC, the median of the rounds.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { observeWorkload } from '../src/core/bookkeeping.ts';
import type { PoolHistory } from '../src/core/types.ts';
import { parseConfig, toPoolSpec } from '../src/config/load.ts';
import { loadPool, type ManagedPool, type PoolRuntime } from '../src/engine/pool-state.ts';
import { agedHistory } from './aged-state.ts';
import { fleetConfig } from './fleet.ts';
import { percentileOf } from './latency-stats.ts';
import { gc, used } from './series-memory.ts';

/** BudgetMemoryBench is what `pools` aged budget memories hold (MiB) and what one evaluation of one costs (us). */
export interface BudgetMemoryBench {
  readonly name: 'budget-memory';
  readonly pools: number;
  readonly jsonBytesPerPool: number;
  readonly loadedMiB: number;
  readonly evaluatedMiB: number;
  readonly observeUs: number;
}

/** runBudgetMemory builds the aged memory once and measures `rounds` times. */
export function runBudgetMemory(pools = 1_000, rounds = 3): BudgetMemoryBench {
  const nowMs = Date.UTC(2026, 11, 1);
  const raw = fleetConfig({ shape: { pools: 1, instancesPerPool: 10 }, saltUrl: 'http://127.0.0.1:1', storePath: ':memory:', strategy: 'budget' });
  const spec = parseConfig(raw, {}).pools.map(toPoolSpec)[0];
  if (spec === undefined) throw new Error('the fleet has no pool');
  const json = JSON.stringify({ history: agedHistory(spec, nowMs), paused: false });
  const managed: ManagedPool = { spec, reserved: [], idleCheck: { fun: 'test.true', args: [] } };
  const store = { poolState: () => JSON.parse(json) as Record<string, unknown>, decisions: () => [] };
  const workload = { value: 3, atMs: nowMs + 60_000, source: 'alertmanager' };
  // one round in its own frame: its pools are unreachable once it returns
  // two collections each time: the ArrayBuffers a collection frees are swept after it
  const collect = (): void => {
    gc();
    gc();
  };
  const once = (): readonly [number, number] => {
    collect();
    const before = used();
    const held: PoolRuntime[] = [];
    for (let i = 0; i < pools; i += 1) held.push(loadPool(managed, store));
    collect();
    const afterLoad = used();
    for (const rt of held) rt.history = observeWorkload(rt.history, spec, workload, workload.atMs, 1);
    collect();
    const afterEvaluation = used();
    if (held.some((rt) => rt.history.budget === undefined)) throw new Error('lost a memory');
    return [(afterLoad - before) / 2 ** 20, (afterEvaluation - before) / 2 ** 20];
  };
  const rows = Array.from({ length: rounds }, once);
  const loaded = rows.map((r) => r[0]);
  const evaluated = rows.map((r) => r[1]);
  let history: PoolHistory = loadPool(managed, store).history;
  const n = 1_000;
  const t0 = performance.now();
  for (let i = 1; i <= n; i += 1) history = observeWorkload(history, spec, { ...workload, value: i % 7 }, nowMs + i * 60_000, 1);
  const observeUs = ((performance.now() - t0) * 1000) / n;
  if (history.budget === undefined) throw new Error('no budget memory');
  const round = (x: number): number => Math.round(x * 10) / 10;
  return { name: 'budget-memory', pools, jsonBytesPerPool: Buffer.byteLength(json), loadedMiB: round(percentileOf(loaded.sort((a, b) => a - b), 0.5)), evaluatedMiB: round(percentileOf(evaluated.sort((a, b) => a - b), 0.5)), observeUs: round(observeUs) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { pools: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '3' } } });
  console.log(JSON.stringify(runBudgetMemory(Number(values.pools), Number(values.rounds))));
}
