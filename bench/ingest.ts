/**
 * bench/ingest: event ingest throughput. SSE body bytes (the recorded salt-api streams of
 * test/fixtures/salt-api/*.sse, repeated to a large buffer, fed in 16 KiB network-sized chunks) go through
 * the service's SSE path (eventsource-parser reader -> EventFrames, the frame handler SaltEventStream runs: the
 * engine's interest on the tag, one JSON.parse of the frames it reads, classification -> a queue drained by a
 * consumer), against plain JSON.parse of the same data lines, in the same process, interleaved, several rounds.
 * The interest is the engine's own (eventInterest) over a fleet where every minion of the recordings is managed
 * and on its way to ready: the most the service can read of these bytes. The same path without an interest (what
 * `salt-autoscaler events` does: every frame parsed) is measured too. Reports medians and the ratio
 * (target: >= 0.8 of JSON.parse throughput, issue 16). `npx tsx bench/ingest.ts`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { SaltEvent } from '../src/core/salt-event.ts';
import { eventInterest } from '../src/engine/intake.ts';
import { EventFrames, SKIPPED, sseReader } from '../src/salt-api/event-stream.ts';

/** IngestBench is the outcome of one run (throughputs in MB/s of SSE body and events/s). */
export interface IngestBench {
  readonly name: 'ingest';
  readonly events: number;
  readonly bytes: number;
  readonly rounds: number;
  /** oursMBps / jsonParseMBps: median throughput of our path and of plain JSON.parse, over the same bytes. */
  readonly oursMBps: number;
  readonly jsonParseMBps: number;
  readonly oursEventsPerS: number;
  readonly jsonParseEventsPerS: number;
  /** ratio: median over rounds of (our throughput / JSON.parse throughput) in that round (target >= 0.8). */
  readonly ratio: number;
  /** ratioAll: the same without an interest (every frame parsed and classified, as `salt-autoscaler events`). */
  readonly ratioAll: number;
  /** skippedFrames / skippedBytes: what the interest left unparsed, of `events` frames and of the data lines' bytes. */
  readonly skippedFrames: number;
  readonly skippedBytes: number;
  readonly dataBytes: number;
  readonly targetMet: boolean;
}

const FIXTURES = fileURLToPath(new URL('../test/fixtures/salt-api/', import.meta.url));
const CHUNK_BYTES = 16 * 1024;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** benchIngest builds a ~24 MB SSE body from the recorded streams and measures both paths. */
export async function benchIngest(opts: { targetBytes?: number; rounds?: number } = {}): Promise<IngestBench> {
  const targetBytes = opts.targetBytes ?? 24 * 1024 * 1024;
  const rounds = opts.rounds ?? 9;
  // one copy of every recorded event (tag + data lines), without each file's leading `retry:` line
  const unit = readdirSync(FIXTURES).filter((f) => f.endsWith('.sse')).sort()
    .map((f) => readFileSync(FIXTURES + f, 'utf8').replace(/^retry: \d+\n/, '')).join('');
  const copies = Math.max(1, Math.ceil(targetBytes / Buffer.byteLength(unit)));
  const body = Buffer.from(`retry: 400\n${unit.repeat(copies)}`, 'utf8');
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < body.length; i += CHUNK_BYTES) chunks.push(body.subarray(i, i + CHUNK_BYTES));
  const dataLines = body.toString('utf8').split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
  const events = dataLines.length;

  let sink = 0;
  // the engine's interest over the most it can read here: every minion managed and deploying
  const interest = eventInterest({ get: () => ({ state: 'deploying' }), managedName: () => true });
  let skippedFrames = 0;
  let skippedBytes = 0;
  const run = (withInterest: boolean, countSkips: boolean): number => {
    let n = 0;
    const frames = new EventFrames();
    if (withInterest) frames.interest = interest;
    // dispatch: the stream queues each event, its consumer takes them off the queue
    const queue: SaltEvent[] = [];
    const reader = sseReader((data) => {
      const e = frames.read(data);
      if (e === undefined) return;
      n += 1;
      if (e !== SKIPPED) queue.push(e);
      else if (countSkips) { skippedFrames += 1; skippedBytes += Buffer.byteLength(data); }
    });
    const t0 = performance.now();
    for (const c of chunks) {
      reader.feed(c);
      for (const e of queue) sink += e.kind.length;
      queue.length = 0;
    }
    const ms = performance.now() - t0;
    if (n !== events || frames.malformed !== 0) throw new Error(`our path saw ${n} events (${frames.malformed} malformed), expected ${events}`);
    return ms;
  };
  const runJson = (): number => {
    const t0 = performance.now();
    for (const line of dataLines) {
      const v = JSON.parse(line) as { tag?: string };
      sink += v.tag?.length ?? 0;
    }
    return performance.now() - t0;
  };

  run(true, true);
  run(false, false);
  runJson(); // warm-up
  const ours: number[] = [];
  const json: number[] = [];
  const ratios: number[] = [];
  const ratiosAll: number[] = [];
  for (let r = 0; r < rounds; r += 1) {
    // alternate the order so neither path always runs right after a GC-heavy round of the other
    const [o, j] = r % 2 === 0 ? [run(true, false), runJson()] : (() => { const jj = runJson(); return [run(true, false), jj]; })();
    const a = run(false, false);
    ours.push(o);
    json.push(j);
    ratios.push(j / o);
    ratiosAll.push(j / a);
  }
  if (sink === -1) process.stdout.write('');
  const mb = body.length / 1e6;
  const oursMs = median(ours);
  const jsonMs = median(json);
  // the ratio is the median of per-round ratios: both paths of one round ran back to back, under the same load
  const ratio = median(ratios);
  return {
    name: 'ingest', events, bytes: body.length, rounds,
    oursMBps: mb / (oursMs / 1000), jsonParseMBps: mb / (jsonMs / 1000),
    oursEventsPerS: events / (oursMs / 1000), jsonParseEventsPerS: events / (jsonMs / 1000),
    ratio, ratioAll: median(ratiosAll), skippedFrames, skippedBytes,
    dataBytes: dataLines.reduce((sum, l) => sum + Buffer.byteLength(l), 0), targetMet: ratio >= 0.8,
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await benchIngest();
  process.stdout.write(
    `ingest: ${r.events} events, ${(r.bytes / 1e6).toFixed(1)} MB SSE, ${r.rounds} rounds (medians)\n`
    + `  ours (SSE parse + interest + JSON.parse + classify + queue): ${r.oursMBps.toFixed(1)} MB/s, ${Math.round(r.oursEventsPerS)} events/s\n`
    + `    skipped unparsed: ${r.skippedFrames} of ${r.events} frames, ${(100 * r.skippedBytes / r.dataBytes).toFixed(1)} % of the data bytes\n`
    + `  plain JSON.parse of the data lines:      ${r.jsonParseMBps.toFixed(1)} MB/s, ${Math.round(r.jsonParseEventsPerS)} events/s\n`
    + `  ratio: ${r.ratio.toFixed(2)} of JSON.parse (target >= 0.80: ${r.targetMet ? 'met' : 'NOT met'})\n`
    + `  without an interest (every frame parsed, as \`events\`): ${r.ratioAll.toFixed(2)} of JSON.parse\n`,
  );
}
