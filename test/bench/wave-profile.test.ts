import t from 'tap';
import { waveProfile, type CpuProfile } from '../../bench/wave-profile.ts';

const NM = 'file:///app/node_modules';
const SRC = 'file:///app/dist';

/** profileOf builds a profile whose samples are the given stacks (root first), one 1 ms apart. */
function profileOf(stacks: readonly (readonly [string, string][])[]): CpuProfile {
  const nodes: { id: number; callFrame: { functionName: string; url: string }; children: number[] }[] = [{ id: 1, callFrame: { functionName: '(root)', url: '' }, children: [] }];
  const samples: number[] = [];
  for (const stack of stacks) {
    let at = nodes[0]!;
    for (const [functionName, url] of stack) {
      let next = at.children.map((c) => nodes[c - 1]!).find((n) => n.callFrame.functionName === functionName && n.callFrame.url === url);
      if (next === undefined) {
        next = { id: nodes.length + 1, callFrame: { functionName, url }, children: [] };
        nodes.push(next);
        at.children.push(next.id);
      }
      at = next;
    }
    samples.push(at.id);
  }
  return { nodes, samples, timeDeltas: samples.map(() => 1000) };
}

const webhook: [string, string][] = [['runPreParsing', `${NM}/fastify/lib/route.js`], ['', `${SRC}/alertmanager/webhook.js`]];
const executor: [string, string][] = [['#send', `${SRC}/engine/executor.js`]];
const undici: [string, string][] = [['request', `${NM}/undici/lib/api/api-request.js`]];
const gc: [string, string][] = [['(garbage collector)', '']];
const idle: [string, string][] = [['(idle)', '']];

t.test('the window runs from the first notification in the webhook route to the last start sent, idle left out', async (t) => {
  const p = profileOf([undici, webhook, gc, idle, [...executor, ...undici], undici, gc, executor, webhook, gc]);
  // window: samples 1..7 (webhook .. last executor); busy in it: 6 (one idle); busy from its start to the end: 8
  const w = waveProfile(p, 0.008, 2);
  t.equal(w.busySamples, 6);
  t.equal(w.usPerSample, 1000, '8 ms of CPU over the 8 busy samples from the window start to the end');
  t.equal(w.windowS, 0.006);
  const entry = new Map(w.byEntry.map((r) => [r.name.split(' ')[0], r]));
  t.equal(entry.get('GC')?.samples, 2);
  t.equal(entry.get('webhook')?.samples, 1, 'the webhook handler row (the HTTP row excludes the handler)');
  t.equal(w.byEntry.find((r) => r.name.startsWith('salt-api'))?.samples, 2, 'the executor sample that calls undici counts once, as a salt-api call');
  t.equal(w.byEntry.find((r) => r.name.startsWith('evaluation'))?.samples, 1);
  t.equal(w.byEntry.reduce((a, r) => a + r.samples, 0), 6, 'each busy sample in one entry row');
  t.equal(w.byKind.find((r) => r.name === 'undici')?.usPerStart, 1000, '2 undici samples x 1 ms / 2 starts');
});

t.test('a profile without a wave is refused', async (t) => {
  t.throws(() => waveProfile(profileOf([undici, executor]), 1, 1), /no wave/);
});
