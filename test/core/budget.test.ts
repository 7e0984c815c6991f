import t from 'tap';
import fc from 'fast-check';
import { afterTransition, EMPTY_HISTORY, observeWorkload } from '../../src/core/bookkeeping.ts';
import { decide } from '../../src/core/decide.ts';
import { newInstance } from '../../src/core/lifecycle.ts';
import {
  budget, budgetNote, DEFAULT_START_LATENCY_MS, HOLD_CANDIDATES_MIN, HOUR_BUCKETS, PEAK_BUCKETS, periodOf, SPARE_CANDIDATES, startLeadMs, WAIT_BUCKETS, waitingShare, waitWindowCovered, windowAim, withStartLatency,
} from '../../src/core/strategies/budget.ts';
import type { Instance, PoolHistory, PoolSpec } from '../../src/core/types.ts';

const MIN = 60_000;
const spec = (over: Partial<PoolSpec> = {}): PoolSpec => ({
  name: 'p', env: 'prod', instanceType: 't', min: 0, max: 8, upThreshold: 1, downThreshold: 0, intervalMs: MIN,
  upCooldownMs: MIN, downCooldownMs: MIN, step: 1, strategy: { kind: 'budget', perInstance: 8 },
  provisionTimeoutMs: 30 * MIN, drainTimeoutMs: 30 * MIN, scaleIn: 'stop', canCreate: false, signalMaxAgeMs: 10 * MIN,
  failureBackoffBaseMs: MIN, failureBackoffMaxMs: 30 * MIN, dryRun: false, paused: false, ...over,
});

/** feed observes one workload per minute (from minute `from`) with `ready(t)` ready instances. */
function feed(pool: PoolSpec, demand: readonly number[], ready: (t: number, d: number) => number, start: PoolHistory = EMPTY_HISTORY, from = 0): PoolHistory {
  let h = start;
  demand.forEach((d, i) => {
    const t = from + i;
    h = observeWorkload(h, pool, { value: d, atMs: t * MIN, source: 'trace' }, t * MIN, ready(t, d));
  });
  return h;
}

/** bursts: 10-minute bursts of `high` at irregular gaps (no period), `low` between. */
function bursts(minutes: number, high: number, low: number): number[] {
  let seed = 11;
  const out: number[] = [];
  while (out.length < minutes) {
    seed = (seed * 16807) % 2147483647;
    const gap = 20 + (seed % 70);
    for (let m = 0; m < gap; m += 1) out.push(low);
    for (let m = 0; m < 10; m += 1) out.push(high);
  }
  return out.slice(0, minutes);
}

const want = (pool: PoolSpec, h: PoolHistory, workload: number, nowMs: number) =>
  budget({ pool, size: 0, workload, nowMs, memory: undefined, history: h }, 8);

t.test('the waiting share is the workload above READY capacity over the demand, sampled each evaluation', async (t) => {
  const pool = spec();
  // 10 minutes of 16 GPUs, 1 ready instance (8 GPUs) for the first 5 minutes, 2 afterwards
  const h = feed(pool, Array.from({ length: 11 }, () => 16), (m) => (m < 5 ? 1 : 2));
  t.equal(waitingShare(h.budget), 0.25, '5 minutes x 8 GPUs waited of 10 x 16');
  const none = feed(pool, [4, 4, 4], () => 0, EMPTY_HISTORY);
  t.equal(observeWorkload(none, pool, undefined, 3 * MIN), none, 'a missing signal changes nothing');
  const blind = feed(pool, [16, 16, 16], () => 0);
  t.equal(waitingShare(feed(pool, [16, 16], () => 2, EMPTY_HISTORY).budget), 0);
  t.ok(waitingShare(blind.budget) > 0);
  t.equal(waitingShare(undefined), 0);
});

t.test('the part of the window measured grows from the first observation to 1 once a whole window is measured', async (t) => {
  const pool = spec({ waitWindowMs: 168 * 60 * MIN }); // 7 days: 168 buckets of one hour, the 167 closed ones span 10,020 minutes
  const span = (WAIT_BUCKETS - 1) * 60;
  t.equal(waitWindowCovered(undefined), 0, 'nothing measured');
  t.equal(waitWindowCovered(feed(pool, [4], () => 1).budget), 0, 'one observation at minute 0: nothing measured yet');
  const sixth = feed(pool, Array.from({ length: span / 6 + 1 }, () => 4), () => 1); // minutes 0 .. 1,670
  t.equal(waitWindowCovered(sixth.budget), 1 / 6);
  const whole = feed(pool, [4, 4], () => 1, sixth, span + 120);
  t.equal(waitWindowCovered(whole.budget), 1, 'a whole window measured: 1');
  t.equal(waitWindowCovered(feed(pool, [4, 4], () => 1, whole, 3 * span).budget), 1, 'and 1 ever after, as its buckets roll');
  // measured from the start of the bucket of the first observation (minute 0 here): at minute 31, 31 minutes
  t.equal(waitWindowCovered(feed(pool, [4, 4], () => 1, EMPTY_HISTORY, 30).budget), 31 / span);
});

