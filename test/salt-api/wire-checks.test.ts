// wire checks: the copy-free shape checks of the reconcile's big answers accept exactly what their zod schemas accept.
import t from 'tap';
import fc from 'fast-check';
import { CloudTree, GrainsItemReturn, isCloudTree, isGrainsItemReturn } from '../../src/salt-api/wire.ts';

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
