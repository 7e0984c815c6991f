import fc from 'fast-check';
import t from 'tap';
import { exactOracle } from '../../src/sim/oracle.ts';

t.test('pays the ready minutes of each level and the lead of every fresh start', async (t) => {
  // level 1: minutes 0-7, warm (8); levels 2 and 3: minutes 2-7 (6) + a 4-minute lead each (10 + 10)
  t.same(exactOracle([1, 1, 3, 3, 3, 3, 3, 3, 0, 0], 4), { instanceMinutes: 28, starts: 2, stops: 3 });
});

t.test('keeps an instance running through a gap no longer than the lead', async (t) => {
  // 1 + 2 bridged + 1: cheaper than stop and a 4-minute restart (1 + 4 + 1)
  t.same(exactOracle([1, 0, 0, 1], 4), { instanceMinutes: 4, starts: 0, stops: 0 });
  // a gap exactly as long as the lead costs the same either way: 1 + 4 + 1
  t.same(exactOracle([1, 0, 0, 0, 0, 1], 4).instanceMinutes, 6);
});

t.test('stops and starts again across a gap longer than the lead', async (t) => {
  // 1, gap of 5 > 4, then 4 lead + 1
  t.same(exactOracle([1, 0, 0, 0, 0, 0, 1], 4), { instanceMinutes: 6, starts: 1, stops: 1 });
});

t.test('pays the lead of instances not ready at minute 0', async (t) => {
  t.same(exactOracle([0, 2, 2, 0], 3), { instanceMinutes: 10, starts: 2, stops: 2 });
});

t.test('treats each level on its own: a short gap of the upper level is bridged while the lower one restarts', async (t) => {
  // level 1: minutes 0-2 (warm, 3), gap 5 > 2, minute 8 (2 + 1); level 2: minutes 0 and 2, gap 1 bridged (3), then stops
  t.same(exactOracle([2, 1, 2, 0, 0, 0, 0, 0, 1], 2), { instanceMinutes: 9, starts: 1, stops: 2 });
  t.same(exactOracle([], 4), { instanceMinutes: 0, starts: 0, stops: 0 });
});

/** cheapestByEnumeration tries every running count c[t] >= needed[t] (more than the peak never helps). */
function cheapestByEnumeration(needed: readonly number[], lead: number): number {
  const top = needed.reduce((a, b) => Math.max(a, b), 0);
  let best = Number.POSITIVE_INFINITY;
  const walk = (t: number, previous: number, cost: number): void => {
    if (cost >= best) return;
    if (t === needed.length) { best = cost; return; }
    for (let c = needed[t] ?? 0; c <= top; c += 1) walk(t + 1, c, cost + c + lead * Math.max(0, c - previous));
  };
  walk(0, needed[0] ?? 0, 0);
  return best;
}

t.test('matches the cheapest of all plans on tiny traces', async (t) => {
  let bridged = 0;
  let restarted = 0;
  let cold = 0;
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 }),
    fc.integer({ min: 0, max: 4 }),
    (needed, lead) => {
      const plan = exactOracle(needed, lead);
      const gaps = [...needed.join(',').matchAll(/(?<=[1-9]),(?:0,)+(?=[1-9])/g)].map((m) => m[0].split('0').length - 1);
      if (gaps.some((g) => g > 0 && g <= lead)) bridged += 1;
      if (gaps.some((g) => g > lead)) restarted += 1;
      if (needed.some((n) => n > (needed[0] ?? 0))) cold += 1;
      return plan.instanceMinutes === cheapestByEnumeration(needed, lead);
    },
  ), { numRuns: 400, seed: 13 });
  // the generator reaches the cases that matter: gaps worth bridging, gaps worth a restart, starts beyond the warm fleet
  t.ok(bridged > 20, `${bridged} traces with a gap the oracle bridges`);
  t.ok(restarted > 20, `${restarted} traces with a gap it stops across`);
  t.ok(cold > 100, `${cold} traces needing fresh starts`);
});
