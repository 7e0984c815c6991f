/**
 * evaluator: the evaluation loop. Per pool: pull the signal, merge it, fold it into the strategy's memory, run the
 * idle checks when a drain is wanted, decide() with the pure core, record the decision, hand it to the executor.
 *
 * ```
 *   evaluateSoon(pool) ─(next loop turn)─► [may act?] ─► signal (pulled + alert) ─► observeWorkload
 *     ─► poolWish: drain wanted? ─yes─► idle checks (at most once per interval) ─► decide()
 *                                └no──► idle confirmations dropped ──────────────┘
 *     ─► hold: recorded once per interval · scaleUp: intents in the turn's transaction (the turn's only evaluation:
 *        in their own), then calls, then decision + transitions · scaleDown: recorded, then each target drained
 * ```
 */
import { afterDecision, mergeSignals, observeWorkload, withIdleChecks, withoutIdle } from '../core/bookkeeping.ts';
import { countInstances, decide, poolWish, type PoolCounts } from '../core/decide.ts';
import { closedPeakBucket } from '../core/strategies/budget.ts';
import type { Decision, PoolSpec, Workload } from '../core/types.ts';
import type { EngineContext, EvaluatorRole } from './context.ts';
import type { WorkloadSource } from './ports.ts';
import type { PoolRuntime } from './pool-state.ts';
import type { Executor } from './executor.ts';
import { breathe } from './system-clock.ts';

/**
 * EVALUATE_GROUP: pools whose evaluations are asked for in one loop turn when every pool is evaluated (the interval's
 * evaluation, after a reconcile, at start and takeover): their decisions share one group commit, and 1,000 pools in
 * one turn would stall the loop ~15-20 ms.
 */
export const EVALUATE_GROUP = 250;

/** Evaluator runs each pool's evaluations, one at a time per pool. */
export class Evaluator implements EvaluatorRole {
  readonly #ctx: EngineContext;
  readonly #executor: Executor;
  /** #due: the pools whose evaluation waits for the next loop turn, in the order they were asked for. */
  #due: PoolRuntime[] = [];

  constructor(ctx: EngineContext, executor: Executor) {
    this.#ctx = ctx;
    this.#executor = executor;
  }

