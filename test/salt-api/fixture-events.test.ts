// Every recorded event stream (`*.sse`, `*.frames.jsonl`) goes through our real decoding path (the SSE reader
// or the websocket frame reader, then the tag classifier) with the expected typed result; each row names its file.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import type { SaltEvent } from '../../src/core/salt-event.ts';
import { sseReader, wsFrameData } from '../../src/salt-api/event-stream.ts';
import { classify, parseEvent, stampToMs, tryParseEvent } from '../../src/salt-api/events.ts';
import { AutoscalerError } from '../../src/errors.ts';
import { FIXTURES, fixture } from './fixture-server.ts';

interface Decoded {
  readonly events: SaltEvent[];
  readonly malformed: number;
}

function decodeSse(text: string, chunkBytes = 0): Decoded {
  const events: SaltEvent[] = [];
  let malformed = 0;
  const reader = sseReader((data) => {
    const e = tryParseEvent(data);
    if (e === undefined) malformed += 1;
    else events.push(e);
  });
  const bytes = Buffer.from(text, 'utf8');
  if (chunkBytes <= 0) reader.feed(bytes);
  else for (let i = 0; i < bytes.length; i += chunkBytes) reader.feed(bytes.subarray(i, i + chunkBytes));
  return { events, malformed };
}

function decodeFrames(jsonl: string): Decoded {
  const events: SaltEvent[] = [];
  let malformed = 0;
  for (const line of jsonl.split('\n')) {
    if (line.trim() === '') continue;
    const frame = JSON.parse(line) as { dir: string; opcode: number; text?: string };
    if (frame.dir !== 'server->client' || frame.opcode !== 1 || frame.text === undefined) continue;
    if (frame.text === 'server received message') continue;
    const data = wsFrameData(frame.text);
    const e = data === undefined ? undefined : tryParseEvent(data);
    if (e === undefined) malformed += 1;
    else events.push(e);
  }
  return { events, malformed };
}

function counts(events: readonly SaltEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[e.kind] = (out[e.kind] ?? 0) + 1;
  return out;
}

type Check = (tt: Test, d: Decoded) => void;
interface Row {
  readonly kinds: Record<string, number>;
  readonly malformed?: number;
  readonly check?: Check;
}

const find = <K extends SaltEvent['kind']>(d: Decoded, kind: K): Extract<SaltEvent, { kind: K }>[] =>
  d.events.filter((e): e is Extract<SaltEvent, { kind: K }> => e.kind === kind);

const minionStartAndDeploy = (minion: string, success: boolean): Check => (tt, d) => {
  tt.same(find(d, 'minion-start').map((e) => e.minion), [minion]);
  const orch = find(d, 'run-new').filter((e) => e.fun === 'runner.state.orchestrate');
  tt.same(orch.map((e) => e.orchestrateMinion), [minion], 'the reactor orchestrate is tied to its minion');
  const ret = find(d, 'run-ret').filter((e) => e.jid === orch[0]?.jid);
  tt.same(ret.map((e) => [e.success, e.orchestrateMinion]), [[success, minion]]);
};

