/**
 * thread-share: where the service's CPU time came from during a window, thread by thread, and how busy the machine
 * was: the load bench's wave says with it whether a slow wave is the service's own work (its main thread on a core
 * all along) or a main thread that waited for a core (a busy 2-core machine: V8's worker threads, the emulator,
 * the bench's client). Linux only (/proc); elsewhere a sample is undefined and the bench says nothing.
 *
 * ```
 *   every 100 ms: /proc/<pid>/task/<tid>/stat (utime + stime; the main thread's tid is the pid) + /proc/stat line 1
 *   shareOver(samples, from, to): the samples just outside the window -> main thread's share of the window,
 *     the other threads' cores, the machine's busy share (everything but idle and iowait)
 * ```
 */
import { readdirSync, readFileSync } from 'node:fs';

/** TICKS_PER_S: the kernel's clock ticks a second in /proc (USER_HZ, 100 on Linux). */
const TICKS_PER_S = 100;

/** ThreadSample is one reading: the service's main thread and its other threads in CPU seconds, the machine in ticks. */
export interface ThreadSample {
  readonly atMs: number;
  readonly mainS: number;
  readonly otherS: number;
  readonly machineBusy: number;
  readonly machineTotal: number;
}

/** ThreadShare is a window's use: the main thread's share of it, the other threads in cores, the machine's busy share. */
export interface ThreadShare {
  readonly windowMs: number;
  readonly mainShare: number;
  readonly otherCores: number;
  readonly machineBusy: number;
}

/** taskCpuS reads a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat line's utime + stime in seconds (the fields after the command's closing paren): a thread, or a whole process (service-child.ts cpuSecondsOf). */
export function taskCpuS(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // after the command: state is field 3, utime 14 and stime 15 (1-based, man proc) -> indexes 11 and 12 here
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** machineTicks reads /proc/stat's first line: busy = every column but idle and iowait, total = all of them. */
export function machineTicks(procStat: string): { readonly busy: number; readonly total: number } {
  const cols = (procStat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  const total = cols.reduce((s, x) => s + x, 0);
  return { busy: total - (cols[3] ?? 0) - (cols[4] ?? 0), total };
}

/** threadSample reads the service's threads and the machine now; undefined when /proc cannot tell (not Linux, gone). */
export function threadSample(pid: number | undefined, atMs: number): ThreadSample | undefined {
  if (pid === undefined) return undefined;
  try {
    let mainS = 0;
    let otherS = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const s = taskCpuS(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      if (tid === String(pid)) mainS = s;
      else otherS += s;
    }
    const { busy, total } = machineTicks(readFileSync('/proc/stat', 'utf8'));
    return { atMs, mainS, otherS, machineBusy: busy, machineTotal: total };
  } catch {
    return undefined;
  }
}

/**
 * shareOver is the use over [fromMs, toMs], read between the last sample at or before fromMs and the first at or
 * after toMs (so the window it measures holds the one asked, and says how long it is); undefined without both.
 */
export function shareOver(samples: readonly ThreadSample[], fromMs: number, toMs: number): ThreadShare | undefined {
  const before = samples.filter((s) => s.atMs <= fromMs).at(-1);
  const after = samples.find((s) => s.atMs >= toMs);
  if (before === undefined || after === undefined || after.atMs <= before.atMs) return undefined;
  const windowS = (after.atMs - before.atMs) / 1000;
  const machineTotal = after.machineTotal - before.machineTotal;
  return {
    windowMs: after.atMs - before.atMs,
    mainShare: (after.mainS - before.mainS) / windowS,
    otherCores: (after.otherS - before.otherS) / windowS,
    machineBusy: machineTotal > 0 ? (after.machineBusy - before.machineBusy) / machineTotal : Number.NaN,
  };
}

/** formatShare is the bench's line for a window's use. */
export function formatShare(s: ThreadShare): string {
  const pct = (x: number): string => `${Math.round(100 * x)} %`;
  return `the service's main thread on a core ${pct(s.mainShare)} of it (${(s.windowMs / 1000).toFixed(2)} s read), its other threads ${s.otherCores.toFixed(2)} of a core, the machine ${pct(s.machineBusy)} busy`;
}
