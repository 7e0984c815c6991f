// wire checks: the copy-free shape checks of the reconcile's big answers accept exactly what their zod schemas accept.
import t from 'tap';
import fc from 'fast-check';
import { CloudTree, GrainsItemReturn, LocalReturn, ReadyGrainWire, isCloudTree, isGrainsItemReturn, isLocalReturn, readyGrainWire } from '../../src/salt-api/wire.ts';

const node = fc.oneof(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 1 })), fc.jsonValue({ maxDepth: 1 }));
const tree = fc.oneof(
  fc.dictionary(fc.string(), fc.dictionary(fc.string(), fc.dictionary(fc.string(), node))),
  fc.dictionary(fc.string(), fc.dictionary(fc.string(), node)),
  fc.dictionary(fc.string(), node),
  fc.jsonValue({ maxDepth: 3 }),
);

t.test('isCloudTree accepts what CloudTree accepts, and nothing else', async (t) => {
  fc.assert(fc.property(tree, (v) => isCloudTree(v) === CloudTree.safeParse(v).success), { numRuns: 3_000, seed: 1603 });
  t.ok(isCloudTree({ 'emu-cloud': { emu: { 'gpu-1': { state: 'stopped' } } } }), 'a cloud.query answer');
  t.notOk(isCloudTree({ 'emu-cloud': { emu: ['gpu-1'] } }), 'nodes as a list are not a tree');
});

t.test('isGrainsItemReturn accepts what GrainsItemReturn accepts, and nothing else', async (t) => {
  fc.assert(fc.property(fc.oneof(fc.dictionary(fc.string(), node), fc.jsonValue({ maxDepth: 2 })), (v) => isGrainsItemReturn(v) === GrainsItemReturn.safeParse(v).success), { numRuns: 3_000, seed: 1604 });
  t.ok(isGrainsItemReturn({ 'gpu-1': { salt_autoscaler: '' }, 'gpu-2': 'Minion did not return', 'gpu-3': false }));
});

t.test('readyGrainWire accepts what ReadyGrainWire accepts, as it came, and nothing else', async (t) => {
  const field = fc.oneof(fc.boolean(), fc.double(), fc.integer(), fc.string(), fc.constant(null), fc.constant(undefined));
  const grain = fc.oneof(
    fc.record({ ready: field, draining: field, deployed_at: field, other: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
    fc.constant(''),
    fc.jsonValue({ maxDepth: 2 }),
  );
  let accepted = 0;
  let rejected = 0;
  fc.assert(fc.property(grain, (v) => {
    const zod = ReadyGrainWire.safeParse(v);
    const ours = readyGrainWire(v);
    if (zod.success) accepted += 1; else rejected += 1;
    return zod.success ? ours === v : ours === undefined;
  }), { numRuns: 3_000, seed: 1605 });
  t.ok(accepted > 300 && rejected > 300, `the generator reaches both sides (${accepted} accepted, ${rejected} rejected)`);
  t.same(readyGrainWire({ ready: true, deployed_at: 1.7e9 }), { ready: true, deployed_at: 1.7e9 });
  t.equal(readyGrainWire({ ready: 'yes' }), undefined, 'a non-boolean ready is refused');
  t.equal(readyGrainWire({ deployed_at: Number.NaN }), undefined, 'a NaN deploy time is refused');
});

t.test('a local return is any object: isLocalReturn accepts what LocalReturn accepts', async (t) => {
  let objects = 0;
  fc.assert(fc.property(fc.oneof(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 1 })), fc.jsonValue({ maxDepth: 2 })), (v) => {
    if (isLocalReturn(v)) objects += 1;
    return isLocalReturn(v) === LocalReturn.safeParse(v).success;
  }), { numRuns: 2_000, seed: 1606 });
  t.ok(objects > 500 && objects < 1_900, `the generator reaches objects and non-objects (${objects} objects of 2,000)`);
});
