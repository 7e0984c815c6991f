import t from 'tap';
import { cpuAt } from '../../bench/load.ts';

t.test('reads the CPU time between two samples on the line between them', async (t) => {
  const samples = [[1_000, 2.0], [1_010, 2.01], [1_020, 2.03]] as const;
  t.equal(cpuAt(samples, 1_000), 2.0);
  t.equal(cpuAt(samples, 1_020), 2.03);
  t.ok(Math.abs(cpuAt(samples, 1_015) - 2.02) < 1e-12);
  t.ok(Math.abs(cpuAt(samples, 1_005) - 2.005) < 1e-12);
});

t.test('says nothing (NaN) outside the sampled span', async (t) => {
  const samples = [[1_000, 2.0], [1_010, 2.01]] as const;
  t.ok(Number.isNaN(cpuAt(samples, 999)));
  t.ok(Number.isNaN(cpuAt(samples, 1_011)));
  t.ok(Number.isNaN(cpuAt([], 1_000)));
});

t.test('finds the right pair among many samples, and a flat span reads flat', async (t) => {
  const samples = Array.from({ length: 1_000 }, (_, i) => [i * 10, Math.floor(i / 3) * 0.01] as const);
  for (let i = 0; i < 999; i += 1) {
    const at = i * 10 + 5;
    const [, a] = samples[i]!;
    const [, b] = samples[i + 1]!;
    t.ok(Math.abs(cpuAt(samples, at) - (a + b) / 2) < 1e-9, `between samples ${i} and ${i + 1}`);
  }
});