t.test('with a queue signal, queued work is waiting too: a job that fits no ready instance counts although the pool holds it in total', async (t) => {
  const pool = spec();
  // 10 minutes of 16 GPUs on 2 ready instances (16 GPUs in total) while the scheduler reports 8 GPUs queued
  let h = EMPTY_HISTORY;
  for (let m = 0; m <= 10; m += 1) h = observeWorkload(h, pool, { value: 16, atMs: m * MIN, source: 'trace' }, m * MIN, 2, m < 5 ? 8 : 0);
  t.equal(waitingShare(h.budget), 0.25, '5 minutes x 8 queued GPUs of 10 x 16: the ready capacity alone would say 0');
  // the queue never lowers what the ready capacity shows: work above it cannot be running
  let under = EMPTY_HISTORY;
  for (let m = 0; m <= 10; m += 1) under = observeWorkload(under, pool, { value: 16, atMs: m * MIN, source: 'trace' }, m * MIN, 1, 0);
  t.equal(waitingShare(under.budget), 0.5, 'workload above 1 ready instance waits whatever the queue says');
  const odd = observeWorkload(EMPTY_HISTORY, pool, { value: 4, atMs: 0, source: 'trace' }, 0, 1, Number.NaN);
  t.equal(odd.budget?.last?.queued, undefined, 'a queue value that is not a number is not kept');
});

t.test('queued work that the ready instances do not take gets its own instance; without a queue the size is the workload\'s', async (t) => {
  const pool = spec();
  // 40 GPUs on 5 ready instances (40 GPUs), 8 of them queued: a job that fits no instance's free slots
  let h = EMPTY_HISTORY;
  for (let m = 0; m <= 3; m += 1) h = observeWorkload(h, pool, { value: 40, atMs: m * MIN, source: 'trace' }, m * MIN, 5, m === 3 ? 8 : 0);
  const queued = want(pool, h, 40, 3 * MIN);
  t.equal(queued.desired, 6, 'ready 5 + one for the queued job');
  t.match(queued.reason, /8 queued that 5 ready instances do not take wants 6/);
  let none = EMPTY_HISTORY;
  for (let m = 0; m <= 3; m += 1) none = observeWorkload(none, pool, { value: 40, atMs: m * MIN, source: 'trace' }, m * MIN, 5);
  t.equal(want(pool, none, 40, 3 * MIN).desired, 5, 'no queue signal: 40 / 8');
  // a rise: the queue is the work above the ready capacity, counted once, not twice
  let rise = EMPTY_HISTORY;
  for (let m = 0; m <= 3; m += 1) rise = observeWorkload(rise, pool, { value: 40, atMs: m * MIN, source: 'trace' }, m * MIN, 3, 16);
  t.equal(want(pool, rise, 40, 3 * MIN).desired, 5, '3 ready + 16 queued = 40 / 8');
  t.equal(want(pool, h, 40, 3 * MIN + 2 * pool.intervalMs).desired, 5, 'a queue older than one interval is not acted on');
});

t.test('every decision of a budget pool says where the budget stands', async (t) => {
  const pool = spec({ waitBudget: 0.0025 });
  const h = feed(pool, Array.from({ length: 11 }, () => 16), (m) => (m < 5 ? 1 : 2));
  const d = decide(pool, [], { value: 16, atMs: 10 * MIN, source: 'trace' }, 10 * MIN, h);
  t.match(d.reason, /waiting 25\.00% of 0\.25% budget over 7d/);
  t.match(decide({ ...pool, paused: true }, [], undefined, 10 * MIN, h).reason, /pool paused .*waiting 25\.00% of 0\.25% budget/);
  t.match(decide(pool, [], undefined, 10 * MIN, h).reason, /no workload signal; waiting/);
});

