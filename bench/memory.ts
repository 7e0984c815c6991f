/**
 * bench/memory: the memory of `salt-autoscaler serve` (a child process, as users run it) with 10,000 instances
 * (1,000 pools x 10) while 1,000 salt events/s stream in from the salt-api emulator, then a 10,000-minion
 * job-return burst. `npx tsx bench/memory.ts [--seconds N] [--scrape-every S] [--full-gc-every S] [--aged]`.
 * `--aged` starts the service on the state a month-old one keeps (bench/aged-state.ts: every pool's full budget
 * memory and history, decisions, transitions and finished intents filled to the store's retention bounds; the pools
 * on the budget strategy, the shipped default); without it, on an empty store.
 *
 * ```
 *  bench --POST /_emulator/fire-many (1,000/s in 10 ms ticks, open loop)--> emulator child --SSE /events--> service child
 *  bench --POST /_emulator/fire-many (one job's 10,000 returns at once)--> emulator child --SSE--> service child
 *  bench <-- VmRSS (/proc/<pid>/status) and heap used (GET /metrics nodejs_heap_size_used_bytes), every second
 *  then as long again: bench --SIGUSR2 every --full-gc-every s--> service child (bench/gc-probe.js): full GC, heap retained -> a file
 * ```
 * The figures: RSS and heap after startup (reconcile of 10,000 instances, every pool evaluated), then every second
 * while streaming; "steady" is the median of the second half, "slope" the least-squares growth per minute over the
 * second half (`--scrape-every 15` reads the heap as often as a Prometheus would). The heap used, read without a
 * forced GC, is V8's sawtooth: V8 runs a full collection about once in 100 s here, so over 20 s its slope is the
 * rising edge of one tooth. Whether the heap is flat is read from the heap *retained*: after those figures the stream
 * goes on as long again, and every `--full-gc-every` s (default: 20 readings, at least 1 s apart) the child collects
 * all garbage and reports what is left; bench/heap-trend.ts fits its line (`--full-gc-every 0`: no second phase, no
 * verdict). A phase of its own because forced collections keep old space small: 3-4 MiB less RSS in a 20-s run on an
 * empty store, ~12 MiB on the aged one (docs/benchmarks.md, point 4, branch s26-memory).
 * The burst: RSS just before it, and its peak over the 5 s after (the growth is what absorbing it cost).
 */
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { freePort, writeConfig } from '../test/support/service-process.ts';
import { busNoise, fireAtRate, startEmulatorProcess, type BusEventSpec, type FireStats } from './emulator-process.ts';
import { DEFAULT_FLEET, FLEET_PROVIDER, fleetConfig, fleetInstanceIds, fleetPools, type FleetShape } from './fleet.ts';
import { fillAgedStore, type AgedFill } from './aged-state.ts';
import { cpuSecondsOf, rssMiBOf, startServiceChild, waitServiceReady } from './service-child.ts';
import { retainedHeapTrend, slopePerMin, type HeapReading, type HeapTrend } from './heap-trend.ts';

/** MemorySample is one reading, in MiB. */
export interface MemorySample {
  readonly atS: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
}

/** BurstResult is what a 10,000-minion job-return burst cost the service (MiB). */
export interface BurstResult {
  readonly returns: number;
  readonly rssBeforeMiB: number;
  readonly rssPeakMiB: number;
  readonly rssGrowthMiB: number;
  /** received: the emulator took the burst (it went out on the stream). */
  readonly received: boolean;
}

