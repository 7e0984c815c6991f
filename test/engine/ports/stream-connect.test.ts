/**
 * stream connect: the event stream's connect asks for a reconcile, to catch the events sent while no stream was open.
 * A reconcile whose Salt reads all began once the stream was seen connected has seen everything before the connect,
 * so the connect needs no reconcile of its own; one whose reads began before the connect has not, and one more runs.
 * At startup the reconcile waits for the stream's first connect (bounded) before it reads: one read of the fleet, not two.
 *
 *   connect before the reads:  connect ─► cloud.query (startup)                     = 1 cloud.query
 *   connect after the reads:   cloud.query (startup, held) ─► connect ─► answer ─► cloud.query (connect) = 2
 *
 * "Missed in the gap": the fake Salt changes a VM without putting its events on any stream (none was open).
 */
import t, { type Test } from 'tap';
import { Engine } from '../../../src/engine/engine.ts';
import type { CloudInstance, ReadyGrain } from '../../../src/engine/ports.ts';
import type { ManagedPool } from '../../../src/engine/engine.ts';
import { openStore } from '../../../src/store/sqlite-store.ts';
import { createLogger } from '../../../src/log.ts';
import { FakeClock, FakeEvents, FakeSalt, poolSpec, settle, SharedStore, silentLogger } from '../../support/engine-ports.ts';

const IDS = ['gpu-prod-type1-01', 'gpu-prod-type1-02'];

/** Rig is one process on fake ports whose stream is not connected yet, with its cloud.query calls counted and holdable. */
interface Rig {
  readonly clock: FakeClock;
  readonly events: FakeEvents;
  readonly salt: FakeSalt;
  readonly engine: Engine;
  /** queries: cloud.query calls sent so far. */
  queries(): number;
  /** hold: the next cloud.query takes its snapshot when sent and answers only once released. */
  hold(): { release(): void };
  /** failNext: the next cloud.query (or grains.item) fails as salt-api unreachable. */
  failNext(call: 'query' | 'grains'): void;
  /** connect: the stream opens (its connect gap). */
  connect(): void;
  /** missed: a VM is started to ready in Salt, its events reaching no stream. */
  missed(id: string): void;
  state(id: string): string | undefined;
}

function rig(t: Test, shared?: { readonly store: SharedStore; readonly name: string }): Rig {
  const clock = new FakeClock();
  const events = new FakeEvents();
  events.connected = false;
  const salt = new FakeSalt(clock, events, IDS);
  const store = openStore(':memory:', { logger: createLogger({ level: 'silent' }), nowMs: () => clock.now() });
  const query = salt.cloudInstances.bind(salt);
  const grains = salt.readyGrains.bind(salt);
  let sent = 0;
  let held: Promise<void> | undefined;
  let failing: 'query' | 'grains' | undefined;
  const unreachable = (): Error => Object.assign(new Error('salt-api could not be reached (ECONNREFUSED)'), { code: 'ASC_ERR_SALT_NETWORK' });
  salt.cloudInstances = async (): Promise<readonly CloudInstance[]> => {
    sent += 1;
    if (failing === 'query') { failing = undefined; throw unreachable(); }
    const snapshot = await query();
    const gate = held;
    held = undefined;
    if (gate !== undefined) await gate;
    return snapshot;
  };
  const deployedAt = new Map<string, number>();
  salt.readyGrains = async (ids: readonly string[]): Promise<ReadonlyMap<string, ReadyGrain>> => {
    if (failing === 'grains') { failing = undefined; throw unreachable(); }
    const read = await grains(ids);
    return new Map([...read].map(([id, g]) => {
      const deployedAtMs = deployedAt.get(id);
      return [id, deployedAtMs === undefined ? g : { ...g, deployedAtMs }];
    }));
  };
  const pool: ManagedPool = { spec: poolSpec(), reserved: IDS, idleCheck: { fun: 'cmd.retcode', args: ['busy-check'] } };
  const engine = new Engine({
    pools: [pool], cloud: salt, minions: salt, store, clock, logger: silentLogger, events,
    ...(shared === undefined ? {} : { gate: shared.store.gateFor(shared.name), replica: shared.store.replicaFor(shared.name) }),
    reconcileIntervalMs: 5 * 60_000, evaluateIntervalMs: 30_000, tickIntervalMs: 5_000, startConfirmWindowMs: 60_000,
    storeCheckIntervalMs: 3_600_000, integrityCheckIntervalMs: 3_600_000,
  });
  t.teardown(async () => { await engine.stop(); store.close(); });
  return {
    clock, events, salt, engine,
    queries: () => sent,
    hold: () => {
      let release: () => void = () => undefined;
      held = new Promise<void>((resolve) => { release = resolve; });
      return { release };
    },
    failNext: (call) => { failing = call; },
    connect: () => {
      events.connected = true;
      events.push({ kind: 'gap', reason: 'connect', atMs: clock.now() });
    },
    missed: (id) => {
      const vm = salt.vms.get(id);
      if (vm !== undefined) Object.assign(vm, { state: 'running', up: true, ready: true });
      deployedAt.set(id, clock.now());
    },
    state: (id) => engine.instances().find((i) => i.id === id)?.state,
  };
}

