/**
 * heap-trend: whether a process's heap grows, read from the heap it *retains*, not from the heap it happens to use.
 *
 * ```
 *  heap used  /|  /|  /|  /|        a flat heap: V8's sawtooth (garbage piles up, a full GC drops it); a least-squares
 *            / | / | / | / |        line through every sample of a window shorter than a few teeth reads the rising
 *           /  |/  |/  |/  |        edge as growth (20 s of the memory bench: "+4 MiB/min" on a flat heap)
 *           *   *   *   *           the readings right after a full collection (*): what is live; their line is the trend
 * ```
 * The bench's service child does a full collection before each such reading (bench/gc-probe.js): in the memory
 * bench V8 runs its own mark-compact about once in 100 s, so a 20-s run would have none to read. A leak raises the
 * readings after collections whatever the sawtooth does; garbage, however much, does not. Pure code: no I/O.
 */

/** HeapReading is one reading of the heap (MiB) at `atS` seconds; `afterFullGc`: taken right after a full collection. */
export interface HeapReading {
  readonly atS: number;
  readonly heapMiB: number;
  readonly afterFullGc: boolean;
}

/** HeapTrend is what the readings after full collections say, growth per minute with its standard error. */
export interface HeapTrend {
  /** readings: how many readings after a full collection the line went through. */
  readonly readings: number;
  readonly spanS: number;
  /** slopeMiBPerMin: least-squares growth of the retained heap (0 with fewer than two readings). */
  readonly slopeMiBPerMin: number;
  /** errorMiBPerMin: the slope's standard error (how far the readings' scatter lets the slope move). */
  readonly errorMiBPerMin: number;
  /** verdict: flat when the slope is at most the limit; too few readings (< MIN_READINGS) decide nothing. */
  readonly verdict: 'flat' | 'growing' | 'too few readings';
}

/** MIN_READINGS is the fewest readings after a full collection a verdict is drawn from. */
export const MIN_READINGS = 4;

/** FLAT_LIMIT_MIB_PER_MIN is the growth of the retained heap still called flat (issue 16: "heap flat"). */
export const FLAT_LIMIT_MIB_PER_MIN = 1;

/** LineFit is a least-squares line: slope per second and its standard error. */
interface LineFit {
  readonly slope: number;
  readonly error: number;
}

function fitLine(points: readonly { readonly x: number; readonly y: number }[]): LineFit {
  const n = points.length;
  if (n < 2) return { slope: 0, error: 0 };
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  if (sxx === 0) return { slope: 0, error: 0 };
  const slope = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx;
  const residuals = points.reduce((a, p) => a + (p.y - my - slope * (p.x - mx)) ** 2, 0);
  return { slope, error: n > 2 ? Math.sqrt(residuals / (n - 2) / sxx) : 0 };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** slopePerMin is the least-squares slope of y over x (seconds), per minute, to 0.01. */
export function slopePerMin(points: readonly { readonly x: number; readonly y: number }[]): number {
  return round2(fitLine(points).slope * 60);
}

/**
 * retainedHeapTrend fits a line through the readings taken after a full collection (the others, the sawtooth, are
 * left out) and calls the heap flat when it grows by at most `limitMiBPerMin`.
 */
export function retainedHeapTrend(readings: readonly HeapReading[], limitMiBPerMin: number = FLAT_LIMIT_MIB_PER_MIN): HeapTrend {
  const retained = readings.filter((r) => r.afterFullGc && Number.isFinite(r.heapMiB));
  const fit = fitLine(retained.map((r) => ({ x: r.atS, y: r.heapMiB })));
  const slopeMiBPerMin = round2(fit.slope * 60);
  const first = retained[0];
  const last = retained.at(-1);
  return {
    readings: retained.length,
    spanS: first === undefined || last === undefined ? 0 : round2(last.atS - first.atS),
    slopeMiBPerMin,
    errorMiBPerMin: round2(fit.error * 60),
    verdict: retained.length < MIN_READINGS ? 'too few readings' : slopeMiBPerMin <= limitMiBPerMin ? 'flat' : 'growing',
  };
}