const ROWS: Record<string, Row> = {
  'sse_01_minion_start.sse': {
    kinds: { auth: 1, other: 8, 'minion-start': 1, 'run-new': 1, 'job-new': 2, 'job-ret': 2, 'run-ret': 1 },
    check: (tt, d) => {
      minionStartAndDeploy('lab-m2', true)(tt, d);
      tt.equal(d.events[0]?.stampMs, Date.parse('2026-11-28T07:01:02.376Z'), '_stamp read as UTC');
      tt.ok(d.events.some((e) => e.kind === 'other' && e.tag === 'autoscaler/instance/ready'), 'the lab\'s old ready tag is not ours');
      const ret = find(d, 'job-ret')[0];
      tt.match(ret, { minion: 'lab-m2', fun: 'state.sls', success: true, retcode: 0 });
    },
  },
  'sse_02_local_jobs.sse': {
    kinds: { other: 5, 'job-new': 4, 'job-ret': 5 },
    check: (tt, d) => {
      tt.ok(find(d, 'job-ret').some((e) => e.fun === 'cmd.run' && e.success === false && e.retcode === 3), 'exit 3 is a failed job-ret');
      tt.ok(find(d, 'job-new').every((e) => e.minions.length > 0), 'job-new carries its minions');
    },
  },
  'sse_03_runner_jobs.sse': {
    kinds: { 'run-new': 3, other: 3, 'job-new': 2, 'job-ret': 4, 'run-ret': 3 },
    check: (tt, d) => {
      tt.same(find(d, 'run-new').map((e) => e.fun), ['runner.manage.up', 'runner.manage.status', 'runner.event.send']);
      tt.ok(find(d, 'run-new').every((e) => e.orchestrateMinion === undefined), 'no orchestrate minion on other runners');
    },
  },
  'sse_04_cloud_start_stop.sse': {
    kinds: { 'run-new': 6, cloud: 4, 'run-ret': 6, auth: 1, other: 8, 'minion-start': 1, 'job-new': 2, 'job-ret': 2 },
    check: (tt, d) => {
      tt.same(find(d, 'cloud').map((e) => `${e.minion}:${e.what}`), ['gpu-dev-1:starting', 'gpu-dev-1:started', 'gpu-dev-1:stopping', 'gpu-dev-1:stopped']);
      minionStartAndDeploy('gpu-dev-1', true)(tt, d);
    },
  },
  'sse_05_orch_failure.sse': {
    kinds: { 'run-new': 3, cloud: 4, 'run-ret': 3, auth: 1, other: 7, 'minion-start': 1, 'job-new': 1, 'job-ret': 1 },
    check: minionStartAndDeploy('gpu-dev-3', false),
  },
  'sse_06_key_events.sse': {
    kinds: { other: 20, key: 3, 'run-new': 3, cloud: 4, 'run-ret': 3, auth: 1, 'minion-start': 1, 'job-new': 2, 'job-ret': 2 },
    check: (tt, d) => { tt.same(find(d, 'key').map((e) => `${e.minion}:${e.act}`), ['gpu-dev-1:delete', 'gpu-dev-1:reject', 'gpu-dev-1:accept']); },
  },
  'sse_07_api_restart.sse': { kinds: { other: 1, 'job-new': 1, auth: 2, 'job-ret': 1 } },
  'sse_08_master_restart.sse': { kinds: { other: 2, 'job-new': 2, auth: 4, 'job-ret': 2 } },
  'sse_09_token_expires_midstream.sse': {
    kinds: { 'run-new': 2, other: 1, 'run-ret': 1 },
    check: (tt, d) => { tt.equal(d.events.at(-1)?.kind, 'run-new', 'the stream ends after one event past expiry'); },
  },
  'sse_10_events_with_salt_token.sse': { kinds: {} },
  'sse_11_autoscaler_calls.sse': {
    kinds: { other: 22, 'job-new': 10, 'job-ret': 11, 'run-new': 6, heartbeat: 1, 'run-ret': 6, cloud: 9, auth: 1, 'minion-start': 1, 'instance-ready': 1 },
    check: (tt, d) => {
      tt.same(find(d, 'heartbeat').map((e) => e.seq), [1]);
      tt.same(find(d, 'instance-ready').map((e) => e.minion), ['gpu-dev-9']);
      tt.same(find(d, 'cloud').map((e) => e.what), ['creating', 'requesting', 'starting', 'started', 'created', 'destroying', 'stopping', 'stopped', 'destroyed']);
      minionStartAndDeploy('gpu-dev-9', true)(tt, d);
    },
  },
  'ws_01_minion_start.frames.jsonl': {
    kinds: { auth: 1, other: 8, 'minion-start': 1, 'run-new': 1, 'job-new': 2, 'job-ret': 2, 'run-ret': 1 },
    check: (tt, d) => {
      const sse = decodeSse(fixture('sse_01_minion_start.sse'));
      tt.same(d.events, sse.events, 'the same typed events as the SSE recording made at the same time');
    },
  },
  // format_events=true frames are bare cumulative JSON, not events: counted as malformed, never yielded.
  'ws_02_minion_start_format_events.frames.jsonl': { kinds: {}, malformed: 4 },
  'ws_07_api_restart.frames.jsonl': { kinds: { other: 1, 'job-new': 1, auth: 2, 'job-ret': 1 } },
  'ws_08_master_restart.frames.jsonl': { kinds: { other: 2, 'job-new': 2, auth: 4, 'job-ret': 2 } },
};

