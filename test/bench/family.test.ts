import t from 'tap';
import { holdPeakSignal, tuneFamily } from '../../bench/family.ts';
import { compressed, concatenated, recurring, reversed, scaled, shifted, shuffledBlocks, stretched, summed, weekly } from '../../bench/trace-transforms.ts';
import { parseTrace } from '../../src/sim/trace.ts';
import { shippedPool } from '../../src/simulate-command.ts';

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

t.test('a family member wants the peak of the last H minutes in instances, plus S spare', async (t) => {
  const signal = holdPeakSignal(2, 1, 8);
  t.same([8, 20, 0, 0, 0].map((d, minute) => signal(minute, d, 0)), [16, 32, 32, 32, 8]);
  const now = holdPeakSignal(0, 0, 8);
  t.same([8, 20, 0].map((d, minute) => now(minute, d, 0)), [8, 24, 0], 'H = 0, S = 0 is target tracking');
});

t.test('tuned in hindsight on the recurring trace, the family holds through the idle hour to keep the budget', async (t) => {
  const trace = recurring(60, 30, 64, 7); // a week: the first rise (nothing warm) waits its lead once
  const { tuned } = tuneFamily(trace, shippedPool(trace), [0.0025, 0.5]);
  const [tight, loose] = tuned;
  t.ok((tight?.holdMinutes ?? 0) >= 60, `holds ${tight?.holdMinutes ?? '-'} minutes at a 0.25 % budget`);
  t.ok((tight?.result?.unmetShare ?? 1) <= 0.0025);
  t.ok((loose?.result?.instanceMinutes ?? 0) < (tight?.result?.instanceMinutes ?? 0), 'a looser budget is cheaper');
  t.ok((loose?.result?.unmetShare ?? 1) <= 0.5);
});

t.test('the transforms keep whole GPUs and what they promise of the demand', async (t) => {
  const a = parseTrace('a', ['time,running_gpus,pending_gpus', ...[1, 2, 3, 4, 5, 6].map((d, n) => `m${n},${d},0`)].join('\n'));
  const b = parseTrace('b', ['time,running_gpus,pending_gpus', ...[10, 20, 30, 40, 50, 60].map((d, n) => `m${n},${d},0`)].join('\n'));
  t.same(reversed(a).demandGpus, [6, 5, 4, 3, 2, 1]);
  t.same(scaled(a, 0.5).demandGpus, [1, 1, 2, 2, 3, 3]);
  t.same(shifted(a, 2).demandGpus, [3, 4, 5, 6, 1, 2]);
  t.same(summed(a, b).demandGpus, [11, 22, 33, 44, 55, 66]);
  t.same(concatenated(a, b).demandGpus, [1, 2, 3, 40, 50, 60]);
  t.same(stretched(a, 2).demandGpus, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]);
  t.same(compressed(a, 2).demandGpus, [1, 3, 5]);
  const shuffled = shuffledBlocks(a, 2, 1);
  t.equal(sum(shuffled.demandGpus), sum(a.demandGpus));
  t.same(shuffledBlocks(a, 2, 1).demandGpus, shuffled.demandGpus, 'seeded: the same order every run');
  t.ok([0, 2, 4].every((i) => (shuffled.demandGpus[i + 1] ?? 0) - (shuffled.demandGpus[i] ?? 0) === 1), 'blocks stay whole');
  const r = recurring(60, 30, 64, 1);
  t.equal(r.demandGpus.length, 1440);
  t.same([r.demandGpus[59], r.demandGpus[60], r.demandGpus[89], r.demandGpus[90]], [0, 64, 64, 0]);
  const w = weekly(64, 2);
  t.equal(w.demandGpus.length, 14 * 1440);
  const day = (d: number): number => sum(w.demandGpus.slice(d * 1440, (d + 1) * 1440));
  t.same(Array.from({ length: 14 }, (_, d) => day(d) / (64 * 60)), [12, 12, 12, 12, 12, 0, 0, 12, 12, 12, 12, 12, 0, 0], 'weekly: 12 busy hours on 5 of 7 days');
  t.same([w.demandGpus[479], w.demandGpus[480], w.demandGpus[1199], w.demandGpus[1200]], [0, 64, 64, 0], 'from 08:00 to 20:00');
});
