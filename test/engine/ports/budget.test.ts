/**
 * The budget strategy through the engine's ports: the evaluator feeds it the waiting above READY capacity each
 * evaluation, the decisions say where the budget stands, the pool view shows it, and its memory survives a restart
 * through the real SQLite store.
 */
import t from 'tap';
import { waitingShare } from '../../../src/core/strategies/budget.ts';
import type { BudgetMemory } from '../../../src/core/types.ts';
import { SharedStore, startWorld, states } from '../../support/engine-ports.ts';

const budgetPool = { strategy: { kind: 'budget', perInstance: 8 } as const, waitBudget: 0.0025, waitWindowMs: 86_400_000 };

t.test('a budget pool measures the waiting while its instances start, and every decision says where the budget stands', async (t) => {
  const w = await startWorld({ spec: budgetPool });
  w.signal(20);
  await w.clock.advance(1_000);
  t.equal(w.salt.count('start'), 3, 'ceil(20 / 8) = 3 starts');
  await w.clock.advance(3 * 60_000);
  t.same(states(w), { ready: 3, stopped: 1 });
  await w.clock.advance(10 * 60_000);
  const view = w.engine.pools()[0];
  t.equal(view?.waitBudget, 0.0025);
  t.equal(view?.waitWindowMs, 86_400_000);
  t.ok((view?.waitingShare ?? 0) > 0, `the 20 GPUs waited while nothing was ready: share ${view?.waitingShare}`);
  // ~14 minutes of a 1-day window measured: the share is a young pool's (the over-budget alert weighs it by this)
  t.ok((view?.waitWindowCovered ?? 0) > 0 && (view?.waitWindowCovered ?? 1) < 0.05, `a sliver of the window measured: ${view?.waitWindowCovered}`);
  const decisions = w.engine.decisions('gpu');
  t.ok(decisions.length > 0);
  for (const d of decisions) t.match(d.decision.reason, /waiting [\d.]+% of 0\.25% budget over 1d/);
  t.ok((w.pool.spec.waitBudget ?? 0) > 0);
  t.notOk(view !== undefined && 'waitWindowStrict' in view, 'a pool that keeps the budget on average does not say every window');
  await w.engine.stop();
});

t.test('a pool that keeps every window says so in its view', async (t) => {
  const w = await startWorld({ spec: { ...budgetPool, waitWindowStrict: true } });
  t.equal(w.engine.pools()[0]?.waitWindowStrict, true);
  await w.engine.stop();
});

t.test('a pool with a waiting query counts the queued work as waiting and starts an instance for work no ready one takes', async (t) => {
  // the scheduler's queue: an 8-GPU job that fits neither of the first two instances (4 GPUs busy on each), placed
  // once a third is ready; then every instance runs a job (the idle check says busy)
  let fragmented = false;
  const queuedNow = (): number => {
    if (!fragmented) return 0;
    if ((states(w).ready ?? 0) < 3) return 8;
    for (const vm of w.salt.vms.values()) if (vm.state === 'running') vm.busy = true;
    return 0;
  };
  const w = await startWorld({ spec: budgetPool, engine: { queuedSource: async () => ({ value: queuedNow(), atMs: w.clock.now(), source: 'test' }) } });
  w.signal(16);
  await w.clock.advance(5 * 60_000);
  t.same(states(w), { ready: 2, stopped: 2 });
  // the 16 GPUs fit the 2 ready instances in total, but the scheduler reports an 8-GPU job queued (fragmentation)
  fragmented = true;
  w.engine.evaluateSoon('gpu');
  await w.clock.advance(60_000);
  t.equal(w.salt.count('start'), 3, 'a third instance started for the queued job');
  // the third instance is ready and takes the job: the queue empties, nothing more starts
  await w.clock.advance(10 * 60_000);
  // the same pool and signal without the queue: what the workload above READY capacity alone shows
  const plain = await startWorld({ spec: budgetPool });
  plain.signal(16);
  await plain.clock.advance(16 * 60_000);
  const shares = [w, plain].map((x) => x.engine.pools()[0]?.waitingShare ?? 0);
  t.ok((shares[0] ?? 0) > (shares[1] ?? 0), `the queued job waited: share ${shares[0]} with the queue, ${shares[1]} without`);
  await plain.engine.stop();
  t.equal(w.salt.count('start'), 3, 'no more starts once the queue is empty');
  t.equal(states(w).ready, 3);
  t.ok(w.engine.decisions('gpu').some((d) => /8 queued that 2 ready instances do not take wants 3/.test(d.decision.reason)), 'the reason names the queue');
  await w.engine.stop();
});

t.test('the budget memory and the measured start times survive a restart through the SQLite store', async (t) => {
  const first = await startWorld({ spec: budgetPool });
  first.signal(20);
  await first.clock.advance(20 * 60_000);
  const saved = first.store.poolState('gpu')?.['history'] as { budget?: { peaks: number[] }; startLatenciesMs?: number[] } | undefined;
  t.ok((saved?.budget?.peaks.length ?? 0) > 0, 'the budget buckets are in the store');
  t.equal(saved?.startLatenciesMs?.length, 3, 'three start-to-ready times measured');
  await first.engine.stop();
  const share = waitingShare(saved?.budget as BudgetMemory | undefined);
  t.ok(share > 0);
  const second = await startWorld({ spec: budgetPool, reuse: first });
  t.equal(second.engine.pools()[0]?.waitingShare, share, 'the realised share is the one saved before the restart');
  await second.engine.stop();
});

t.test('a pool of another strategy shows no budget', async (t) => {
  const w = await startWorld();
  t.equal(w.engine.pools()[0]?.waitBudget, undefined);
  await w.engine.stop();
});

t.test('with ha, the budget memory rides along in the shared pool state, and a new leader carries on from it', async (t) => {
  const shared = new SharedStore();
  shared.leader = 'a';
  const a = await startWorld({ spec: budgetPool, shared: { store: shared, name: 'a' } });
  a.signal(20);
  await a.clock.advance(20 * 60_000);
  const replicated = shared.pools.get('gpu')?.['history'] as { budget?: BudgetMemory; startLatenciesMs?: number[] } | undefined;
  t.ok((replicated?.budget?.peaks.length ?? 0) > 0, 'the budget buckets are in the shared state');
  t.equal(replicated?.startLatenciesMs?.length, 3);
  await a.engine.stop();
  shared.leader = 'b';
  const b = await startWorld({ spec: budgetPool, shared: { store: shared, name: 'b' }, peer: a });
  t.equal(b.engine.pools()[0]?.waitingShare, waitingShare(replicated?.budget), 'the new leader reports the share it took over');
  await b.engine.stop();
});