/** MemoryBench is the outcome of one run (MiB). */
export interface MemoryBench {
  readonly name: 'memory';
  readonly instances: number;
  readonly eventsPerS: number;
  readonly seconds: number;
  readonly scrapeEveryS: number;
  readonly afterStartup: MemorySample;
  readonly after: MemorySample;
  /** steadyRssMiB / steadyHeapMiB: medians over the second half of the streaming phase. */
  readonly steadyRssMiB: number;
  readonly steadyHeapMiB: number;
  /** rssSlopeMiBPerMin / heapSlopeMiBPerMin: least-squares growth over the second half (the heap used: the sawtooth). */
  readonly rssSlopeMiBPerMin: number;
  readonly heapSlopeMiBPerMin: number;
  /** fullGcEveryS: seconds between two forced full collections (0: none). */
  readonly fullGcEveryS: number;
  /** retained: the line through the heap retained after each forced full collection of the second phase, and its verdict. */
  readonly retained: HeapTrend;
  /** retainedReadings: the readings after a forced full collection (MiB, seconds since the second phase began). */
  readonly retainedReadings: readonly HeapReading[];
  /** retainedFire: the events fired in the second phase. */
  readonly retainedFire?: FireStats;
  readonly fire: FireStats;
  /** cpuShare: the service's CPU time over the streaming phase's wall time (1 = one core), what its GC costs shows here. */
  readonly cpuShare: number;
  readonly burst: BurstResult;
  readonly samples: readonly MemorySample[];
  /** aged: what was written into the store before the service started (absent: it started on an empty store). */
  readonly aged?: AgedFill;
}

/** MemoryOptions sizes the run. */
export interface MemoryOptions {
  readonly shape?: FleetShape;
  readonly seconds?: number;
  readonly eventsPerS?: number;
  /** burstReturns: job returns in the burst (default one per instance). */
  readonly burstReturns?: number;
  /** keepLog: copy the service's log (and what `BENCH_SERVICE_NODE_ARGS` like `--trace-gc` print) there at the end. */
  readonly keepLog?: string;
  /**
   * scrapeEveryS: read the heap from GET /metrics every N seconds (default 1; RSS is read every second). Each scrape
   * makes the service render 1,000 pools' metrics (~1.3 MiB of garbage, `bench/metrics-render.ts`): 1 s is the worst case, a Prometheus scrape
   * interval (15 s, 60 s by default) is what a user's service sees.
   */
  readonly scrapeEveryS?: number;
  /** aged: start on the state four weeks of running leave (bench/aged-state.ts) instead of an empty store. */
  readonly aged?: boolean;
  /**
   * fullGcEveryS: after the run, stream as long again while the service collects all garbage and reports the heap
   * retained every N seconds (default: 20 readings, at least 1 s apart; 0: no second phase, no verdict on the heap's
   * trend). Each costs the service one full collection (~20-60 ms of CPU here).
   */
  readonly fullGcEveryS?: number;
}

const MIB = 1024 * 1024;
const GC_PROBE = fileURLToPath(new URL('gc-probe.js', import.meta.url));

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** readRetained reads the gc-probe's lines (`{atMs, heapUsedBytes}`) as readings in seconds since `t0Ms`. */
function readRetained(path: string, t0Ms: number): HeapReading[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l !== '').map((line) => {
    const r = JSON.parse(line) as { atMs: number; heapUsedBytes: number };
    return { atS: Math.round(r.atMs - t0Ms) / 1000, heapMiB: Math.round((r.heapUsedBytes / MIB) * 100) / 100, afterFullGc: true };
  });
}

/** heapUsedMiBOf reads nodejs_heap_size_used_bytes from the service's /metrics. */
async function heapUsedMiBOf(url: string): Promise<number> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text()).catch(() => '');
  const m = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(text);
  return m?.[1] === undefined ? Number.NaN : Math.round((Number(m[1]) / MIB) * 10) / 10;
}

/** jobReturns is one `test.ping`-style job's returns from `ids`: what a master's bus carries when a job targets them all. */
function jobReturns(ids: readonly string[], count: number): BusEventSpec[] {
  const jid = '20261202120000000000';
  return Array.from({ length: count }, (_, i) => {
    const id = ids[i % ids.length] ?? 'unknown';
    return {
      tag: `salt/job/${jid}/ret/${id}`,
      data: { cmd: '_return', id, success: true, return: { salt_autoscaler: { ready: true, deployed_at: 1_796_000_000, draining: false } }, retcode: 0, jid, fun: 'grains.item', fun_args: ['salt_autoscaler'] },
    };
  });
}