t.test('the start lead is measured: the p90 of recent start-to-ready times, a default before any', async (t) => {
  t.same(startLeadMs(EMPTY_HISTORY), { leadMs: DEFAULT_START_LATENCY_MS, seen: 0 });
  let h: PoolHistory = EMPTY_HISTORY;
  for (const s of [200, 210, 190, 220, 205, 600, 200, 195, 215, 210]) h = withStartLatency(h, s * 1000);
  t.same(startLeadMs(h), { leadMs: 220_000, seen: 10 }, 'p90 of ten: one slow outlier does not set the lead');
  t.equal(withStartLatency(h, -5), h, 'a negative time is not kept');
  for (let n = 0; n < 40; n += 1) h = withStartLatency(h, 100_000);
  t.equal(h.startLatenciesMs?.length, 16, 'bounded');
  // the lifecycle's start -> ready transition records it
  const ready: Instance = { ...newInstance('a', 'p', 0), state: 'ready', lastStartMs: 1_000 };
  t.same(afterTransition(EMPTY_HISTORY, ready, 'deploying', 241_000).history.startLatenciesMs, [240_000]);
  t.equal(afterTransition(EMPTY_HISTORY, ready, 'draining', 241_000).history.startLatenciesMs, undefined, 'back from draining is no start');
});

t.test('with waiting over its budget, the strategy holds capacity longer; a looser budget is cheaper', async (t) => {
  const pool = spec({ waitBudget: 0.0025 });
  // bursty demand that always waits (nothing ready): more waits than the replay estimates, the hold gets long
  const demand = bursts(12 * 60, 64, 0);
  const over = feed(pool, demand, () => 0);
  t.equal(over.budget?.period, undefined, 'no period in irregular bursts');
  t.ok((over.budget?.holdMin ?? 0) >= 30, `hold ${over.budget?.holdMin} min after overspending`);
  const [estimated, measured] = over.budget?.bias ?? [0, 0];
  t.ok(measured > estimated, `measured waiting ${measured} above the replay's ${estimated}: its estimates are scaled up`);
  const lastBurst = demand.lastIndexOf(64);
  const after = want(pool, over, 0, (lastBurst + 5) * MIN);
  t.ok(after.desired >= 8, 'the recent peak is held after demand fell');
  t.match(after.reason, /budget: hold \d+ min/);
  // the same demand always served: nothing waits, the replay's estimates are scaled down and the choice is cheaper
  const served = feed(pool, demand, () => 8);
  t.ok((served.budget?.bias?.[1] ?? 1) < (served.budget?.bias?.[0] ?? 0), 'less measured than estimated');
  // a looser budget on the same demand: a cheaper (shorter) hold fits it
  const loose = feed(spec({ waitBudget: 0.2 }), demand, () => 8).budget;
  t.ok((loose?.holdMin ?? 0) + 60 * (loose?.spare ?? 0) < (served.budget?.holdMin ?? 0) + 60 * (served.budget?.spare ?? 0), `hold ${loose?.holdMin} + ${loose?.spare} at 20 % is cheaper than ${served.budget?.holdMin} + ${served.budget?.spare} at 0.25 %`);
});

t.test('the aim is the budget less the controller\'s own error; each candidate plans one more rise of the size one rise cost under it', async (t) => {
  // a 5 % budget: 12 hours of demand are too few for 0.25 % to leave anything once the error is kept free
  const pool = spec({ waitBudget: 0.05 });
  const demand = bursts(12 * 60, 64, 0);
  // nothing is ever ready: the waiting measured is more than any replay planned
  const over = feed(pool, demand, () => 0).budget;
  t.ok((over?.misses?.[0] ?? 0) > 0, 'waiting the replay did not plan is an error');
  // the replay of (0 min, 0 spare): each 10-minute burst of 64 (8 instances) waits the 5-minute lead, 40 instance-minutes,
  // one lump per burst (decayed a little since); a hold longer than every gap (120 min) serves every burst the replay saw
  const lumpOf = (holdMin: number): number => over?.lumps?.[2 * HOLD_CANDIDATES_MIN.indexOf(holdMin) * SPARE_CANDIDATES.length] ?? -1;
  t.ok(lumpOf(0) > 39 && lumpOf(0) <= 40, `largest lump under no hold ${lumpOf(0)}: one burst, not the sum of several`);
  t.equal(lumpOf(120), 0, 'a hold that served every burst: no lump');
  t.equal(over?.lumps?.length, 2 * HOLD_CANDIDATES_MIN.length * SPARE_CANDIDATES.length, 'a largest and an open lump per candidate');
  // the same demand always served: the replay planned waiting that never came (planning too much costs money, not
  // waiting), so there is no error, and the whole budget is aimed at
  const servedHistory = feed(pool, demand, () => 8);
  const served = servedHistory.budget;
  t.ok((served?.bias?.[0] ?? 0) > 0, `the replay planned ${served?.bias?.[0]} instance-minutes of waiting`);
  t.equal(served?.misses?.[0], 0, 'over-planning is no error');
  const [aimOver, aimServed] = [over?.aim ?? -1, served?.aim ?? -1];
  t.ok(aimOver >= 0 && aimOver < aimServed, `aim ${aimOver} after waiting < ${aimServed} when served`);
  t.equal(aimServed, 0.05, 'served with nothing unplanned: the aim is the budget');
  t.match(want(pool, servedHistory, 0, demand.length * MIN).reason, new RegExp(`aims at ${(aimServed * 100).toFixed(2)}%`), 'the reason gives the aim');
  t.match(want(pool, EMPTY_HISTORY, 0, 0).reason, /aims at the budget/, 'before any choice, the reason says the budget');
});