// real_sse_*: the product's reactor and orchestrate on a real master, decoded by test/salt-api/real-events.test.ts
const files = readdirSync(FIXTURES).filter((f) => (f.endsWith('.sse') || f.endsWith('.frames.jsonl')) && !f.startsWith('real_')).sort();

t.test('every recorded stream has a row in the table', async (tt) => {
  tt.same(files.filter((f) => !(f in ROWS)), []);
  tt.same(Object.keys(ROWS).filter((r) => !files.includes(r)), []);
});

for (const file of files) {
  const row = ROWS[file];
  if (row === undefined) continue;
  t.test(file, async (tt) => {
    const d = file.endsWith('.sse') ? decodeSse(fixture(file)) : decodeFrames(fixture(file));
    tt.same(counts(d.events), row.kinds, 'kinds');
    tt.equal(d.malformed, row.malformed ?? 0, 'malformed frames');
    tt.ok(d.events.every((e) => typeof e.data['_stamp'] === 'string'), 'data is the inner object (it carries _stamp)');
    row.check?.(tt, d);
  });
}

t.test('SSE decoding does not depend on how the bytes are chunked (incl. split UTF-8)', async (tt) => {
  const text = fixture('sse_11_autoscaler_calls.sse') + 'tag: x/é\ndata: {"data": {"name": "é✓"}, "tag": "x/é"}\n\n';
  const whole = decodeSse(text);
  for (const size of [1, 2, 3, 7, 64, 1000]) {
    tt.same(decodeSse(text, size).events, whole.events, `chunks of ${size} bytes`);
  }
  tt.same(whole.events.at(-1)?.data, { name: 'é✓' });
});

t.test('classify maps our own instance and heartbeat tags, whoever fires them', async (tt) => {
  tt.match(classify('salt-autoscaler/instance/gpu-1/ready', { id: 'gpu-1' }), { kind: 'instance-ready', minion: 'gpu-1' });
  tt.match(classify('salt-autoscaler/instance/gpu-1/draining', {}), { kind: 'instance-draining', minion: 'gpu-1' });
  tt.match(classify('salt-autoscaler/instance/gpu-1/failed', { id: 'gpu-1', reason: 'state failed' }), { kind: 'instance-failed', minion: 'gpu-1', reason: 'state failed' });
  tt.match(classify('salt-autoscaler/instance/gpu-2/failed', { id: 'gpu-2', cmd: '_minion_event', data: { __pub_fun: 'event.send', reason: 'disk full' } }), { kind: 'instance-failed', minion: 'gpu-2', reason: 'disk full' }, 'minion-fired data.data');
  tt.equal(classify('salt-autoscaler/instance/gpu-3/failed', {}).kind, 'instance-failed');
  tt.notOk('reason' in classify('salt-autoscaler/instance/gpu-3/failed', {}), 'no reason key when none was sent');
  tt.equal(classify('salt-autoscaler/instance/gpu-1/exploded', {}).kind, 'other');
  tt.equal(classify('salt-autoscaler/instance/a/b/ready', {}).kind, 'other', 'a minion id has no slash');
  tt.match(classify('salt-autoscaler/heartbeat', { seq: 4, sent_at: 1.5 }), { kind: 'heartbeat', seq: 4 });
  tt.match(classify('salt-autoscaler/heartbeat', { data: { seq: 5 } }), { kind: 'heartbeat', seq: 5 });
});

