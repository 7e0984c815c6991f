/**
 * bench/load: the real service (`salt-autoscaler serve` as a child process) under 1,000 Alertmanager webhook
 * requests/s for 60 s while 1,000 salt events/s stream in from the salt-api emulator, all over loopback.
 * `npx tsx bench/load.ts [--seconds 60] [--rate 1000] [--events 1000] [--keep-log <path>] [--keep-calls <path>] [--boot-ms N]
 * [--deploy-ms N] [--store-dir DIR]` (keep the service's log; keep the wave's due times and the salt-api calls the
 * emulator received, to join with the log; the emulator's boot and deploy times, default 30 s each as a cloud VM's,
 * `--boot-ms 50 --deploy-ms 50` for the older setting; where the store lives).
 *
 * ```
 *  bench: fixed-rate scheduler (open loop) --undici, 16 keep-alive connections--> service child: POST /alertmanager/webhook
 *  bench: fixed-rate firer --POST /_emulator/fire-many (a 10 ms tick's events)--> emulator child --SSE--> service child (SaltEventStream -> Engine)
 *  service child --salt-api calls (cloud.action start, grains, ...)--> emulator child (world boots and deploys them)
 * ```
 * Open loop: request i is due at begin + i/rate whether or not earlier ones have answered, and its latency is
 * counted from when it was DUE (not when it was sent), so a stalled service cannot hide its stall by slowing
 * the client down (no coordinated omission). Errors = non-200 answers + failed requests (target 0).
 * RSS of the service child from /proc/<pid>/status: after startup (idle), peak during, after the run.
 * Each pool is asked to scale up (the same alert re-sent with a later endsAt, as Alertmanager repeats it), so
 * real starts reach the emulator while the cooldown holds the rest: the service does real work, not only 200s.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { WEBHOOK_PATH } from '../src/alertmanager/webhook.ts';
import { freePort, writeConfig } from '../test/support/service-process.ts';
import { busNoise, fireAtRate, startEmulatorProcess, type FireStats } from './emulator-process.ts';
import { DEFAULT_FLEET, FLEET_PROVIDER, fleetConfig, fleetInstanceIds, fleetPools, instanceIdOf, scaleUpPayload, type FleetShape } from './fleet.ts';
import { cpuSecondsOf, rssMiBOf, startServiceChild, waitServiceIdle, waitServiceReady } from './service-child.ts';
import { formatStats, latencyStats, type LatencyStats } from './latency-stats.ts';
import { formatMachine, machineLoad, type MachineLoad } from './machine.ts';
import { formatShare, shareOver, threadSample, type ThreadSample, type ThreadShare } from './thread-share.ts';

/** LoadBench is the outcome of one run. */
export interface LoadBench {
  readonly name: 'load';
  readonly seconds: number;
  readonly requestsPerS: number;
  readonly eventsPerS: number;
  readonly requests: number;
  readonly errors: number;
  /** statuses: answers by HTTP status (and `error` for requests that failed without an answer). */
  readonly statuses: Readonly<Record<string, number>>;
  /** latency: from when each request was due to when its answer was complete. */
  readonly latency: LatencyStats;
  /** achievedPerS: answered requests / run time. */
  readonly achievedPerS: number;
  readonly rssBeforeMiB: number;
  readonly rssPeakMiB: number;
  readonly rssAfterMiB: number;
  readonly fire: FireStats;
  /** startsSent: `cloud.action start` calls the emulator answered during the run (real actions taken). */
  readonly startsSent: number;
  /** serviceCpuPercent / emulatorCpuPercent: CPU used during the run, 100 = one full core (loopback: all share the machine). */
  readonly serviceCpuPercent: number;
  readonly emulatorCpuPercent: number;
  /** serviceCpuS: CPU seconds the service used during the run: the cost of the run's fixed work, less noisy than latency on a shared machine. */
  readonly serviceCpuS: number;
  /** benchCpuPercent: this process (the two fixed-rate clients). */
  readonly benchCpuPercent: number;
  /** secondHalf: latency of the requests due in the second half of the run (steady state after the first wave). */
  readonly secondHalf: LatencyStats;
  /** machine: contention at the end of the run (other processes share the CPUs). */
  readonly machine: MachineLoad;
  /** p99BySecondMs: p99 latency of the requests due in each second of the run (where a stall happened). */
  readonly p99BySecondMs: readonly number[];
  /**
   * wave: the first second, every pool asked to scale up once (1,000 pools in the same second): from each pool's
   * first notification (when it was due) to the moment its `cloud.action start` reached the emulator.
   * `missing` = pools whose start never arrived (counted as errors of the wave).
   * `cpuToCall`: the same span in the service's CPU time (user + system, all its threads, read from /proc every
   * 10 ms, in 10 ms ticks) instead of wall time: what the span would take if the service had a core to itself and
   * nothing waited, so it can be compared across runs on a shared, loaded machine where the wall time cannot.
   * `cpuMs`: the service's CPU time from the first pool's first notification to the last pool's start (the whole wave's
   * work, the noise events read meanwhile included): its cost per scale-up, whether or not the service kept up.
   */
  readonly wave: { readonly pools: number; readonly toCall: LatencyStats; readonly cpuToCall: LatencyStats; readonly missing: number; readonly cpuMs: number; readonly fromMs: number; readonly toMs: number };
  /**
   * waveThreads: over the wave (first notification to last start), the service's main thread's share of the time on a
   * core, its other threads (V8's workers, libuv) in cores, and how busy the machine was (thread-share.ts): a main
   * thread well below 100 % on a busy machine waited for a core. Undefined where /proc cannot tell.
   */
  readonly waveThreads?: ThreadShare | undefined;
  /** idleWaitMs: how long the run waited, once every pool was evaluated, for the service to go idle (its startup's last reconcile). */
  readonly idleWaitMs: number;
  /** bootMs / deployMs: the emulator's boot and deploy times of a started instance in this run. */
  readonly bootMs: number;
  readonly deployMs: number;
}