// property: whatever the demand and budget, waiting the replay planned that never came narrows no margin (a pool always
// served aims at its whole budget), while the same demand left to wait aims lower.
t.test('property: only under-planning narrows the aim', async (t) => {
  const seen = { plannedWaiting: 0, waited: 0 };
  const shape = fc.record({
    seed: fc.integer({ min: 1, max: 1_000_000 }), level: fc.integer({ min: 8, max: 64 }), gapMin: fc.integer({ min: 5, max: 120 }),
    hours: fc.integer({ min: 2, max: 6 }), budget: fc.constantFrom(0.0025, 0.01, 0.05),
  });
  fc.assert(fc.property(shape, (s) => {
    let x = s.seed;
    const rnd = (): number => { x = (x * 16807) % 2147483647; return x / 2147483647; };
    const demand: number[] = [];
    while (demand.length < s.hours * 60) {
      for (let m = Math.floor(rnd() * s.gapMin); m > 0; m -= 1) demand.push(0);
      const level = Math.ceil(rnd() * s.level);
      for (let m = 1 + Math.floor(rnd() * 20); m > 0; m -= 1) demand.push(level);
    }
    const pool = spec({ waitBudget: s.budget });
    const served = feed(pool, demand, () => pool.max).budget;
    const waited = feed(pool, demand, () => 0).budget;
    if ((served?.bias?.[0] ?? 0) > 0) seen.plannedWaiting += 1;
    if ((waited?.misses?.[0] ?? 0) > 0) seen.waited += 1;
    return served?.misses?.[0] === 0 && served.aim === s.budget && (waited?.aim ?? 1) < s.budget;
  }), { numRuns: 20, seed: 23 });
  t.ok(seen.plannedWaiting > 0 && seen.waited > 0, `generator reaches a replay that planned waiting and a pool that waited: ${JSON.stringify(seen)}`);
});

t.test('a budget of 0 holds the recent peak and does not explode', async (t) => {
  const pool = spec({ waitBudget: 0 });
  const demand = bursts(6 * 60, 40, 8);
  const h = feed(pool, demand, () => 0);
  const r = want(pool, h, 8, (demand.lastIndexOf(40) + 5) * MIN);
  t.ok(r.desired >= 5 && r.desired <= pool.max + 4, `desired ${r.desired}`);
  t.match(want(pool, h, 0, 0).reason, /aims at 0%/, 'a budget of 0 aims at no waiting');
  t.ok((h.budget?.holdMin ?? 0) > 0 || (h.budget?.spare ?? 0) > 0, 'capacity is held above the workload now');
});

t.test('recurring demand is pre-warmed one start lead ahead; the reason names what and from what', async (t) => {
  const pool = spec();
  const cycle = (m: number): number => (m % 90 < 60 ? 0 : 64);
  const days = Array.from({ length: 12 * 90 }, (_, m) => cycle(m));
  const h = feed(pool, days, (_m, d) => Math.ceil(d / 8));
  t.equal(h.budget?.period, 18, 'period of 90 min in 5-min buckets');
  const rise = 12 * 90 * MIN + 60 * MIN;
  const early = want(pool, h, 0, rise - 4 * MIN);
  t.equal(early.desired, 8);
  t.match(early.reason, /pre-warm: 64 expected at \d\d:\d\d \(period 90 min, seen 5 times\)/);
  t.equal(want(pool, h, 0, rise - 40 * MIN).desired, 0, 'nothing is started long before');
});

