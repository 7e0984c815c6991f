/**
 * bench/series-memory: the heap the status page's chart samples take once every pool has run a few hours (each pool
 * keeps SERIES_MAX samples, one per evaluation: full after 3 h at the default 15 s evaluate interval), as one object
 * per sample (how the engine kept them before) and in the engine's SeriesRing. In process, the heap read after a
 * forced GC (with the ArrayBuffers' backing stores, outside the V8 heap). `npx tsx bench/series-memory.ts [--pools 1000]`.
 *
 * ```
 *  pools x SERIES_MAX samples --push--> object list / SeriesRing --gc--> heap used growth (MiB)
 * ```
 * The memory bench (bench/memory.ts) cannot show it: its service evaluates once an hour and runs 20 s to 10 min.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SERIES_MAX, SeriesRing, type SeriesPoint } from '../src/engine/series-ring.ts';

/** SeriesMemoryBench is the heap the full chart samples of `pools` pools take, both ways (MiB). */
export interface SeriesMemoryBench {
  readonly name: 'series-memory';
  readonly pools: number;
  readonly samplesPerPool: number;
  readonly objectsMiB: number;
  readonly ringMiB: number;
}

/** gc forces a full garbage collection (a no-op where V8 will not expose it). */
export const gc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  const fn: unknown = runInNewContext('gc');
  return typeof fn === 'function' ? () => { (fn as () => void)(); } : () => {};
})();

/** used is the heap used plus the ArrayBuffers' backing stores (a typed array's numbers live outside the heap). */
export function used(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function heapGrowthMiB(build: () => unknown): number {
  gc();
  gc();
  const before = used();
  const kept = build();
  gc();
  gc();
  const grown = used() - before;
  if (kept === undefined) throw new Error('nothing was kept');
  return Math.round((grown / 1_048_576) * 10) / 10;
}

/** sampleOf is a pool's k-th sample: a workload known two times in three, as an Alertmanager-only pool has. */
function sampleOf(pool: number, k: number): SeriesPoint {
  return { atMs: 1_796_000_000_000 + k * 15_000 + pool, ready: k % 7, total: (k % 7) + (k % 3), ...(k % 3 === 0 ? {} : { workload: (k % 11) + 0.5 }) };
}

/** benchSeriesMemory measures the heap of `pools` full chart series, as object lists and as SeriesRings. */
export function benchSeriesMemory(pools = 1_000): SeriesMemoryBench {
  const objectsMiB = heapGrowthMiB(() => Array.from({ length: pools }, (_, p) => {
    const list: SeriesPoint[] = [];
    for (let k = 0; k < SERIES_MAX; k += 1) list.push(sampleOf(p, k));
    return list;
  }));
  const ringMiB = heapGrowthMiB(() => Array.from({ length: pools }, (_, p) => {
    const ring = new SeriesRing(SERIES_MAX);
    for (let k = 0; k < SERIES_MAX; k += 1) ring.push(sampleOf(p, k));
    return ring;
  }));
  return { name: 'series-memory', pools, samplesPerPool: SERIES_MAX, objectsMiB, ringMiB };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { pools: { type: 'string' } }, strict: true });
  const r = benchSeriesMemory(values.pools === undefined ? undefined : Number(values.pools));
  process.stdout.write(`series-memory: ${r.pools} pools x ${r.samplesPerPool} chart samples: objects ${r.objectsMiB} MiB, SeriesRing ${r.ringMiB} MiB (heap + array buffers)\n`);
}
