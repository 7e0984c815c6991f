// EventFrames, the frame handler of SaltEventStream: with the engine's interest, the frames it does not read are
// counted by kind and not parsed; the ones it reads come out exactly as without an interest; malformed frames the
// engine reads are counted and skipped; heartbeats are always parsed (the stream reads them itself).
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import type { SaltEventKind } from '../../src/core/salt-event.ts';
import { EventFrames, SKIPPED } from '../../src/salt-api/event-stream.ts';
import fc from 'fast-check';
import { classifyTag, frameTag, mayBeOrchestrate, tryParseEvent } from '../../src/salt-api/events.ts';
import { FIXTURES } from './fixture-server.ts';

const lines = readdirSync(FIXTURES).filter((f) => f.endsWith('.sse')).sort()
  .flatMap((f) => readFileSync(FIXTURES + f, 'utf8').split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)));

/** readsJobRets reads job returns and run events only (a narrow engine, to see both outcomes on every kind). */
const readsJobRets = (kind: SaltEventKind): boolean => kind === 'job-ret' || kind === 'run-new' || kind === 'run-ret';

t.test('without an interest every recorded frame is parsed', async (t) => {
  const frames = new EventFrames();
  const out = lines.map((l) => frames.read(l));
  t.equal(out.filter((e) => typeof e === 'object').length, lines.length);
  t.same(frames.skipped, {});
  t.equal(frames.events, lines.length);
});

t.test('with an interest, what it does not read is counted by kind and not parsed; the rest is the same events', async (t) => {
  const frames = new EventFrames();
  const asked: string[] = [];
  frames.interest = (kind, minion) => { asked.push(`${kind}:${minion}`); return readsJobRets(kind); };
  const expected = lines.map((l) => tryParseEvent(l));
  const skippedByKind: Record<string, number> = {};
  for (const [i, line] of lines.entries()) {
    const want = expected[i];
    const got = frames.read(line);
    if (want === undefined) t.fail(`recorded frame ${i} is malformed`);
    else if (want.kind === 'heartbeat' || readsJobRets(want.kind)) t.same(got, want, want.tag);
    else {
      t.equal(got, SKIPPED, want.tag);
      skippedByKind[want.kind] = (skippedByKind[want.kind] ?? 0) + 1;
    }
  }
  t.same(frames.skipped, skippedByKind);
  t.ok(Object.keys(skippedByKind).length >= 6, `several kinds skipped: ${Object.keys(skippedByKind).join(', ')}`);
  t.notOk(asked.some((a) => a.startsWith('heartbeat:')), 'the interest is not asked about heartbeats');
  t.ok(asked.includes('job-ret:lab-m1'), 'a job return is asked with the minion its tag names');
  t.equal(frames.malformed, 0);
});

t.test('a malformed frame the engine reads is counted malformed; one it does not read is counted skipped, unparsed', async (t) => {
  const logs: string[] = [];
  const log = { debug: (_o: object, msg: string) => { logs.push(msg); } } as unknown as ConstructorParameters<typeof EventFrames>[0];
  const frames = new EventFrames(log);
  frames.interest = (kind) => readsJobRets(kind);
  const bodyBroken = '{"data": {"fun": "state.sls", "return": {]}, "tag": "salt/job/1/ret/gpu-1"}';
  const otherBroken = '{"data": {"x": [}, "tag": "salt/job/1/new"}';
  t.equal(frameTag(bodyBroken), 'salt/job/1/ret/gpu-1');
  t.equal(frames.read(bodyBroken), undefined, 'the job return is parsed and found malformed');
  t.equal(frames.read(otherBroken), SKIPPED, 'job-new is not read: its body is never looked at');
  t.equal(frames.read('{"data": {}, "tag": salt/job/1/new}'), undefined, 'no readable tag: parsed, and malformed');
  t.equal(frames.malformed, 2);
  t.same(frames.skipped, { 'job-new': 1 });
  t.equal(logs.filter((m) => m === 'malformed salt event frame skipped').length, 2);
  t.equal(classifyTag('salt/job/1/new').kind, 'job-new');
});

t.test('a heartbeat is parsed even when the interest reads nothing', async (t) => {
  const frames = new EventFrames();
  frames.interest = () => false;
  const e = frames.read('{"data": {"seq": 7, "sent_at": 1.5, "_stamp": "2026-12-06T01:00:00.000000"}, "tag": "salt-autoscaler/heartbeat"}');
  t.match(e, { kind: 'heartbeat', seq: 7 });
  t.same(frames.skipped, {});
});

t.test('a run event whose text cannot be an orchestrate\'s is asked about with no minion; an orchestrate\'s only from its body', async (t) => {
  const frames = new EventFrames();
  const asked = new Map<string, string | undefined>();
  frames.interest = (kind, minion) => { if (kind === 'run-new' || kind === 'run-ret') asked.set(`${kind}`, minion); return false; };
  let orchestrates = 0;
  for (const line of lines) {
    const e = tryParseEvent(line);
    if (e?.kind !== 'run-new' && e?.kind !== 'run-ret') continue;
    asked.clear();
    frames.read(line);
    const minion = asked.get(e.kind);
    if (e.orchestrateMinion !== undefined) orchestrates += 1;
    t.equal(minion, e.orchestrateMinion === undefined ? '' : undefined, `${e.tag} ${e.fun ?? ''}`);
  }
  t.ok(orchestrates >= 5, `${orchestrates} recorded orchestrate run events`);
});

t.test('mayBeOrchestrate is never false for a frame that parses into an orchestrate\'s run event (escapes included)', async (t) => {
  const seen = { orchestrate: 0, other: 0 };
  const funArb = fc.constantFrom('runner.state.orchestrate', 'runner.cloud.action', 'runner.event.send', 'state.orchestrate');
  const frameArb = fc.tuple(funArb, fc.constantFrom('salt/run/1/new', 'salt/run/1/ret'), fc.boolean(), fc.boolean()).map(([fun, tag, escape, target]) => {
    const data = { fun, fun_args: [target ? { pillar: { target_minion: 'gpu-1' } } : 'x'], _stamp: '2026-12-06T01:00:00.000000' };
    const text = JSON.stringify({ data, tag }).replace(/"([^"]*)":/g, '"$1": ').replace(/,"/g, ', "');
    // some producers escape letters: `runner.state.orch\u0065strate` is the same string once parsed
    return escape ? text.replace('orchestrate', 'orch\\u0065strate') : text;
  });
  fc.assert(fc.property(frameArb, (text) => {
    const e = tryParseEvent(text);
    const isOrchestrate = (e?.kind === 'run-new' || e?.kind === 'run-ret') && e.orchestrateMinion !== undefined;
    if (isOrchestrate) seen.orchestrate += 1;
    else seen.other += 1;
    return !isOrchestrate || mayBeOrchestrate(text);
  }), { numRuns: 2_000, seed: 1609 });
  t.ok(seen.orchestrate > 200 && seen.other > 200, JSON.stringify(seen));
});