t.test('demand that does not recur is never pre-warmed: shuffled and trending series find no period', async (t) => {
  const pool = spec();
  let seed = 3;
  const rnd = (): number => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
  const noise = Array.from({ length: 600 }, () => Math.floor(rnd() * 10));
  t.equal(periodOf(noise), undefined, 'noise');
  t.equal(periodOf(Array.from({ length: 600 }, (_, i) => Math.floor(i / 40))), undefined, 'a slow trend is persistence, not a period');
  t.equal(periodOf(Array.from({ length: 600 }, () => 3)), undefined, 'flat');
  t.equal(periodOf([1, 2]), undefined, 'too short');
  const walk: number[] = [];
  let level = 20;
  for (let m = 0; m < 48 * 60; m += 1) { level = Math.max(0, level + Math.round((rnd() - 0.5) * 6)); walk.push(level); }
  const h = feed(pool, walk, (_m, d) => Math.ceil(d / 8));
  t.equal(h.budget?.period, undefined);
  t.notMatch(want(pool, h, 10, 48 * 60 * MIN).reason, /pre-warm/);
});

/** peaksOf is what the memory keeps of a demand given minute by minute: the 5-min peaks of the last 72 h and the hourly peaks of the last 4 weeks (closed buckets only). */
function peaksOf(demand: readonly number[]): { needs: number[]; hours: number[] } {
  const peak = (width: number): number[] => {
    const out: number[] = [];
    demand.forEach((d, m) => { const k = Math.floor(m / width); out[k] = Math.max(out[k] ?? 0, d); });
    return out;
  };
  return { needs: peak(5).slice(-(PEAK_BUCKETS - 1)), hours: peak(60).slice(-(HOUR_BUCKETS - 1)) };
}

/** weekdays: `level` from `from` h for `hours` h on the days of the week `busy(day)` says, for 4 weeks; `jitter` (0..1) varies each hour's level. */
function weekdays(busy: (day: number) => boolean, from: number, hours: number, level: number, jitter = 0, seed = 5): number[] {
  let x = seed;
  const rnd = (): number => { x = (x * 16807) % 2147483647; return x / 2147483647; };
  let hourLevel = level;
  return Array.from({ length: 28 * 1440 }, (_, m) => {
    if (m % 60 === 0) hourLevel = Math.round(level * (1 - jitter * rnd()));
    const hour = Math.floor(m / 60) % 24;
    return busy(Math.floor(m / 1440) % 7) && hour >= from && hour < from + hours ? hourLevel : 0;
  });
}

t.test('a week is found in the hourly peaks when the days within it do not explain the demand; a daily habit stays daily', async (t) => {
  const week = peaksOf(weekdays((d) => d < 5, 8, 12, 64));
  t.same(periodOf(week.needs, week.hours), { buckets: 2016, r: periodOf(week.needs, week.hours)?.r }, 'weekdays busy, two days empty: 7 days');
  t.ok((periodOf(week.needs, week.hours)?.r ?? 0) > 0.9);
  const day = peaksOf(weekdays(() => true, 8, 12, 64, 0.2));
  t.equal(periodOf(day.needs, day.hours)?.buckets, 288, 'the same hours every day: 24 h, although it repeats at 7 days too');
  t.equal(periodOf(week.needs, week.hours.slice(-3 * 168 + 1))?.buckets, undefined, 'under three weeks of hours no week is taken (the last 72 h: two empty days and a busy one)');
  let seed = 9;
  const rnd = (): number => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
  const noise = peaksOf(Array.from({ length: 28 * 1440 }, () => (rnd() < 0.02 ? Math.floor(rnd() * 64) : 0)));
  t.equal(periodOf(noise.needs, noise.hours), undefined, 'rare random bursts: no period');
});

