import t from 'tap';
import { startCalls, startHarness, stateOf, waitFor } from '../support/engine-harness.ts';

t.test('a manual scale acts on a paused pool, and its reason names the wanted size, not a perInstance', async (t) => {
  const h = await startHarness({ pool: { strategy: 'adaptive', perInstance: 2 } });
  t.teardown(() => h.close());
  t.ok(h.engine.pause('test/t1'));
  const up = await h.engine.scale('test/t1', 2);
  t.equal(up?.kind, 'scaleUp', 'the explicit order acts although the pool is paused');
  t.equal(up?.reason, 'manual scale +2: wanted size 2 (size now 0): start 2 (ready 0, in flight 0, max 3)');
  t.notMatch(up?.reason, /perInstance/);
  await waitFor('both ready', () => stateOf(h, 'gpu-t1-1') === 'ready' && stateOf(h, 'gpu-t1-2') === 'ready');
  t.equal(startCalls(h.emu, 'gpu-t1-1') + startCalls(h.emu, 'gpu-t1-2'), 2);
  t.equal(h.engine.pools().find((p) => p.name === 'test/t1')?.paused, true, 'the pool stays paused');
  const down = await h.engine.scale('test/t1', -1);
  t.equal(down?.kind, 'scaleDown');
  t.match(down?.reason, /^manual scale -1: wanted size 1 \(size now 2\): drain 1/);
});
