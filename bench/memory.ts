/**
 * bench/memory: the engine's memory with 10,000 instances (1,000 pools x 10) while 1,000 salt events/s stream
 * in for ~20 s through the real SaltEventStream (SSE) from the salt-api emulator. `npx tsx bench/memory.ts [--seconds N]`.
 *
 * ```
 *  bench --POST /_emulator/fire (1,000/s, open loop)--> emulator child process --SSE /events-->
 *     SaltEventStream --> Engine.handle --> lifecycle (bus noise: every event ignored or informational)
 *  this process: SaltClient + SaltApiActions + SaltEventStream + Engine + SQLite store   <-- RSS / heap sampled every 1 s
 * ```
 * The emulator runs as a child process: its bus keeps every event it ever published, which must not count
 * as ours. The figures: RSS and heap before anything is built, after startup (reconcile of 10,000 instances),
 * then every second while streaming, each after a full GC (so heap = retained heap, not GC sawtooth); "steady" is
 * the median of the second half, "slope" the least-squares growth per minute over the second half (a leak shows
 * as a steady positive slope).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseConfig } from '../src/config/load.ts';
import { busNoise, fireAtRate, startEmulatorProcess, type FireStats } from './emulator-process.ts';
import { DEFAULT_FLEET, FLEET_PROVIDER, fleetConfig, fleetInstanceIds, type FleetShape } from './fleet.ts';
import { streamingEngine } from './streaming-engine.ts';
import { waitUntil } from './webhook-latency.ts';

/** MemorySample is one reading, in MiB. */
export interface MemorySample {
  readonly atS: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
}

/** MemoryBench is the outcome of one run (MiB). */
export interface MemoryBench {
  readonly name: 'memory';
  readonly instances: number;
  readonly eventsPerS: number;
  readonly seconds: number;
  readonly before: MemorySample;
  readonly afterStartup: MemorySample;
  readonly after: MemorySample;
  /** steadyRssMiB / steadyHeapMiB: medians over the second half of the streaming phase. */
  readonly steadyRssMiB: number;
  readonly steadyHeapMiB: number;
  /** rssSlopeMiBPerMin / heapSlopeMiBPerMin: least-squares growth over the second half. */
  readonly rssSlopeMiBPerMin: number;
  readonly heapSlopeMiBPerMin: number;
  readonly fire: FireStats;
  /** received: events the SaltEventStream delivered (stats.events) during the run. */
  readonly received: number;
  readonly samples: readonly MemorySample[];
}

/** MemoryOptions sizes the run. */
export interface MemoryOptions {
  readonly shape?: FleetShape;
  readonly seconds?: number;
  readonly eventsPerS?: number;
}

const MIB = 1024 * 1024;

/** fullGc is V8's gc(), reached without --expose-gc: samples read the heap that is really retained, not GC sawtooth. */
const fullGc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  return typeof gc === 'function' ? () => { (gc as () => void)(); } : () => {};
})();

function sample(atS: number): MemorySample {
  fullGc();
  const m = process.memoryUsage();
  return { atS: Math.round(atS * 10) / 10, rssMiB: Math.round((m.rss / MIB) * 10) / 10, heapUsedMiB: Math.round((m.heapUsed / MIB) * 10) / 10 };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** slopePerMin is the least-squares slope of y over x (seconds), per minute. */
export function slopePerMin(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  const sxy = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  return sxx === 0 ? 0 : Math.round((sxy / sxx) * 60 * 100) / 100;
}

/** benchMemory runs the engine over a streamed fleet and samples its memory. */
export async function benchMemory(opts: MemoryOptions = {}): Promise<MemoryBench> {
  const shape = opts.shape ?? DEFAULT_FLEET;
  const seconds = opts.seconds ?? 20;
  const eventsPerS = opts.eventsPerS ?? 1_000;
  const before = sample(0);
  const began = performance.now();
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'asc-bench-memory-'));
  const ids = fleetInstanceIds(shape);
  const emu = await startEmulatorProcess(dir, { instances: ids.map((id) => ({ id, provider: FLEET_PROVIDER, state: 'stopped' as const })) });
  const config = parseConfig(fleetConfig({ shape, saltUrl: emu.url, storePath: join(dir, 'state.db'), heartbeatInterval: '5s' }), {});
  const { engine, stream, close } = streamingEngine(config);
  const samples: MemorySample[] = [];
  const run = async (): Promise<{ afterStartup: MemorySample; fire: FireStats; received: number }> => {
    await engine.start();
    await waitUntil(() => stream.connected, 30_000);
    const t0 = performance.now();
    const afterStartup = sample((t0 - began) / 1000);
    const receivedBefore = stream.stats.events;
    const sampler = setInterval(() => samples.push(sample((performance.now() - t0) / 1000)), 1_000);
    try {
      const fire = await fireAtRate(emu.url, eventsPerS, seconds * 1000, busNoise(ids));
      // let the stream catch up with what was fired (bounded: a lost event must not hang the bench)
      await waitUntil(() => stream.stats.events - receivedBefore >= fire.fired - fire.failed, 10_000).catch(() => undefined);
      return { afterStartup, fire, received: stream.stats.events - receivedBefore };
    } finally {
      clearInterval(sampler);
    }
  };
  let measured: { afterStartup: MemorySample; fire: FireStats; received: number };
  try {
    measured = await run();
  } finally {
    await close();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const after = sample((performance.now() - began) / 1000);
  const half = samples.slice(Math.floor(samples.length / 2));
  return {
    name: 'memory',
    instances: ids.length,
    eventsPerS,
    seconds,
    before,
    afterStartup: measured.afterStartup,
    after,
    steadyRssMiB: median(half.map((s) => s.rssMiB)),
    steadyHeapMiB: median(half.map((s) => s.heapUsedMiB)),
    rssSlopeMiBPerMin: slopePerMin(half.map((s) => ({ x: s.atS, y: s.rssMiB }))),
    heapSlopeMiBPerMin: slopePerMin(half.map((s) => ({ x: s.atS, y: s.heapUsedMiB }))),
    fire: measured.fire,
    received: measured.received,
    samples,
  };
}

/** formatMemory renders the result as a few lines. */
export function formatMemory(r: MemoryBench): string {
  return [
    `memory: ${r.instances} instances, ${r.eventsPerS} events/s for ${r.seconds} s (fired ${r.fire.fired}, failed ${r.fire.failed}, received ${r.received})`,
    `  before:        rss ${r.before.rssMiB} MiB, heap ${r.before.heapUsedMiB} MiB`,
    `  after startup: rss ${r.afterStartup.rssMiB} MiB, heap ${r.afterStartup.heapUsedMiB} MiB`,
    `  steady:        rss ${r.steadyRssMiB} MiB, heap ${r.steadyHeapMiB} MiB (medians of the second half)`,
    `  slope:         rss ${r.rssSlopeMiBPerMin} MiB/min, heap ${r.heapSlopeMiBPerMin} MiB/min (second half)`,
    `  after:         rss ${r.after.rssMiB} MiB, heap ${r.after.heapUsedMiB} MiB`,
  ].join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' } }, strict: true });
  const result = await benchMemory(values.seconds === undefined ? {} : { seconds: Number(values.seconds) });
  process.stdout.write(`${formatMemory(result)}\n`);
}
