/**
 * jobs: the simulated workload as a scheduler sees it: jobs of whole GPUs placed on READY instances, so an
 * instance is idle exactly when no job runs on it (the answer of the idle check), not when "free GPUs / 8" says so.
 *
 * ```
 *   demand rises by d GPUs ──► new jobs, queued: floor(d / G) jobs of G GPUs, then one of the rest (G = GPUs/instance)
 *   demand falls by d GPUs ──► d GPUs of work end: queued jobs first (newest first), then running jobs on the least
 *                              loaded instance first (smallest job first); a job that loses part of its GPUs runs on smaller
 *   every minute            ──► place queued jobs in arrival order (a job that does not fit lets later ones pass),
 *                              each on the ready instance with the fewest free GPUs that still holds it (best fit)
 *   an instance leaves ready ─► its jobs go back to the head of the queue
 * ```
 *
 * Deterministic: the trace alone decides the jobs (no randomness), and ties go to the instance id order. Ending the
 * work of the least loaded instances first is the world a consolidating scheduler hopes for; it keeps the packing
 * close to ceil(demand / G) instances, so the oracle (which assumes perfect packing) stays a fair lower bound.
 */

import { byCodeUnits } from '../core/order.ts';

interface Job {
  gpus: number;
  readonly queuedAtMinute: number;
}

/** WaitHistogram counts jobs by the whole minutes they waited for an instance (index = minutes). */
export type WaitHistogram = number[];

/** JobBook is the scheduler's state: the queue, the jobs on each ready instance, and how long placed jobs waited. */
export class JobBook {
  readonly #gpusPerInstance: number;
  #demand = 0;
  #queue: Job[] = [];
  readonly #hosts = new Map<string, Job[]>();
  readonly #load = new Map<string, number>();
  /** ids: the ready instances in id order (placement ties go to the first). */
  #ids: readonly string[] = [];
  /** waits: jobs by minutes waited, counted when placed or when they end (or the trace ends) still queued. */
  readonly waits: WaitHistogram = [];

  constructor(gpusPerInstance: number) {
    this.#gpusPerInstance = gpusPerInstance;
  }

  /** follow moves the work to `demandGpus` at `minute`: new jobs on a rise, ended work on a fall. */
  follow(demandGpus: number, minute: number): void {
    let delta = demandGpus - this.#demand;
    this.#demand = demandGpus;
    while (delta > 0) {
      const gpus = Math.min(delta, this.#gpusPerInstance);
      this.#queue.push({ gpus, queuedAtMinute: minute });
      delta -= gpus;
    }
    if (delta < 0) this.#end(-delta, minute);
  }

  #end(gpus: number, minute: number): void {
    let left = gpus;
    while (left > 0 && this.#queue.length > 0) {
      const job = this.#queue[this.#queue.length - 1] as Job;
      const taken = Math.min(left, job.gpus);
      job.gpus -= taken;
      left -= taken;
      if (job.gpus === 0) {
        this.#queue.pop();
        this.#countWait(minute - job.queuedAtMinute);
      }
    }
    if (left === 0) return;
    const byLoad = [...this.#hosts.keys()].sort((a, b) => (this.#load.get(a) ?? 0) - (this.#load.get(b) ?? 0) || byCodeUnits(a, b));
    for (const id of byLoad) {
      const jobs = this.#hosts.get(id) ?? [];
      jobs.sort((a, b) => a.gpus - b.gpus);
      while (left > 0 && jobs.length > 0) {
        const job = jobs[0] as Job;
        const taken = Math.min(left, job.gpus);
        job.gpus -= taken;
        left -= taken;
        this.#load.set(id, (this.#load.get(id) ?? 0) - taken);
        if (job.gpus === 0) jobs.shift();
      }
      if (left === 0) return;
    }
  }

  /** hostsAre makes `readyIds` the instances jobs may run on: a new one joins empty, a gone one requeues its jobs. */
  hostsAre(readyIds: readonly string[]): void {
    const ready = new Set(readyIds);
    for (const [id, jobs] of this.#hosts) {
      if (ready.has(id)) continue;
      this.#queue.unshift(...jobs);
      this.#hosts.delete(id);
      this.#load.delete(id);
    }
    for (const id of readyIds) {
      if (this.#hosts.has(id)) continue;
      this.#hosts.set(id, []);
      this.#load.set(id, 0);
    }
    this.#ids = [...this.#hosts.keys()].sort();
  }

  /** place puts queued jobs on ready instances, in arrival order, each where it fits best. */
  place(minute: number): void {
    if (this.#queue.length === 0) return;
    const ids = this.#ids;
    const waiting: Job[] = [];
    for (const job of this.#queue) {
      let best: string | undefined;
      let bestFree = Number.POSITIVE_INFINITY;
      for (const id of ids) {
        const free = this.#gpusPerInstance - (this.#load.get(id) ?? 0);
        if (free >= job.gpus && free < bestFree) {
          best = id;
          bestFree = free;
        }
      }
      if (best === undefined) {
        waiting.push(job);
        continue;
      }
      this.#hosts.get(best)?.push(job);
      this.#load.set(best, (this.#load.get(best) ?? 0) + job.gpus);
      this.#countWait(minute - job.queuedAtMinute);
    }
    this.#queue = waiting;
  }

  /** finish counts the jobs still queued at the end of the trace as having waited until `minute`. */
  finish(minute: number): void {
    for (const job of this.#queue) this.#countWait(minute - job.queuedAtMinute);
    this.#queue = [];
  }

  #countWait(minutes: number): void {
    this.waits[minutes] = (this.waits[minutes] ?? 0) + 1;
  }

  /** queuedGpus is the demand waiting for an instance now. */
  queuedGpus(): number {
    let gpus = 0;
    for (const job of this.#queue) gpus += job.gpus;
    return gpus;
  }

  /** busy says whether a job runs on the instance (the idle check's answer is the opposite). */
  busy(id: string): boolean {
    return (this.#load.get(id) ?? 0) > 0;
  }

  /** jobsOn lists the GPUs of each job running on the instance. */
  jobsOn(id: string): readonly number[] {
    return (this.#hosts.get(id) ?? []).map((j) => j.gpus);
  }
}

/** waitPercentile is the wait (minutes) that share `p` of all jobs did not exceed. */
export function waitPercentile(waits: WaitHistogram, p: number): number {
  let total = 0;
  for (const n of waits) total += n ?? 0;
  if (total === 0) return 0;
  const rank = Math.ceil(p * total);
  let seen = 0;
  for (let minutes = 0; minutes < waits.length; minutes += 1) {
    seen += waits[minutes] ?? 0;
    if (seen >= rank) return minutes;
  }
  return waits.length - 1;
}
