/**
 * read pause: a burst of scale-ups (BURST_SCALE_UPS within BURST_WINDOW_MS) pauses the event source's reads before
 * its starts go out, each further scale-up of the burst extends the pause, and a few scale-ups pause nothing.
 */
import t from 'tap';
import { Engine, type ManagedPool } from '../../../src/engine/engine.ts';
import { BURST_SCALE_UPS, BURST_WINDOW_MS, PAUSE_LINGER_MS, ReadPause } from '../../../src/engine/read-pause.ts';
import { createLogger } from '../../../src/log.ts';
import { openStore } from '../../../src/store/sqlite-store.ts';
import { FakeClock, FakeEvents, FakeSalt, poolSpec, settle, silentLogger } from '../../support/engine-ports.ts';

/** PausableEvents is the fake stream with pauseReads, each call written to the journal. */
class PausableEvents extends FakeEvents {
  constructor(readonly journal: string[]) { super(); }
  pauseReads(ms: number): boolean {
    this.journal.push(`pause ${ms}`);
    return true;
  }
}

async function world(pools: number): Promise<{ engine: Engine; clock: FakeClock; journal: string[]; close: () => Promise<void> }> {
  const clock = new FakeClock();
  const journal: string[] = [];
  const events = new PausableEvents(journal);
  const managed: ManagedPool[] = Array.from({ length: pools }, (_, k) => ({
    spec: poolSpec({ name: `p${k}`, step: 1 }), reserved: [`p${k}-01`], idleCheck: { fun: 'cmd.retcode', args: ['busy-check'] },
  }));
  const salt = new FakeSalt(clock, events, managed.flatMap((p) => p.reserved));
  const start = salt.start.bind(salt);
  salt.start = async (id: string): Promise<void> => { journal.push(`start ${id}`); await start(id); };
  const store = openStore(':memory:', { logger: createLogger({ level: 'silent' }), nowMs: () => clock.now() });
  const engine = new Engine({
    pools: managed, cloud: salt, minions: salt, store, clock, events, logger: silentLogger,
    reconcileIntervalMs: 5 * 60_000, evaluateIntervalMs: 30_000, tickIntervalMs: 5_000, startConfirmWindowMs: 60_000,
    storeCheckIntervalMs: 3_600_000, integrityCheckIntervalMs: 3_600_000,
  });
  await engine.start();
  await settle();
  journal.length = 0;
  return { engine, clock, journal, close: async () => { await engine.stop(); store.close(); } };
}

function notify(engine: Engine, clock: FakeClock, pools: readonly string[]): void {
  for (const pool of pools) engine.alertSignal({ pool, direction: 'up', workload: 8, atMs: clock.now(), expiresMs: clock.now() + 60_000 });
}

t.test('a burst of scale-ups pauses the reads before its first start goes out, and each further one extends the pause', async (t) => {
  const pools = BURST_SCALE_UPS + 4;
  const w = await world(pools);
  t.teardown(w.close);
  notify(w.engine, w.clock, Array.from({ length: pools }, (_, k) => `p${k}`));
  await settle();
  const pauses = w.journal.filter((l) => l.startsWith('pause'));
  t.same(pauses, Array.from({ length: pools - BURST_SCALE_UPS + 1 }, () => `pause ${PAUSE_LINGER_MS}`), 'from the burst-th scale-up on, one pause (or extension) each');
  t.ok(w.journal.indexOf(pauses[0] ?? '') < w.journal.findIndex((l) => l.startsWith('start')), 'the reads pause before any start is sent');
  t.equal(w.journal.filter((l) => l.startsWith('start')).length, pools, 'every pool started');
});

t.test('a few scale-ups together, or many spread out, pause nothing', async (t) => {
  const w = await world(BURST_SCALE_UPS + 1);
  t.teardown(w.close);
  notify(w.engine, w.clock, Array.from({ length: BURST_SCALE_UPS - 1 }, (_, k) => `p${k}`));
  await settle();
  await w.clock.advance(BURST_WINDOW_MS + 1);
  notify(w.engine, w.clock, [`p${BURST_SCALE_UPS - 1}`, `p${BURST_SCALE_UPS}`]);
  await settle();
  t.equal(w.journal.filter((l) => l.startsWith('start')).length, BURST_SCALE_UPS + 1, 'every pool started');
  t.same(w.journal.filter((l) => l.startsWith('pause')), [], 'no pause: never BURST_SCALE_UPS within the window');
});

t.test('ReadPause counts a burst over a sliding window (table)', async (t) => {
  const cases: { name: string; times: number[]; pauses: number }[] = [
    { name: 'exactly BURST_SCALE_UPS at the same time', times: Array.from({ length: BURST_SCALE_UPS }, () => 0), pauses: 1 },
    { name: 'one fewer', times: Array.from({ length: BURST_SCALE_UPS - 1 }, () => 0), pauses: 0 },
    { name: 'spread over exactly the window', times: Array.from({ length: BURST_SCALE_UPS }, (_, k) => (k * BURST_WINDOW_MS) / (BURST_SCALE_UPS - 1)), pauses: 1 },
    { name: 'spread just past the window', times: Array.from({ length: BURST_SCALE_UPS }, (_, k) => (k * (BURST_WINDOW_MS + 1)) / (BURST_SCALE_UPS - 1)), pauses: 0 },
    { name: 'a burst, then each further one within the window', times: Array.from({ length: BURST_SCALE_UPS + 3 }, (_, k) => k), pauses: 4 },
  ];
  for (const c of cases) {
    const journal: string[] = [];
    const pause = new ReadPause(new PausableEvents(journal));
    for (const at of c.times) pause.scaleUp(at);
    t.equal(journal.length, c.pauses, c.name);
  }
  t.doesNotThrow(() => { new ReadPause(new FakeEvents()).scaleUp(0); new ReadPause(undefined).scaleUp(0); }, 'a source without pauseReads is left alone');
});
