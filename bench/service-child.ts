/**
 * service-child: `salt-autoscaler serve` (the built bin/, as users run it) as a child process of a bench, with its
 * log going to a file, and what a bench reads about it from /proc: RSS and CPU time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { taskCpuS } from './thread-share.ts';

/** rssMiBOf is the VmRSS of a process in MiB (NaN when it is gone). */
export function rssMiBOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? Number.NaN : Math.round((Number(m[1]) / 1024) * 10) / 10;
  } catch {
    return Number.NaN;
  }
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** ServiceChild is `salt-autoscaler serve` as a child process whose log goes to a file (not through this process). */
export interface ServiceChild {
  readonly url: string;
  readonly child: ChildProcess;
  logTail(): string;
  stop(): Promise<void>;
}

/** ServiceChildOptions adds to the child what a bench needs to observe it. */
export interface ServiceChildOptions {
  /** nodeArgs: node flags of the bench's own (before those of BENCH_SERVICE_NODE_ARGS), e.g. a preloaded probe. */
  readonly nodeArgs?: readonly string[];
  /** env: variables added to the child's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * startServiceChild spawns `bin/salt-autoscaler.js serve` like test/support/service-process.ts does, but with
 * stdout/stderr going to a file: at 1,000 requests/s the info log is ~300 KB/s, and reading it through a pipe
 * would cost this (measuring) process CPU and could stall the service on a full pipe.
 */
export async function startServiceChild(configPath: string, port: number, logPath: string, opts: ServiceChildOptions = {}): Promise<ServiceChild> {
  const fd = openSync(logPath, 'a');
  // BENCH_SERVICE_NODE_ARGS passes node flags to the service only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
  const nodeArgs = [...(opts.nodeArgs ?? []), ...(process.env['BENCH_SERVICE_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '')];
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'bin/salt-autoscaler.js'), 'serve', '--config', configPath], {
    cwd: ROOT, env: { ...process.env, ...opts.env, SALT_AUTOSCALER_LOG_LEVEL: 'info' }, stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const logTail = (): string => readFileSync(logPath, 'utf8').slice(-3000);
  const deadline = performance.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}:\n${logTail()}`);
    const res = await fetch(`${url}/healthz`).catch(() => undefined);
    if (res?.ok === true) break;
    if (performance.now() > deadline) { child.kill('SIGKILL'); throw new Error(`service did not answer /healthz:\n${logTail()}`); }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url, child, logTail,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** cpuSecondsOf is the user + system CPU time a process has used so far, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    return taskCpuS(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return Number.NaN;
  }
}

/**
 * waitServiceReady waits until the service is ready and startup is over: the event stream is open, the first
 * reconcile ran and every pool was evaluated once (the last pool's first hold is recorded), so what a bench
 * measures does not start inside the service's startup work.
 */
export async function waitServiceReady(service: ServiceChild, lastPool: string, timeoutMs = 120_000): Promise<void> {
  const readyBy = performance.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${service.url}/readyz`).catch(() => undefined);
    const decisions = res?.status === 200
      ? await fetch(`${service.url}/api/decisions?pool=${encodeURIComponent(lastPool)}`).then((r) => r.json() as Promise<unknown>).catch(() => undefined)
      : undefined;
    if (Array.isArray(decisions) && decisions.length > 0) return;
    if (performance.now() > readyBy) throw new Error(`service not ready within ${timeoutMs / 1000} s:\n${service.logTail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * waitServiceIdle waits until the service has used at most `maxCpuShare` of a core over the last `windowMs` (its
 * startup work is over: the first evaluations' writes and, before branch s27-reconcile, the second reconcile the
 * stream's connect gap asked for), sampling its CPU time every 50 ms; returns how long it waited (ms).
 */
export async function waitServiceIdle(pid: number | undefined, opts: { windowMs?: number; maxCpuShare?: number; timeoutMs?: number } = {}): Promise<number> {
  const windowMs = opts.windowMs ?? 500;
  const maxCpuS = ((opts.maxCpuShare ?? 0.05) * windowMs) / 1000;
  const began = performance.now();
  const samples: [number, number][] = [];
  for (;;) {
    const now = performance.now();
    samples.push([now, cpuSecondsOf(pid)]);
    while (samples.length > 1 && (samples[1]?.[0] ?? now) <= now - windowMs) samples.shift();
    const [at, cpu] = samples[0] ?? [now, 0];
    if (now - at >= windowMs - 1 && (samples.at(-1)?.[1] ?? 0) - cpu <= maxCpuS) return Math.round(now - began);
    if (now - began > (opts.timeoutMs ?? 60_000)) throw new Error('service did not go idle after its startup');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
