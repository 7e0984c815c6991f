/**
 * HA through the ports: two engines on one fleet and one fake coordination store (the etcd of the real thing).
 * The follower looks but never acts; on takeover it resolves the old leader's intents from the shared state, so one
 * need ends in one start; a deposed leader's intent is refused by the fence and its call is never sent.
 */
import t from 'tap';
import { SharedStore, startWorld, states } from '../../support/engine-ports.ts';

t.test('an elected process that has not taken over yet decides nothing', async (t) => {
  const shared = new SharedStore();
  const a = await startWorld({ shared: { store: shared, name: 'a' } });
  shared.leader = 'a'; // elected, but takeOver() has not run: the old leader's intents are not resolved yet
  a.signal(20);
  await a.clock.advance(60_000);
  t.equal(a.salt.count('start'), 0, 'nothing before the takeover');
  await a.engine.takeOver();
  await a.clock.advance(1_000);
  t.equal(a.salt.count('start'), 3, 'acts once it took over');
  a.engine.stepDown();
  a.signal(32);
  await a.clock.advance(60_000);
  t.equal(a.salt.count('start'), 3, 'nothing after stepping down, even while the gate still says yes');
  await a.engine.stop();
});

t.test('a follower keeps a warm view, sends nothing and writes nothing to the shared state', async (t) => {
  const shared = new SharedStore();
  shared.leader = 'a';
  const a = await startWorld({ shared: { store: shared, name: 'a' } });
  const b = await startWorld({ peer: a, shared: { store: shared, name: 'b' } });
  a.signal(20);
  b.signal(20);
  await a.clock.advance(2 * 60_000);
  t.equal(a.salt.count('start'), 3, 'three starts, all from the leader');
  t.same(states(b), { ready: 3, stopped: 1 }, 'the follower saw them become ready from its own event stream');
  t.equal(b.store.openIntents().length, 0, 'the follower opened no intent');
  t.equal(shared.refused, 0, 'and tried no shared write');
  t.ok(shared.pools.has('gpu'), 'the leader keeps the pool state in the shared store');
  await a.engine.stop();
  await b.engine.stop();
});

t.test('leader dies mid scale-up: the follower takes over with its intents and starts nothing twice', async (t) => {
  const shared = new SharedStore();
  shared.leader = 'a';
  const a = await startWorld({ spec: { max: 2, step: 2 }, shared: { store: shared, name: 'a' } });
  const b = await startWorld({ spec: { max: 2, step: 2 }, peer: a, shared: { store: shared, name: 'b' } });
  a.salt.hold = true; // the calls reach Salt but the leader dies before they answer
  a.signal(16);
  await a.clock.advance(1_000);
  t.equal(a.salt.count('start'), 2);
  t.equal(shared.intents.size, 2, 'both intents reached the shared state before their calls');
  shared.leader = 'b'; // a's lease ran out: b won the election
  await b.engine.takeOver();
  b.signal(16);
  await b.clock.advance(3 * 60_000);
  t.equal(b.salt.count('start'), 2, 'one start per need across the takeover');
  t.equal(b.salt.duplicateStarts, 0);
  t.equal(shared.intents.size, 0, 'the old leader\'s intents are resolved and gone from the shared state');
  t.equal(b.engine.pools()[0]?.ready, 2);
  a.salt.release();
  await b.engine.stop();
});

t.test('a takeover after the old leader\'s call never reached Salt starts the need exactly once', async (t) => {
  const shared = new SharedStore();
  shared.leader = 'a';
  const a = await startWorld({ spec: { max: 1, step: 1 }, shared: { store: shared, name: 'a' } });
  const b = await startWorld({ spec: { max: 1, step: 1 }, peer: a, shared: { store: shared, name: 'b' } });
  // the old leader's intent is in the shared state, its call never left (it froze between the two)
  const [orphan] = await shared.replicaFor('a').commit({ open: [{ kind: 'start', instance: 'gpu-prod-type1-03', pool: 'gpu', nowMs: a.clock.now() }] });
  shared.leader = 'b';
  await b.engine.takeOver();
  t.ok(b.store.openIntents().some((i) => i.instance === 'gpu-prod-type1-03'), 'the shared intent became a local open intent');
  t.equal(b.engine.instances().find((i) => i.id === 'gpu-prod-type1-03')?.state, 'starting', 'its instance counts as in flight: Salt may still carry the call out');
  b.signal(8);
  await b.clock.advance(30_000);
  t.equal(b.salt.count('start'), 0, 'nothing started inside the confirm window');
  await b.clock.advance(5 * 60_000);
  t.equal(b.salt.count('start'), 1, 'one start');
  t.notOk(orphan !== undefined && shared.intents.has(orphan.id), 'the orphan intent was resolved');
  t.equal(b.engine.pools()[0]?.ready, 1);
  await a.engine.stop();
  await b.engine.stop();
});

t.test('a deposed leader that still believes it leads is refused by the fence and sends nothing', async (t) => {
  const shared = new SharedStore();
  let believes = true;
  shared.leader = 'a';
  const a = await startWorld({ shared: { store: shared, name: 'a' }, engine: { gate: { mayAct: () => believes } } });
  shared.leader = 'b'; // another process won while this one was frozen; its own clock has not noticed yet
  a.signal(20);
  await a.clock.advance(1_000);
  t.equal(a.salt.count('start'), 0, 'no call went out');
  t.ok(shared.refused >= 1, 'its intent write was refused by the fence');
  t.equal(a.store.openIntents().length, 0, 'its local intents are closed as failed');
  believes = false;
  await a.engine.stop();
});

t.test('the new leader takes over the old leader\'s pool state (pause, failures, cooldowns)', async (t) => {
  const shared = new SharedStore();
  shared.leader = 'a';
  const a = await startWorld({ shared: { store: shared, name: 'a' } });
  const b = await startWorld({ peer: a, shared: { store: shared, name: 'b' } });
  a.engine.pause('gpu');
  await a.clock.advance(1_000);
  t.match(shared.pools.get('gpu'), { paused: true });
  shared.leader = 'b';
  await b.engine.takeOver();
  t.equal(b.engine.pools()[0]?.paused, true, 'paused on the new leader too');
  b.signal(20);
  await b.clock.advance(60_000);
  t.equal(b.salt.count('start'), 0, 'a paused pool starts nothing');
  await a.engine.stop();
  await b.engine.stop();
});
