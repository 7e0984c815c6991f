/**
 * evaluate groups: the interval's evaluation of every pool asks for EVALUATE_GROUP pools a loop turn, so a fleet of
 * many pools does not hold the loop for all of their evaluations at once: a timer probe firing meanwhile sees a
 * whole number of groups evaluated, never a part of one; and every pool is evaluated in the end.
 *
 *   every evaluateIntervalMs ─► pools 1..250 ─(loop: timers, I/O)─► 251..500 ─(loop)─► 501..600
 */
import t from 'tap';
import { Engine, type ManagedPool } from '../../../src/engine/engine.ts';
import { EVALUATE_GROUP } from '../../../src/engine/evaluator.ts';
import type { EngineObserver } from '../../../src/engine/ports.ts';
import { openStore } from '../../../src/store/sqlite-store.ts';
import { createLogger } from '../../../src/log.ts';
import { FakeClock, FakeEvents, FakeSalt, poolSpec, settle, silentLogger } from '../../support/engine-ports.ts';

const POOLS = 600;
const INTERVAL_MS = 60_000;

t.test("the interval's evaluation of every pool runs a group of pools a loop turn", async (t) => {
  t.ok(POOLS > 2 * EVALUATE_GROUP && POOLS % EVALUATE_GROUP !== 0, 'the pools span several groups, the last one partial');
  const clock = new FakeClock();
  const events = new FakeEvents();
  const pools: ManagedPool[] = Array.from({ length: POOLS }, (_, p) => ({
    spec: poolSpec({ name: `p${p}`, instanceType: `t${p}`, max: 1 }), // no signal: each evaluation holds
    reserved: [`p${p}-vm0`],
    idleCheck: { fun: 'cmd.retcode', args: ['busy-check'] },
  }));
  const salt = new FakeSalt(clock, events, pools.flatMap((p) => p.reserved));
  const store = openStore(':memory:', { logger: createLogger({ level: 'silent' }), nowMs: () => clock.now() });
  let decisions = 0;
  const observer: EngineObserver = {
    event: () => {}, ignored: () => {}, action: () => {}, instanceFailed: () => {}, correction: () => {}, reconcile: () => {}, openIntents: () => {},
    decision: () => { decisions += 1; },
  };
  const engine = new Engine({
    pools, cloud: salt, minions: salt, store, clock, logger: silentLogger, events, observer,
    reconcileIntervalMs: 60 * 60_000, evaluateIntervalMs: INTERVAL_MS, tickIntervalMs: 60 * 60_000, startConfirmWindowMs: 60_000,
    storeCheckIntervalMs: 3_600_000, integrityCheckIntervalMs: 3_600_000,
  });
  t.teardown(async () => { await engine.stop(); store.close(); });
  await engine.start();
  await settle(200);

  const base = decisions;
  const seen: number[] = [];
  const probe = setInterval(() => { seen.push(decisions - base); }, 0);
  await clock.advance(INTERVAL_MS);
  for (let i = 0; i < 200 && decisions - base < POOLS; i += 1) await new Promise((resolve) => setTimeout(resolve, 1));
  clearInterval(probe);
  t.equal(decisions - base, POOLS, 'every pool evaluated once by the interval');
  const between = [...new Set(seen.filter((n) => n > 0 && n < POOLS))];
  t.ok(between.length > 0, `a timer ran between the groups (it saw ${JSON.stringify([...new Set(seen)])} evaluations)`);
  t.ok(between.every((n) => n % EVALUATE_GROUP === 0), `between groups, never inside one (${JSON.stringify(between)})`);
});
