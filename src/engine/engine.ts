/**
 * engine: the loop of salt-autoscaler, wired from its roles. It owns the instances' lifecycle state, feeds salt
 * events into it (intake), evaluates each pool with the pure core (evaluator), executes decisions with the intent
 * log (executor), and reconciles with Salt, the truth, at startup, after every stream gap and every few minutes
 * (reconciler). The fleet index (fleet) writes every instance change; the store watch stops all acting while the
 * store cannot carry the intent log.
 *
 * ```
 *  salt events ──► intake ──► fleet.step (lifecycle) ──► store ──► afterTransition ──► evaluateSoon(pool)
 *  alerts / PromQL ──► signals ─────────────────────────────────────────────────────► evaluateSoon(pool)
 *  timers: tick (provision timeouts) · evaluate (every evaluateIntervalMs) · reconcile (every reconcileIntervalMs)
 *  evaluator: idle checks ─► decide() ─► executor: decision + intents ─► calls ─► intents done/failed
 *  reconciler: cloud.query + manage.up + grains.item ─► lifecycle 'observed' ─► corrections, open intents resolved
 * ```
 */
import { AutoscalerError, NotReconciledError } from '../errors.ts';
import { afterTransition } from '../core/bookkeeping.ts';
import { decide } from '../core/decide.ts';
import { newInstance, type LifecycleInput, type StepResult } from '../core/lifecycle.ts';
import type { StreamItem } from '../core/salt-event.ts';
import { byCodeUnits } from '../core/order.ts';
import { startLeadMs, waitBudgetOf, waitingShare, waitWindowCovered, waitWindowOf } from '../core/strategies/budget.ts';
import { IN_FLIGHT_STATES, type Decision, type Instance, type InstanceState, type PoolSpec, type PoolView, type Transition } from '../core/types.ts';
import type { EngineContext, EngineOptions } from './context.ts';
import { Evaluator } from './evaluator.ts';
import { Executor } from './executor.ts';
import { Fleet } from './fleet.ts';
import { Intake } from './intake.ts';
import { IntentLog } from './intent-log.ts';
import { loadPool, savedPool, type PoolRuntime, type SeriesPoint } from './pool-state.ts';
import type { AlertSignal, DecisionRecord, EngineApi, EngineLogger, IdleResult, Intent, IntentKind, Timer } from './ports.ts';
import { ReadPause } from './read-pause.ts';
import { Reconciler } from './reconciler.ts';
import { StoreWatch } from './store-watch.ts';
import { withTimers, type RunningClock } from './system-clock.ts';
import { TurnCommit } from './turn-commit.ts';

export type { EngineOptions } from './context.ts';
export { globToRegExp } from './fleet.ts';
export type { ManagedPool } from './pool-state.ts';
export type { EngineLogger, EngineObserver, WorkloadSource } from './ports.ts';

/** Engine runs the pools; it implements the HTTP layer's EngineApi. */
export class Engine implements EngineApi {
  readonly #opts: EngineOptions;
  readonly #log: EngineLogger;
  readonly #clock: RunningClock;
  readonly #pools = new Map<string, PoolRuntime>();
  readonly #fleet: Fleet;
  readonly #turn: TurnCommit;
  readonly #intents: IntentLog;
  readonly #intake: Intake;
  readonly #evaluator: Evaluator;
  readonly #executor: Executor;
  readonly #reconciler: Reconciler;
  /** #storeWatch: whether the store still carries the intent log; no action goes out while it does not. */
  readonly #storeWatch: StoreWatch;
  readonly #timers: Timer[] = [];
  readonly #pending = new Set<Promise<unknown>>();
  readonly #wakers = new Set<() => void>();
  #started = false;
  #stopped = false;
  /**
   * #term: with a replica, whether this process took over in the current leadership term: `none` until takeOver()
   * (and again after stepDown()), `taking-over` while it resolves the old leader's state, then `leading`. Without a
   * replica the gate alone decides (`leading`).
   */
  #term: 'none' | 'taking-over' | 'leading';