// property: whatever the busy hours, level, jitter and the days left empty, a weekly habit is found as a week, a daily
// one as a day, and random demand as none.
t.test('property: periodOf tells weekly, daily and random demand apart', async (t) => {
  const seen = { weekly: 0, daily: 0, noise: 0, twoEmptyDays: 0, oneEmptyDay: 0, jittered: 0 };
  const habit = fc.record({
    from: fc.integer({ min: 0, max: 14 }), hours: fc.integer({ min: 3, max: 10 }), level: fc.integer({ min: 8, max: 64 }),
    jitter: fc.constantFrom(0, 0.1, 0.3), seed: fc.integer({ min: 1, max: 1_000_000 }),
  });
  const shape = fc.oneof(
    fc.record({ kind: fc.constant('weekly' as const), habit, empty: fc.uniqueArray(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 2 }) }),
    fc.record({ kind: fc.constant('daily' as const), habit }),
    fc.record({ kind: fc.constant('noise' as const), share: fc.constantFrom(0.01, 0.1, 0.5), seed: fc.integer({ min: 1, max: 1_000_000 }) }),
  );
  fc.assert(fc.property(shape, (s) => {
    seen[s.kind] += 1;
    if (s.kind === 'noise') {
      let x = s.seed;
      const rnd = (): number => { x = (x * 16807) % 2147483647; return x / 2147483647; };
      const p = peaksOf(Array.from({ length: 28 * 1440 }, () => (rnd() < s.share ? Math.floor(rnd() * 64) : 0)));
      return periodOf(p.needs, p.hours) === undefined;
    }
    const h = s.habit;
    if (h.jitter > 0) seen.jittered += 1;
    if (s.kind === 'daily') {
      const p = peaksOf(weekdays(() => true, h.from, h.hours, h.level, h.jitter, h.seed));
      return periodOf(p.needs, p.hours)?.buckets === 288;
    }
    if (s.empty.length === 2) seen.twoEmptyDays += 1; else seen.oneEmptyDay += 1;
    const p = peaksOf(weekdays((d) => !s.empty.includes(d), h.from, h.hours, h.level, h.jitter, h.seed));
    return periodOf(p.needs, p.hours)?.buckets === 2016;
  }), { numRuns: 60, seed: 17 });
  t.ok(Object.values(seen).every((n) => n > 0), `generator reaches every case: ${JSON.stringify(seen)}`);
});

t.test('a weekly habit is pre-warmed from its fourth week; the reason names the week, the day and the level', async (t) => {
  const pool = spec();
  // days 0..4 busy 08-20 h, days 5 and 6 empty (day 0 is 1970-01-01, a Thursday)
  const demand = weekdays((d) => d < 5, 8, 12, 64);
  const h = feed(pool, demand, (_m, d) => Math.ceil(d / 8));
  t.equal(h.budget?.period, 2016, 'a week, in 5-min buckets');
  const rise = 28 * 1440 * MIN + 8 * 60 * MIN;
  const early = want(pool, h, 0, rise - 4 * MIN);
  t.equal(early.desired, 8);
  t.match(early.reason, /pre-warm: 64 expected at Thu 08:00 \(period 7 d, seen 4 times\) wants 8/, 'the same hour of the 4 weeks before');
  t.ok(JSON.stringify(h.budget).length < 12_000, `four weeks of hours keep the memory small: ${JSON.stringify(h.budget).length} bytes`);
  t.equal(h.budget?.hours?.length, HOUR_BUCKETS);
  t.equal(want(pool, h, 0, rise - 3 * 60 * MIN).desired, 0, 'nothing is started hours before');
  // feed the five busy days of the fourth week; the empty days after them get no pre-warm, a daily habit would have
  const busyWeek = feed(pool, demand.slice(0, 5 * 1440), (_m, d) => Math.ceil(d / 8), h, 28 * 1440);
  t.equal(busyWeek.budget?.period, 2016);
  t.equal(want(pool, busyWeek, 0, (33 * 1440 + 8 * 60 - 4) * MIN).desired, 0, 'the first empty day is not pre-warmed');
  t.notMatch(want(pool, busyWeek, 0, (33 * 1440 + 8 * 60 - 4) * MIN).reason, /pre-warm/);
});

t.test('a memory saved before the hourly peaks were kept loads, and starts them', async (t) => {
  const pool = spec();
  const h = feed(pool, Array.from({ length: 600 }, (_, m) => (m % 90 < 60 ? 0 : 64)), (_m, d) => Math.ceil(d / 8));
  const { hours: _hours, hourStart: _hourStart, ...older } = h.budget ?? { hours: [], hourStart: 0 };
  const loaded = observeWorkload({ ...h, budget: older as NonNullable<PoolHistory['budget']> }, pool, { value: 8, atMs: 600 * MIN, source: 't' }, 600 * MIN, 1);
  t.same(loaded.budget?.hours, [8]);
  t.equal(loaded.budget?.hourStart, 10);
  t.same(loaded.budget?.peaks.slice(0, -1), h.budget?.peaks, 'the rest of the memory is kept');
  t.equal(loaded.budget?.holdMin, h.budget?.holdMin);
});

