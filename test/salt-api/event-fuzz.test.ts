import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { classify, tryParseEvent } from '../../src/salt-api/events.ts';
import { sseReader } from '../../src/salt-api/event-stream.ts';
import { step, newInstance } from '../../src/core/lifecycle.ts';
import type { SaltEvent } from '../../src/core/salt-event.ts';

const RUNS = 10_000;
const KINDS = new Set(['minion-start', 'auth', 'key', 'job-new', 'job-ret', 'run-new', 'run-ret', 'cloud', 'instance-ready', 'instance-failed', 'instance-draining', 'heartbeat', 'other']);

// real data lines from the recordings, to mutate
const recorded = readFileSync(new URL('../fixtures/salt-api/sse_11_autoscaler_calls.sse', import.meta.url), 'utf8')
  .split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));

const tagArb = fc.oneof(
  fc.constantFrom('salt/minion/gpu-1/start', 'salt/job/20261128070102846864/ret/gpu-1', 'salt/run/1/new', 'salt/run/1/ret', 'salt/cloud/gpu-1/started',
    'salt-autoscaler/instance/gpu-1/ready', 'salt-autoscaler/instance/gpu-1/failed', 'salt-autoscaler/heartbeat', 'salt/auth', 'salt/key', 'salt/', 'salt-autoscaler/instance//', ''),
  fc.array(fc.constantFrom('salt', 'job', 'run', 'cloud', 'minion', 'ret', 'new', 'start', 'salt-autoscaler', 'instance', 'ready', 'x', ''), { maxLength: 7 }).map((p) => p.join('/')),
  fc.string(),
);
const dataArb = fc.dictionary(fc.constantFrom('id', '_stamp', 'fun', 'fun_args', 'jid', 'success', 'retcode', 'minions', 'data', 'reason', 'seq', 'return', 'name'), fc.jsonValue({ maxDepth: 3 }));
const frameArb = fc.oneof(
  fc.record({ tag: tagArb, data: dataArb }).map((f) => JSON.stringify(f)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.constantFrom(...recorded).chain((line) => fc.nat({ max: line.length }).map((n) => line.slice(0, n))),
  fc.constantFrom(...recorded).chain((line) => fc.tuple(fc.nat({ max: line.length }), fc.string({ maxLength: 3 })).map(([n, s]) => line.slice(0, n) + s + line.slice(n))),
  fc.string(),
);

function checkEvent(ev: SaltEvent): boolean {
  if (!KINDS.has(ev.kind) || typeof ev.tag !== 'string') return false;
  // every typed event is a valid lifecycle input: stepping any instance with it never throws
  const r = step(newInstance('gpu-1', 'p', 1_000), ev, { nowMs: 2_000, provisionTimeoutMs: 60_000 });
  return r.kind === 'moved' || r.kind === 'ignored';
}

t.test(`${RUNS} generated event frames: 0 crashes, each a typed event or a counted reject`, async (t) => {
  const stats = { typed: 0, rejected: 0, crashes: 0 };
  fc.assert(fc.property(frameArb, (frame) => {
    try {
      const ev = tryParseEvent(frame);
      if (ev === undefined) stats.rejected += 1;
      else if (checkEvent(ev)) stats.typed += 1;
      else return false;
      return true;
    } catch {
      stats.crashes += 1;
      return false;
    }
  }), { numRuns: RUNS, seed: 1128 });
  t.equal(stats.crashes, 0);
  t.equal(stats.typed + stats.rejected, RUNS);
  t.ok(stats.typed > 0 && stats.rejected > 0, 'both outcomes were exercised');
  t.comment(`event frames: ${RUNS} generated, ${stats.typed} typed, ${stats.rejected} rejected, ${stats.crashes} crashes`);
});

t.test('generated tags and data always classify into a known kind without throwing', async () => {
  fc.assert(fc.property(tagArb, dataArb, (tag, data) => KINDS.has(classify(tag, data).kind)), { numRuns: RUNS, seed: 1129 });
});

t.test(`${RUNS} generated SSE byte streams split at random points: the reader never throws and yields every whole event`, async (t) => {
  let total = 0;
  fc.assert(fc.property(
    fc.array(fc.oneof(frameArb.map((f) => `tag: x\ndata: ${f.replaceAll('\n', '')}\n\n`), fc.string({ maxLength: 20 })), { maxLength: 6 }),
    fc.array(fc.nat({ max: 400 }), { maxLength: 8 }),
    (parts, cuts) => {
      const text = `retry: 400\n${parts.join('')}`;
      const whole: string[] = [];
      const split: string[] = [];
      const a = sseReader((d) => whole.push(d));
      a.feed(Buffer.from(text));
      const b = sseReader((d) => split.push(d));
      const bytes = Buffer.from(text);
      let at = 0;
      for (const c of [...cuts].sort((x, y) => x - y)) {
        const end = Math.min(bytes.length, c);
        if (end > at) { b.feed(bytes.subarray(at, end)); at = end; }
      }
      b.feed(bytes.subarray(at));
      for (const d of split) tryParseEvent(d);
      total += 1;
      return JSON.stringify(whole) === JSON.stringify(split);
    },
  ), { numRuns: RUNS, seed: 1130 });
  t.equal(total, RUNS);
});