  constructor(opts: EngineOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'engine' });
    this.#clock = withTimers(opts.clock);
    this.#term = opts.replica === undefined ? 'leading' : 'none';
    this.#storeWatch = new StoreWatch({
      store: opts.store, clock: opts.clock, logger: this.#log.child({ component: 'store-watch' }),
      ...(opts.storeCheckIntervalMs === undefined ? {} : { checkIntervalMs: opts.storeCheckIntervalMs }),
      ...(opts.integrityCheckIntervalMs === undefined ? {} : { integrityIntervalMs: opts.integrityCheckIntervalMs }),
      onFault: (fault) => opts.observer?.storeFault?.(fault),
      onWritable: (writable) => { this.#storeWritable(writable); },
      onFatal: (err) => opts.onStoreLost?.(err),
    });
    for (const managed of opts.pools) this.#pools.set(managed.spec.name, loadPool(managed, opts.store));
    const storeCall = <T>(fn: () => T): T | undefined => this.#storeCall(fn);
    this.#turn = new TurnCommit({ store: opts.store, storeCall });
    this.#fleet = new Fleet({
      pools: opts.pools, store: opts.store, log: this.#log, storeCall,
      onMoved: (inst, from, now) => { this.#afterTransition(inst, from, now); },
      onIgnored: (inst, input, result, source) => { this.#ignored(inst, input, result, source); },
    });
    const readPause = new ReadPause(opts.events);
    this.#intents = new IntentLog({ store: opts.store, storeCall, clock: this.#clock, log: this.#log, ...(opts.replica === undefined ? {} : { replica: opts.replica }) });
    const ctx: EngineContext = {
      opts, clock: this.#clock, log: this.#log, fleet: this.#fleet, intents: this.#intents, pools: this.#pools, storeCall,
      turn: this.#turn,
      savePool: (rt) => { this.#savePool(rt); },
      apply: (inst, input, now, source) => this.#fleet.step(inst, input, now, source),
      idleCheck: (rt, id) => this.#idle(rt, id),
      track: (p) => { this.#track(p); },
      scaleUpDecided: (nowMs) => { readPause.scaleUp(nowMs); },
      sleep: (ms) => this.#sleep(ms),
      mayAct: () => this.#mayAct(),
      notActing: (kind, id) => this.#notActing(kind, id),
      storeProblem: () => this.#storeWatch.problem()?.message,
      stopped: () => this.#stopped,
      following: () => this.#following(),
      takingOver: () => this.#term === 'taking-over',
      reconciled: () => this.#reconciler.succeeded,
      // the roles are set right below; nothing calls through the context before the constructor returns
      evaluator: undefined as unknown as Evaluator,
      executor: undefined as unknown as Executor,
      reconciler: undefined as unknown as Reconciler,
    };
    this.#executor = new Executor(ctx);
    this.#reconciler = new Reconciler(ctx);
    this.#evaluator = new Evaluator(ctx, this.#executor);
    this.#intake = new Intake(ctx);
    ctx.executor = this.#executor;
    ctx.reconciler = this.#reconciler;
    ctx.evaluator = this.#evaluator;
  }

  /** start loads the state, reconciles with Salt (resolving open intents), then starts the loops. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#opts.observer?.storeWritable?.(true);
    this.#storeWatch.start();
    const now = this.#clock.now();
    for (const inst of this.#opts.store.loadInstances()) {
      if (this.#pools.has(inst.pool)) this.#fleet.index(inst);
    }
    this.#fleet.inBatch(() => {
      for (const rt of this.#pools.values()) {
        for (const id of rt.managed.reserved) {
          if (!this.#fleet.has(id)) this.#fleet.put(newInstance(id, rt.managed.spec.name, now));
        }
      }
    });
    const open = this.#storeCall(() => this.#opts.store.openIntents()) ?? [];
    this.#executor.openIntentCount = open.length;
    this.#recoverOpenIntents(open, (intent) => intent.createdMs, 'recovery: an open intent of the previous run', true);
    const events = this.#opts.events;
    if (events) this.#track(this.#intake.consume(events));
    // read after the stream's connect, the startup reconcile covers it: one reconcile of the fleet at startup, not two.
    // On failure it retries; evaluations wait for the first success.
    await this.#reconciler.startup(events !== undefined && !events.connected ? STARTUP_STREAM_WAIT_MS : 0);
    if (!this.#following()) this.#resumeDrains();
    this.#timers.push(
      this.#clock.every(this.#opts.tickIntervalMs ?? 5_000, () => { this.#tick(); }),
      this.#clock.every(this.#opts.evaluateIntervalMs, () => { this.#track(this.#evaluator.evaluateAll()); }),
      this.#clock.every(this.#opts.reconcileIntervalMs, () => { this.#track(this.reconcile('periodic')); }),
    );
    this.#track(this.#evaluator.evaluateAll());
  }

  /**
   * takeOver makes this process the leader's engine once its leadership was won (with a replica): the replica's open
   * intents and pool state become its own, a reconcile resolves the old leader's intents against Salt as a restart
   * after a crash does (one need ends in one start), and the old leader's drains are finished.
   */
  async takeOver(): Promise<void> {
    this.#term = 'taking-over';
    try {
      await this.#takeOver();
      this.#term = 'leading';
    } catch (err) {
      this.#term = 'none';
      throw err;
    }
    this.#track(this.#evaluator.evaluateAll());
  }

  /** leading: this process evaluates and acts now (it leads, took over, and its store can carry the intent log). */
  leading(): boolean {
    return this.#term === 'leading' && this.#mayAct();
  }

  /** stepDown: the leadership of this term is gone; until the next takeOver() this process follows. */
  stepDown(): void {
    if (this.#opts.replica !== undefined) this.#term = 'none';
  }

  async #takeOver(): Promise<void> {
    const pools = await this.#intents.importShared();
    for (const [name, value] of pools) {
      const rt = this.#pools.get(name);
      if (rt === undefined) continue;
      const taken = loadPool(rt.managed, { poolState: () => value, decisions: () => [] });
      rt.history = taken.history;
      rt.paused = taken.paused;
      this.#storeCall(() => this.#opts.store.setPoolState(name, value));
    }
    const open = this.#storeCall(() => this.#opts.store.openIntents()) ?? [];
    // the old leader's starts may still be carried out by Salt: they are in flight here too, so the confirm window holds
    const now = this.#clock.now();
    this.#recoverOpenIntents(open, () => now, 'takeover: the old leader\'s open intent', false);
    this.#executor.openIntentCount = open.length;
    this.#executor.countIntents();
    await this.reconcile('takeover');
    this.#resumeDrains();
  }

  /**
   * recoverOpenIntents makes what an open start or create intent says hold again. A scale-up writes its intents
   * before its call and the rest (the instances' moves, its decision, the pool's cooldown stamp) in the next group
   * commit, after the call is sent; a crash (or a leader lost) between the two leaves the intent alone. So:
   * - the instance it names is in flight (`starting` / `creating`, created when missing) from `at(intent)`, and the
   *   startup reconcile resolves it against Salt as any open intent (the confirm window holds);
   * - its pool's cooldown runs from the intent (the scale-up's decision time): `lastUpMs` is at least its `createdMs`;
   * - with `record`, the decision that is missing (the pool's cooldown stamp is older than the intent) is recorded,
   *   its reason saying it was recovered.
   */
  #recoverOpenIntents(open: readonly Intent[], at: (intent: Intent) => number, source: string, record: boolean): void {
    const lost = new Map<string, Map<number, Intent[]>>();
    this.#fleet.inBatch(() => {
      for (const intent of open) {
        if (intent.kind !== 'start' && intent.kind !== 'create') continue;
        let inst = this.#fleet.get(intent.instance);
        if (inst === undefined && intent.kind === 'create' && this.#pools.has(intent.pool)) {
          inst = { ...newInstance(intent.instance, intent.pool, at(intent)), created: true };
          this.#fleet.put(inst);
        }
        if (inst?.state === 'stopped') this.#fleet.step(inst, { kind: intent.kind === 'start' ? 'start-issued' : 'create-issued' }, at(intent), source);
        const rt = this.#pools.get(intent.pool);
        if (rt === undefined || (rt.history.lastUpMs ?? Number.NEGATIVE_INFINITY) >= intent.createdMs) continue;
        const byTime = lost.get(intent.pool) ?? new Map<number, Intent[]>();
        lost.set(intent.pool, byTime);
        byTime.set(intent.createdMs, [...(byTime.get(intent.createdMs) ?? []), intent]);
      }
    });
    for (const [pool, byTime] of lost) {
      const rt = this.#pools.get(pool);
      if (rt === undefined) continue;
      for (const [atMs, intents] of [...byTime].sort(([a], [b]) => a - b)) {
        rt.history = { ...rt.history, lastUpMs: atMs };
        if (!record) continue;
        const decision: Decision = {
          kind: 'scaleUp', count: intents.length,
          targets: intents.map((i) => (i.kind === 'start' ? { kind: 'start', id: i.instance } : { kind: 'create' })),
          reason: `recovered from ${intents.length} open intent(s) (${intents.map((i) => `${i.kind} ${i.instance}`).join(', ')}): the process stopped after the call and before its decision was written`,
        };
        this.#storeCall(() => this.#opts.store.recordDecision({ pool, atMs, decision, dryRun: false }));
        rt.lastDecision = { kind: 'scaleUp', atMs };
      }
      this.#savePool(rt);
      this.#log.info({ pool, lastUpMs: rt.history.lastUpMs }, 'cooldown recovered from open intents');
    }
  }

  /** resumeDrains finishes the drains a crash or another leader left (idle check, then stop or undrain). */
  #resumeDrains(): void {
    for (const inst of this.#fleet.all()) {
      const rt = this.#pools.get(inst.pool);
      if (inst.state === 'draining' && rt !== undefined && !rt.managed.spec.dryRun) this.#track(this.#executor.finishDrain(rt, inst.id));
    }
  }

  /** stop ends the loops and waits for in-flight work; the store stays open (the caller owns it). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#storeWatch.stop();
    for (const wake of this.#wakers) wake();
    this.#wakers.clear();
    for (const t of this.#timers) t.cancel();
    this.#reconciler.cancel();
    await this.#opts.events?.close();
    await Promise.allSettled([...this.#pending]);
    this.#turn.flush(); // the last events' turn, not left to an immediate after the store may be closed
  }

  /** handle feeds one stream item into the lifecycle (public for tests and the simulator). */
  handle(item: StreamItem): void {
    this.#intake.handle(item);
  }

  /** alertSignal takes one pool's level-triggered state from the Alertmanager receiver. */
  alertSignal(signal: AlertSignal): void {
    this.#intake.alertSignal(signal);
  }

  /** evaluateSoon queues one evaluation of the pool (coalesced while one runs). */
  evaluateSoon(pool: string): void {
    this.#evaluator.evaluateSoon(pool);
  }

  /** reconcile asks Salt for the truth and corrects every managed instance; open intents are resolved. */
  reconcile(why: string): Promise<void> {
    return this.#reconciler.reconcile(why);
  }

  // ---------------------------------------------------------------- reactions to the lifecycle

  /** afterTransition keeps the pool's bookkeeping (core) and starts what a move calls for: a failed instance is stopped. */
  #afterTransition(inst: Instance, from: InstanceState, now: number): void {
    if (!IN_FLIGHT_STATES.includes(inst.state)) this.#intake.settled(inst.id);
    const rt = this.#pools.get(inst.pool);
    if (rt === undefined) return;
    const effect = afterTransition(rt.history, inst, from, now);
    if (effect.provisioningFailed) this.#opts.observer?.instanceFailed(rt.managed.spec.name);
    if (effect.startToReadyMs !== undefined) this.#opts.observer?.startToReady?.(rt.managed.spec.name, effect.startToReadyMs);
    // failures and back-off, and a start-to-ready time (the lead the budget strategy plans with: a restart must not
    // forget it), are worth a write; idle confirmations are not: they are checked again
    const kept = effect.history.consecutiveFailures !== rt.history.consecutiveFailures || effect.history.startFailedMs !== rt.history.startFailedMs
      || effect.startToReadyMs !== undefined;
    rt.history = effect.history;
    if (kept) this.#savePool(rt);
    if (inst.state === 'failed') this.#track(this.#executor.stopFailed(rt, inst));
    this.evaluateSoon(rt.managed.spec.name);
  }

  /** ignored: an input the lifecycle refused; one that contradicts what we hold is confirmed with Salt at once. */
  #ignored(inst: Instance, input: LifecycleInput, result: Extract<StepResult, { kind: 'ignored' }>, source: string): void {
    this.#opts.observer?.ignored(result.reason);
    if (result.confirm === true) {
      this.#log.info({ pool: inst.pool, minion: inst.id, input: input.kind, state: inst.state, reason: result.reason, source }, 'event contradicts the instance state: confirming with Salt');
      this.#reconciler.schedule(CONFIRM_DELAY_MS);
    } else if (this.#log.isLevelEnabled?.('debug') !== false) {
      this.#log.debug({ minion: inst.id, input: input.kind, state: inst.state, reason: result.reason, source }, 'lifecycle input ignored');
    }
  }

  #tick(): void {
    const now = this.#clock.now();
    let awaiting: ReadonlySet<string> | undefined;
    for (const inst of this.#fleet.all()) {
      if (!IN_FLIGHT_STATES.includes(inst.state)) continue;
      // a start Salt has yet to confirm is settled by the reconciler, not timed out (Reconciler.awaitingSalt)
      if (inst.state === 'starting' && (awaiting ??= this.#reconciler.awaitingSalt()).has(inst.id)) continue;
      this.#fleet.step(inst, { kind: 'tick' }, now, 'timer');
    }
  }

  // ---------------------------------------------------------------- views (EngineApi)

  pools(): readonly PoolView[] {
    return [...this.#pools.values()].map((rt) => {
      const list = this.#fleet.inPool(rt.managed.spec.name);
      const count = (pred: (i: Instance) => boolean): number => list.filter(pred).length;
      return {
        name: rt.managed.spec.name,
        min: rt.managed.spec.min,
        max: rt.managed.spec.max,
        ready: count((i) => i.state === 'ready'),
        inFlight: count((i) => IN_FLIGHT_STATES.includes(i.state)),
        draining: count((i) => i.state === 'draining' || i.state === 'stopping'),
        failed: count((i) => i.state === 'failed'),
        reserved: count((i) => i.state === 'stopped' && !i.created),
        paused: rt.paused,
        ...((rt.history.startLatenciesMs?.length ?? 0) > 0 ? { startLeadMs: startLeadMs(rt.history).leadMs } : {}),
        ...(rt.managed.spec.strategy.kind === 'budget'
          ? {
            waitBudget: waitBudgetOf(rt.managed.spec), waitingShare: waitingShare(rt.history.budget), waitWindowMs: waitWindowOf(rt.managed.spec),
            waitWindowCovered: waitWindowCovered(rt.history.budget),
            ...(rt.managed.spec.waitWindowStrict === true ? { waitWindowStrict: true as const } : {}),
          }
          : {}),
      };
    });
  }

  /**
   * instances lists the fleet by pool, then id, compared by UTF-16 code units: the order is the same on every host, and
   * `GET /metrics` (which lists every instance at each scrape) does not load ICU's collation data as localeCompare would.
   */
  instances(): readonly Instance[] {
    return this.#fleet.all().sort((a, b) => byCodeUnits(a.pool, b.pool) || byCodeUnits(a.id, b.id));
  }

  history(id: string, limit?: number): readonly Transition[] {
    return this.#storeCall(() => this.#opts.store.history(id, limit)) ?? [];
  }

  decisions(pool?: string, limit?: number): readonly DecisionRecord[] {
    return this.#storeCall(() => this.#opts.store.decisions(pool, limit)) ?? [];
  }

  series(pool: string, limit?: number): readonly SeriesPoint[] {
    return this.#pools.get(pool)?.series.points(limit) ?? [];
  }

  pause(pool: string): boolean { return this.#setPaused(pool, true); }
  resume(pool: string): boolean { return this.#setPaused(pool, false); }

  #setPaused(pool: string, paused: boolean): boolean {
    const rt = this.#pools.get(pool);
    if (rt === undefined) return false;
    rt.paused = paused;
    this.#savePool(rt);
    this.#log.info({ pool, paused }, paused ? 'pool paused' : 'pool resumed');
    if (!paused) this.evaluateSoon(pool);
    return true;
  }

  /**
   * scale carries out a manual scale by `delta` (undefined: no such pool). It decides on Salt's state, never on the
   * previous run's: asked before the startup reconcile succeeded, it waits for it up to MANUAL_SCALE_WAIT_MS, then
   * throws NotReconciledError (the API's 503 with Retry-After) instead of deciding.
   */
  async scale(pool: string, delta: number): Promise<Decision | undefined> {
    const rt = this.#pools.get(pool);
    if (rt === undefined) return undefined;
    const established = await this.#reconciler.established(MANUAL_SCALE_WAIT_MS);
    if (!established.ok) {
      this.#log.info({ pool, delta, reason: established.reason }, 'manual scale not decided: Salt\'s state not established yet');
      throw new NotReconciledError(`manual scale of ${pool} not decided: ${established.reason}; a decision now would rest on the previous run's state: ask again`, established.retryAfterMs);
    }
    const spec = rt.managed.spec;
    const now = this.#clock.now();
    const instances = this.#fleet.inPool(pool);
    const active = instances.filter((i) => i.state !== 'stopped' && i.state !== 'failed').length;
    const wantedSize = Math.min(spec.max, Math.max(spec.min, active + delta));
    // a manual scale is a target: decide() applies the same caps and target picking through the target strategy
    const manualSpec: PoolSpec = { ...spec, paused: false, strategy: { kind: 'target', perInstance: 1 }, upCooldownMs: 0, downCooldownMs: 0, intervalMs: 0 };
    await this.#evaluator.refreshIdle(rt, now);
    const decision = decide(manualSpec, instances, { value: wantedSize, atMs: now, source: 'manual' }, now, rt.history);
    const labelled: Decision = { ...decision, reason: `manual scale ${delta > 0 ? '+' : ''}${delta}: ${decision.reason}` };
    return this.#evaluator.evaluate(rt, labelled);
  }

  health(): { stream: boolean; store: boolean; storeProblem?: string } {
    const problem = this.#storeWatch.problem();
    return { stream: this.#opts.events ? this.#opts.events.connected : true, store: problem === undefined, ...(problem === undefined ? {} : { storeProblem: problem.message }) };
  }

  // ---------------------------------------------------------------- plumbing

  async #idle(rt: PoolRuntime, id: string): Promise<IdleResult> {
    const { fun, args } = rt.managed.idleCheck;
    try {
      return await this.#opts.minions.idleCheck(id, fun, args);
    } catch (err) {
      this.#log.warn({ minion: id, err }, 'idle check failed: treated as busy');
      return 'unreachable';
    }
  }

  #savePool(rt: PoolRuntime): void {
    const value = savedPool(rt);
    this.#storeCall(() => this.#opts.store.setPoolState(rt.managed.spec.name, value));
    if (!this.#following()) this.#intents.poolState(rt.managed.spec.name, value);
  }

  /** following: another process leads (the gate says no while the store is fine). */
  #following(): boolean {
    return (this.#term === 'none' || (this.#opts.gate !== undefined && !this.#opts.gate.mayAct())) && this.#storeWatch.mayAct();
  }

  /** mayAct: this process leads (holds the store lease) and the store can carry the intent log (writable, its file still the one open). */
  #mayAct(): boolean {
    return this.#term !== 'none' && (this.#opts.gate?.mayAct() ?? true) && this.#storeWatch.mayAct();
  }

  /** notActing is the error of an action #mayAct() stopped: the store's problem, else the lease. */
  #notActing(kind: IntentKind, id: string): AutoscalerError {
    const store = this.#storeWatch.problem();
    return store === undefined
      ? new AutoscalerError('ASC_ERR_LEASE_NOT_HELD', `${kind} of ${id} not sent: this process does not hold the store lease`)
      : new AutoscalerError(store.code, `${kind} of ${id} not sent: ${store.message}`);
  }

  /** storeWritable: once a probe write succeeds again, what memory holds is written back and Salt is asked for the truth. */
  #storeWritable(writable: boolean): void {
    this.#opts.observer?.storeWritable?.(writable);
    if (!writable || this.#stopped) return;
    this.#fleet.rewriteAll();
    for (const rt of this.#pools.values()) this.#savePool(rt);
    this.#reconciler.schedule(0);
  }

  /** storeCall runs one store call; a failure is logged and reported to the store watch, which stops acting until a probe write succeeds. */
  #storeCall<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.#log.error({ err }, 'state store call failed');
      this.#storeWatch.callFailed(err);
      return undefined;
    }
  }

  #track(p: Promise<unknown>): void {
    const wrapped = p.catch((err: unknown) => { this.#log.error({ err }, 'background task failed'); });
    this.#pending.add(wrapped);
    void wrapped.finally(() => this.#pending.delete(wrapped));
  }

  /**
   * sleep waits ms, or less when the engine stops. Not `clock.within(stopping, ms)`: the stop it waits for is pending for
   * the process's life, and every sleep (a drain re-checks its idle check each evaluate interval) would leave a reaction
   * on it until then; a waker leaves the set when its sleep ends.
   */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = this.#clock.after(ms, () => { this.#wakers.delete(wake); resolve(); });
      const wake = (): void => { t.cancel(); resolve(); };
      this.#wakers.add(wake);
    });
  }
}

/**
 * STARTUP_STREAM_WAIT_MS: how long the startup reconcile waits for the event stream's first connect before it reads
 * Salt (the stream logs in with the same token as the reconcile and opens in one round trip; a stream that cannot
 * connect delays the startup by this much, and its later connect gets a reconcile of its own).
 */
const STARTUP_STREAM_WAIT_MS = 2_000;

/** CONFIRM_DELAY_MS: how soon Salt is asked after an event contradicted what we hold (a burst shares one reconcile). */
const CONFIRM_DELAY_MS = 250;

/**
 * MANUAL_SCALE_WAIT_MS: how long a manual scale asked during the startup reconcile waits for it (a real master answers
 * one in seconds; the CLI's `scale` gives up on the service after 10 s).
 */
const MANUAL_SCALE_WAIT_MS = 5_000;