/** LoadOptions sizes the run (defaults: 60 s, 1,000 requests/s, 1,000 events/s, 1,000 pools x 10). */
export interface LoadOptions {
  readonly durationS?: number;
  readonly requestsPerS?: number;
  readonly eventsPerS?: number;
  readonly shape?: FleetShape;
  /** keepLogPath: where to copy the service's log after the run (to read its timeline; default: not kept). */
  readonly keepLogPath?: string;
  /**
   * keepCallsPath: where to write, as JSON, each wave pool's first due time (`askedAtMs`, epoch ms) and every call the
   * emulator received during the run (`calls`: `receivedAtMs`, `atMs`, `fun`, `kwarg`, ...), to split a pool's wave
   * time into its stages with the kept log (default: not kept).
   */
  readonly keepCallsPath?: string;
  /**
   * bootMs / deployMs: the emulator's boot and deploy times of a started instance (default LOAD_BOOT_MS / LOAD_DEPLOY_MS,
   * 30 s each: a real cloud VM's minion starts 30 s or more after `cloud.action start` answers; the emulator's own 50 ms,
   * the default until 2026-12-06, put every started instance's boot and deploy events inside the wave's second).
   */
  readonly bootMs?: number;
  readonly deployMs?: number;
  /** storeDir: where the run's files (the SQLite store among them) live (default /dev/shm when present: tmpfs, no fsync cost). */
  readonly storeDir?: string;
}

/**
 * LOAD_BOOT_MS / LOAD_DEPLOY_MS: how long a started instance takes to boot (its minion start event) and then to deploy
 * (its ready event) in the load bench. A cloud VM's minion starts 30 s or more after the start call answers (the
 * simulator's default start latency is 60 s, its deploy 180 s); `--boot-ms 50 --deploy-ms 50` is the older setting.
 */
export const LOAD_BOOT_MS = 30_000;
export const LOAD_DEPLOY_MS = 30_000;

const WEBHOOK_TOKEN = 'bench-load-token';
const CONNECTIONS = 16;