t.test('the memory stays bounded and is plain JSON', async (t) => {
  const pool = spec({ waitWindowMs: 86_400_000 });
  const h = feed(pool, Array.from({ length: 4 * 1440 }, (_, m) => (m * 7) % 61), () => 3);
  const m = h.budget;
  t.ok(m !== undefined && m.peaks.length <= PEAK_BUCKETS && m.demand.length <= WAIT_BUCKETS && m.waiting.length <= WAIT_BUCKETS);
  t.same(JSON.parse(JSON.stringify(h)), h);
  t.ok(JSON.stringify(m).length < 8_000, `${JSON.stringify(m).length} bytes`);
  // an observation older than the last is ignored; a changed window restarts the waiting buckets
  t.same(observeWorkload(h, pool, { value: 1, atMs: 0, source: 't' }, 0, 0).budget, m);
  const moved = observeWorkload(h, { ...pool, waitWindowMs: 2 * 86_400_000 }, { value: 1, atMs: 4 * 1440 * MIN, source: 't' }, 4 * 1440 * MIN, 0);
  t.equal(moved.budget?.demand.length, 1);
  t.equal(observeWorkload(h, pool, { value: 5, atMs: 4 * 1440 * MIN, source: 'manual' }, 4 * 1440 * MIN, 0), h, 'a manual size is no demand');
});

// property: whatever the demand (rises, falls, recurrence) and budget (0 included), the strategy serves the workload
// now, stays within its memory bounds, and its share and bias stay finite.
t.test('property: desired covers the workload now, memory is bounded, numbers stay finite', async (t) => {
  const seen = { rise: 0, fall: 0, recurring: 0, zeroBudget: 0 };
  const shape = fc.oneof(
    fc.record({ kind: fc.constant('steps' as const), levels: fc.array(fc.integer({ min: 0, max: 64 }), { minLength: 2, maxLength: 12 }), minutes: fc.integer({ min: 1, max: 90 }) }),
    fc.record({ kind: fc.constant('recurring' as const), low: fc.integer({ min: 0, max: 8 }), high: fc.integer({ min: 16, max: 64 }), off: fc.integer({ min: 20, max: 80 }), on: fc.integer({ min: 10, max: 40 }) }),
  );
  fc.assert(fc.property(shape, fc.constantFrom(0, 0.001, 0.0025, 0.01), fc.integer({ min: 0, max: 8 }), (s, waitBudget, readyAt) => {
    const demand: number[] = [];
    if (s.kind === 'steps') for (const l of s.levels) for (let m = 0; m < s.minutes; m += 1) demand.push(l);
    else for (let m = 0; m < 8 * (s.off + s.on); m += 1) demand.push(m % (s.off + s.on) < s.off ? s.low : s.high);
    for (let i = 1; i < demand.length; i += 1) {
      if ((demand[i] ?? 0) > (demand[i - 1] ?? 0)) { seen.rise += 1; break; }
    }
    if (demand.some((d, i) => i > 0 && d < (demand[i - 1] ?? 0))) seen.fall += 1;
    if (s.kind === 'recurring') seen.recurring += 1;
    if (waitBudget === 0) seen.zeroBudget += 1;
    const pool = spec({ waitBudget });
    const h = feed(pool, demand, () => readyAt);
    const last = demand[demand.length - 1] ?? 0;
    const r = want(pool, h, last, (demand.length - 1) * MIN);
    const m = h.budget;
    return r.desired >= Math.ceil(last / 8) && m !== undefined && m.peaks.length <= PEAK_BUCKETS && m.demand.length <= WAIT_BUCKETS
      && (m.bias ?? [0, 0]).every((x) => Number.isFinite(x) && x >= 0) && waitingShare(m) >= 0 && waitingShare(m) <= 1 && /waiting|budget/.test(r.reason);
  }), { numRuns: 60, seed: 13 });
  t.ok(seen.rise > 0 && seen.fall > 0 && seen.recurring > 0 && seen.zeroBudget > 0, `generator reaches every case: ${JSON.stringify(seen)}`);
});

t.test('a saved memory of another shape is started afresh, not trusted', async (t) => {
  const pool = spec();
  const odd = { ...EMPTY_HISTORY, budget: { peaks: 'x' } } as unknown as PoolHistory;
  const h = observeWorkload(odd, pool, { value: 8, atMs: MIN, source: 't' }, MIN, 1);
  t.same(h.budget?.fine, [8]);
  t.equal(waitingShare(h.budget), 0);
});

