/**
 * series-ring: a pool's chart samples (the status page's workload / ready / paid lines), the newest `capacity` of
 * them, kept as columns of numbers in a ring instead of one object per sample.
 *
 * ```
 *   push ──► [ atMs | workload (NaN = unknown) | ready | total ] at `next`, next = (next + 1) % capacity
 *   points(limit) ──► the newest `limit` samples as SeriesPoint objects, oldest first (built on read)
 * ```
 * Why: every pool keeps SERIES_MAX samples once it has run a few hours (one per evaluation, every 15 s by default):
 * as objects that is 63 MiB of heap for 1,000 pools, as columns 17 MiB (24 bytes a sample; bench/series-memory.ts).
 */
/** SeriesPoint is one sample of the status page chart: workload, ready and paid instances at a time. */
export interface SeriesPoint {
  readonly atMs: number;
  readonly workload?: number;
  readonly ready: number;
  readonly total: number;
}

/** SERIES_MAX is how many chart samples a pool keeps (3 hours at the default 15 s evaluate interval). */
export const SERIES_MAX = 720;

/** SeriesRing keeps the newest `capacity` samples of one pool; the columns grow to `capacity` as samples come. */
export class SeriesRing {
  readonly capacity: number;
  #atMs: Float64Array;
  #workload: Float64Array;
  #ready: Uint32Array;
  #total: Uint32Array;
  #size = 0;
  /** #next: the slot the next sample goes to (once full, the oldest sample's). */
  #next = 0;

  constructor(capacity: number = SERIES_MAX) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`a series ring holds at least one sample, got capacity ${capacity}`);
    this.capacity = capacity;
    const initial = Math.min(capacity, 16);
    this.#atMs = new Float64Array(initial);
    this.#workload = new Float64Array(initial);
    this.#ready = new Uint32Array(initial);
    this.#total = new Uint32Array(initial);
  }

  /** length is the number of samples held (at most capacity). */
  get length(): number {
    return this.#size;
  }

  /** push keeps one sample, dropping the oldest when the ring is full. */
  push(point: SeriesPoint): void {
    if (this.#size < this.capacity && this.#size === this.#atMs.length) this.#grow();
    const slot = this.#next;
    this.#atMs[slot] = point.atMs;
    this.#workload[slot] = point.workload ?? Number.NaN;
    this.#ready[slot] = point.ready;
    this.#total[slot] = point.total;
    this.#next = (slot + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size += 1;
  }

  /** last is the newest sample, or undefined when none was kept. */
  last(): SeriesPoint | undefined {
    return this.#size === 0 ? undefined : this.#at((this.#next - 1 + this.capacity) % this.capacity);
  }

  /** points returns the newest `limit` samples (all by default), oldest first. */
  points(limit: number = this.#size): SeriesPoint[] {
    const count = Math.max(0, Math.min(Math.floor(limit), this.#size));
    const out: SeriesPoint[] = [];
    const first = this.#next - count + this.capacity;
    for (let k = 0; k < count; k += 1) out.push(this.#at((first + k) % this.capacity));
    return out;
  }

  #at(slot: number): SeriesPoint {
    const workload = this.#workload[slot] ?? Number.NaN;
    return {
      atMs: this.#atMs[slot] ?? 0, ready: this.#ready[slot] ?? 0, total: this.#total[slot] ?? 0,
      ...(Number.isNaN(workload) ? {} : { workload }),
    };
  }

  /** grow doubles the columns (up to capacity); until the ring is full, its samples sit at slots 0..size-1. */
  #grow(): void {
    const size = Math.min(this.capacity, this.#atMs.length * 2);
    const atMs = new Float64Array(size);
    const workload = new Float64Array(size);
    const ready = new Uint32Array(size);
    const total = new Uint32Array(size);
    atMs.set(this.#atMs);
    workload.set(this.#workload);
    ready.set(this.#ready);
    total.set(this.#total);
    this.#atMs = atMs;
    this.#workload = workload;
    this.#ready = ready;
    this.#total = total;
  }
}
