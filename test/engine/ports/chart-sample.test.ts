/**
 * The chart's sample of each evaluation counts the pool as the evaluation saw it: `ready` its ready instances,
 * `total` the ones that cost money (ready, in flight, draining, stopping), never the stopped or failed ones.
 */
import t from 'tap';
import { startWorld, type World } from '../../support/engine-ports.ts';

/** census counts the engine's instances now, as the newest sample should once the evaluation after a move ran. */
function census(w: World): { ready: number; total: number } {
  const list = w.engine.instances();
  return { ready: list.filter((i) => i.state === 'ready').length, total: list.filter((i) => i.state !== 'stopped' && i.state !== 'failed').length };
}

t.test('the newest chart sample counts ready and paid instances through starts, a failed deploy, drains and stops', async (t) => {
  const w = await startWorld({ reserved: 5, salt: { deployFails: new Set(['gpu-prod-type1-01']) } });
  t.teardown(async () => { await w.engine.stop(); });
  const seen = new Set<string>();
  const check = (when: string): void => {
    const newest = w.engine.series('gpu', 1)[0];
    const { ready, total } = census(w);
    t.same(newest === undefined ? undefined : { ready: newest.ready, total: newest.total }, { ready, total }, when);
    seen.add([...new Set(w.engine.instances().map((i) => i.state))].sort().join(' '));
  };
  w.signal(32);
  for (let s = 0; s < 12; s += 1) { await w.clock.advance(10_000); check(`rising, ${s * 10 + 10} s`); }
  w.signal(0);
  for (let s = 0; s < 90; s += 1) { await w.clock.advance(30_000); check(`falling, ${s * 30 + 30} s`); }
  // the sequence reaches the states whose counting differs: in flight, failed, draining or stopping beside ready
  const all = [...seen].join(' | ');
  t.match(all, /starting/, `seen: ${all}`);
  t.match(all, /failed/);
  t.match(all, /draining|stopping/);
});
