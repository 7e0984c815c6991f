/**
 * group commit: the pools notified together are evaluated in one turn, and their decisions, transitions and
 * intents go to the store in one transaction; no start goes out before that transaction is durable, and a turn
 * that cannot commit sends nothing and says so. The only evaluation of its turn writes its intent in a transaction
 * of its own, and its start goes out once that is committed. The salt events read together share one transaction
 * too, and an action their turn decides (a failed instance's stop) goes out only once it committed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import t from 'tap';
import { Engine, type ManagedPool } from '../../../src/engine/engine.ts';
import { TurnCommit } from '../../../src/engine/turn-commit.ts';
import { createLogger } from '../../../src/log.ts';
import { openStore, type SqliteStore } from '../../../src/store/sqlite-store.ts';
import { FakeClock, FakeEvents, FakeSalt, poolSpec, settle, silentLogger } from '../../support/engine-ports.ts';

const POOLS = ['a', 'b', 'c'];

/** journalled wraps the store so the test sees its transactions, and can make the next commit fail. */
function journalled(inner: SqliteStore, journal: string[]): { store: SqliteStore; failNextCommit: () => void; failNextBlock: () => void; failNextIntent: () => void } {
  let fail = false;
  let failBlock = false;
  let failIntent = false;
  const store = new Proxy(inner, {
    get(target, key, receiver) {
      if (key === 'openIntent') {
        return (...args: Parameters<SqliteStore['openIntent']>) => {
          if (failIntent) { failIntent = false; journal.push(`intent ${args[1]} failed`); throw new Error('disk I/O error'); }
          journal.push(`intent ${args[1]}`);
          return target.openIntent(...args);
        };
      }
      if (key === 'atomically' && failBlock) {
        failBlock = false;
        return () => { journal.push('block failed'); throw new Error('disk I/O error'); };
      }
      if (key === 'begin') return () => { journal.push('begin'); target.begin(); };
      if (key === 'commit') {
        return () => {
          if (fail) { fail = false; journal.push('commit failed'); target.rollback(); throw new Error('disk I/O error'); }
          journal.push('commit');
          target.commit();
        };
      }
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, failNextCommit: () => { fail = true; }, failNextBlock: () => { failBlock = true; }, failNextIntent: () => { failIntent = true; } };
}

interface World {
  engine: Engine; salt: FakeSalt; journal: string[]; store: SqliteStore; clock: FakeClock; events: FakeEvents;
  failNextCommit: () => void; failNextBlock: () => void; failNextIntent: () => void;
}

async function world(logLines = false, path = ':memory:'): Promise<World> {
  const clock = new FakeClock();
  const events = new FakeEvents();
  const pools: ManagedPool[] = POOLS.map((name) => ({
    spec: poolSpec({ name, step: 1 }), reserved: [`${name}-01`, `${name}-02`], idleCheck: { fun: 'cmd.retcode', args: ['busy-check'] },
  }));
  const salt = new FakeSalt(clock, events, pools.flatMap((p) => p.reserved));
  const journal: string[] = [];
  const sqlite = openStore(path, { logger: createLogger({ level: 'silent' }), nowMs: () => clock.now() });
  const { store, failNextCommit, failNextBlock, failNextIntent } = journalled(sqlite, journal);
  const start = salt.start.bind(salt);
  salt.start = async (id: string): Promise<void> => { journal.push(`start ${id}`); await start(id); };
  const stop = salt.stop.bind(salt);
  salt.stop = async (id: string): Promise<void> => { journal.push(`stop ${id}`); await stop(id); };
  const engine = new Engine({
    pools, cloud: salt, minions: salt, store, clock, events,
    // with logLines, each info line joins the journal as `log <msg>` (with its pool or minion)
    logger: logLines ? createLogger({ level: 'info', destination: { write: (s: string) => { const l = JSON.parse(s) as { msg: string; minion?: string; pool?: string }; journal.push(`log ${l.msg} ${l.minion ?? l.pool ?? ''}`); } } }) : silentLogger,
    reconcileIntervalMs: 5 * 60_000, evaluateIntervalMs: 30_000, tickIntervalMs: 5_000, startConfirmWindowMs: 60_000,
    storeCheckIntervalMs: 3_600_000, integrityCheckIntervalMs: 3_600_000,
  });
  await engine.start();
  await settle();
  return { engine, salt, journal, store: sqlite, failNextCommit, failNextBlock, failNextIntent, clock, events };
}

function notifyAll(engine: Engine, clock: FakeClock): void {
  for (const pool of POOLS) engine.alertSignal({ pool, direction: 'up', workload: 8, atMs: clock.now(), expiresMs: clock.now() + 60_000 });
}

t.test('pools notified in one turn write their scale-ups in one transaction, and every start goes out after it commits', async (t) => {
  const w = await world();
  t.teardown(async () => { await w.engine.stop(); w.store.close(); });
  w.journal.length = 0;
  notifyAll(w.engine, w.clock);
  await settle();
  const firstStart = w.journal.findIndex((l) => l.startsWith('start'));
  t.same(w.journal.slice(0, firstStart), ['begin', 'intent a-01', 'intent b-01', 'intent c-01', 'commit'], 'one transaction holds the three intents, before any start');
  t.same(w.journal.filter((l) => l.startsWith('start')).sort(), ['start a-01', 'start b-01', 'start c-01'], 'then the three starts');
  t.equal(w.store.decisions().filter((d) => d.decision.kind === 'scaleUp').length, 3, 'the three decisions are stored');
  t.equal(w.store.openIntents().length, 0, 'every intent was closed once its start answered');
});

t.test('the only scale-up of its turn writes its intent in a transaction of its own, committed before its start goes out', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-group-commit-'));
  const path = join(dir, 'state.db');
  const w = await world(false, path);
  // a second connection sees only what is committed: what a restart after a crash at the call would find
  const reader = new BetterSqlite3(path, { readonly: true });
  t.teardown(async () => { await w.engine.stop(); reader.close(); w.store.close(); rmSync(dir, { recursive: true, force: true }); });
  const seenAtStart: unknown[] = [];
  const start = w.salt.start.bind(w.salt);
  w.salt.start = async (id: string): Promise<void> => {
    seenAtStart.push(...reader.prepare(`SELECT instance, status FROM intents WHERE instance = ?`).all(id));
    await start(id);
  };
  w.journal.length = 0;
  w.engine.alertSignal({ pool: 'a', direction: 'up', workload: 1, atMs: w.clock.now(), expiresMs: w.clock.now() + 60_000 });
  await settle();
  t.same(w.journal.slice(0, 2), ['intent a-01', 'start a-01'], 'no group transaction: the intent, then the start');
  t.same(seenAtStart, [{ instance: 'a-01', status: 'open' }], 'the intent was committed when the start was sent');
  t.equal(w.journal.indexOf('begin'), 2, 'the decision and the move go in the next group commit, after the start');
  t.equal(w.store.openIntents().length, 0, 'and the intent was closed once the start answered');
});

t.test("a scale-up's decision and instance state lines are written after its start is sent, in their order", async (t) => {
  const w = await world(true);
  t.teardown(async () => { await w.engine.stop(); w.store.close(); });
  w.journal.length = 0;
  w.engine.alertSignal({ pool: 'a', direction: 'up', workload: 1, atMs: w.clock.now(), expiresMs: w.clock.now() + 60_000 });
  await settle();
  const of = (prefix: string): number => w.journal.findIndex((l) => l.startsWith(prefix));
  t.same(w.journal.slice(0, 2), ['intent a-01', 'start a-01'], 'nothing is logged before the start is sent');
  t.same(w.journal.slice(2).filter((l) => l.startsWith('log')).slice(0, 2), ['log decision a', 'log instance state a-01'], 'then the decision and its move, in that order');
  t.ok(of('log action done a-01') > of('log instance state a-01'), 'and the action once it answered');
});

t.test('a scale-up whose turn cannot commit, or whose own intent cannot be written, sends nothing and still writes its lines', async (t) => {
  for (const failure of ['commit', 'intent'] as const) {
    const w = await world(true);
    w.journal.length = 0;
    if (failure === 'commit') {
      w.failNextCommit();
      // two pools in one turn: their intents share the turn's transaction, whose commit fails
      for (const pool of ['a', 'b']) w.engine.alertSignal({ pool, direction: 'up', workload: 1, atMs: w.clock.now(), expiresMs: w.clock.now() + 60_000 });
    } else {
      w.failNextIntent();
      w.engine.alertSignal({ pool: 'a', direction: 'up', workload: 1, atMs: w.clock.now(), expiresMs: w.clock.now() + 60_000 });
    }
    await settle();
    t.equal(w.salt.count('start'), 0, `${failure}: no start was sent`);
    t.equal(w.store.openIntents().length, 0, `${failure}: no intent is left open`);
    const decision = w.journal.indexOf('log decision a');
    t.ok(decision >= 0 && decision < w.journal.indexOf('log instance state a-01'), `${failure}: the decision and its move are logged, in order`);
    t.equal(w.engine.health().store, false, `${failure}: the failure is reported: the store counts as unwritable`);
    await w.engine.stop();
    w.store.close();
  }
});

t.test('a turn whose commit fails sends none of its starts, leaves no intent behind, and says the store cannot write', async (t) => {
  const w = await world();
  t.teardown(async () => { await w.engine.stop(); w.store.close(); });
  w.failNextCommit();
  notifyAll(w.engine, w.clock);
  await settle();
  t.equal(w.salt.count('start'), 0, 'no start was sent');
  t.same(w.journal.filter((l) => l.startsWith('start')), []);
  t.equal(w.store.openIntents().length, 0, 'the rolled-back intents are not in the store');
  t.equal(w.store.decisions().filter((d) => d.decision.kind === 'scaleUp').length, 0, 'nor the decisions');
  t.equal(w.engine.health().store, false, 'the failed commit is reported: the store counts as unwritable');
});

t.test("a scale-up whose writes after the call fail still lets the instance's later moves reach the store", async (t) => {
  const w = await world();
  t.teardown(async () => { await w.engine.stop(); w.store.close(); });
  w.journal.length = 0;
  w.failNextBlock(); // a one-target scale-up's first block is the one after its call: decision, pool state, moves
  w.engine.alertSignal({ pool: 'a', direction: 'up', workload: 1, atMs: w.clock.now(), expiresMs: w.clock.now() + 60_000 });
  await settle();
  t.equal(w.salt.count('start', 'a-01'), 1, 'the start was sent (its intent was durable)');
  t.ok(w.journal.includes('block failed'), 'the writes after the call failed');
  await w.clock.advance(5 * 60_000); // the instance boots, deploys and is ready
  t.equal(w.engine.instances().find((i) => i.id === 'a-01')?.state, 'ready');
  t.equal(w.store.loadInstances().find((i) => i.id === 'a-01')?.state, 'ready', 'its rows are written, not held back');
});

t.test('a lone write commits in the same turn, and a failed commit resolves its writes as not durable', async (t) => {
  const journal: string[] = [];
  let failures = 0;
  let failCommit = false;
  const turn = new TurnCommit({
    store: { begin: () => { journal.push('begin'); }, commit: () => { if (failCommit) throw new Error('full'); journal.push('commit'); } },
    storeCall: <T>(fn: () => T): T | undefined => { try { return fn(); } catch { failures += 1; return undefined; } },
  });
  const first = turn.join(() => { journal.push('write 1'); return 1; });
  const second = turn.join(() => { journal.push('write 2'); return 2; });
  t.same([first.value, second.value], [1, 2], 'a write runs at once and gives back its value');
  t.same(journal, ['begin', 'write 1', 'write 2'], 'both writes join one transaction');
  t.same(await Promise.all([first.durable, second.durable]), [true, true], 'durable once committed');
  t.same(journal, ['begin', 'write 1', 'write 2', 'commit'], 'one commit, without any timer');
  failCommit = true;
  const third = turn.join(() => 3);
  t.equal(await third.durable, false, 'a failed commit: not durable');
  t.equal(failures, 1, 'and the failure went to storeCall (reported)');
  t.equal(turn.commits, 2);
});

/** pushAll puts one event per pool's first instance on the stream at once (one read of the stream). */
function pushAll(events: FakeEvents, kind: 'minion-start' | 'instance-failed'): void {
  for (const pool of POOLS) {
    const minion = `${pool}-01`;
    events.push({ kind, tag: kind === 'minion-start' ? `salt/minion/${minion}/start` : `salt-autoscaler/instance/${minion}/failed`, minion, data: {} });
  }
}

t.test('the salt events read together move their instances in one transaction', async (t) => {
  const w = await world();
  t.teardown(async () => { await w.engine.stop(); w.store.close(); });
  notifyAll(w.engine, w.clock);
  await settle();
  w.journal.length = 0;
  pushAll(w.events, 'minion-start');
  await settle();
  t.same(w.journal, ['begin', 'commit'], 'one transaction for the three events');
  const states = w.store.loadInstances().filter((i) => i.id.endsWith('-01')).map((i) => i.state);
  t.same(states, ['booted', 'booted', 'booted'], 'the three transitions are in the store');
});

t.test("an event's turn that decides a stop sends it once committed, and not at all when the commit fails", async (t) => {
  for (const failCommit of [false, true]) {
    const w = await world();
    notifyAll(w.engine, w.clock);
    await settle();
    pushAll(w.events, 'minion-start');
    await settle();
    w.journal.length = 0;
    if (failCommit) w.failNextCommit();
    pushAll(w.events, 'instance-failed'); // three deploys failed: three stops decided in the events' turn
    await settle();
    const stops = w.journal.filter((l) => l.startsWith('stop'));
    if (failCommit) {
      t.same(stops, [], 'a turn that could not commit sends no stop');
      t.equal(w.store.openIntents().length, 0, 'and leaves no intent behind');
      t.equal(w.engine.health().store, false, 'and says the store cannot write');
    } else {
      const firstStop = w.journal.findIndex((l) => l.startsWith('stop'));
      t.same(w.journal.slice(0, firstStop), ['begin', 'intent a-01', 'intent b-01', 'intent c-01', 'commit'], 'the events\' transaction, with the stops\' intents, committed before any stop');
      t.same(stops.sort(), ['stop a-01', 'stop b-01', 'stop c-01'], 'then the three stops');
    }
    await w.engine.stop();
    w.store.close();
  }
});

t.test('a loop turn commits at the end of the event-loop turn, and a microtask join into it commits it sooner', async (t) => {
  const journal: string[] = [];
  const turn = new TurnCommit({
    store: { begin: () => { journal.push('begin'); }, commit: () => { journal.push('commit'); } },
    storeCall: <T>(fn: () => T): T | undefined => fn(),
  });
  t.equal(turn.pending(), undefined, 'no turn open: nothing to wait for');
  const event = turn.join(() => { journal.push('event'); }, 'loop');
  t.equal(turn.pending(), event.durable, 'an open turn: a write now waits for its commit');
  await Promise.resolve();
  t.same(journal, ['begin', 'event'], 'still open after the microtasks of the event');
  const second = turn.join(() => { journal.push('event 2'); }, 'loop');
  await new Promise<void>((resolve) => { setImmediate(resolve); });
  t.same(journal, ['begin', 'event', 'event 2', 'commit'], 'one commit at the end of the loop turn');
  t.same(await Promise.all([event.durable, second.durable]), [true, true]);
  journal.length = 0;
  turn.join(() => { journal.push('event'); }, 'loop');
  const decision = turn.join(() => { journal.push('decision'); });
  t.equal(await decision.durable, true);
  t.same(journal, ['begin', 'event', 'decision', 'commit'], 'the microtask join committed the turn without waiting for the loop');
  await new Promise<void>((resolve) => { setImmediate(resolve); });
  t.equal(turn.commits, 2, 'the loop commit of a turn already committed does nothing');
});
