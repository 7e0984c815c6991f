// memory-stats-probe: preloaded into the `serve` child of bench/memory-breakdown.ts (`node --expose-gc --import
// bench/memory-stats-probe.js`). On SIGUSR2 it appends one JSON line to the file BENCH_MEM_STATS_OUT names: V8's heap
// and heap-space statistics and process.memoryUsage() as they are (garbage included), then the heap used after a full
// collection (`liveAfterGcBytes`). Plain JavaScript: the child runs the built service (dist/) under node, without tsx.
import { appendFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

const out = process.env.BENCH_MEM_STATS_OUT;
const collect = globalThis.gc;
if (out !== undefined && out !== '' && typeof collect === 'function') {
  process.on('SIGUSR2', () => {
    const line = { usage: process.memoryUsage(), heap: getHeapStatistics(), spaces: getHeapSpaceStatistics(), liveAfterGcBytes: 0 };
    collect();
    line.liveAfterGcBytes = process.memoryUsage().heapUsed;
    appendFileSync(out, `${JSON.stringify(line)}\n`);
  });
}
