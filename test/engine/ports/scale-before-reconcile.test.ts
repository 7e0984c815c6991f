/**
 * scale before reconcile: the HTTP server answers before the startup reconcile ends, so `POST /api/pools/<pool>/scale`
 * can reach the engine while it still holds the previous run's state. A manual scale decides on Salt's state: asked
 * during the startup reconcile it waits for it and then decides; when Salt does not answer the reconcile (or not within
 * the wait), it is refused with the reason and when to ask again (the API's 503 with Retry-After), never decided on
 * the previous run's state.
 *
 * The previous run: two instances ready at the pool's max; while the service was down someone stopped both. Decided
 * on the previous run's state, `+1` holds at max; on Salt's, it starts one.
 */
import t, { type Test } from 'tap';
import { Engine } from '../../../src/engine/engine.ts';
import type { Decision } from '../../../src/core/types.ts';
import type { CloudInstance } from '../../../src/engine/ports.ts';
import { FakeEvents, settle, silentLogger, startWorld, states, type World } from '../../support/engine-ports.ts';

const IDS = ['gpu-prod-type1-01', 'gpu-prod-type1-02'];

/** stoppedBehindItsBack runs a first process to two ready instances, stops it, then stops both VMs in Salt. */
async function stoppedBehindItsBack(t: Test): Promise<World> {
  const first = await startWorld({ spec: { max: 2 }, reserved: IDS.length });
  first.signal(16); // 8 units per instance: two wanted
  await first.clock.advance(10 * 60_000);
  t.same(states(first), { ready: 2 }, 'the previous run left two instances ready');
  await first.engine.stop();
  for (const vm of first.salt.vms.values()) Object.assign(vm, { state: 'stopped', up: false, ready: false });
  return first;
}

/**
 * restart builds the next process on the same clock, Salt and store, with cloud.query answered by `query`; not started.
 * With `streamUp: false` its event stream has not connected yet (the startup reconcile waits up to 2 s for it).
 */
function restart(first: World, query: () => Promise<readonly CloudInstance[]>, streamUp = true): Engine {
  const events = new FakeEvents();
  events.connected = streamUp;
  first.salt.subscribe(events);
  first.salt.cloudInstances = query;
  return new Engine({
    pools: [first.pool], cloud: first.salt, minions: first.salt, store: first.store, clock: first.clock, logger: silentLogger, events,
    reconcileIntervalMs: 5 * 60_000, evaluateIntervalMs: 30_000, tickIntervalMs: 5_000, startConfirmWindowMs: 60_000,
    storeCheckIntervalMs: 3_600_000, integrityCheckIntervalMs: 3_600_000,
  });
}

const starts = (w: World): number => w.salt.calls.filter((c) => c.fn === 'start').length;

t.test('a manual scale asked while the startup reconcile asks Salt waits for it, then decides on Salt\'s state', async (t) => {
  const first = await stoppedBehindItsBack(t);
  const query = first.salt.cloudInstances.bind(first.salt);
  let answer: () => void = () => undefined;
  const answered = new Promise<void>((resolve) => { answer = resolve; });
  const engine = restart(first, async () => { await answered; return query(); });
  t.teardown(() => engine.stop());
  const starting = engine.start();
  await settle();
  const before = starts(first);
  const scaling = engine.scale('gpu', 1);
  let decided: Decision | undefined;
  void scaling.then((d) => { decided = d; });
  await settle();
  t.equal(decided, undefined, 'no decision while cloud.query is unanswered');
  answer();
  const decision = await scaling;
  await starting;
  t.match(decision, { kind: 'scaleUp', count: 1 }, `decided on Salt's state: both stopped, one started (${decision?.reason ?? ''})`);
  await first.clock.advance(0);
  t.equal(starts(first) - before, 1, 'one start reached Salt');
});

t.test('a manual scale while Salt does not answer the startup reconcile is refused with the reason and when to ask again', async (t) => {
  const first = await stoppedBehindItsBack(t);
  const query = first.salt.cloudInstances.bind(first.salt);
  let down = true;
  const engine = restart(first, async () => {
    if (down) throw Object.assign(new Error('salt-api could not be reached (ECONNREFUSED)'), { code: 'ASC_ERR_SALT_NETWORK' });
    return query();
  });
  t.teardown(() => engine.stop());
  const starting = engine.start();
  await settle();
  const before = starts(first);
  await t.rejects(engine.scale('gpu', 1), { name: 'NotReconciledError', code: 'ASC_ERR_ENGINE_NOT_RECONCILED', retryAfterMs: 5_000, message: /not decided: the startup reconcile could not ask Salt \(salt-api could not be reached/ });
  t.equal(starts(first), before, 'nothing sent');
  down = false;
  await first.clock.advance(5_000); // the reconcile's retry
  await starting;
  t.match(await engine.scale('gpu', 1), { kind: 'scaleUp', count: 1 }, 'asked again once Salt answered: decided on its state');
});

t.test('a manual scale waits for a slow startup reconcile only so long, then is refused', async (t) => {
  const first = await stoppedBehindItsBack(t);
  const engine = restart(first, () => new Promise<never>(() => undefined)); // Salt never answers
  t.teardown(async () => { await engine.stop(); });
  void engine.start();
  await settle();
  await first.clock.advance(1_000);
  const scaling = engine.scale('gpu', 1);
  const refused = t.rejects(scaling, { code: 'ASC_ERR_ENGINE_NOT_RECONCILED', retryAfterMs: 5_000, message: /has asked Salt for 6s without an answer/ });
  await first.clock.advance(5_000);
  await refused;
});

t.test('a manual scale refused while the startup reconcile asks Salt counts the time it asked, not its wait for the stream', async (t) => {
  const first = await stoppedBehindItsBack(t);
  let queriedAtMs: number | undefined;
  const engine = restart(first, () => { queriedAtMs ??= first.clock.now(); return new Promise<never>(() => undefined); }, false); // no stream, no answer
  t.teardown(async () => { await engine.stop(); });
  const startMs = first.clock.now();
  void engine.start();
  await settle();
  await first.clock.advance(1_000);
  t.equal(queriedAtMs, undefined, 'at 1 s the startup still waits for the event stream: Salt not asked yet');
  const scaling = engine.scale('gpu', 1);
  const refused = t.rejects(scaling, {
    code: 'ASC_ERR_ENGINE_NOT_RECONCILED', retryAfterMs: 5_000,
    message: /the startup reconcile has asked Salt for 4s without an answer yet \(after waiting 2s for the event stream to connect\)/,
  });
  await first.clock.advance(5_000);
  await refused;
  t.equal((queriedAtMs ?? 0) - startMs, 2_000, 'Salt was asked once the 2 s wait for the stream ran out: 4 s before the refusal');
});
