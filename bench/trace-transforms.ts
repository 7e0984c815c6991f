/**
 * bench/trace-transforms: demand the policies were never tuned on, made from the repo's traces, plus a synthetic
 * recurring trace. Every transform is deterministic (the shuffle is seeded) and keeps whole GPUs.
 *
 *   scaled x0.5, x2 · shifted by 12 h (rotated) · reversed · summed with another trace · first half of one, second half
 *   of another · shuffled by 2-hour blocks · stretched x2 (every minute twice: slower) · compressed x2 (every other
 *   minute: twice as fast) · recurring: 0 GPUs for 60 min, 64 GPUs for 30 min, again and again
 */
import { fileURLToPath } from 'node:url';
import { loadTrace, type Trace } from '../src/sim/trace.ts';
import { seededRandom } from '../src/sim/latency.ts';

/** HELIOS_TRACE_NAMES are the traces under test/fixtures/traces. */
export const HELIOS_TRACE_NAMES = ['vc3sl', 'vc6YE', 'vcJLV', 'vcgkz'] as const;

/** loadHeliosTraces reads the repo's four traces. */
export async function loadHeliosTraces(): Promise<Trace[]> {
  return Promise.all(HELIOS_TRACE_NAMES.map((name) => loadTrace(fileURLToPath(new URL(`../test/fixtures/traces/${name}.csv.gz`, import.meta.url)))));
}

function traceOf(name: string, demandGpus: readonly number[], pendingGpus: readonly number[] = demandGpus.map(() => 0)): Trace {
  return { name, demandGpus, pendingGpus };
}

/** scaled multiplies the demand (rounded to whole GPUs). */
export function scaled(t: Trace, factor: number): Trace {
  return traceOf(`${t.name} x${factor}`, t.demandGpus.map((d) => Math.round(d * factor)), t.pendingGpus.map((p) => Math.round(p * factor)));
}

/** shifted rotates the trace by `minutes` (the first minutes move to the end): the same demand at other hours. */
export function shifted(t: Trace, minutes: number): Trace {
  const rotate = (values: readonly number[]): number[] => [...values.slice(minutes), ...values.slice(0, minutes)];
  return traceOf(`${t.name} shifted ${minutes / 60}h`, rotate(t.demandGpus), rotate(t.pendingGpus));
}

/** reversed plays the trace backwards: rises become falls, and any daily habit runs the wrong way. */
export function reversed(t: Trace): Trace {
  return traceOf(`${t.name} reversed`, [...t.demandGpus].reverse(), [...t.pendingGpus].reverse());
}

/** summed adds two traces minute by minute (two clusters on one pool), as long as the shorter one. */
export function summed(a: Trace, b: Trace): Trace {
  const n = Math.min(a.demandGpus.length, b.demandGpus.length);
  const add = (x: readonly number[], y: readonly number[]): number[] => Array.from({ length: n }, (_, i) => (x[i] ?? 0) + (y[i] ?? 0));
  return traceOf(`${a.name}+${b.name}`, add(a.demandGpus, b.demandGpus), add(a.pendingGpus, b.pendingGpus));
}

/** concatenated is the first half of `a` followed by the second half of `b` (a pool whose users change). */
export function concatenated(a: Trace, b: Trace): Trace {
  const ha = Math.floor(a.demandGpus.length / 2);
  const hb = Math.floor(b.demandGpus.length / 2);
  return traceOf(`${a.name} then ${b.name}`, [...a.demandGpus.slice(0, ha), ...b.demandGpus.slice(hb)], [...a.pendingGpus.slice(0, ha), ...b.pendingGpus.slice(hb)]);
}

/** shuffledBlocks cuts the trace into blocks of `blockMinutes` and puts them in a seeded random order: no recurrence left. */
export function shuffledBlocks(t: Trace, blockMinutes: number, seed: number): Trace {
  const blocks: number[] = [];
  for (let start = 0; start < t.demandGpus.length; start += blockMinutes) blocks.push(start);
  const random = seededRandom(seed);
  for (let i = blocks.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [blocks[i], blocks[j]] = [blocks[j] ?? 0, blocks[i] ?? 0];
  }
  const pick = (values: readonly number[]): number[] => blocks.flatMap((start) => values.slice(start, start + blockMinutes));
  return traceOf(`${t.name} shuffled ${blockMinutes / 60}h`, pick(t.demandGpus), pick(t.pendingGpus));
}

/** stretched repeats each minute `factor` times: the same demand moving `factor` times slower. */
export function stretched(t: Trace, factor: number): Trace {
  const repeat = (values: readonly number[]): number[] => values.flatMap((v) => Array<number>(factor).fill(v));
  return traceOf(`${t.name} stretched x${factor}`, repeat(t.demandGpus), repeat(t.pendingGpus));
}

/** compressed keeps every `factor`-th minute: the same demand moving `factor` times faster against the same lead. */
export function compressed(t: Trace, factor: number): Trace {
  const keep = (values: readonly number[]): number[] => values.filter((_, i) => i % factor === 0);
  return traceOf(`${t.name} compressed x${factor}`, keep(t.demandGpus), keep(t.pendingGpus));
}

/** recurring is the synthetic trace of the issue: `idle` minutes at 0 GPUs, `busy` minutes at `gpus`, for `days` days. */
export function recurring(idleMinutes = 60, busyMinutes = 30, gpus = 64, days = 7): Trace {
  const period = idleMinutes + busyMinutes;
  const demand = Array.from({ length: days * 1440 }, (_, i) => (i % period < idleMinutes ? 0 : gpus));
  return traceOf(`recurring ${idleMinutes}m@0/${busyMinutes}m@${gpus}`, demand);
}

/**
 * weekly is a synthetic trace that recurs by the week and not by the day: `gpus` GPUs from 08:00 to 20:00 on the first
 * five days of each week, nothing at night nor on the two days after them, for `weeks` weeks.
 */
export function weekly(gpus = 64, weeks = 6): Trace {
  const demand = Array.from({ length: weeks * 7 * 1440 }, (_, i) => {
    const minuteOfDay = i % 1440;
    return Math.floor(i / 1440) % 7 < 5 && minuteOfDay >= 480 && minuteOfDay < 1200 ? gpus : 0;
  });
  return traceOf(`weekly ${gpus} GPUs 08-20h on 5 of 7 days`, demand);
}

/** TransformSet says which transforms to make: all of them, or the ones that test generalisation hardest. */
export type TransformSet = 'all' | 'core';

/** transformsOf builds the transforms of each trace (`next` is the trace it is summed and concatenated with). */
export function transformsOf(traces: readonly Trace[], set: TransformSet): Trace[] {
  const out: Trace[] = [];
  traces.forEach((t, i) => {
    const next = traces[(i + 1) % traces.length] ?? t;
    out.push(reversed(t), shuffledBlocks(t, 120, i + 1));
    if (set === 'all') {
      out.push(scaled(t, 0.5), scaled(t, 2), shifted(t, 720), summed(t, next), concatenated(t, next), stretched(t, 2), compressed(t, 2));
    }
  });
  return out;
}