/** StartupCase: where the stream's connect falls against the startup reconcile's reads, and what must follow. */
const STARTUP_CASES = [
  {
    name: 'a stream that connects before the startup reconcile reads Salt asks for no second reconcile',
    connectAfterReads: false, queries: 1, why: 'one cloud.query: the startup reconcile read Salt after the connect and covers it',
  },
  {
    name: 'a stream that connects after the startup reconcile\'s reads were sent gets a reconcile of its own, which sees what happened in the gap',
    connectAfterReads: true, queries: 2, why: 'two cloud.query: the startup\'s snapshot predates the connect',
  },
] as const;

for (const c of STARTUP_CASES) {
  t.test(c.name, async (t) => {
    const r = rig(t);
    const held = r.hold();
    const starting = r.engine.start();
    await settle();
    if (c.connectAfterReads) {
      await r.clock.advance(2_000); // the stream did not connect within the startup's wait: it reads Salt without it
      t.equal(r.queries(), 1, 'the startup cloud.query is sent (held)');
    } else {
      t.equal(r.queries(), 0, 'the startup reconcile waits for the stream before it reads Salt');
    }
    r.missed(IDS[0] as string); // before the connect: no stream sees it; in the snapshot only when read after the connect
    r.connect();
    await settle();
    held.release();
    await starting;
    await r.clock.advance(60_000);
    t.equal(r.queries(), c.queries, c.why);
    t.equal(r.state(IDS[0] as string), 'ready', 'the instance started before the connect is seen ready');
  });
}

t.test('a reconnect while a reconcile reads Salt queues one more after it; one begun after the reconnect covers it', async (t) => {
  const r = rig(t);
  const starting = r.engine.start();
  r.connect();
  await starting;
  await r.clock.advance(1_000);
  t.equal(r.queries(), 1, 'startup: one cloud.query');
  const held = r.hold();
  const periodic = r.engine.reconcile('periodic');
  await settle();
  t.equal(r.queries(), 2, 'a reconcile is reading Salt (held)');
  r.missed(IDS[1] as string);
  r.events.push({ kind: 'gap', reason: 'reconnect', atMs: r.clock.now() });
  await r.clock.advance(1_000);
  held.release();
  await periodic;
  await r.clock.advance(1_000);
  t.equal(r.queries(), 3, 'one more cloud.query after the one whose reads began before the reconnect');
  t.equal(r.state(IDS[1] as string), 'ready', 'what happened before the reconnect is seen');
  r.events.push({ kind: 'gap', reason: 'reconnect', atMs: r.clock.now() });
  await settle(); // the reconnect is seen; its reconcile is due in 250 ms
  await r.engine.reconcile('periodic'); // its reads begin after the reconnect was seen
  await r.clock.advance(60_000);
  t.equal(r.queries(), 4, 'a reconnect seen before a running reconcile read Salt needs no reconcile of its own');
});

t.test('a startup reconcile that fails after the connect does not cover it: Salt is read again and the gap\'s change seen', async (t) => {
  const r = rig(t);
  r.failNext('query');
  const starting = r.engine.start();
  r.missed(IDS[0] as string);
  r.connect();
  await starting;
  t.equal(r.queries(), 1, 'the startup cloud.query failed');
  await r.clock.advance(10_000);
  t.equal(r.queries(), 2, 'read again (the failure\'s retry), once');
  t.equal(r.state(IDS[0] as string), 'ready', 'the change is seen');
});

t.test('a covering reconcile whose grain read failed does not cover the connect: readiness is read again', async (t) => {
  const r = rig(t);
  r.missed(IDS[0] as string); // running, up and ready before the process starts
  r.failNext('grains');
  const starting = r.engine.start();
  r.connect();
  await starting;
  t.equal(r.state(IDS[0] as string), 'booted', 'without its grain the startup sees it running and up only');
  await r.clock.advance(10_000);
  t.equal(r.queries(), 2, 'one more reconcile after the grain read failed');
  t.equal(r.state(IDS[0] as string), 'ready', 'its readiness is read');
});

t.test('a follower\'s reconcile covers its stream\'s connect; the takeover still reconciles', async (t) => {
  const shared = new SharedStore();
  shared.leader = 'other';
  const r = rig(t, { store: shared, name: 'a' });
  const starting = r.engine.start();
  r.connect();
  await starting;
  await r.clock.advance(60_000);
  t.equal(r.queries(), 1, 'the follower read Salt once at startup');
  shared.leader = 'a';
  await r.engine.takeOver();
  t.equal(r.queries(), 2, 'the takeover reads Salt: it resolves the old leader\'s state, whatever the stream');
});
