/**
 * notifications first: while scale-ups are decided in a burst (BURST_SCALE_UPS pools in a window), the salt events
 * wait in the stream, in order and none dropped, until the burst is over, or at most MAX_HOLD_MS; a few pools
 * scaling up hold nothing.
 */
import t from 'tap';
import { Engine, type ManagedPool } from '../../../src/engine/engine.ts';
import { BURST_SCALE_UPS, BURST_WINDOW_MS } from '../../../src/engine/evaluator.ts';
import { MAX_HOLD_MS } from '../../../src/engine/intake.ts';
import { createLogger } from '../../../src/log.ts';
import { openStore, type SqliteStore } from '../../../src/store/sqlite-store.ts';
import { FakeClock, FakeEvents, FakeSalt, poolSpec, settle, silentLogger } from '../../support/engine-ports.ts';

interface World { engine: Engine; salt: FakeSalt; store: SqliteStore; clock: FakeClock; events: FakeEvents; pools: string[] }

async function world(poolCount: number): Promise<World> {
  const clock = new FakeClock();
  const events = new FakeEvents();
  const pools = Array.from({ length: poolCount }, (_, i) => `p${String(i).padStart(3, '0')}`);
  const managed: ManagedPool[] = pools.map((name) => ({
    spec: poolSpec({ name, step: 1 }), reserved: [`${name}-01`, `${name}-02`], idleCheck: { fun: 'cmd.retcode', args: ['busy-check'] },
  }));
  // the fake master's own boot events come late: the test puts each event on the stream itself
  const salt = new FakeSalt(clock, events, managed.flatMap((p) => p.reserved), { bootMs: 3_600_000 });
  const store = openStore(':memory:', { logger: createLogger({ level: 'silent' }), nowMs: () => clock.now() });
  const engine = new Engine({
    pools: managed, cloud: salt, minions: salt, store, clock, logger: silentLogger, events,
    reconcileIntervalMs: 5 * 60_000, evaluateIntervalMs: 30_000, tickIntervalMs: 5_000, startConfirmWindowMs: 60_000,
    storeCheckIntervalMs: 3_600_000, integrityCheckIntervalMs: 3_600_000,
  });
  await engine.start();
  await settle();
  return { engine, salt, store, clock, events, pools };
}

function notify(w: World, pools: readonly string[]): void {
  for (const pool of pools) w.engine.alertSignal({ pool, direction: 'up', workload: 8, atMs: w.clock.now(), expiresMs: w.clock.now() + 600_000 });
}

/** boots puts a started instance's minion-start and then its ready event on the stream (ready before start would be refused). */
function boots(w: World, id: string): void {
  w.events.push({ kind: 'minion-start', tag: `salt/minion/${id}/start`, minion: id, data: {} });
  w.events.push({ kind: 'instance-ready', tag: `salt-autoscaler/instance/${id}/ready`, minion: id, data: {} });
}

const stateOf = (w: World, id: string): string | undefined => w.store.loadInstances().find((i) => i.id === id)?.state;

t.test('a burst of scale-ups holds the events until it is over, then takes them in order', async (t) => {
  const w = await world(2 * BURST_SCALE_UPS);
  t.teardown(async () => { await w.engine.stop(); w.store.close(); });
  notify(w, w.pools);
  await settle();
  t.equal(w.salt.count('start'), w.pools.length, 'every pool sent its start in the same turn: a burst');
  const [first, second] = [`${w.pools[0] ?? ''}-01`, `${w.pools[1] ?? ''}-01`];
  boots(w, first);
  boots(w, second);
  await settle();
  t.equal(stateOf(w, first), 'starting', 'its events wait while the burst lasts');
  await w.clock.advance(BURST_WINDOW_MS / 2);
  t.equal(stateOf(w, second), 'starting', 'still within the burst window');
  await w.clock.advance(3 * BURST_WINDOW_MS);
  t.equal(stateOf(w, first), 'ready', 'the burst is over: both events of the first instance were taken, in order');
  t.equal(stateOf(w, second), 'ready', 'and those of the second, none lost');
});

t.test('a burst that goes on holds the events at most MAX_HOLD_MS, takes what waited, then holds again', async (t) => {
  const rounds = Math.ceil((2 * MAX_HOLD_MS) / BURST_WINDOW_MS);
  const w = await world((rounds + 1) * BURST_SCALE_UPS + 1);
  t.teardown(async () => { await w.engine.stop(); w.store.close(); });
  const wave = (i: number): string[] => w.pools.slice(1 + i * BURST_SCALE_UPS, 1 + (i + 1) * BURST_SCALE_UPS);
  notify(w, [w.pools[0] ?? '', ...wave(0)]);
  await settle();
  const id = `${w.pools[0] ?? ''}-01`;
  boots(w, id);
  let readyAt: number | undefined;
  const startedAt = w.clock.now();
  for (let i = 1; i < rounds; i += 1) {
    await w.clock.advance(BURST_WINDOW_MS);
    notify(w, wave(i)); // BURST_SCALE_UPS more pools every window: the burst never ends during the test
    await settle();
    if (readyAt === undefined && stateOf(w, id) === 'ready') readyAt = w.clock.now();
  }
  t.equal(w.salt.count('start'), 1 + rounds * BURST_SCALE_UPS, 'the burst went on: a start for every pool notified');
  t.ok(readyAt !== undefined && readyAt - startedAt >= MAX_HOLD_MS && readyAt - startedAt <= MAX_HOLD_MS + 2 * BURST_WINDOW_MS,
    `the events were taken once MAX_HOLD_MS had passed, burst or not (after ${String(readyAt === undefined ? undefined : readyAt - startedAt)} ms)`);
  const later = `${w.pools[1] ?? ''}-01`;
  await w.clock.advance(BURST_WINDOW_MS);
  notify(w, wave(rounds)); // the burst goes on
  await settle();
  boots(w, later);
  await settle();
  t.equal(stateOf(w, later), 'starting', 'once the backlog was taken, a new event waits again while the burst goes on');
  await w.clock.advance(MAX_HOLD_MS);
  t.equal(stateOf(w, later), 'ready', 'and is taken when the burst is over');
});

t.test('a few pools scaling up hold no event', async (t) => {
  const w = await world(BURST_SCALE_UPS - 1);
  t.teardown(async () => { await w.engine.stop(); w.store.close(); });
  notify(w, w.pools);
  await settle();
  t.equal(w.salt.count('start'), w.pools.length);
  const id = `${w.pools[0] ?? ''}-01`;
  boots(w, id);
  await settle();
  t.equal(stateOf(w, id), 'ready', 'taken in the same turns, the clock unmoved');
});