t.test('classify keeps odd salt tags as other instead of guessing', async (tt) => {
  for (const tag of ['salt/job/123/ret/', 'salt/job/123', 'salt/run/1/args', 'salt/minion//start', 'salt/cloud/x', 'salt/wheel/1/new', 'minion_start', '20261128070102846864', '']) {
    tt.equal(classify(tag, {}).kind, 'other', JSON.stringify(tag));
  }
  tt.match(classify('salt/job/1/ret/m1', { success: 'yes', retcode: 'x' }), { kind: 'job-ret', minion: 'm1' });
  tt.notOk('success' in classify('salt/job/1/ret/m1', { success: 'yes' }), 'wrong-typed fields are dropped');
});

t.test('run-ret of an orchestrate is a failure when its retcode is non-zero', async (tt) => {
  const data = { fun: 'runner.state.orchestrate', success: true, return: { retcode: 1 }, fun_args: [{ pillar: { target_minion: 'm9' } }] };
  tt.match(classify('salt/run/1/ret', data), { kind: 'run-ret', success: false, orchestrateMinion: 'm9' });
});

t.test('stampToMs reads Salt stamps as UTC and refuses the rest', async (tt) => {
  tt.equal(stampToMs('2026-11-28T07:01:02.376122'), Date.UTC(2026, 10, 28, 7, 1, 2, 376));
  tt.equal(stampToMs('2026-11-28T07:01:02'), Date.UTC(2026, 10, 28, 7, 1, 2, 0));
  tt.equal(stampToMs('2026-11-28T07:01:02.5'), Date.UTC(2026, 10, 28, 7, 1, 2, 500));
  tt.equal(stampToMs('yesterday'), undefined);
  tt.equal(stampToMs(17), undefined);
  tt.notOk('stampMs' in classify('salt/auth', { _stamp: 'bad' }));
});

t.test('stampToMs agrees with Date.UTC on generated stamps in any order (the day it remembers never leaks)', async (tt) => {
  const pad = (n: number, w: number): string => String(n).padStart(w, '0');
  const stampArb = fc.record({
    y: fc.constantFrom(1970, 2000, 2024, 2026, 2100), mo: fc.integer({ min: 0, max: 13 }), d: fc.integer({ min: 0, max: 32 }),
    h: fc.integer({ min: 0, max: 24 }), mi: fc.integer({ min: 0, max: 60 }), s: fc.integer({ min: 0, max: 59 }), us: fc.integer({ min: 0, max: 999_999 }),
  });
  let valid = 0;
  fc.assert(fc.property(fc.array(stampArb, { minLength: 1, maxLength: 5 }), (stamps) => stamps.every(({ y, mo, d, h, mi, s, us }) => {
    const text = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(us, 6)}`;
    const ok = mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59;
    if (ok) valid += 1;
    // days past a month's end roll over, as Date.UTC does (Salt never writes them)
    return stampToMs(text) === (ok ? Date.UTC(y, mo - 1, d, h, mi, s, Math.floor(us / 1000)) : undefined);
  })), { numRuns: 3_000, seed: 1608 });
  tt.ok(valid > 1000, `${valid} valid stamps among the generated`);
});

t.test('a malformed frame is a typed error from parseEvent and undefined from tryParseEvent', async (tt) => {
  for (const bad of ['{"data": {"a": 1}, "tag": "x"', 'null', '[]', '{"tag": 1, "data": {}}', '{"tag": "x", "data": []}', '{"tag": "x"}', '<html>']) {
    tt.equal(tryParseEvent(bad), undefined, bad);
    let code: string | undefined;
    try { parseEvent(bad); } catch (err) { code = err instanceof AutoscalerError ? err.code : 'untyped'; }
    tt.equal(code, 'ASC_ERR_SALT_STREAM');
  }
  tt.match(parseEvent('{"data": {"id": "m1"}, "tag": "salt/minion/m1/start"}\n\n'), { kind: 'minion-start', minion: 'm1' });
});
