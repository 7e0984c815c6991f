/**
 * bench/alloc-profile: where the service's allocations come from in a load-bench run, from a profile written by
 * bench/heap-sampler.js: `BENCH_HEAP_PROFILE_DIR=DIR BENCH_SERVICE_NODE_ARGS="--import=./bench/heap-sampler.js" npx tsx
 * bench/load.ts --seconds 2`, then `npx tsx bench/alloc-profile.ts DIR/heap-PID.heapprofile [--starts N]`.
 *
 * Every allocation V8 sampled (about one every 8 KiB, weighted back to the bytes it stands for), garbage included,
 * over the whole life of the process: the startup (config, first reconcile) is a row of its own; the others are
 * bench/wave-profile.ts's rows (first match wins), then its kinds (inclusive), and logging (pino, sonic-boom) as a
 * row before them, since a log line is written from every part. `KB/start` = bytes / the run's starts (1,000), so it
 * also holds the run's holds and noise events: a per-scale-up order of magnitude, not an exact figure.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ENTRIES, KINDS, type Stack } from './wave-profile.ts';

interface HeapNode {
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly selfSize: number;
  readonly children?: readonly HeapNode[];
}
/** HeapProfile is the part of V8's sampling heap profile read here. */
export interface HeapProfile { readonly head: HeapNode }

/** AllocRow is one line of a table: bytes and share of everything sampled. */
export interface AllocRow { readonly name: string; readonly bytes: number; readonly share: number }

const has = (s: Stack, re: RegExp): boolean => s.some((f) => re.test(f));

/** FIRST_ROWS come before wave-profile's entries: the startup, and the log lines written from everywhere. */
const FIRST_ROWS: readonly [string, (s: Stack) => boolean][] = [
  ['startup (config, first reconcile, module loading)', (s) => has(s, /config\/|engine\/reconciler|salt-api\/actions.*cloudInstances|^(startService|run|main) .*\/(main|cli)\.js|compileFunction|wrapSafe|ModuleJob/)],
  ['logging (pino, sonic-boom)', (s) => has(s, /node_modules\/(pino|sonic-boom)/)],
];

/** allocProfile sums the sampled bytes by row (first match) and by kind (inclusive). */
export function allocProfile(p: HeapProfile): { readonly total: number; readonly byEntry: readonly AllocRow[]; readonly byKind: readonly AllocRow[] } {
  const entries = [...FIRST_ROWS, ...ENTRIES.filter(([name]) => name !== 'GC')];
  const entryBytes = entries.map(() => 0);
  const kindBytes = KINDS.map(() => 0);
  let total = 0;
  const walk = (node: HeapNode, parent: Stack): void => {
    const stack = [`${node.callFrame.functionName} ${node.callFrame.url}`, ...parent];
    if (node.selfSize > 0) {
      total += node.selfSize;
      const k = entries.findIndex(([, match]) => match(stack));
      if (k >= 0) entryBytes[k]! += node.selfSize;
      KINDS.forEach(([, match], i) => { if (match(stack)) kindBytes[i]! += node.selfSize; });
    }
    for (const child of node.children ?? []) walk(child, stack);
  };
  walk(p.head, []);
  const rows = (names: readonly string[], bytes: readonly number[]): AllocRow[] =>
    names.map((name, i) => ({ name, bytes: bytes[i] ?? 0, share: total === 0 ? 0 : (bytes[i] ?? 0) / total }));
  return { total, byEntry: rows(entries.map(([n]) => n), entryBytes), byKind: rows(KINDS.map(([n]) => n), kindBytes) };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ options: { starts: { type: 'string' } }, allowPositionals: true, strict: true });
  const file = positionals[0];
  if (file === undefined) throw new Error('usage: npx tsx bench/alloc-profile.ts heap-PID.heapprofile [--starts N]');
  const starts = Number(values.starts ?? 1000);
  const a = allocProfile(JSON.parse(readFileSync(file, 'utf8')) as HeapProfile);
  const table = (rows: readonly AllocRow[]): string =>
    rows.map((r) => `| ${r.name} | ${(r.bytes / 1e6).toFixed(1)} | ${(100 * r.share).toFixed(1)} % | ${(r.bytes / starts / 1e3).toFixed(0)} |`).join('\n');
  console.log(`sampled allocations: ${(a.total / 1e6).toFixed(1)} MB over the process's life`);
  console.log(`| by entry (first match) | MB | share | KB/start |\n|---|---|---|---|\n${table(a.byEntry)}`);
  console.log(`| by kind (inclusive) | MB | share | KB/start |\n|---|---|---|---|\n${table(a.byKind)}`);
}