/** benchMemory runs the service as a child over a streamed fleet and samples its memory. */
export async function benchMemory(opts: MemoryOptions = {}): Promise<MemoryBench> {
  const shape = opts.shape ?? DEFAULT_FLEET;
  const seconds = opts.seconds ?? 20;
  const eventsPerS = opts.eventsPerS ?? 1_000;
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'asc-bench-memory-'));
  const ids = fleetInstanceIds(shape);
  const emu = await startEmulatorProcess(dir, { instances: ids.map((id) => ({ id, provider: FLEET_PROVIDER, state: 'stopped' as const })) });
  const samples: MemorySample[] = [];
  try {
    const port = await freePort();
    const storePath = join(dir, 'state.db');
    const aged = opts.aged === true ? fillAgedStore(storePath, shape, Date.now()) : undefined;
    const configPath = writeConfig(dir, fleetConfig({
      shape, saltUrl: emu.url, storePath, listen: `127.0.0.1:${port}`, heartbeatInterval: '5s', ...(aged === undefined ? {} : { strategy: 'budget' as const }),
    }));
    const fullGcEveryS = opts.fullGcEveryS ?? Math.max(1, Math.round(seconds / 20));
    const gcOut = join(dir, 'gc-probe.jsonl');
    appendFileSync(gcOut, '');
    const service = await startServiceChild(configPath, port, join(dir, 'service.log'), fullGcEveryS > 0
      ? { nodeArgs: ['--expose-gc', `--import=${GC_PROBE}`], env: { BENCH_GC_PROBE_OUT: gcOut } }
      : {});
    try {
      const pid = service.child.pid;
      await waitServiceReady(service, fleetPools(shape).at(-1)?.name ?? '');
      const t0 = performance.now();
      const read = async (heap = true): Promise<MemorySample> => ({
        atS: Math.round((performance.now() - t0) / 100) / 10, rssMiB: rssMiBOf(pid), heapUsedMiB: heap ? await heapUsedMiBOf(service.url) : Number.NaN,
      });
      const scrapeEveryS = opts.scrapeEveryS ?? 1;
      let tick = 0;
      const afterStartup = await read();
      const cpu0 = cpuSecondsOf(pid);
      let sampling = Promise.resolve();
      const sampler = setInterval(() => {
        tick += 1;
        sampling = read(tick % scrapeEveryS === 0).then((s) => { samples.push(s); });
      }, 1_000);
      let fire: FireStats;
      try {
        fire = await fireAtRate(emu.url, eventsPerS, seconds * 1000, busNoise(ids));
      } finally {
        clearInterval(sampler);
        await sampling;
      }
      const cpuShare = Math.round(((cpuSecondsOf(pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100) / 100;
      const after = await read();
      // the retained heap: the same stream as long again, the child collecting all garbage every fullGcEveryS (after
      // the figures above: forced collections keep old space small, 3-12 MiB less RSS)
      let retainedReadings: HeapReading[] = [];
      let retainedFire: FireStats | undefined;
      if (fullGcEveryS > 0 && pid !== undefined) {
        const r0Ms = Date.now();
        const collector = setInterval(() => { process.kill(pid, 'SIGUSR2'); }, fullGcEveryS * 1000);
        try {
          retainedFire = await fireAtRate(emu.url, eventsPerS, seconds * 1000, busNoise(ids));
        } finally {
          clearInterval(collector);
        }
        retainedReadings = readRetained(gcOut, r0Ms);
      }
      // the burst: one job's returns from every minion at once
      const returns = jobReturns(ids, opts.burstReturns ?? ids.length);
      const rssBeforeMiB = rssMiBOf(pid);
      let rssPeakMiB = rssBeforeMiB;
      const peak = setInterval(() => { rssPeakMiB = Math.max(rssPeakMiB, rssMiBOf(pid)); }, 50);
      let received = false;
      try {
        const res = await fetch(`${emu.url}/_emulator/fire-many`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(returns) });
        received = res.ok;
        await res.body?.cancel();
        await new Promise((resolve) => setTimeout(resolve, 5_000));
      } finally {
        clearInterval(peak);
      }
      const half = samples.slice(Math.floor(samples.length / 2));
      const heapHalf = half.filter((s) => Number.isFinite(s.heapUsedMiB));
      return {
        name: 'memory',
        instances: ids.length,
        eventsPerS,
        seconds,
        scrapeEveryS,
        afterStartup,
        after,
        steadyRssMiB: Math.round(median(half.map((s) => s.rssMiB)) * 10) / 10,
        steadyHeapMiB: Math.round(median(heapHalf.map((s) => s.heapUsedMiB)) * 10) / 10,
        rssSlopeMiBPerMin: slopePerMin(half.map((s) => ({ x: s.atS, y: s.rssMiB }))),
        heapSlopeMiBPerMin: slopePerMin(heapHalf.map((s) => ({ x: s.atS, y: s.heapUsedMiB }))),
        fullGcEveryS,
        retained: retainedHeapTrend(retainedReadings),
        retainedReadings,
        ...(retainedFire === undefined ? {} : { retainedFire }),
        fire,
        cpuShare,
        burst: { returns: returns.length, rssBeforeMiB, rssPeakMiB, rssGrowthMiB: Math.round((rssPeakMiB - rssBeforeMiB) * 10) / 10, received },
        samples,
        ...(aged === undefined ? {} : { aged }),
      };
    } finally {
      await service.stop();
      if (opts.keepLog !== undefined) copyFileSync(join(dir, 'service.log'), opts.keepLog);
    }
  } finally {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** formatMemory renders the result as a few lines. */
export function formatMemory(r: MemoryBench): string {
  return [
    `memory (serve as a child process): ${r.instances} instances, ${r.eventsPerS} events/s for ${r.seconds} s (fired ${r.fire.fired}, failed ${r.fire.failed}), /metrics read every ${r.scrapeEveryS} s`,
    r.aged === undefined
      ? '  store: empty at start'
      : `  store: aged 4 weeks (${r.aged.pools} pools x ${r.aged.poolStateBytes} B pool state, ${r.aged.decisions} decisions, ${r.aged.transitions} transitions, ${r.aged.intents} intents; written in ${(r.aged.ms / 1000).toFixed(1)} s)`,
    `  after startup: rss ${r.afterStartup.rssMiB} MiB, heap ${r.afterStartup.heapUsedMiB} MiB`,
    `  steady:        rss ${r.steadyRssMiB} MiB, heap ${r.steadyHeapMiB} MiB (medians of the second half)`,
    `  slope:         rss ${r.rssSlopeMiBPerMin} MiB/min, heap used ${r.heapSlopeMiBPerMin} MiB/min (second half; the heap used is V8's sawtooth)`,
    r.fullGcEveryS > 0
      ? `  retained heap: ${r.retained.slopeMiBPerMin} +- ${r.retained.errorMiBPerMin} MiB/min over ${r.retained.readings} readings in ${r.retained.spanS} s (then, ${r.retainedFire?.fired ?? 0} more events fired, ${r.retainedFire?.failed ?? 0} failed): ${r.retained.verdict}\n`
        + `                 readings after a full GC (every ${r.fullGcEveryS} s; s: MiB): ${r.retainedReadings.map((x) => `${Math.round(x.atS)}: ${x.heapMiB}`).join(', ')}`
      : '  retained heap: not read (--full-gc-every 0)',
    `  after:         rss ${r.after.rssMiB} MiB, heap ${r.after.heapUsedMiB} MiB; service cpu ${r.cpuShare} of a core while streaming`,
    `  burst of ${r.burst.returns} job returns: rss ${r.burst.rssBeforeMiB} -> peak ${r.burst.rssPeakMiB} MiB (+${r.burst.rssGrowthMiB})`,
  ].join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, 'scrape-every': { type: 'string' }, 'full-gc-every': { type: 'string' }, 'keep-log': { type: 'string' }, aged: { type: 'boolean', default: false } }, strict: true });
  const result = await benchMemory({
    ...(values.seconds === undefined ? {} : { seconds: Number(values.seconds) }),
    ...(values['scrape-every'] === undefined ? {} : { scrapeEveryS: Number(values['scrape-every']) }),
    ...(values['keep-log'] === undefined ? {} : { keepLog: values['keep-log'] }),
    ...(values['full-gc-every'] === undefined ? {} : { fullGcEveryS: Number(values['full-gc-every']) }),
    aged: values.aged,
  });
  process.stdout.write(`${formatMemory(result)}\n`);
}