t.test('the budget note words the window and small shares the way a user reads them', async (t) => {
  t.equal(budgetNote(spec({ waitBudget: 0.0025, waitWindowMs: 3_600_000 }), undefined), 'waiting 0% of 0.25% budget over 1h');
  t.equal(budgetNote(spec({ waitBudget: 0.00004, waitWindowMs: 90 * MIN }), undefined), 'waiting 0% of 0.004% budget over 90m');
  t.equal(budgetNote(spec(), undefined), 'waiting 0% of 0.25% budget over 7d', 'defaults');
  t.equal(withStartLatency(EMPTY_HISTORY, 2 * 86_400_000), EMPTY_HISTORY, 'a start-to-ready time over a day is no start lead');
});

t.test('windowAim: what the windows ending within the next waitWindow can still spend, a young column filled out as the alert weighs it', async (t) => {
  const column = (waiting: (i: number) => number, n = WAIT_BUCKETS) => ({ demand: Array.from({ length: n }, () => 100), waiting: Array.from({ length: n }, (_, i) => waiting(i)) });
  const b = 0.0025;
  t.equal(windowAim({ demand: [], waiting: [] }, b), b, 'no demand yet: the budget');
  t.equal(windowAim(column(() => 0), b), b, 'nothing waited: the budget');
  // a whole window's budget (0.25 % of 168 x 100) waited in the newest bucket: every window ending within the next
  // 7 days still holds it, so nothing more may wait
  t.equal(windowAim(column((i) => (i === WAIT_BUCKETS - 1 ? 42 : 0)), b), 0, 'spent in the newest bucket: 0');
  t.equal(windowAim(column((i) => (i === 0 ? 42 : 0)), b), b, 'spent in the oldest bucket, which the next window drops: the budget');
  // half of it in the newest bucket: the window ending 167 buckets ahead holds it and 167 buckets to come
  t.ok(Math.abs(windowAim(column((i) => (i === WAIT_BUCKETS - 1 ? 21 : 0)), b) - 21 / 16_700) < 1e-12, 'half spent: the other half over the longest window still holding it');
  // a day measured, 12 waited (twice the day's 0.25 %): as the alert weighs it, against a whole window's demand at the rate seen
  const young = windowAim(column((i) => (i === 23 ? 12 : 0), 24), b);
  t.ok(Math.abs(young - 30 / 16_700) < 1e-12, `a young column is not starved by its first rise (${young})`);
  t.equal(windowAim({ demand: [0, 0], waiting: [5, 0] }, b), b, 'waiting with no demand measured: the budget (no rate to plan on)');
});

t.test('waitWindowStrict caps the aim by the windows and says so; off, the aim is the controller\'s alone', async (t) => {
  // 48 h and the minute that closes the last 5-minute bucket: the aim is chosen on the memory as it ends
  const demand = bursts(48 * 60 + 1, 64, 8);
  // capacity follows the demand `lag` minutes late: each burst's first minutes wait
  const run = (lag: number, over: Partial<PoolSpec>) => feed(spec({ waitBudget: 0.05, ...over }), demand, (m) => Math.ceil(Math.min(...demand.slice(Math.max(0, m - lag), m + 1)) / 8));
  // a little waiting: the windows have room, the cap does not bind
  const [calmPlain, calmStrict] = [run(1, {}).budget, run(1, { waitWindowStrict: true }).budget];
  t.ok((calmPlain?.aim ?? 0) > 0 && calmStrict?.aim === calmPlain?.aim, `room left in every window: the same aim (${calmStrict?.aim})`);
  // more waiting: the windows still to close hold more than the controller's margin leaves
  const plain = run(3, {});
  const strict = run(3, { waitWindowStrict: true });
  const cap = windowAim(strict.budget ?? { demand: [], waiting: [] }, 0.05);
  t.ok((strict.budget?.aim ?? 1) < (plain.budget?.aim ?? 0), `strict aim ${strict.budget?.aim} < plain ${plain.budget?.aim}`);
  t.ok(Math.abs((strict.budget?.aim ?? -1) - cap) < 1e-4, `the windows' cap binds: ${strict.budget?.aim} ~ ${cap}`);
  t.match(want(spec({ waitBudget: 0.05, waitWindowStrict: true }), strict, 0, demand.length * MIN).reason, /aims at [\d.]+% keeping every window/);
  t.notMatch(want(spec({ waitBudget: 0.05 }), plain, 0, demand.length * MIN).reason, /keeping every window/);
});
