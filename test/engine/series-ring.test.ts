import t from 'tap';
import fc from 'fast-check';
import { SeriesRing, type SeriesPoint } from '../../src/engine/series-ring.ts';

function sample(k: number): SeriesPoint {
  return { atMs: 1_796_000_000_000 + k * 15_000, ready: k % 7, total: (k % 7) + (k % 3), ...(k % 4 === 0 ? {} : { workload: k / 8 }) };
}

t.test('gives back the samples it was given, oldest first, while it is not full', async (t) => {
  const ring = new SeriesRing(720);
  const pushed = Array.from({ length: 100 }, (_, k) => sample(k));
  for (const p of pushed) ring.push(p);
  t.equal(ring.length, 100);
  t.same(ring.points(), pushed);
  t.same(ring.last(), pushed[99]);
});

t.test('keeps only the newest `capacity` samples once full, oldest first', async (t) => {
  const ring = new SeriesRing(720);
  const pushed = Array.from({ length: 2_000 }, (_, k) => sample(k));
  for (const p of pushed) ring.push(p);
  t.equal(ring.length, 720);
  t.same(ring.points(), pushed.slice(-720));
  t.same(ring.points(3), pushed.slice(-3));
  t.same(ring.last(), pushed.at(-1));
});

t.test('an unknown workload stays unknown (no workload field), a zero workload stays zero', async (t) => {
  const ring = new SeriesRing(4);
  ring.push({ atMs: 1, ready: 0, total: 0 });
  ring.push({ atMs: 2, ready: 0, total: 0, workload: 0 });
  const [unknown, zero] = ring.points();
  t.notOk(unknown !== undefined && 'workload' in unknown);
  t.equal(zero?.workload, 0);
});

t.test('an empty ring has no last sample and no points', async (t) => {
  const ring = new SeriesRing();
  t.equal(ring.last(), undefined);
  t.same(ring.points(), []);
  t.same(ring.points(5), []);
});

t.test('holds the same samples as the newest `capacity` of a plain list, for any pushes and capacity', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.record({
    atMs: fc.integer({ min: 0, max: 2 ** 45 }), ready: fc.nat(1_000), total: fc.nat(1_000), workload: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: undefined }),
  }), { maxLength: 200 }), fc.nat(60), (capacity, points, limit) => {
    const ring = new SeriesRing(capacity);
    const list: SeriesPoint[] = [];
    for (const { workload, ...rest } of points) {
      const p: SeriesPoint = workload === undefined ? rest : { ...rest, workload };
      ring.push(p);
      list.push(p);
    }
    const kept = list.slice(-capacity);
    t.same(ring.points(), kept);
    t.same(ring.points(limit), limit === 0 ? [] : kept.slice(-limit));
    t.same(ring.last(), kept.at(-1));
  }), { numRuns: 200 });
});
