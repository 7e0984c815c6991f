/**
 * crash after the call: a scale-up commits its intents before its calls and writes the rest (the instances' moves,
 * its decision, the pool's cooldown stamp) in the next group commit, after the calls are sent. A process that dies
 * between the two leaves the intent alone in the state file; the restarted one recovers the rest from it: the
 * instance is in flight, the pool's cooldown runs from the decision, the decision is in the record, and one need
 * still ends in one start.
 *
 * The crash: the moment the fake Salt is asked to start, the state file (database and WAL) is copied, as a SIGKILL
 * at that moment would leave it; the second process opens the copy, on the same fake Salt and clock. The first process
 * also runs on a file of schema 3 (intents with AUTOINCREMENT and the open-intents index), which the second one's
 * open migrates: an upgrade right after a crash recovers the same.
 */
import t, { type Test } from 'tap';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/log.ts';
import BetterSqlite3 from 'better-sqlite3';
import { MIGRATIONS, migrate } from '../../../src/store/migrations.ts';
import { openStore, SqliteStore } from '../../../src/store/sqlite-store.ts';
import { FakeClock, FakeEvents, FakeSalt, startWorld, states, type World } from '../../support/engine-ports.ts';

const IDS = ['gpu-prod-type1-01', 'gpu-prod-type1-02', 'gpu-prod-type1-03'];
const SPEC = { max: 3, step: 1 }; // upCooldownMs 60 s (poolSpec), 8 workload units per instance

function fileStore(path: string, clock: FakeClock): SqliteStore {
  return openStore(path, { logger: createLogger({ level: 'silent' }), nowMs: () => clock.now() });
}

/** schema3Store is the store on a file of schema 3, the previous release's (its released migrations, as it ran them). */
function schema3Store(path: string, clock: FakeClock): SqliteStore {
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  migrate(db, path, MIGRATIONS.filter((m) => m.version <= 3));
  return new SqliteStore(db, path, { logger: createLogger({ level: 'silent' }), nowMs: () => clock.now() });
}

type Schema = 'current' | 'schema 3';

/** onDisk is the fleet's clock and fake Salt, and a state file `live.db` in a temp dir (all removed at teardown). */
function onDisk(t: Test, schema: Schema = 'current'): { dir: string; clock: FakeClock; salt: FakeSalt; live: SqliteStore } {
  const dir = mkdtempSync(join(tmpdir(), 'asc-crash-after-call-'));
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }); });
  const clock = new FakeClock();
  const salt = new FakeSalt(clock, new FakeEvents(), IDS);
  const live = schema === 'current' ? fileStore(join(dir, 'live.db'), clock) : schema3Store(join(dir, 'live.db'), clock);
  t.teardown(() => { live.close(); });
  return { dir, clock, salt, live };
}

/** crashAtFirstStart runs a first process until Salt is asked for its first start, and returns the state file as it was then. */
async function crashAtFirstStart(t: Test, reachesSalt: boolean, schema: Schema): Promise<{ clock: FakeClock; salt: FakeSalt; crashed: SqliteStore; first: World }> {
  const { dir, clock, salt, live } = onDisk(t, schema);
  let copied = false;
  let die: (err: Error) => void = () => undefined;
  const start = salt.start.bind(salt);
  salt.start = async (id: string): Promise<void> => {
    if (!copied) {
      copied = true;
      for (const ext of ['', '-wal']) if (existsSync(join(dir, `live.db${ext}`))) copyFileSync(join(dir, `live.db${ext}`), join(dir, `crashed.db${ext}`));
      // the call did not leave the dying process: Salt never hears of it (nor does the test's first process)
      if (!reachesSalt) return new Promise<void>((_resolve, reject) => { die = reject; });
    }
    return start(id);
  };
  const first = await startWorld({ spec: SPEC, reserved: IDS.length, reuse: { clock, salt, store: live } });
  first.signal(8);
  await first.clock.advance(0);
  t.ok(copied, 'the first process asked Salt for a start');
  const stopping = first.engine.stop();
  die(new Error('the process died with the call')); // (ends the first engine's hung call, so that it can stop)
  await stopping;
  salt.start = start; // the second process talks to Salt itself
  const version = new BetterSqlite3(join(dir, 'crashed.db'), { readonly: true });
  const expected = schema === 'current' ? MIGRATIONS.length : 3;
  t.equal(version.prepare('SELECT version FROM schema_version').pluck().get(), expected, `the file left is at schema version ${expected}`);
  version.close();
  const crashed = fileStore(join(dir, 'crashed.db'), clock);
  t.teardown(() => { crashed.close(); });
  return { clock, salt, crashed, first };
}

