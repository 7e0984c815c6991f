/**
 * bench/wave-profile: where the service's CPU goes per scale-up in the load bench's wave, from a `--cpu-prof` of the
 * service. `npx tsx bench/wave-profile.ts PROFILE.cpuprofile [--cpu-s S] [--starts N]`, after
 * `BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" npx tsx bench/load.ts --seconds 2 [...]`.
 *
 * The window: from the first sample in the webhook route under fastify (the first notification) to the last sample
 * in the executor or the cloud.action batcher (the last start sent). Samples are counted, not weighted by wall time (a descheduled process
 * takes no samples worth counting as work); idle and `(program)` samples are left out. A sample's CPU is the run's
 * service CPU (`--cpu-s`, the load bench's "service N CPU-s") over the busy samples from the window's start to the
 * end of the profile, so `us/start` = samples x that / starts. The profiler adds ~20 % to the run's CPU.
 *
 * Two tables: by entry (each busy sample counted once, in the first row whose frames it has: GC, the webhook's HTTP
 * in/out, the webhook handler, the salt events' intake, the salt-api calls, the evaluation / executor / turn
 * commit, the rest), and by kind of work (inclusive: a sample counts in every row whose frames it has).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame { readonly functionName: string; readonly url: string }
interface ProfileNode { readonly id: number; readonly callFrame: CallFrame; readonly children?: readonly number[] }
/** CpuProfile is the part of V8's `.cpuprofile` read here. */
export interface CpuProfile { readonly nodes: readonly ProfileNode[]; readonly samples: readonly number[]; readonly timeDeltas: readonly number[] }

/** Row is one line of a table: samples in the window and CPU us per start. */
export interface Row { readonly name: string; readonly samples: number; readonly share: number; readonly usPerStart: number }

/** WaveProfile is the window and its two tables. */
export interface WaveProfile {
  readonly windowS: number;
  readonly busySamples: number;
  readonly usPerSample: number;
  readonly byEntry: readonly Row[];
  readonly byKind: readonly Row[];
}

/** Stack is a sample's frames, leaf first, each `functionName url`. */
export type Stack = readonly string[];
const has = (s: Stack, re: RegExp): boolean => s.some((f) => re.test(f));
const GC = /^\(garbage collector\)/;
const IDLE = /^\((idle|program)\)/;

/** ENTRIES: first match wins (a sample is counted once); bench/alloc-profile.ts sorts allocations by them too. */
export const ENTRIES: readonly [string, (s: Stack) => boolean][] = [
  ['GC', (s) => GC.test(s[0] ?? '')],
  ['webhook: HTTP request in, answer out (node http, fastify)', (s) => has(s, /_http_server|fastify|parserOn|http\/app/) && !has(s, /alertmanager\/webhook/)],
  ['webhook handler (body, check, alert book, signal)', (s) => has(s, /alertmanager\/webhook/)],
  ['salt events intake (SSE, parse, lifecycle, store, log)', (s) => has(s, /event-stream|salt-api\/events|eventsource-parser|engine\/intake/)],
  ['salt-api calls (undici request and answer, client, decode)', (s) => has(s, /node_modules\/undici|salt-api\/client|salt-api\/actions|salt-api\/cloud-batch/)],
  ['evaluation, executor, turn commit', (s) => has(s, /engine\/executor|turn-commit|engine\/engine|engine\/evaluator|engine\/reconciler/)],
  ['other (stream internals, microtasks, log writes)', () => true],
];

/** KINDS: inclusive (a sample counts in every row it matches). */
export const KINDS: readonly [string, (s: Stack) => boolean][] = [
  ['SQLite (store calls)', (s) => has(s, /store\/sqlite-store|better-sqlite3/)],
  ['evaluate (decide, its transaction)', (s) => has(s, /engine\/evaluator/)],
  ['undici', (s) => has(s, /node_modules\/undici/)],
  ['fastify', (s) => has(s, /node_modules\/fastify/)],
  ['pino and its writes', (s) => has(s, /node_modules\/(pino|sonic-boom)/)],
  ['zod', (s) => has(s, /node_modules\/zod/)],
  ['prom-client', (s) => has(s, /prom-client/)],
  ['fleet moves, lifecycle step', (s) => has(s, /engine\/fleet|core\/lifecycle/)],
  ['salt-api #decode', (s) => has(s, /^#decode .*salt-api/)],
  ['intent finish', (s) => has(s, /^finishIntent /)],
];

/** waveProfile counts the busy samples of the wave window by entry and by kind. */
export function waveProfile(p: CpuProfile, cpuS: number, starts: number): WaveProfile {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stacks = new Map<number, Stack>();
  const stackOf = (id: number): Stack => {
    let s = stacks.get(id);
    if (s !== undefined) return s;
    const frames: string[] = [];
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const f = byId.get(x)?.callFrame;
      if (f !== undefined) frames.push(`${f.functionName} ${f.url}`);
    }
    s = frames;
    stacks.set(id, s);
    return s;
  };
  const times: number[] = [];
  let t = 0;
  for (const d of p.timeDeltas) times.push((t += d));
  let first = -1;
  let last = -1;
  p.samples.forEach((id, i) => {
    const s = stackOf(id);
    if (first < 0 && has(s, /alertmanager\/webhook/) && has(s, /node_modules\/fastify/)) first = i;
    if (has(s, /engine\/executor|salt-api\/cloud-batch/)) last = i;
  });
  if (first < 0 || last < first) throw new Error('no wave in this profile: no sample in the webhook route, or none in the executor after it');
  const busy = (id: number): boolean => !IDLE.test(stackOf(id)[0] ?? '');
  const window = p.samples.slice(first, last + 1).filter(busy).map(stackOf);
  const toEnd = p.samples.slice(first).filter(busy).length;
  const usPerSample = (cpuS * 1e6) / toEnd;
  const rows = (defs: readonly [string, (s: Stack) => boolean][], once: boolean): Row[] => {
    const counts = defs.map(() => 0);
    for (const s of window) {
      for (let k = 0; k < defs.length; k++) {
        if (!defs[k]![1](s)) continue;
        counts[k]! += 1;
        if (once) break;
      }
    }
    return defs.map(([name], k) => ({ name, samples: counts[k]!, share: counts[k]! / window.length, usPerStart: (counts[k]! * usPerSample) / starts }));
  };
  return {
    windowS: ((times[last] ?? 0) - (times[first] ?? 0)) / 1e6,
    busySamples: window.length,
    usPerSample,
    byEntry: rows(ENTRIES, true),
    byKind: rows(KINDS, false),
  };
}

function table(rows: readonly Row[]): string {
  return rows.map((r) => `| ${r.name} | ${r.samples} | ${(100 * r.share).toFixed(1)} % | ${r.usPerStart.toFixed(0)} |`).join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ options: { 'cpu-s': { type: 'string' }, starts: { type: 'string' } }, allowPositionals: true, strict: true });
  const file = positionals[0];
  if (file === undefined) throw new Error('usage: npx tsx bench/wave-profile.ts PROFILE.cpuprofile [--cpu-s S] [--starts N]');
  const w = waveProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(values['cpu-s'] ?? 0), Number(values.starts ?? 1000));
  console.log(`wave window ${w.windowS.toFixed(2)} s, ${w.busySamples} busy samples, ${w.usPerSample.toFixed(0)} us of CPU a sample`);
  console.log(`| by entry (each sample once) | samples | share | us/start |\n|---|---|---|---|\n${table(w.byEntry)}`);
  console.log(`| by kind (inclusive) | samples | share | us/start |\n|---|---|---|---|\n${table(w.byKind)}`);
}
