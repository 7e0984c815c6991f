import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { EMPTY_HISTORY, observeWorkload } from '../../src/core/bookkeeping.ts';
import { budget, compactBudgetMemory, compactBuckets } from '../../src/core/strategies/budget.ts';
import type { BudgetMemory, PoolHistory, PoolSpec } from '../../src/core/types.ts';

const MIN = 60_000;

/** sameNumbers: the column reads back exactly these numbers (Object.is: -0 and NaN count). */
function sameNumbers(column: ArrayLike<number>, values: readonly number[]): boolean {
  return column.length === values.length && values.every((v, i) => Object.is(column[i], v));
}

t.test('a column of integers is held in the narrowest typed array that keeps every value, and reads and serializes as the same numbers', async (t) => {
  const kinds = { Uint8Array, Uint16Array, Int32Array, Array } as const;
  const cases: [string, number[], keyof typeof kinds][] = [
    ['bytes', [0, 1, 255], 'Uint8Array'],
    ['past a byte', [0, 256, 65_535], 'Uint16Array'],
    ['past two bytes', [65_536, 3], 'Int32Array'],
    ['negative', [-1, 2], 'Int32Array'],
    ['a fraction', [1, 2.5], 'Array'],
    ['past 32 bits', [2 ** 31, 1], 'Array'],
    ['minus zero', [-0, 1], 'Array'],
    ['not a number', [Number.NaN], 'Array'],
    ['empty', [], 'Uint8Array'],
  ];
  for (const [name, values, kind] of cases) {
    const column = compactBuckets(values);
    t.ok(column instanceof kinds[kind] && (kind === 'Array' || !(column instanceof Uint8Array) || kind === 'Uint8Array'), `${name}: held as ${kind}`);
    t.ok(sameNumbers(column, values), `${name}: the same numbers`);
    t.equal(JSON.stringify(column), JSON.stringify(values), `${name}: the same JSON`);
  }
});

t.test('a memory held compactly keeps every workload to the thousandth and decides exactly as one held as plain arrays, whatever the workloads', async (t) => {
  const pool: PoolSpec = {
    name: 'p', env: 'prod', instanceType: 't', min: 0, max: 64, upThreshold: 1, downThreshold: 0, intervalMs: MIN,
    upCooldownMs: MIN, downCooldownMs: MIN, step: 1, strategy: { kind: 'budget', perInstance: 4 },
    provisionTimeoutMs: 30 * MIN, drainTimeoutMs: 30 * MIN, scaleIn: 'stop', canCreate: false, signalMaxAgeMs: 10 * MIN,
    failureBackoffBaseMs: MIN, failureBackoffMaxMs: 30 * MIN, dryRun: false, paused: false, waitWindowMs: 86_400_000,
  };
  // per run, workloads of one range: small integers (bytes), integers of any size (wider columns), fractions (plain arrays)
  const workload = (range: 'bytes' | 'integers' | 'fractions'): fc.Arbitrary<number> => range === 'bytes'
    ? fc.integer({ min: 0, max: 40 })
    : range === 'integers' ? fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: -2, max: 100_000 })) : fc.double({ min: -5, max: 500, noNaN: true });
  const run = fc.constantFrom('bytes' as const, 'integers' as const, 'fractions' as const)
    .chain((range) => fc.array(fc.tuple(workload(range), fc.integer({ min: 1, max: 7 })), { minLength: 70, maxLength: 300 }));
  const seen = { typed: 0, widened: 0, plain: 0 };
  fc.assert(fc.property(run, (steps) => {
    let held: PoolHistory = EMPTY_HISTORY;
    let plain: PoolHistory = EMPTY_HISTORY;
    let atMs = 0;
    const highest = new Map<string, number>();
    for (const [value, gapMin] of steps) {
      atMs += gapMin * MIN;
      held = observeWorkload(held, pool, { value, atMs, source: 'alertmanager' }, atMs, 2);
      // the open bucket of each column holds, by definition, the highest workload seen in it (0 at least) to the thousandth
      for (const [column, widthMs] of [['fine', MIN], ['peaks', 5 * MIN], ['hours', 60 * MIN]] as const) {
        const key = `${column}:${Math.floor(atMs / widthMs)}`;
        highest.set(key, Math.max(highest.get(key) ?? 0, value));
        const kept = held.budget?.[column];
        if (kept?.[kept.length - 1] !== Math.round((highest.get(key) ?? 0) * 1000) / 1000) return false;
      }
      // the plain side is what a process loading every memory from JSON holds (main's way of holding it)
      plain = JSON.parse(JSON.stringify(observeWorkload(plain, pool, { value, atMs, source: 'alertmanager' }, atMs, 2))) as PoolHistory;
      if (JSON.stringify(held) !== JSON.stringify(plain)) return false;
      const a = budget({ pool, size: 2, workload: value, nowMs: atMs, memory: undefined, history: held }, 4);
      const b = budget({ pool, size: 2, workload: value, nowMs: atMs, memory: undefined, history: plain }, 4);
      if (a.desired !== b.desired || a.reason !== b.reason) return false;
    }
    const fine = held.budget?.fine;
    if (fine instanceof Uint8Array) seen.typed += 1;
    else if (fine instanceof Uint16Array || fine instanceof Int32Array) seen.widened += 1;
    else seen.plain += 1;
    return true;
  }), { numRuns: 60, seed: 25 });
  t.ok(seen.typed > 0 && seen.widened > 0 && seen.plain > 0, `generator reaches every kind of column: ${JSON.stringify(seen)}`);
});

interface MainFixture {
  readonly spec: PoolSpec;
  readonly history: PoolHistory;
  readonly steps: readonly { readonly workload: number; readonly atMs: number; readonly desired: number; readonly reason: string }[];
  readonly after: PoolHistory;
}

t.test('a memory written by main loads compactly, decides as main did, and is saved in the format main reads', async (t) => {
  const fixture = JSON.parse(readFileSync(new URL('../fixtures/budget/memory-main.json', import.meta.url), 'utf8')) as MainFixture;
  const saved = fixture.history.budget as BudgetMemory;
  const loaded = compactBudgetMemory(saved);
  t.ok(loaded.peaks instanceof Uint8Array && loaded.fine instanceof Uint8Array && loaded.hours instanceof Uint8Array, 'the integer columns are held as bytes');
  t.equal(JSON.stringify(loaded), JSON.stringify(saved), 'saved again, it is the JSON main wrote');
  let h: PoolHistory = { ...fixture.history, budget: loaded };
  for (const step of fixture.steps) {
    h = observeWorkload(h, fixture.spec, { value: step.workload, atMs: step.atMs, source: 'alertmanager' }, step.atMs, 3);
    const d = budget({ pool: fixture.spec, size: 3, workload: step.workload, nowMs: step.atMs, memory: undefined, history: h }, 1);
    t.same([d.desired, d.reason], [step.desired, step.reason], `workload ${step.workload}: main's decision`);
  }
  t.equal(JSON.stringify(h), JSON.stringify(fixture.after), 'after the steps (a peak bucket closed, columns widened past a byte, two bytes, to a fraction): the memory the same steps make on main\'s plain arrays');
  t.equal(compactBudgetMemory({ ...saved, peaks: 'x' } as unknown as BudgetMemory).peaks, 'x', 'a memory of another shape is left for observeBudget to reset');
});
