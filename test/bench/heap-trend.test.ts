import t from 'tap';
import fc from 'fast-check';
import { FLAT_LIMIT_MIB_PER_MIN, MIN_READINGS, retainedHeapTrend, slopePerMin, type HeapReading } from '../../bench/heap-trend.ts';

/** Sawtooth describes a synthetic heap: what is live grows at `leakMiBPerMin`, garbage piles up until each full GC. */
interface Sawtooth {
  readonly seconds: number;
  readonly liveMiB: number;
  readonly leakMiBPerMin: number;
  /** gcEveryS: a full collection every so many seconds (the reading after it is flagged). */
  readonly gcEveryS: number;
  readonly garbageMiBPerS: number;
  /** noise: the live heap's wobble at each reading after a collection, as a fraction of noiseMiB in [-1, 1]. */
  readonly noiseMiB: number;
  readonly wobble: readonly number[];
}

/** sawtooth renders the heap used every second (between collections) and the heap retained after each collection. */
function sawtooth(s: Sawtooth): HeapReading[] {
  const live = (atS: number): number => s.liveMiB + (s.leakMiBPerMin / 60) * atS;
  const out: HeapReading[] = [];
  let gcs = 0;
  for (let atS = 0; atS <= s.seconds; atS += 1) {
    const sinceGc = atS % s.gcEveryS;
    out.push({ atS: atS + 0.5, heapMiB: live(atS + 0.5) + s.garbageMiBPerS * (sinceGc + 0.5), afterFullGc: false });
    if (sinceGc === 0) {
      out.push({ atS, heapMiB: live(atS) + s.noiseMiB * (s.wobble[gcs % s.wobble.length] ?? 0), afterFullGc: true });
      gcs += 1;
    }
  }
  return out;
}

const used = (readings: readonly HeapReading[]): { x: number; y: number }[] =>
  readings.filter((r) => !r.afterFullGc).map((r) => ({ x: r.atS, y: r.heapMiB }));

t.test('a flat heap reads flat though the heap used climbs across the window (a 20-s window inside one tooth)', async (t) => {
  // V8 collects about every 100 s in the memory bench; forced collections every 2 s give the readings
  const readings = sawtooth({ seconds: 20, liveMiB: 35, leakMiBPerMin: 0, gcEveryS: 2, garbageMiBPerS: 0.4, noiseMiB: 0.05, wobble: [1, -1, 0.5, -0.5] });
  t.ok(slopePerMin(used(readings).slice(0, 2)) > FLAT_LIMIT_MIB_PER_MIN, 'the heap used within one tooth reads as growth');
  const trend = retainedHeapTrend(readings);
  t.equal(trend.verdict, 'flat');
  t.equal(trend.readings, 11);
  t.ok(Math.abs(trend.slopeMiBPerMin) <= 0.5, `slope ${trend.slopeMiBPerMin}`);
});

t.test('the rising edge of one tooth, sampled without a collection, is the artefact the retained heap removes', async (t) => {
  // 20 s of a heap whose next full collection is 80 s away: the heap used rises by the garbage alone
  const readings = sawtooth({ seconds: 100, liveMiB: 40, leakMiBPerMin: 0, gcEveryS: 100, garbageMiBPerS: 0.07, noiseMiB: 0, wobble: [0] });
  const window = readings.filter((r) => r.atS >= 10 && r.atS <= 30);
  t.ok(slopePerMin(used(window)) >= 4, `heap used over 20 s: ${slopePerMin(used(window))} MiB/min`);
  t.equal(retainedHeapTrend(window).verdict, 'too few readings', 'no collection in the window: no verdict, not a leak');
});

t.test('a leak reads as growing whatever the sawtooth does', async (t) => {
  const readings = sawtooth({ seconds: 600, liveMiB: 35, leakMiBPerMin: 2, gcEveryS: 30, garbageMiBPerS: 0.5, noiseMiB: 0.2, wobble: [1, -1, 0, 0.5] });
  const trend = retainedHeapTrend(readings);
  t.equal(trend.verdict, 'growing');
  t.ok(Math.abs(trend.slopeMiBPerMin - 2) < 0.1, `slope ${trend.slopeMiBPerMin} +- ${trend.errorMiBPerMin}`);
  t.ok(trend.errorMiBPerMin > 0 && trend.errorMiBPerMin < 0.1, 'the scatter of the readings gives the slope a small error');
});

t.test('fewer than MIN_READINGS readings after a collection decide nothing', async (t) => {
  const readings = sawtooth({ seconds: 20, liveMiB: 35, leakMiBPerMin: 30, gcEveryS: 10, garbageMiBPerS: 0.4, noiseMiB: 0, wobble: [0] });
  t.equal(retainedHeapTrend(readings).readings, 3);
  t.ok(3 < MIN_READINGS);
  t.equal(retainedHeapTrend(readings).verdict, 'too few readings');
  t.equal(retainedHeapTrend([]).slopeMiBPerMin, 0);
  t.equal(retainedHeapTrend([]).spanS, 0);
});

t.test('by property: the verdict follows the live heap, not the garbage between collections', async (t) => {
  const seen = { flat: 0, growing: 0, usedWouldSayGrowing: 0 };
  fc.assert(fc.property(
    fc.record({
      seconds: fc.integer({ min: 20, max: 600 }),
      liveMiB: fc.double({ min: 20, max: 200, noNaN: true }),
      leaking: fc.boolean(),
      leakMiBPerMin: fc.double({ min: 3, max: 20, noNaN: true }),
      gcShare: fc.integer({ min: 4, max: 20 }),
      garbageMiBPerS: fc.double({ min: 0.05, max: 2, noNaN: true }),
      noiseMiB: fc.double({ min: 0, max: 0.05, noNaN: true }),
      wobble: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 8 }),
    }),
    (g) => {
      const gcEveryS = Math.max(1, Math.floor(g.seconds / g.gcShare));
      const readings = sawtooth({ ...g, leakMiBPerMin: g.leaking ? g.leakMiBPerMin : 0, gcEveryS });
      const trend = retainedHeapTrend(readings);
      if (trend.verdict === 'flat') seen.flat += 1;
      if (trend.verdict === 'growing') seen.growing += 1;
      if (!g.leaking && slopePerMin(used(readings).slice(0, gcEveryS)) > FLAT_LIMIT_MIB_PER_MIN) seen.usedWouldSayGrowing += 1;
      return trend.verdict === (g.leaking ? 'growing' : 'flat');
    },
  ), { numRuns: 300 });
  t.ok(seen.flat > 50 && seen.growing > 50, `both verdicts reached: ${JSON.stringify(seen)}`);
  t.ok(seen.usedWouldSayGrowing > seen.flat / 2, 'flat heaps whose heap used, within one tooth, reads as growth are among them');
});