/** StartCall is one `cloud.action start` the emulator received: the instance and when the request arrived. */
interface StartCall {
  readonly id: string;
  readonly receivedAtMs: number;
}

async function startCalls(emulatorUrl: string): Promise<StartCall[]> {
  const res = await fetch(`${emulatorUrl}/_emulator/calls`);
  const calls: unknown = await res.json();
  if (!Array.isArray(calls)) return [];
  const out: StartCall[] = [];
  for (const c of calls as { fun?: string; receivedAtMs?: number; kwarg?: { func?: string; instances?: unknown } }[]) {
    if (c.fun !== 'cloud.action' || c.kwarg?.func !== 'start' || !Array.isArray(c.kwarg.instances)) continue;
    for (const id of c.kwarg.instances) out.push({ id: String(id), receivedAtMs: c.receivedAtMs ?? Number.NaN });
  }
  return out;
}

/** CpuSample is the service's CPU time (s) at a moment (epoch ms). */
type CpuSample = readonly [atMs: number, cpuS: number];

/** cpuAt is the service's CPU time at `atMs`, interpolated between the samples around it (NaN outside them). */
export function cpuAt(samples: readonly CpuSample[], atMs: number): number {
  let lo = 0;
  let hi = samples.length - 1;
  const first = samples[lo];
  const last = samples[hi];
  if (first === undefined || last === undefined || atMs < first[0] || atMs > last[0]) return Number.NaN;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((samples[mid]?.[0] ?? Number.NaN) <= atMs) lo = mid;
    else hi = mid;
  }
  const [a, ca] = samples[lo] ?? first;
  const [b, cb] = samples[hi] ?? last;
  return b === a ? ca : ca + ((cb - ca) * (atMs - a)) / (b - a);
}

/** waveOf matches each pool's first notification (epoch ms) with the first start of one of its instances after it. */
function waveOf(firstAskedAtMs: ReadonlyMap<string, number>, poolOfId: ReadonlyMap<string, string>, starts: readonly StartCall[], cpu: readonly CpuSample[]): LoadBench['wave'] {
  const firstStart = new Map<string, number>();
  for (const s of starts) {
    const pool = poolOfId.get(s.id);
    const asked = pool === undefined ? undefined : firstAskedAtMs.get(pool);
    if (pool === undefined || asked === undefined || s.receivedAtMs < asked - 5) continue;
    firstStart.set(pool, Math.min(firstStart.get(pool) ?? Number.POSITIVE_INFINITY, s.receivedAtMs));
  }
  const toCall: number[] = [];
  const cpuToCall: number[] = [];
  let firstAsked = Number.POSITIVE_INFINITY;
  let lastStart = Number.NEGATIVE_INFINITY;
  for (const [pool, asked] of firstAskedAtMs) {
    const at = firstStart.get(pool);
    firstAsked = Math.min(firstAsked, asked);
    if (at === undefined) continue;
    lastStart = Math.max(lastStart, at);
    toCall.push(Math.max(0, at - asked));
    const cpuMs = 1000 * (cpuAt(cpu, at) - cpuAt(cpu, asked));
    if (Number.isFinite(cpuMs)) cpuToCall.push(Math.max(0, cpuMs));
  }
  const cpuMs = 1000 * (cpuAt(cpu, lastStart) - cpuAt(cpu, firstAsked));
  return { pools: firstAskedAtMs.size, toCall: latencyStats(toCall), cpuToCall: latencyStats(cpuToCall), missing: firstAskedAtMs.size - toCall.length, cpuMs, fromMs: firstAsked, toMs: lastStart };
}

