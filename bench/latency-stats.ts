/**
 * latency-stats: percentiles of a sample set (nearest-rank), shared by the latency and load benches.
 */

/** LatencyStats summarises one set of samples in milliseconds. */
export interface LatencyStats {
  readonly n: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** percentileOf is the nearest-rank q-quantile (0 < q <= 1) of an ascending array; NaN when empty. */
export function percentileOf(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** latencyStats sorts a copy of the samples and summarises them. */
export function latencyStats(samples: readonly number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    p50Ms: percentileOf(sorted, 0.5),
    p90Ms: percentileOf(sorted, 0.9),
    p99Ms: percentileOf(sorted, 0.99),
    maxMs: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1] ?? Number.NaN,
    meanMs: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  };
}

/** round3 rounds a figure to 3 decimals for tables and JSON. */
export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** formatStats renders stats as `p50 x ms, p99 y ms (n)`. */
export function formatStats(s: LatencyStats): string {
  return `p50 ${s.p50Ms.toFixed(3)} ms, p99 ${s.p99Ms.toFixed(3)} ms, max ${s.maxMs.toFixed(3)} ms (n=${s.n})`;
}