for (const [reachesSalt, schema] of [[true, 'current'], [false, 'current'], [true, 'schema 3'], [false, 'schema 3']] as const) {
  const file = schema === 'current' ? '' : `, on a file of ${schema} the restart migrates`;
  t.test(`a crash after the start call and before the scale-up's other writes (the call ${reachesSalt ? 'reached' : 'did not reach'} Salt${file}): the restart recovers them from the intent`, async (t) => {
    const { clock, salt, crashed } = await crashAtFirstStart(t, reachesSalt, schema);
    const decidedMs = clock.now();
    // what the dead process left: the intent, durable before the call; the rest was still to be written
    t.equal(crashed.openIntents().length, 1, 'the start intent was durable before the call');
    t.equal(crashed.decisions('gpu').filter((d) => d.decision.kind === 'scaleUp').length, 0, 'the decision was not written yet (the crash falls in the window)');
    t.same(crashed.loadInstances().map((i) => `${i.id} ${i.state}`), IDS.map((id) => `${id} stopped`), 'nor the move to starting');
    t.equal((crashed.poolState('gpu')?.['history'] as { lastUpMs?: number } | undefined)?.lastUpMs, undefined, 'nor the cooldown stamp');
    const startsBefore = salt.count('start');

    const second = await startWorld({ spec: SPEC, reserved: IDS.length, reuse: { clock, salt, store: crashed } });
    t.teardown(async () => { await second.engine.stop(); });
    const recovered = second.engine.decisions('gpu', 10).find((d) => d.decision.kind === 'scaleUp');
    t.equal(recovered?.atMs, decidedMs, 'the scale-up is in the record, at its decision time');
    t.match(recovered?.decision.reason, /recovered from 1 open intent/, 'saying it was recovered');
    t.same(recovered?.decision, { kind: 'scaleUp', count: 1, targets: [{ kind: 'start', id: 'gpu-prod-type1-01' }], reason: recovered?.decision.reason });
    t.equal(states(second).stopped, 2, 'two instances in the reserve');
    t.equal(second.engine.instances().find((i) => i.id === 'gpu-prod-type1-01')?.state === 'stopped', false, 'the started one is in flight, not back in the reserve');

    // the need doubles at once: the pool's cooldown (60 s from the decision) holds the second start
    second.signal(16);
    await clock.advance(30_000);
    t.equal(salt.count('start') - startsBefore, 0, 'no start within the cooldown of the scale-up the dead process made');
    await clock.advance(5 * 60_000);
    t.equal(second.engine.pools()[0]?.ready, 2, 'both needs are met');
    t.equal(salt.duplicateStarts, 0, 'no instance was started twice');
    t.equal(salt.count('start'), 2, 'two needs, two starts in Salt (the lost call counts when it reached Salt)');
    t.equal(second.store.openIntents().length, 0, 'the leftover intent was resolved');
  });
}

t.test('without a crash, the scale-up writes its decision, moves and cooldown once its call is sent, and a restart recovers nothing', async (t) => {
  const { clock, salt, live: store } = onDisk(t);
  const first = await startWorld({ spec: SPEC, reserved: IDS.length, reuse: { clock, salt, store } });
  first.signal(8);
  await clock.advance(0);
  await first.engine.stop();
  t.equal(store.decisions('gpu').filter((d) => d.decision.kind === 'scaleUp').length, 1, 'the decision is written');
  t.equal(store.loadInstances().find((i) => i.id === 'gpu-prod-type1-01')?.state === 'stopped', false, 'and the move');
  t.equal((store.poolState('gpu')?.['history'] as { lastUpMs?: number } | undefined)?.lastUpMs, clock.now(), 'and the cooldown stamp');
  const second = await startWorld({ spec: SPEC, reserved: IDS.length, reuse: { clock, salt, store } });
  t.teardown(async () => { await second.engine.stop(); });
  t.equal(second.engine.decisions('gpu', 10).filter((d) => /recovered/.test(d.decision.reason)).length, 0, 'no decision is recovered when none was lost');
});