  /**
   * evaluateSoon queues one evaluation of the pool (coalesced while one runs). The pools queued in one loop turn
   * are evaluated together in the next one, so their decisions and intents share one group commit.
   */
  evaluateSoon(pool: string): void {
    const rt = this.#ctx.pools.get(pool);
    if (rt === undefined || this.#ctx.stopped() || !this.#ctx.reconciled()) return;
    if (rt.scheduled) return;
    if (rt.evaluating) { rt.again = true; return; }
    rt.evaluating = true;
    rt.scheduled = true;
    this.#due.push(rt);
    if (this.#due.length > 1) return;
    // the events of one loop turn (a start brings several, a burst of notifications many pools) coalesce into one turn
    this.#ctx.track(this.#ctx.clock.yieldTurn().then(async () => {
      const due = this.#due;
      this.#due = [];
      // every evaluation runs to its first wait before the turn commits (turn-commit.ts); the only one of its turn
      // writes its intents on their own (nothing could share their commit)
      const lone = due.length === 1;
      await Promise.all(due.map((d) => this.#run(d, lone)));
    }));
  }

  /**
   * evaluateAll asks for every pool's evaluation, EVALUATE_GROUP pools a loop turn, the loop free (timers, I/O, the
   * event stream) between groups; it resolves once the last group is asked for. A pool removed meanwhile is skipped.
   */
  async evaluateAll(): Promise<void> {
    const names = [...this.#ctx.pools.keys()];
    for (let from = 0; from < names.length; from += EVALUATE_GROUP) {
      if (from > 0) {
        await breathe(this.#ctx.clock);
        if (this.#ctx.stopped()) return;
      }
      for (const name of names.slice(from, from + EVALUATE_GROUP)) this.evaluateSoon(name);
    }
  }

  /** run evaluates the pool until no new evaluation was asked for while it ran; `lone`: its first is its turn's only one. */
  async #run(rt: PoolRuntime, lone: boolean): Promise<void> {
    rt.scheduled = false;
    try {
      let first = true;
      do {
        rt.again = false;
        await this.evaluate(rt, undefined, first && lone);
        first = false;
      } while (rt.again && !this.#ctx.stopped());
    } catch (err) {
      this.#ctx.log.error({ pool: rt.managed.spec.name, err }, 'evaluation failed');
    } finally {
      rt.evaluating = false;
      rt.scheduled = false;
    }
  }

  /** workloadOf resolves the pool's current signal: a fresh PromQL value wins, then the alert state. */
  workloadOf(rt: PoolRuntime, nowMs: number): Workload | undefined {
    return mergeSignals(rt.managed.spec, rt.alert, rt.pulled, nowMs);
  }

  /** wantsCapacity says why, when the pool's current signal wants more than its ready and in-flight instances. */
  wantsCapacity(rt: PoolRuntime): string | undefined {
    const spec = rt.managed.spec;
    if (rt.paused) return undefined;
    const now = this.#ctx.clock.now();
    const wish = poolWish(spec, this.#ctx.fleet.inPool(spec.name), this.workloadOf(rt, now), now, rt.history);
    return wish.desired > wish.counts.size ? `the pool wants capacity again (${wish.because}): kept` : undefined;
  }

  /** #pull reads one pulled signal of the pool (PromQL); a failure is logged and gives no value (the held one stays). */
  async #pull(source: WorkloadSource | undefined, pool: string, failed: string): Promise<Workload | undefined> {
    if (source === undefined) return undefined;
    try {
      return await source(pool);
    } catch (err) {
      this.#ctx.log.warn({ pool, err }, failed);
      return undefined;
    }
  }

  /**
   * evaluate runs one evaluation (or carries out `forced`, a manual scale's decision). `lone`: it is the only
   * evaluation of its loop turn, so a scale-up's intents need not wait for the turn's group commit (Executor.scaleUp).
   */
  async evaluate(rt: PoolRuntime, forced?: Decision, lone = false): Promise<Decision | undefined> {
    const ctx = this.#ctx;
    const spec = rt.managed.spec;
    if (!ctx.mayAct() || ctx.takingOver()) return this.#notDeciding(spec.name);
    const { workloadSource, queuedSource } = ctx.opts;
    if (workloadSource !== undefined || queuedSource !== undefined) {
      // the two queries go out together; a pool without PromQL (Alertmanager only) waits for neither
      const [pulled, queued] = await Promise.all([
        this.#pull(workloadSource, spec.name, 'workload query failed: signal stale'),
        this.#pull(queuedSource, spec.name, 'waiting query failed: waiting measured against ready capacity'),
      ]);
      if (pulled !== undefined) rt.pulled = pulled;
      if (queued !== undefined) rt.queued = queued;
    }
    const now = ctx.clock.now();
    const workload = this.workloadOf(rt, now);
    // (a stale signal is not demand: the budget strategy counts neither demand nor waiting on it)
    const fresh = spec.strategy.kind !== 'budget' || (workload !== undefined && now - workload.atMs <= spec.signalMaxAgeMs) ? workload : undefined;
    // one census of the pool's instances while nothing can move them (no wait until the idle check's)
    let instances = ctx.fleet.inPool(spec.name);
    const readyNow = instances.filter((i) => i.state === 'ready').length;
    const before = rt.history.budget;
    // the budget strategy measures the waiting it spends: the workload against the READY capacity, each evaluation,
    // and the queued work when the pool has a waitingQuery (a stale value is not used)
    const queuedNow = rt.queued !== undefined && now - rt.queued.atMs <= spec.signalMaxAgeMs ? rt.queued.value : undefined;
    rt.history = observeWorkload(rt.history, spec, fresh, now, readyNow, queuedNow);
    // its buckets survive restarts and reloads: saved whenever one closes (every few minutes, not every evaluation)
    if (closedPeakBucket(before, rt.history.budget)) ctx.savePool(rt);
    const effective: PoolSpec = rt.paused === spec.paused ? spec : { ...spec, paused: rt.paused };
    // the idle check only matters when a drain is wanted: a busy pool puts no idle-check jobs on the master
    const wish = poolWish(effective, instances, workload, now, rt.history);
    let counts = wish.counts;
    if (forced === undefined) {
      // (a manual scale ran its own idle check before it decided)
      if (!effective.paused && wish.desired < wish.counts.size) {
        await this.refreshIdle(rt, now);
        instances = ctx.fleet.inPool(spec.name); // (the instances may have moved while it waited)
        counts = countInstances(instances);
      } else {
        this.#forgetIdle(rt);
      }
    }
    const decision = forced ?? decide(effective, instances, workload, now, rt.history);
    if (decision.kind === 'scaleUp') {
      // its calls first (a lone evaluation's are sent before scaleUp returns), then the chart sample and the metric,
      // which nothing reads in between; its `decision` line is written by the executor, once the calls are sent
      const acting = this.#executor.scaleUp(rt, decision, now, lone);
      this.#sample(rt, now, workload?.value, counts);
      ctx.opts.observer?.decision(spec.name, decision.kind);
      await acting;
      return decision;
    }
    this.#sample(rt, now, workload?.value, counts);
    ctx.opts.observer?.decision(spec.name, decision.kind);
    if (decision.kind === 'hold' && !forced) {
      // a hold is a value, not an event: keep one per interval (or when it follows an action), so the list stays readable
      const last = rt.lastDecision;
      if (last === undefined || last.kind !== 'hold' || now - last.atMs >= spec.intervalMs) this.#executor.recordInTurn(rt, decision, now);
      ctx.log.debug({ pool: spec.name, reason: decision.reason, workload: workload?.value }, 'hold');
      return decision;
    }
    ctx.log.info({ pool: spec.name, action: decision.kind, reason: decision.reason, dryRun: spec.dryRun }, 'decision');
    if (decision.kind === 'scaleDown') {
      this.#executor.record(rt, decision, now);
      rt.history = afterDecision(rt.history, decision, now);
      ctx.savePool(rt);
      await Promise.all(decision.targets.map((id) => this.#executor.drain(rt, id)));
    } else {
      this.#executor.record(rt, decision, now);
    }
    return decision;
  }

  /** notDeciding is the hold of a process that may not act (not the leader, or a store that cannot carry the intent log). */
  #notDeciding(pool: string): Decision {
    if (this.#ctx.takingOver()) return { kind: 'hold', reason: 'taking over from the old leader: its intents are resolved first' };
    if (this.#ctx.following()) {
      this.#ctx.log.debug({ pool }, 'evaluation skipped: another process leads');
      return { kind: 'hold', reason: 'another process leads (this one holds neither the store lease nor, with ha, the etcd leadership): nothing is decided here' };
    }
    const store = this.#ctx.storeProblem();
    this.#ctx.log.warn({ pool, ...(store === undefined ? {} : { store }) }, store === undefined
      ? 'evaluation skipped: this process does not hold the store lease' : 'evaluation skipped: the state store cannot carry the intent log');
    return { kind: 'hold', reason: store === undefined ? 'this process does not hold the store lease (standby or lease lost): nothing is decided' : `nothing is decided: ${store}` };
  }

  /** forgetIdle drops idle confirmations when no drain is wanted: an idle time counts from a check made while one was. */
  #forgetIdle(rt: PoolRuntime): void {
    const next = withoutIdle(rt.history);
    if (next === rt.history) return;
    rt.history = next;
    delete rt.lastIdleCheckMs;
  }

  /** refreshIdle runs the idle check on ready instances above min, at most once per evaluate interval. */
  async refreshIdle(rt: PoolRuntime, now: number): Promise<void> {
    const spec = rt.managed.spec;
    const ready = this.#ctx.fleet.inPool(spec.name).filter((i) => i.state === 'ready');
    if (ready.length <= spec.min) return;
    if (rt.lastIdleCheckMs !== undefined && now - rt.lastIdleCheckMs < Math.min(this.#ctx.opts.evaluateIntervalMs, spec.intervalMs)) return;
    rt.lastIdleCheckMs = now;
    const results = await Promise.all(ready.map(async (i) => [i.id, await this.#ctx.idleCheck(rt, i.id)] as const));
    rt.history = withIdleChecks(rt.history, results, now);
  }

  /** sample keeps the chart's point of this evaluation: ready and paid (ready, in flight, draining, stopping) instances. */
  #sample(rt: PoolRuntime, now: number, workload: number | undefined, counts: PoolCounts): void {
    const ready = counts.ready;
    const total = counts.size + counts.leaving;
    const last = rt.series.last();
    if (last === undefined || now - last.atMs >= 5_000 || last.ready !== ready || last.total !== total || last.workload !== workload) {
      rt.series.push({ atMs: now, ready, total, ...(workload === undefined ? {} : { workload }) });
    }
  }
}
