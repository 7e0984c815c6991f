/**
 * bench/metrics-render: what one `/metrics` page costs the service with 1,000 pools x 10 instances (the memory
 * bench's fleet): the heap it allocates (garbage, as nothing of it is kept but the per-pool lines) and the time.
 * `node --expose-gc --min-semi-space-size=128 --max-semi-space-size=128 --import tsx bench/metrics-render.ts [--rounds 10]`:
 * the young generation is made large enough that no collection runs during a render, so the heap used after a render
 * minus before it (after a forced GC) is what the render allocated.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { Instance, PoolView } from '../src/core/types.ts';
import { createMetrics, exposition } from '../src/prometheus/metrics.ts';

const MIB = 1024 * 1024;
const { values } = parseArgs({ options: { rounds: { type: 'string' } }, strict: true });
const rounds = Number(values.rounds ?? 10);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc (see the file comment)');

const pools: PoolView[] = Array.from({ length: 1_000 }, (_, i) => ({
  name: `env${i % 10}/type-${Math.floor(i / 10)}`, min: 0, max: 20, ready: 0, inFlight: 0, draining: 0, failed: 0, reserved: 10, paused: false,
}));
const instances: Instance[] = pools.flatMap((pool) => Array.from({ length: 10 }, (_, j): Instance => ({
  id: `${pool.name.replace('/', '-')}-${j}`, pool: pool.name, state: 'stopped', sinceMs: 0, reason: 'reconcile', created: false,
})));
const page = exposition(createMetrics());
const snapshot = { pools, instances, workloads: new Map<string, number | undefined>() };
for (let i = 0; i < 20; i += 1) await page.render(snapshot);

const allocated: number[] = [];
const ms: number[] = [];
let chars = 0;
for (let i = 0; i < rounds; i += 1) {
  gc();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  chars = (await page.render(snapshot)).length;
  ms.push(performance.now() - t0);
  allocated.push(process.memoryUsage().heapUsed - before);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
process.stdout.write(`metrics-render: 1,000 pools x 10 instances, page ${chars} chars: allocated ${(median(allocated) / MIB).toFixed(2)} MiB, ${median(ms).toFixed(1)} ms per render (medians of ${rounds})\n`);
