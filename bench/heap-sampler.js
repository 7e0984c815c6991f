// bench/heap-sampler.js: a preload for the service child of a bench, `BENCH_SERVICE_NODE_ARGS="--import=./bench/heap-sampler.js"`
// (with BENCH_HEAP_PROFILE_DIR, default the OS temp dir). It samples the process's allocations through V8's sampling
// heap profiler, those collected by a scavenge or a full GC included (node's own --heap-prof keeps only the objects
// still alive at its end, which says nothing about garbage), one sample every ~8 KiB allocated, and writes
// `heap-<pid>.heapprofile` when the process gets SIGTERM (a bench's stop; the service then stops as it always does).
// Read it with `npx tsx bench/alloc-profile.ts FILE`. The sampler costs the service a few per cent of CPU.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const session = new Session();
session.connect();
session.post('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }, (err) => {
  if (err) process.stderr.write(`heap-sampler: ${err.message}\n`);
});
let written = false;
process.on('SIGTERM', () => {
  if (written) return;
  written = true;
  // an in-process session answers synchronously: the profile is written before the service's own SIGTERM handler runs
  session.post('HeapProfiler.stopSampling', (err, answer) => {
    if (err) { process.stderr.write(`heap-sampler: ${err.message}\n`); return; }
    writeFileSync(join(process.env.BENCH_HEAP_PROFILE_DIR ?? tmpdir(), `heap-${process.pid}.heapprofile`), JSON.stringify(answer.profile));
  });
});
