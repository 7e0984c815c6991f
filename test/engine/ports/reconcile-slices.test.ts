/**
 * reconcile slices: a reconcile of a fleet larger than one slice corrects it a slice at a time (RECONCILE_SLICE
 * instances a task) and asks for the pools' evaluations a group at a time (EVALUATE_GROUP pools a loop turn), so the
 * loop runs its timers in between. A timer probe that fires while the pass runs sees it half done.
 *
 *   reconcile ─► reads ─► slice 1 ─(loop: timers, I/O)─► slice 2 ─► slice 3 ─► evaluations 1..250 ─(loop)─► 251..500 ─► ...
 */
import t from 'tap';
import { Engine, type ManagedPool } from '../../../src/engine/engine.ts';
import type { EngineObserver } from '../../../src/engine/ports.ts';
import { EVALUATE_GROUP } from '../../../src/engine/evaluator.ts';
import { RECONCILE_SLICE } from '../../../src/engine/reconciler.ts';
import { openStore } from '../../../src/store/sqlite-store.ts';
import { createLogger } from '../../../src/log.ts';
import { FakeClock, FakeEvents, FakeSalt, poolSpec, settle, silentLogger } from '../../support/engine-ports.ts';

const POOLS = 600;
const PER_POOL = 5;

t.test('a reconcile larger than a slice lets the loop run between its slices and its evaluation groups', async (t) => {
  t.ok(POOLS * PER_POOL > 2 * RECONCILE_SLICE && POOLS > 2 * EVALUATE_GROUP, 'the fleet spans several slices and groups');
  const clock = new FakeClock();
  const events = new FakeEvents();
  const pools: ManagedPool[] = Array.from({ length: POOLS }, (_, p) => ({
    spec: poolSpec({ name: `p${p}`, instanceType: `t${p}`, max: PER_POOL }), // no signal: holds what it has
    reserved: Array.from({ length: PER_POOL }, (_, i) => `p${p}-vm${i}`),
    idleCheck: { fun: 'cmd.retcode', args: ['busy-check'] },
  }));
  const ids = pools.flatMap((p) => p.reserved);
  const salt = new FakeSalt(clock, events, ids);
  const store = openStore(':memory:', { logger: createLogger({ level: 'silent' }), nowMs: () => clock.now() });
  const decided = new Set<string>();
  const observer: EngineObserver = {
    event: () => {}, ignored: () => {}, action: () => {}, instanceFailed: () => {}, correction: () => {}, reconcile: () => {}, openIntents: () => {},
    decision: (pool) => { decided.add(pool); },
  };
  const engine = new Engine({
    pools, cloud: salt, minions: salt, store, clock, logger: silentLogger, events, observer,
    reconcileIntervalMs: 60 * 60_000, evaluateIntervalMs: 60 * 60_000, tickIntervalMs: 60 * 60_000, startConfirmWindowMs: 60_000,
    storeCheckIntervalMs: 3_600_000, integrityCheckIntervalMs: 3_600_000,
  });
  t.teardown(async () => { await engine.stop(); store.close(); });
  await engine.start();
  await settle();

  // Salt moved every VM to running and deployed, no event said so: the reconcile corrects all of them
  for (const vm of salt.vms.values()) Object.assign(vm, { state: 'running', up: true, ready: true });
  const seenReady: number[] = [];
  const probe = setInterval(() => { seenReady.push(engine.instances().filter((i) => i.state === 'ready').length); }, 0);
  await engine.reconcile('test');
  clearInterval(probe);
  await settle();
  t.equal(engine.instances().filter((i) => i.state === 'ready').length, ids.length, 'every instance corrected to ready');
  const halfway = seenReady.filter((n) => n > 0 && n < ids.length);
  t.ok(halfway.length > 0, `a timer ran while the pass was half done (it saw ${JSON.stringify([...new Set(seenReady)])} ready)`);
  t.ok(halfway.every((n) => n % RECONCILE_SLICE === 0), 'between slices, never inside one');

  // a pass that finds the fleet consistent: only its evaluations follow, a group a turn
  await settle();
  decided.clear();
  const seenDecisions: number[] = [];
  const probe2 = setInterval(() => { seenDecisions.push(decided.size); }, 0);
  await engine.reconcile('test');
  for (let i = 0; i < 200 && decided.size < POOLS; i += 1) await new Promise((resolve) => setTimeout(resolve, 1));
  clearInterval(probe2);
  t.equal(decided.size, POOLS, 'every pool evaluated after the pass');
  t.ok(seenDecisions.some((n) => n > 0 && n < POOLS), `a timer ran between the evaluation groups (it saw ${JSON.stringify([...new Set(seenDecisions)])} decisions)`);
});
