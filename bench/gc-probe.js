// gc-probe: preloaded into the `serve` child of bench/memory.ts (`node --expose-gc --import bench/gc-probe.js`). On
// SIGUSR2 it runs a full collection and appends the heap retained after it to the file BENCH_GC_PROBE_OUT names, one
// JSON line `{"atMs": <epoch ms>, "heapUsedBytes": <n>}`: the readings bench/heap-trend.ts draws its line through.
// Plain JavaScript: the child runs the built service (dist/) under node, without tsx.
import { appendFileSync } from 'node:fs';

const out = process.env.BENCH_GC_PROBE_OUT;
const collect = globalThis.gc;
if (out !== undefined && out !== '' && typeof collect === 'function') {
  process.on('SIGUSR2', () => {
    collect();
    appendFileSync(out, `${JSON.stringify({ atMs: Date.now(), heapUsedBytes: process.memoryUsage().heapUsed })}\n`);
  });
}
