// classifyTag (indexOf, no split) agrees with the split-based reading of a tag the service used before it, on every
// recorded tag and on generated ones; frameTag reads a frame's tag from its end only when that is the parsed tag.
import t from 'tap';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { classifyTag, frameTag, type TagSubject } from '../../src/salt-api/events.ts';
import { FIXTURES } from './fixture-server.ts';

/** splitReading is the tag reading of `classify` before classifyTag (tag.split('/', 6), then the same rules). */
function splitReading(tag: string): TagSubject {
  const none = { jid: '', minion: '', what: '' };
  if (tag.startsWith('salt/')) {
    const parts = tag.split('/', 6);
    const [, area, p2 = '', p3, p4 = ''] = parts;
    const n = parts.length;
    if (area === 'job' && n === 4 && p3 === 'new') return { ...none, kind: 'job-new', jid: p2 };
    if (area === 'job' && n === 5 && p3 === 'ret' && p4 !== '') return { ...none, kind: 'job-ret', jid: p2, minion: p4 };
    if (area === 'run' && n === 4 && (p3 === 'new' || p3 === 'ret')) return { ...none, kind: p3 === 'new' ? 'run-new' : 'run-ret', jid: p2 };
    if (area === 'minion' && n === 4 && p3 === 'start' && p2 !== '') return { ...none, kind: 'minion-start', minion: p2 };
    if (area === 'auth' && n === 2) return { ...none, kind: 'auth' };
    if (area === 'key' && n === 2) return { ...none, kind: 'key' };
    if (area === 'cloud' && n === 4 && p2 !== '' && p3 !== '') return { ...none, kind: 'cloud', minion: p2, what: p3 ?? '' };
    return { ...none, kind: 'other' };
  }
  if (tag.startsWith('salt-autoscaler/instance/')) {
    const rest = tag.slice('salt-autoscaler/instance/'.length).split('/');
    const [minion = '', what] = rest;
    if (rest.length === 2 && minion !== '' && (what === 'ready' || what === 'failed' || what === 'draining')) return { ...none, kind: `instance-${what}`, minion };
    return { ...none, kind: 'other' };
  }
  return { ...none, kind: tag === 'salt-autoscaler/heartbeat' ? 'heartbeat' : 'other' };
}

const recordedLines = readdirSync(FIXTURES).filter((f) => f.endsWith('.sse')).sort()
  .flatMap((f) => readFileSync(FIXTURES + f, 'utf8').split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)));
const wsLines = readdirSync(FIXTURES).filter((f) => f.endsWith('.frames.jsonl')).sort()
  .flatMap((f) => readFileSync(FIXTURES + f, 'utf8').split('\n').filter((l) => l.trim() !== ''))
  .map((l) => JSON.parse(l) as { dir: string; text?: string })
  .flatMap((fr) => (fr.dir === 'server->client' && fr.text?.startsWith('data: ') === true ? [fr.text.slice(6)] : []));

const SEGMENTS = ['salt', 'job', 'run', 'minion', 'cloud', 'auth', 'key', 'ret', 'new', 'start', 'started', 'salt-autoscaler',
  'instance', 'ready', 'failed', 'draining', 'heartbeat', 'gpu-1', '20261128070102846864', ''];
/** part: an id, jid or suffix: usually plain, sometimes empty or with a slash in it (a different tag shape). */
const part = fc.oneof(fc.constantFrom('gpu-1', '20261128070102846864', 'ret', 'new', 'start', 'ready', 'failed', 'draining', 'started', ''), fc.string({ maxLength: 6 }));
const shapedArb = fc.tuple(part, part, part).chain(([a, b, c]) => fc.constantFrom(
  `salt/job/${a}/new`, `salt/job/${a}/ret/${b}`, `salt/job/${a}/${b}/${c}`, `salt/run/${a}/new`, `salt/run/${a}/ret`, `salt/run/${a}/${b}`,
  `salt/minion/${a}/start`, `salt/minion/${a}/${b}`, `salt/cloud/${a}/${b}`, `salt/${a}`, 'salt/auth', 'salt/key',
  `salt-autoscaler/instance/${a}/ready`, `salt-autoscaler/instance/${a}/failed`, `salt-autoscaler/instance/${a}/draining`,
  `salt-autoscaler/instance/${a}/${b}`, 'salt-autoscaler/heartbeat', `salt-autoscaler/${a}`,
));
const tagArb = fc.oneof(
  shapedArb,
  fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 7 }).map((p) => p.join('/')),
  fc.tuple(fc.constantFrom('salt/', 'salt-autoscaler/instance/', 'salt-autoscaler/'), fc.string({ maxLength: 12 })).map(([a, b]) => a + b),
  fc.string(),
);

t.test('classifyTag reads every recorded tag (SSE and websocket) as the split-based reading did', async (t) => {
  const tags = [...recordedLines, ...wsLines].map((l) => (JSON.parse(l) as { tag: string }).tag);
  t.ok(tags.length > 250, `${tags.length} recorded tags`);
  for (const tag of tags) t.same(classifyTag(tag), splitReading(tag), tag);
});

t.test('classifyTag agrees with the split-based reading on generated tags, and the generator reaches every kind', async (t) => {
  const reached = new Set<string>();
  fc.assert(fc.property(tagArb, (tag) => {
    const want = splitReading(tag);
    reached.add(want.kind);
    const got = classifyTag(tag);
    return got.kind === want.kind && got.jid === want.jid && got.minion === want.minion && got.what === want.what;
  }), { numRuns: 20_000, seed: 1606 });
  t.same([...reached].sort(), ['auth', 'cloud', 'heartbeat', 'instance-draining', 'instance-failed', 'instance-ready', 'job-new', 'job-ret', 'key', 'minion-start', 'other', 'run-new', 'run-ret']);
});

t.test('frameTag reads the tag of every recorded frame without parsing it', async (t) => {
  for (const line of [...recordedLines, ...wsLines.map((l) => `${l}\n\n`)]) {
    t.equal(frameTag(line), (JSON.parse(line) as { tag: string }).tag);
  }
});

t.test('frameTag is the parsed tag or undefined, never another string (nested tags, escapes, other layouts)', async (t) => {
  const answered = { tag: 0, undefined: 0 };
  const frameArb = fc.tuple(
    fc.dictionary(fc.constantFrom('tag', 'data', 'id', '_stamp', 'x'), fc.jsonValue({ maxDepth: 3 })),
    fc.oneof(tagArb, fc.constantFrom('a"b', 'a\\b', 'é', '\u2028', '"tag": "x', 'x"}')),
    fc.constantFrom<[string, string]>([', ', ': '], [',', ':'], [' , ', ' : ']),
    fc.boolean(),
    fc.constantFrom('tag', 'tag', 'tag', 'x"tag', 'xtag', 'ta\\g'),
  ).map(([data, tag, [comma, colon], tagLast, key]) => {
    const members = [`"data"${colon}${JSON.stringify(data)}`, `${JSON.stringify(key)}${colon}${JSON.stringify(tag)}`];
    if (!tagLast) members.reverse();
    return `{${members.join(comma)}}`;
  });
  fc.assert(fc.property(frameArb, (text) => {
    const got = frameTag(text);
    if (got === undefined) answered.undefined += 1;
    else answered.tag += 1;
    return got === undefined || got === (JSON.parse(text) as { tag?: unknown }).tag;
  }), { numRuns: 10_000, seed: 1607 });
  t.ok(answered.tag > 300 && answered.undefined > 1000, `both answers reached (${JSON.stringify(answered)})`);
});