/** benchLoad starts the emulator and the service as child processes and drives both at fixed rates. */
export async function benchLoad(opts: LoadOptions = {}): Promise<LoadBench> {
  const seconds = opts.durationS ?? 60;
  const requestsPerS = opts.requestsPerS ?? 1_000;
  const eventsPerS = opts.eventsPerS ?? 1_000;
  const shape = opts.shape ?? DEFAULT_FLEET;
  const dir = mkdtempSync(join(opts.storeDir ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir()), 'asc-bench-load-'));
  const ids = fleetInstanceIds(shape);
  const delays = { bootMs: opts.bootMs ?? LOAD_BOOT_MS, deployMs: opts.deployMs ?? LOAD_DEPLOY_MS };
  const emu = await startEmulatorProcess(dir, { instances: ids.map((id) => ({ id, provider: FLEET_PROVIDER, state: 'stopped' as const })), delays });
  const port = await freePort();
  const configPath = writeConfig(dir, fleetConfig({
    shape, saltUrl: emu.url, storePath: join(dir, 'state.db'), listen: `127.0.0.1:${port}`, webhookToken: WEBHOOK_TOKEN, heartbeatInterval: '5s',
  }));
  const service = await startServiceChild(configPath, port, join(dir, 'service.log'));
  const pid = service.child.pid;
  const http = new Pool(service.url, { connections: CONNECTIONS, pipelining: 1 });
  const statuses: Record<string, number> = {};
  const samples: number[] = [];
  const bySecond: number[][] = [];
  let rssPeakMiB = 0;
  try {
    // ready = the event stream is open and startup is over: the first reconcile ran and every pool was evaluated
    // once (its first hold is recorded), so the load does not start inside the service's startup work
    await waitServiceReady(service, fleetPools(shape).at(-1)?.name ?? '');
    // and idle: until branch s27-reconcile the stream's connect gap asked for a second reconcile of the 10,000
    // instances, which could still run (1-2 CPU-s) once every pool was evaluated; a wave started inside startup work
    // measures the startup, not the scale-ups, so the bench still waits for the service to be idle
    const idleWaitMs = await waitServiceIdle(pid);
    const rssBeforeMiB = rssMiBOf(pid);
    const startsBefore = (await startCalls(emu.url)).length;
    const pools = fleetPools(shape);
    const firstAskedAtMs = new Map<string, number>();
    const alertStartMs = Date.now();
    // the same alert re-sent, with endsAt moved on each second (Alertmanager's repeat). Each pool's body is cut once,
    // before the clock starts, around its endsAt, so a request costs a concatenation: rebuilding 1,000 bodies at each
    // second stalled this (measuring) loop 4-12 ms, counted as the service's latency.
    const endsAtField = /"endsAt":"[^"]*"/;
    const templates = pools.map((p, k) => {
      const body = JSON.stringify(scaleUpPayload(p, alertStartMs, 5 + (k % 7)));
      const at = endsAtField.exec(body);
      if (at === null) throw new Error('bench: the scale-up payload has no endsAt');
      return { before: `${body.slice(0, at.index)}"endsAt":"`, after: `"${body.slice(at.index + at[0].length)}` };
    });
    let endsAt = '';
    let endsAtSecond = -1;
    const bodyFor = (i: number): string => {
      const second = Math.floor(i / requestsPerS);
      if (second !== endsAtSecond) {
        endsAtSecond = second;
        endsAt = new Date(Date.now() + 15 * 60_000).toISOString();
      }
      const t = templates[i % pools.length];
      return t === undefined ? '' : `${t.before}${endsAt}${t.after}`;
    };
    const total = seconds * requestsPerS;
    const inFlight = new Set<Promise<void>>();
    const rssTimer = setInterval(() => { rssPeakMiB = Math.max(rssPeakMiB, rssMiBOf(pid)); }, 500);
    // the service's CPU time every 10 ms (the wave's span in CPU time); a sample costs this process ~20 us
    const cpuSamples: CpuSample[] = [[Date.now(), cpuSecondsOf(pid)]];
    const cpuTimer = setInterval(() => { cpuSamples.push([Date.now(), cpuSecondsOf(pid)]); }, 10);
    // the service's threads and the machine every 100 ms (a sample reads ~12 small /proc files)
    const threadSamples: ThreadSample[] = [];
    const keepThreads = (): void => { const x = threadSample(pid, Date.now()); if (x !== undefined) threadSamples.push(x); };
    keepThreads();
    const threadTimer = setInterval(keepThreads, 100);
    const firing = fireAtRate(emu.url, eventsPerS, seconds * 1000, busNoise(ids));
    const begin = performance.now();
    const cpuBefore = { service: cpuSecondsOf(pid), emulator: cpuSecondsOf(emu.child.pid), bench: process.cpuUsage() };
    let sent = 0;
    let elapsedS: number;
    let fire: FireStats;
    let cpu: { service: number; emulator: number; bench: number; serviceS: number };
    try {
      while (sent < total) {
        const due = Math.min(total, Math.floor(((performance.now() - begin) * requestsPerS) / 1000) + 1);
        while (sent < due) {
          const i = sent;
          sent += 1;
          const dueMs = begin + (i * 1000) / requestsPerS;
          const pool = pools[i % pools.length];
          if (pool === undefined) continue;
          if (i < requestsPerS && !firstAskedAtMs.has(pool.name)) firstAskedAtMs.set(pool.name, performance.timeOrigin + dueMs);
          const body = bodyFor(i);
          const p: Promise<void> = http.request({
            path: WEBHOOK_PATH, method: 'POST', body,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
          }).then(async (res) => {
            await res.body.dump();
            const latencyMs = performance.now() - dueMs;
            samples.push(latencyMs);
            (bySecond[Math.floor(i / requestsPerS)] ??= []).push(latencyMs);
            statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
          }, () => {
            statuses['error'] = (statuses['error'] ?? 0) + 1;
          }).finally(() => { inFlight.delete(p); });
          inFlight.add(p);
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await Promise.all([...inFlight]);
      elapsedS = (performance.now() - begin) / 1000;
      cpu = {
        service: Math.round((100 * (cpuSecondsOf(pid) - cpuBefore.service)) / elapsedS),
        emulator: Math.round((100 * (cpuSecondsOf(emu.child.pid) - cpuBefore.emulator)) / elapsedS),
        bench: Math.round(((({ user, system }) => user + system)(process.cpuUsage(cpuBefore.bench)) / 1e4) / elapsedS),
        serviceS: Math.round((cpuSecondsOf(pid) - cpuBefore.service) * 100) / 100,
      };
      fire = await firing;
    } finally {
      clearInterval(rssTimer);
      clearInterval(cpuTimer);
      clearInterval(threadTimer);
    }
    const starts = await startCalls(emu.url);
    if (opts.keepCallsPath !== undefined) {
      const calls: unknown = await (await fetch(`${emu.url}/_emulator/calls`)).json();
      writeFileSync(opts.keepCallsPath, JSON.stringify({ askedAtMs: Object.fromEntries(firstAskedAtMs), calls }));
    }
    const startsSent = starts.length - startsBefore;
    const poolOfId = new Map<string, string>();
    for (const p of pools) for (let k = 1; k <= shape.instancesPerPool; k += 1) poolOfId.set(instanceIdOf(p.env, p.instanceType, k), p.name);
    const wave = waveOf(firstAskedAtMs, poolOfId, starts.slice(startsBefore), cpuSamples);
    const rssAfterMiB = rssMiBOf(pid);
    const errors = Object.entries(statuses).filter(([status]) => status !== '200').reduce((a, [, n]) => a + n, 0);
    return {
      name: 'load',
      seconds,
      requestsPerS,
      eventsPerS,
      requests: seconds * requestsPerS,
      errors,
      statuses,
      latency: latencyStats(samples),
      achievedPerS: Math.round(samples.length / elapsedS),
      rssBeforeMiB,
      rssPeakMiB,
      rssAfterMiB,
      fire,
      startsSent,
      serviceCpuPercent: cpu.service,
      emulatorCpuPercent: cpu.emulator,
      serviceCpuS: cpu.serviceS,
      benchCpuPercent: cpu.bench,
      machine: machineLoad(),
      secondHalf: latencyStats(bySecond.slice(Math.floor(seconds / 2)).flatMap((xs) => xs ?? [])),
      p99BySecondMs: Array.from(bySecond, (xs) => Math.round(latencyStats(xs ?? []).p99Ms)),
      wave,
      waveThreads: shareOver(threadSamples, wave.fromMs, wave.toMs),
      idleWaitMs,
      bootMs: delays.bootMs,
      deployMs: delays.deployMs,
    };
  } finally {
    await http.close();
    await service.stop();
    await emu.close();
    if (opts.keepLogPath !== undefined) copyFileSync(join(dir, 'service.log'), opts.keepLogPath);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** formatLoad renders the result as a few lines. */
export function formatLoad(r: LoadBench): string {
  return [
    `load: ${r.requestsPerS} webhook req/s for ${r.seconds} s + ${r.eventsPerS} salt events/s (fired ${r.fire.fired}, failed ${r.fire.failed})`,
    `  latency (from due time): p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms, max ${r.latency.maxMs.toFixed(2)} ms (n=${r.latency.n}, achieved ${r.achievedPerS}/s)`,
    `  second half: p50 ${r.secondHalf.p50Ms.toFixed(2)} ms, p99 ${r.secondHalf.p99Ms.toFixed(2)} ms (n=${r.secondHalf.n})`,
    `  wave (first second, ${r.wave.pools} pools asked once each): notification -> cloud.action start at the emulator ${formatStats(r.wave.toCall)}; pools without a start: ${r.wave.missing}`,
    `  wave in the service's CPU time (what a core of its own would take): p50 ${r.wave.cpuToCall.p50Ms.toFixed(0)} ms, p99 ${r.wave.cpuToCall.p99Ms.toFixed(0)} ms (n=${r.wave.cpuToCall.n}); the whole wave ${r.wave.cpuMs.toFixed(0)} ms of service CPU (${((1000 * r.wave.cpuMs) / Math.max(1, r.wave.pools - r.wave.missing)).toFixed(0)} us a scale-up)`,
    ...(r.waveThreads === undefined ? [] : [`  wave's threads: ${formatShare(r.waveThreads)}`]),
    `  errors: ${r.errors} (${JSON.stringify(r.statuses)}); starts sent to salt-api: ${r.startsSent}`,
    `  service rss: before ${r.rssBeforeMiB} MiB, peak ${r.rssPeakMiB} MiB, after ${r.rssAfterMiB} MiB`,
    `  p99 per second (ms): ${r.p99BySecondMs.join(' ')}`,
    `  cpu during the run: service ${r.serviceCpuPercent}%, emulator ${r.emulatorCpuPercent}%, bench clients ${r.benchCpuPercent}% (100% = one core); service ${r.serviceCpuS} CPU-s`,
    `  emulator boot / deploy of a started instance: ${r.bootMs} / ${r.deployMs} ms; waited ${r.idleWaitMs} ms for the service to go idle after its startup`,
    `  machine: ${formatMachine(r.machine)}`,
  ].join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, rate: { type: 'string' }, events: { type: 'string' }, 'keep-log': { type: 'string' }, 'keep-calls': { type: 'string' }, 'boot-ms': { type: 'string' }, 'deploy-ms': { type: 'string' }, 'store-dir': { type: 'string' } }, strict: true });
  const result = await benchLoad({
    ...(values.seconds === undefined ? {} : { durationS: Number(values.seconds) }),
    ...(values.rate === undefined ? {} : { requestsPerS: Number(values.rate) }),
    ...(values.events === undefined ? {} : { eventsPerS: Number(values.events) }),
    ...(values['keep-log'] === undefined ? {} : { keepLogPath: values['keep-log'] }),
    ...(values['keep-calls'] === undefined ? {} : { keepCallsPath: values['keep-calls'] }),
    ...(values['boot-ms'] === undefined ? {} : { bootMs: Number(values['boot-ms']) }),
    ...(values['deploy-ms'] === undefined ? {} : { deployMs: Number(values['deploy-ms']) }),
    ...(values['store-dir'] === undefined ? {} : { storeDir: values['store-dir'] }),
  });
  process.stdout.write(`${formatLoad(result)}\n`);
}
