import t from 'tap';
import { allocProfile, type HeapProfile } from '../../bench/alloc-profile.ts';

const NM = 'file:///app/node_modules';
const SRC = 'file:///app/dist';
const frame = (functionName: string, url: string, selfSize: number, children: HeapProfile['head'][] = []): HeapProfile['head'] =>
  ({ callFrame: { functionName, url }, selfSize, children });

const profile: HeapProfile = {
  head: frame('(root)', '', 0, [
    frame('loadConfig', `${SRC}/config/load.js`, 500),
    frame('routeHandler', `${NM}/fastify/lib/route.js`, 100, [
      frame('', `${SRC}/alertmanager/webhook.js`, 200, [
        frame('write', `${NM}/pino/lib/proto.js`, 50),
      ]),
    ]),
    frame('handle', `${SRC}/engine/intake.js`, 30, [
      frame('step', `${SRC}/engine/fleet.js`, 20, [frame('write', `${NM}/pino/lib/proto.js`, 70)]),
    ]),
    frame('somethingElse', 'node:internal/streams/readable', 30),
  ]),
};

t.test('sums every sampled byte once, by the first row whose frames it has', async (t) => {
  const a = allocProfile(profile);
  t.equal(a.total, 1_000);
  const bytes = Object.fromEntries(a.byEntry.map((r) => [r.name.split(' ')[0], r.bytes]));
  t.equal(bytes['startup'], 500);
  t.equal(bytes['logging'], 120, 'a log line counts as logging wherever it is written from');
  t.equal(bytes['webhook:'], 100, 'fastify outside the webhook handler');
  t.equal(bytes['webhook'], 200, 'the handler itself, its log line not included');
  t.equal(bytes['salt'], 50, 'the intake and the fleet move under it');
  t.equal(bytes['other'], 30);
  t.equal(a.byEntry.reduce((s, r) => s + r.bytes, 0), a.total);
  t.notOk(a.byEntry.some((r) => r.name === 'GC'), 'an allocation is never the GC');
});

t.test('counts a byte in every kind whose frames it has', async (t) => {
  const a = allocProfile(profile);
  const kind = (re: RegExp): number => a.byKind.find((r) => re.test(r.name))?.bytes ?? Number.NaN;
  t.equal(kind(/^pino/), 120);
  t.equal(kind(/^fastify/), 350);
  t.equal(kind(/^fleet/), 90);
});
