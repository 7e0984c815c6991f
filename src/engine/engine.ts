/**
 * engine: the loop of salt-autoscaler. It owns the instances' lifecycle state, feeds salt events into it,
 * evaluates each pool with the pure core, executes decisions through salt-api with the intent log, and
 * reconciles with Salt (the truth) at startup, after every stream gap and every few minutes.
 *
 * ```
 *  salt events ──► handle() ──► lifecycle.step ──► store.saveInstance ──► evaluateSoon(pool)
 *  alerts / PromQL ──► signals ──────────────────────────────────────────► evaluateSoon(pool)
 *  timers: tick (provision timeouts) · evaluate (every evaluateIntervalMs) · reconcile (every reconcileIntervalMs)
 *  evaluate(pool): idle checks ─► decide() ─► store.recordDecision ─► execute (intent → salt-api → intent done)
 *  reconcile(): cloud.query + manage.up + grains.item ─► lifecycle 'observed' ─► corrections, open intents resolved
 * ```
 *
 * Retry policy (the one place that decides it): a failed salt-api action is never retried blindly. The intent is
 * marked failed, the instance keeps its in-flight state, and a reconcile is scheduled; the next evaluation
 * decides again from Salt's truth. Failed instances are stopped and back the pool off (core/decide).
 */
import { AutoscalerError } from '../errors.ts';
import { decide, poolWish } from '../core/decide.ts';
import { ADAPTIVE_PEAK_WINDOW_MS, observe } from '../core/strategies/adaptive.ts';
import { eventMinion, newInstance, step, type LifecycleInput, type StepResult } from '../core/lifecycle.ts';
import type { SaltEvent, StreamItem } from '../core/salt-event.ts';
import { IN_FLIGHT_STATES, type Decision, type Instance, type InstanceState, type PoolHistory, type PoolSpec, type PoolView, type Transition, type Workload } from '../core/types.ts';
import type {
  ActGate, AlertSignal, Clock, DecisionRecord, EngineApi, EventSource, IdleResult, Intent, IntentKind, SaltActions, StateStore,
} from './ports.ts';
import { StoreWatch, type StoreFault } from './store-watch.ts';

/** ManagedPool is one pool as the engine runs it: the core spec plus where its instances come from. */
export interface ManagedPool {
  readonly spec: PoolSpec;
  readonly provider?: string;
  readonly reserved: readonly string[];
  /** reservedPattern: a glob (`*`, `?`) over salt-cloud instance names that belong to the pool. */
  readonly reservedPattern?: string;
  readonly profile?: string;
  readonly idleCheck: { readonly fun: string; readonly args: readonly unknown[] };
}

/** EngineObserver receives what the engine does, for metrics (prom-client lives outside the engine). */
export interface EngineObserver {
  event(kind: string, lagMs: number | undefined): void;
  ignored(reason: string): void;
  decision(pool: string, outcome: Decision['kind']): void;
  action(action: IntentKind, result: 'ok' | 'error' | 'dry_run'): void;
  instanceFailed(pool: string): void;
  correction(pool: string): void;
  reconcile(result: 'ok' | 'error'): void;
  openIntents(n: number): void;
  /** storeWritable: the store became unwritable or lost (false) or writable again (true); said once at start (true). */
  storeWritable?(writable: boolean): void;
  storeFault?(fault: StoreFault): void;
}

/** EngineLogger is the subset of pino the engine uses. */
export interface EngineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): EngineLogger;
}

/** WorkloadSource is an optional pull signal (PromQL) for a pool. */
export type WorkloadSource = (pool: string) => Promise<Workload | undefined>;

/** EngineOptions wires the engine; main.ts builds it from the config. */
export interface EngineOptions {
  readonly pools: readonly ManagedPool[];
  readonly salt: SaltActions;
  readonly store: StateStore;
  readonly clock: Clock;
  readonly logger: EngineLogger;
  readonly observer?: EngineObserver;
  readonly events?: EventSource;
  readonly workloadSource?: WorkloadSource;
  readonly reconcileIntervalMs: number;
  readonly evaluateIntervalMs: number;
  readonly tickIntervalMs?: number;
  /** startConfirmWindowMs: how long a start call that timed out may still show up in Salt before it counts as not done (60 s). */
  readonly startConfirmWindowMs?: number;
  /** gate: the "may I act now" check (the store lease); without it the engine always may. */
  readonly gate?: ActGate;
  /** storeCheckIntervalMs: how often the store's file is compared with the open one and, while unwritable, a write is probed (1 s). */
  readonly storeCheckIntervalMs?: number;
  /** integrityCheckIntervalMs: how often `PRAGMA quick_check` runs on the store (5 min; also after a failed store call). */
  readonly integrityCheckIntervalMs?: number;
  /** onStoreLost: the state file was deleted, replaced or found corrupt: the engine no longer acts; the service should exit 1. */
  readonly onStoreLost?: (err: AutoscalerError) => void;
}

interface PoolRuntime {
  readonly managed: ManagedPool;
  history: PoolHistory;
  paused: boolean;
  alert?: AlertSignal;
  pulled?: Workload;
  evaluating: boolean;
  again: boolean;
  series: { atMs: number; workload?: number; ready: number; total: number }[];
  /** lastDecision: kind and time of the newest recorded decision (kept here: reading it back per hold costs). */
  lastDecision?: { readonly kind: Decision['kind']; readonly atMs: number };
  /** scheduled: an evaluation is queued for the next loop turn (triggers in the same turn coalesce). */
  scheduled: boolean;
  lastIdleCheckMs?: number;
}

const SERIES_MAX = 720;
const ACTIVE_STATES: readonly InstanceState[] = ['creating', 'starting', 'booted', 'deploying', 'ready', 'draining', 'stopping'];

/** FAILED_STOP_RETRY_MS: a failed instance still running gets its stop resent at most this often. */
const FAILED_STOP_RETRY_MS = 5_000;
/** CONFIRM_DELAY_MS: how soon Salt is asked after an event contradicted what we hold (a burst shares one reconcile). */
const CONFIRM_DELAY_MS = 250;

/** globToRegExp turns a salt-style glob (`gpu-prod-*`) into an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Engine runs the pools; it implements the HTTP layer's EngineApi. */
export class Engine implements EngineApi {
  readonly #opts: EngineOptions;
  readonly #log: EngineLogger;
  readonly #pools = new Map<string, PoolRuntime>();
  readonly #instances = new Map<string, Instance>();
  readonly #byPool = new Map<string, Map<string, Instance>>();
  /** #batch collects instance writes while a reconcile pass runs, so they land in one transaction. */
  #batch: { instance: Instance; transition?: Transition }[] | undefined;
  readonly #patterns: { pool: string; re: RegExp }[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #pending = new Set<Promise<unknown>>();
  #reconciling: Promise<void> | undefined;
  #reconcileAgain = false;
  readonly #wakers = new Set<() => void>();
  #reconcileTimer: NodeJS.Timeout | undefined;
  /** #reconcileDueMs: when #reconcileTimer fires (a sooner request replaces a later one). */
  #reconcileDueMs = Number.POSITIVE_INFINITY;
  /**
   * #deployFailures: per minion on its way to ready, the failing state's comment of its last state run (a job-ret
   * the deploy orchestrate's `salt.state` produced). The orchestrate's failed event cannot carry it (its SLS renders
   * before any step runs), so the failed event's reason is replaced by it.
   */
  readonly #deployFailures = new Map<string, string>();
  /** #storeWatch: whether the store still carries the intent log; no action goes out while it does not. */
  readonly #storeWatch: StoreWatch;
  #started = false;
  /** #reconciled: a reconcile has succeeded; no evaluation runs on the state of a previous life before it. */
  #reconciled = false;
  #stopped = false;
  /** #sending: intents whose salt-api call runs in this process (never resolved as crash leftovers). */
  readonly #sending = new Set<number>();
  /**
   * #unconfirmedStarts: instances whose start call failed, with the time until which a reconcile may still see them
   * start. A call that timed out or lost its connection may still be carried out by Salt, so it gets a window; an
   * answer that says the start failed gets none.
   */
  readonly #unconfirmedStarts = new Map<string, { readonly untilMs: number; readonly intentId?: number }>();
  /** #failedStopAtMs: when the stop of a failed instance was last sent (reconcile resends a failed one, rate-limited). */
  readonly #failedStopAtMs = new Map<string, number>();
  #createSeq = 0;
  #openIntentCount = 0;

  constructor(opts: EngineOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'engine' });
    this.#storeWatch = new StoreWatch({
      store: opts.store, clock: opts.clock, logger: this.#log.child({ component: 'store-watch' }),
      ...(opts.storeCheckIntervalMs === undefined ? {} : { checkIntervalMs: opts.storeCheckIntervalMs }),
      ...(opts.integrityCheckIntervalMs === undefined ? {} : { integrityIntervalMs: opts.integrityCheckIntervalMs }),
      onFault: (fault) => opts.observer?.storeFault?.(fault),
      onWritable: (writable) => this.#storeWritable(writable),
      onFatal: (err) => opts.onStoreLost?.(err),
    });
    for (const managed of opts.pools) {
      const saved = opts.store.poolState(managed.spec.name);
      const history = (saved?.['history'] as PoolHistory | undefined) ?? { consecutiveFailures: 0, idleSinceMs: {} };
      const paused = typeof saved?.['paused'] === 'boolean' ? saved['paused'] : managed.spec.paused;
      const last = opts.store.decisions(managed.spec.name, 1)[0];
      this.#pools.set(managed.spec.name, {
        managed, history, paused, evaluating: false, again: false, scheduled: false, series: [],
        ...(last === undefined ? {} : { lastDecision: { kind: last.decision.kind, atMs: last.atMs } }),
      });
      if (managed.reservedPattern !== undefined) this.#patterns.push({ pool: managed.spec.name, re: globToRegExp(managed.reservedPattern) });
    }
  }

  /** start loads the state, reconciles with Salt (resolving open intents), then starts the loops. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#opts.observer?.storeWritable?.(true);
    this.#storeWatch.start();
    const now = this.#now();
    for (const inst of this.#opts.store.loadInstances()) {
      if (this.#pools.has(inst.pool)) this.#index(inst);
    }
    this.#inBatch(() => {
      for (const rt of this.#pools.values()) {
        for (const id of rt.managed.reserved) {
          if (!this.#instances.has(id)) this.#put(newInstance(id, rt.managed.spec.name, now));
        }
      }
    });
    this.#openIntentCount = this.#storeCall(() => this.#opts.store.openIntents().length) ?? 0;
    if (this.#opts.events) this.#track(this.#consume(this.#opts.events));
    await this.reconcile('startup'); // on failure it retries; evaluations wait for the first success
    // drains a crash interrupted: finish them (idle check, then stop or undrain)
    for (const inst of [...this.#instances.values()]) {
      const rt = this.#pools.get(inst.pool);
      if (inst.state === 'draining' && rt !== undefined && !rt.managed.spec.dryRun) this.#track(this.#finishDrain(rt, inst.id));
    }
    const tickMs = this.#opts.tickIntervalMs ?? 5_000;
    this.#every(tickMs, () => this.#tick());
    this.#every(this.#opts.evaluateIntervalMs, () => { for (const name of this.#pools.keys()) this.evaluateSoon(name); });
    this.#every(this.#opts.reconcileIntervalMs, () => { this.#track(this.reconcile('periodic')); });
    for (const name of this.#pools.keys()) this.evaluateSoon(name);
  }

  /** stop ends the loops and waits for in-flight work; the store stays open (the caller owns it). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#storeWatch.stop();
    for (const wake of this.#wakers) wake();
    this.#wakers.clear();
    for (const t of this.#timers) clearInterval(t);
    if (this.#reconcileTimer) clearTimeout(this.#reconcileTimer);
    await this.#opts.events?.close();
    await Promise.allSettled([...this.#pending]);
  }

  // ---------------------------------------------------------------- events

  async #consume(source: EventSource): Promise<void> {
    try {
      for await (const item of source.items()) {
        if (this.#stopped) break;
        this.handle(item);
      }
    } catch (err) {
      this.#log.error({ err }, 'event stream ended with an error');
    }
  }

  /** handle feeds one stream item into the lifecycle (public for tests and the simulator). */
  handle(item: StreamItem): void {
    const now = this.#now();
    if (item.kind === 'gap') {
      this.#log.info({ reason: item.reason }, 'event stream gap: reconciling');
      this.#scheduleReconcile(item.reason === 'connect' ? 0 : 250);
      return;
    }
    this.#opts.observer?.event(item.kind, item.stampMs === undefined ? undefined : now - item.stampMs);
    if (item.kind === 'job-ret') {
      // not a lifecycle input: a failed state run of an instance on its way is the why of its coming failed event
      const deploying = item.failure === undefined ? undefined : this.#instances.get(item.minion);
      if (deploying !== undefined && item.failure !== undefined && IN_FLIGHT_STATES.includes(deploying.state)) this.#deployFailures.set(deploying.id, item.failure);
      return;
    }
    const id = minionOf(item);
    if (id === undefined) return;
    const inst = this.#instances.get(id) ?? this.#adoptByPattern(id, now);
    if (inst === undefined) return;
    const failure = item.kind === 'instance-failed' ? this.#deployFailures.get(id) : undefined;
    this.#apply(inst, item.kind === 'instance-failed' && failure !== undefined ? { ...item, reason: failure } : item, now, `event ${item.tag}`);
  }

  #adoptByPattern(id: string, now: number): Instance | undefined {
    const match = this.#patterns.find((p) => p.re.test(id));
    if (match === undefined) return undefined;
    const inst = newInstance(id, match.pool, now);
    this.#put(inst);
    return inst;
  }

  #apply(inst: Instance, input: LifecycleInput, now: number, source: string): StepResult {
    const rt = this.#pools.get(inst.pool);
    const provisionTimeoutMs = rt?.managed.spec.provisionTimeoutMs ?? 15 * 60_000;
    const result = step(inst, input, { nowMs: now, provisionTimeoutMs });
    if (result.kind === 'ignored') {
      this.#opts.observer?.ignored(result.reason);
      if (result.confirm === true) {
        this.#log.info({ pool: inst.pool, minion: inst.id, input: input.kind, state: inst.state, reason: result.reason, source }, 'event contradicts the instance state: confirming with Salt');
        this.#scheduleReconcile(CONFIRM_DELAY_MS);
      } else {
        this.#log.debug({ minion: inst.id, input: input.kind, state: inst.state, reason: result.reason, source }, 'lifecycle input ignored');
      }
      return result;
    }
    const { transition } = result;
    this.#put(result.instance, transition);
    this.#log.info({ pool: inst.pool, minion: inst.id, from: transition.from, to: transition.to, reason: transition.reason }, 'instance state');
    if (rt) this.#afterTransition(rt, result.instance, transition.from, now);
    return result;
  }

  #afterTransition(rt: PoolRuntime, inst: Instance, from: InstanceState, now: number): void {
    if (!IN_FLIGHT_STATES.includes(inst.state)) this.#deployFailures.delete(inst.id);
    if (inst.state === 'failed') {
      if (IN_FLIGHT_STATES.includes(from)) {
        // it never became ready: that backs the pool off (a failed stop is retried, and says nothing of provisioning)
        this.#opts.observer?.instanceFailed(rt.managed.spec.name);
        rt.history = { ...rt.history, consecutiveFailures: rt.history.consecutiveFailures + 1, lastFailureMs: now };
        this.#savePool(rt);
      }
      this.#track(this.#stopFailed(rt, inst));
    } else if (inst.state === 'ready' && from !== 'draining') {
      if (rt.history.consecutiveFailures !== 0) {
        rt.history = { ...rt.history, consecutiveFailures: 0 };
        this.#savePool(rt);
      }
    }
    if (inst.state !== 'ready' && rt.history.idleSinceMs[inst.id] !== undefined) {
      const { [inst.id]: _gone, ...rest } = rt.history.idleSinceMs;
      rt.history = { ...rt.history, idleSinceMs: rest };
    }
    this.evaluateSoon(rt.managed.spec.name);
  }

  // ---------------------------------------------------------------- signals

  /** alertSignal takes one pool's level-triggered state from the Alertmanager receiver. */
  alertSignal(signal: AlertSignal): void {
    const rt = this.#pools.get(signal.pool);
    if (rt === undefined) return;
    const prev = rt.alert;
    if (prev !== undefined && prev.atMs > signal.atMs) return;
    rt.alert = signal;
    this.evaluateSoon(signal.pool);
  }

  /** workloadOf resolves the pool's current signal: a fresh PromQL value wins, then the alert state. */
  #workloadOf(rt: PoolRuntime, now: number): Workload | undefined {
    const spec = rt.managed.spec;
    const alert = rt.alert;
    let fromAlert: Workload | undefined;
    if (alert !== undefined && alert.direction !== 'none' && (alert.expiresMs === undefined || alert.expiresMs > now)) {
      const value = alert.workload ?? (alert.direction === 'up' ? spec.upThreshold : spec.downThreshold);
      // the alert is a level: while it fires, its value holds as of now (Alertmanager re-sends it every repeat_interval)
      fromAlert = { value, atMs: Math.max(alert.atMs, Math.min(now, alert.expiresMs ?? now)), source: 'alertmanager' };
    }
    const pulled = rt.pulled;
    if (pulled !== undefined && (fromAlert === undefined || pulled.atMs >= fromAlert.atMs - spec.intervalMs)) return pulled;
    return fromAlert ?? pulled;
  }

  // ---------------------------------------------------------------- evaluation

  /** evaluateSoon queues one evaluation of the pool (coalesced while one runs). */
  evaluateSoon(pool: string): void {
    const rt = this.#pools.get(pool);
    if (rt === undefined || this.#stopped || !this.#reconciled) return;
    if (rt.scheduled) return;
    if (rt.evaluating) { rt.again = true; return; }
    rt.evaluating = true;
    rt.scheduled = true;
    this.#track((async () => {
      try {
        // the events of one loop turn (a start brings several) coalesce into one evaluation
        await new Promise<void>((resolve) => setImmediate(resolve));
        rt.scheduled = false;
        do {
          rt.again = false;
          await this.#evaluate(rt);
        } while (rt.again && !this.#stopped);
      } catch (err) {
        this.#log.error({ pool, err }, 'evaluation failed');
      } finally {
        rt.evaluating = false;
        rt.scheduled = false;
      }
    })());
  }

  async #evaluate(rt: PoolRuntime, forced?: Decision): Promise<Decision | undefined> {
    const spec = rt.managed.spec;
    if (!this.#mayAct()) {
      const store = this.#storeWatch.problem();
      this.#log.warn({ pool: spec.name, ...(store === undefined ? {} : { store: store.message }) }, store === undefined
        ? 'evaluation skipped: this process does not hold the store lease' : 'evaluation skipped: the state store cannot carry the intent log');
      return { kind: 'hold', reason: store === undefined ? 'this process does not hold the store lease (standby or lease lost): nothing is decided' : `nothing is decided: ${store.message}` };
    }
    if (this.#opts.workloadSource) {
      try {
        const w = await this.#opts.workloadSource(spec.name);
        if (w !== undefined) rt.pulled = w;
      } catch (err) {
        this.#log.warn({ pool: spec.name, err }, 'workload query failed: signal stale');
      }
    }
    const now = this.#now();
    const workload = this.#workloadOf(rt, now);
    if (workload !== undefined && spec.strategy.kind === 'adaptive') {
      rt.history = { ...rt.history, policy: observe(rt.history.policy, workload, now, spec.strategy.peakWindowMs ?? ADAPTIVE_PEAK_WINDOW_MS) };
    }
    const effective: PoolSpec = rt.paused === spec.paused ? spec : { ...spec, paused: rt.paused };
    // the idle check only matters when a drain is wanted: a busy pool puts no idle-check jobs on the master
    const wish = poolWish(effective, this.#poolInstances(spec.name), workload, now, rt.history);
    if (forced === undefined) {
      // (a manual scale ran its own idle check before it decided)
      if (!effective.paused && wish.desired < wish.counts.size) await this.#refreshIdle(rt, now);
      else this.#forgetIdle(rt);
    }
    const instances = this.#poolInstances(spec.name);
    const decision = forced ?? decide(effective, instances, workload, now, rt.history);
    this.#sample(rt, now, workload?.value);
    this.#opts.observer?.decision(spec.name, decision.kind);
    if (decision.kind === 'hold' && !forced) {
      // a hold is a value, not an event: keep one per interval (or when it follows an action), so the list stays readable
      const last = rt.lastDecision;
      if (last === undefined || last.kind !== 'hold' || now - last.atMs >= spec.intervalMs) {
        this.#record(rt, decision, now);
      }
      this.#log.debug({ pool: spec.name, reason: decision.reason, workload: workload?.value }, 'hold');
      return decision;
    }
    this.#log.info({ pool: spec.name, action: decision.kind, reason: decision.reason, dryRun: spec.dryRun }, 'decision');
    if (decision.kind === 'scaleUp') {
      // the decision, the instances' transitions and their intents become durable together (one fsync), then the calls go out
      let sends: (() => Promise<void>)[] = [];
      this.#storeCall(() => this.#opts.store.atomically(() => {
        this.#record(rt, decision, now);
        rt.history = { ...rt.history, lastUpMs: now };
        this.#savePool(rt);
        this.#inBatch(() => {
          sends = decision.targets.map((t) => (t.kind === 'start' ? this.#prepareStart(rt, t.id) : this.#prepareCreate(rt)));
        });
      }));
      await Promise.all(sends.map((send) => send()));
    } else if (decision.kind === 'scaleDown') {
      this.#record(rt, decision, now);
      rt.history = { ...rt.history, lastDownMs: now };
      this.#savePool(rt);
      await Promise.all(decision.targets.map((id) => this.#drainInstance(rt, id)));
    } else {
      this.#record(rt, decision, now);
    }
    return decision;
  }

  #record(rt: PoolRuntime, decision: Decision, now: number): void {
    const spec = rt.managed.spec;
    rt.lastDecision = { kind: decision.kind, atMs: now };
    this.#storeCall(() => this.#opts.store.recordDecision({ pool: spec.name, atMs: now, decision, dryRun: spec.dryRun }));
  }

  /** forgetIdle drops idle confirmations when no drain is wanted: an idle time counts from a check made while one was. */
  #forgetIdle(rt: PoolRuntime): void {
    if (Object.keys(rt.history.idleSinceMs).length === 0) return;
    rt.history = { ...rt.history, idleSinceMs: {} };
    delete rt.lastIdleCheckMs;
  }

  /** refreshIdle runs the idle check on ready instances above min, at most once per evaluate interval. */
  async #refreshIdle(rt: PoolRuntime, now: number): Promise<void> {
    const spec = rt.managed.spec;
    const ready = this.#poolInstances(spec.name).filter((i) => i.state === 'ready');
    if (ready.length <= spec.min) return;
    if (rt.lastIdleCheckMs !== undefined && now - rt.lastIdleCheckMs < Math.min(this.#opts.evaluateIntervalMs, spec.intervalMs)) return;
    rt.lastIdleCheckMs = now;
    const results = await Promise.all(ready.map(async (i) => [i.id, await this.#idle(rt, i.id)] as const));
    const idleSinceMs: Record<string, number> = {};
    for (const [id, res] of results) {
      if (res === 'idle') idleSinceMs[id] = rt.history.idleSinceMs[id] ?? now;
    }
    rt.history = { ...rt.history, idleSinceMs };
  }

  async #idle(rt: PoolRuntime, id: string): Promise<IdleResult> {
    const { fun, args } = rt.managed.idleCheck;
    try {
      return await this.#opts.salt.idleCheck(id, fun, args);
    } catch (err) {
      this.#log.warn({ minion: id, err }, 'idle check failed: treated as busy');
      return 'unreachable';
    }
  }

  // ---------------------------------------------------------------- actions

  /** open writes the intent of an action (undefined in dry-run: nothing is sent). */
  #open(rt: PoolRuntime, kind: IntentKind, id: string): Intent | undefined {
    const spec = rt.managed.spec;
    if (spec.dryRun) {
      this.#opts.observer?.action(kind, 'dry_run');
      this.#log.info({ pool: spec.name, minion: id, action: kind }, 'dry-run: action not sent');
      return undefined;
    }
    const intent = this.#storeCall(() => this.#opts.store.openIntent(kind, id, spec.name, this.#now()));
    if (intent !== undefined) this.#openIntentCount += 1;
    return intent;
  }

  /** finish marks an intent done or failed and keeps the open-intent count. */
  #finish(intentId: number, status: 'done' | 'failed', detail?: string): void {
    this.#storeCall(() => this.#opts.store.finishIntent(intentId, status, detail));
    this.#openIntentCount = Math.max(0, this.#openIntentCount - 1);
  }

  /** send makes the salt-api call of an opened intent and marks the intent done or failed. */
  async #send(rt: PoolRuntime, kind: IntentKind, id: string, intent: Intent | undefined, call: () => Promise<void>, onError?: (err: unknown) => void): Promise<boolean> {
    const spec = rt.managed.spec;
    if (intent) this.#sending.add(intent.id);
    this.#countIntents();
    const started = this.#now();
    try {
      if (intent === undefined) throw new AutoscalerError('ASC_ERR_STORE_WRITE', `${kind} of ${id} not sent: its intent could not be written to the state store`);
      if (!this.#mayAct()) throw this.#notActing(kind, id);
      await call();
      if (intent) this.#finish(intent.id, 'done');
      this.#opts.observer?.action(kind, 'ok');
      this.#log.info({ pool: spec.name, minion: id, action: kind, durationMs: this.#now() - started }, 'action done');
      return true;
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      if (intent) this.#finish(intent.id, 'failed', detail);
      this.#opts.observer?.action(kind, 'error');
      this.#log.warn({ pool: spec.name, minion: id, action: kind, err }, 'action failed');
      onError?.(err);
      this.#scheduleReconcile(1_000);
      return false;
    } finally {
      if (intent) this.#sending.delete(intent.id);
      this.#countIntents();
    }
  }

  /** act is open + send for actions that need no shared transaction. */
  async #act(rt: PoolRuntime, kind: IntentKind, id: string, call: () => Promise<void>): Promise<boolean> {
    if (rt.managed.spec.dryRun) { this.#open(rt, kind, id); return false; }
    return this.#send(rt, kind, id, this.#open(rt, kind, id), call);
  }

  /** prepareStart moves a reserved instance to starting and writes its intent; the returned function sends the call. */
  #prepareStart(rt: PoolRuntime, id: string): () => Promise<void> {
    const inst = this.#instances.get(id);
    if (inst === undefined) return async () => {};
    if (rt.managed.spec.dryRun) { this.#open(rt, 'start', id); return async () => {}; }
    this.#apply(inst, { kind: 'start-issued' }, this.#now(), 'scale-up');
    const intent = this.#open(rt, 'start', id);
    return async () => {
      // a failed call may still have started the VM: the reconcile it scheduled decides
      await this.#send(rt, 'start', id, intent, () => this.#opts.salt.start(id), (err) => this.#startUnconfirmed(id, err));
    };
  }

  /** prepareCreate names a new instance, moves it to creating and writes its intent; the returned function sends it. */
  #prepareCreate(rt: PoolRuntime): () => Promise<void> {
    const profile = rt.managed.profile;
    if (profile === undefined) return async () => {};
    const id = this.#newName(rt);
    if (rt.managed.spec.dryRun) { this.#open(rt, 'create', id); return async () => {}; }
    const now = this.#now();
    const inst: Instance = { ...newInstance(id, rt.managed.spec.name, now), created: true };
    this.#put(inst);
    this.#apply(inst, { kind: 'create-issued' }, now, 'scale-up');
    const intent = this.#open(rt, 'create', id);
    return async () => {
      const ok = await this.#send(rt, 'create', id, intent, () => this.#opts.salt.create(id, profile));
      if (!ok) this.#actionFailed(id, 'create');
    };
  }

  /**
   * newName names an instance to create. With a `reservedPattern` of one `*` (`gpu-prod-type1-*`) the `*` becomes a
   * unique suffix, so the new minion id falls inside the pool's pattern, and so inside the reactor's globs and the
   * ACL's target that the pattern is kept in step with (a name from the profile, `gpu-type1-…`, would be outside
   * both: never deployed, never reachable). Without one, `<profile or pool>-<suffix>`.
   */
  #newName(rt: PoolRuntime): string {
    const pattern = rt.managed.reservedPattern;
    const star = pattern === undefined ? -1 : pattern.indexOf('*');
    const single = pattern !== undefined && star >= 0 && pattern.indexOf('*', star + 1) === -1 && !pattern.includes('?');
    const base = (rt.managed.profile ?? rt.managed.spec.name).replace(/[^A-Za-z0-9-]+/g, '-');
    for (;;) {
      this.#createSeq += 1;
      const suffix = `${this.#now().toString(36)}${this.#createSeq.toString(36)}`;
      const id = single && pattern !== undefined ? `${pattern.slice(0, star)}${suffix}${pattern.slice(star + 1)}` : `${base}-${suffix}`;
      if (!this.#instances.has(id)) return id;
    }
  }

  async #drainInstance(rt: PoolRuntime, id: string): Promise<void> {
    const inst = this.#instances.get(id);
    if (inst === undefined || inst.state !== 'ready') return;
    const spec = rt.managed.spec;
    if (spec.dryRun) { await this.#act(rt, 'drain', id, async () => {}); return; }
    this.#apply(inst, { kind: 'drain-issued' }, this.#now(), 'scale-down');
    const marked = await this.#act(rt, 'drain', id, async () => {
      await this.#opts.salt.setDraining(id, true);
      await this.#opts.salt.fireEvent(`salt-autoscaler/instance/${id}/draining`, { id, pool: spec.name });
    });
    await this.#finishDrain(rt, id, marked ? undefined : 'could not mark draining');
  }

  /**
   * finishDrain waits (up to the pool's drainTimeout, re-checking every evaluate interval) for the draining instance's
   * idle check to say idle, then stops it; busy or unreachable until the timeout = undrain, with the reason recorded.
   * It also resumes drains a crash interrupted (instances found `draining` at startup).
   */
  async #finishDrain(rt: PoolRuntime, id: string, failure?: string): Promise<void> {
    const spec = rt.managed.spec;
    const began = this.#now();
    let verdict: IdleResult = 'unreachable';
    let wanted: string | undefined;
    if (failure === undefined) {
      for (;;) {
        verdict = await this.#idle(rt, id);
        if (verdict === 'idle' || this.#stopped || this.#instances.get(id)?.state !== 'draining') break;
        if (this.#now() - began >= spec.drainTimeoutMs) break;
        // the workload came back while it drains: this deployed, paid instance is the fastest capacity there is
        wanted = this.#wantsCapacity(rt);
        if (wanted !== undefined) break;
        await this.#sleep(Math.min(this.#opts.evaluateIntervalMs, spec.drainTimeoutMs));
      }
    }
    const current = this.#instances.get(id);
    if (current === undefined || current.state !== 'draining' || this.#stopped) return;
    if (verdict !== 'idle') {
      const reason = failure ?? wanted ?? `idle check said ${verdict} for ${Math.round((this.#now() - began) / 1000)}s (drainTimeout ${Math.round(spec.drainTimeoutMs / 1000)}s): kept`;
      this.#apply(current, { kind: 'undrain', reason }, this.#now(), 'scale-down');
      this.#storeCall(() => this.#opts.store.recordDecision({
        pool: spec.name, atMs: this.#now(), dryRun: false,
        decision: { kind: 'hold', reason: `scale-down of ${id} cancelled: ${reason}` },
      }));
      await this.#act(rt, 'undrain', id, () => this.#opts.salt.setDraining(id, false));
      return;
    }
    await this.#stopInstance(rt, current);
  }

  /** wantsCapacity says why, when the pool's current signal wants more than its ready and in-flight instances. */
  #wantsCapacity(rt: PoolRuntime): string | undefined {
    const spec = rt.managed.spec;
    if (rt.paused) return undefined;
    const now = this.#now();
    const wish = poolWish(spec, this.#poolInstances(spec.name), this.#workloadOf(rt, now), now, rt.history);
    return wish.desired > wish.counts.size ? `the pool wants capacity again (${wish.because}): kept` : undefined;
  }

  /**
   * retryStop finishes a stop a crash cut off before it reached Salt: idle check first (time has passed), then the
   * stop is sent again for the same instance, or the instance is undrained back to ready when it is busy again.
   */
  async #retryStop(rt: PoolRuntime, inst: Instance): Promise<void> {
    const verdict = await this.#idle(rt, inst.id);
    const current = this.#instances.get(inst.id);
    if (current === undefined || current.state !== 'stopping' || this.#stopped) return;
    if (verdict === 'idle') {
      await this.#sendStop(rt, current);
      return;
    }
    this.#apply(current, { kind: 'undrain', reason: `the stop never reached Salt and the idle check now says ${verdict}` }, this.#now(), 'recovery');
    await this.#act(rt, 'undrain', current.id, () => this.#opts.salt.setDraining(current.id, false));
  }

  /** sleep waits ms, or less when the engine stops. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.#wakers.delete(wake); resolve(); }, ms);
      const wake = (): void => { clearTimeout(t); resolve(); };
      this.#wakers.add(wake);
    });
  }

  async #stopInstance(rt: PoolRuntime, inst: Instance): Promise<void> {
    this.#apply(inst, { kind: this.#destroys(rt, inst) ? 'destroy-issued' : 'stop-issued' }, this.#now(), 'scale-down');
    await this.#sendStop(rt, inst);
  }

  /** destroys: scale-in `destroy` removes instances created from the profile; everything else is stopped. */
  #destroys(rt: PoolRuntime, inst: Instance): boolean {
    return inst.created && rt.managed.spec.scaleIn === 'destroy';
  }

  /** sendStop sends the stop (or destroy) of a `stopping` instance through the intent log. */
  async #sendStop(rt: PoolRuntime, inst: Instance): Promise<void> {
    const destroy = this.#destroys(rt, inst);
    const ok = destroy
      ? await this.#act(rt, 'destroy', inst.id, () => this.#opts.salt.destroy(inst.id))
      : await this.#act(rt, 'stop', inst.id, () => this.#opts.salt.stop(inst.id));
    if (!ok) this.#actionFailed(inst.id, destroy ? 'destroy' : 'stop');
  }

  /** stopFailed stops an instance that failed to become ready, so a broken VM does not burn money. */
  async #stopFailed(rt: PoolRuntime, inst: Instance): Promise<void> {
    if (rt.managed.spec.dryRun) return;
    this.#failedStopAtMs.set(inst.id, this.#now());
    const ok = await this.#act(rt, 'stop', inst.id, () => this.#opts.salt.stop(inst.id));
    if (ok) this.#failedStopAtMs.delete(inst.id);
    else this.#log.warn({ minion: inst.id }, 'could not stop a failed instance; reconcile will retry');
  }

  /** startUnconfirmed remembers a failed start call; a timeout or a lost connection leaves Salt time to carry it out. */
  #startUnconfirmed(id: string, err: unknown): void {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
    const windowMs = code === 'ASC_ERR_SALT_TIMEOUT' || code === 'ASC_ERR_SALT_NETWORK' ? this.#confirmWindowMs() : 0;
    this.#unconfirmedStarts.set(id, { untilMs: this.#now() + windowMs });
  }

  #confirmWindowMs(): number {
    return this.#opts.startConfirmWindowMs ?? 60_000;
  }

  #actionFailed(id: string, action: IntentKind): void {
    const inst = this.#instances.get(id);
    if (inst) this.#apply(inst, { kind: 'action-failed', action, reason: `${action} call failed` }, this.#now(), 'action');
  }

  // ---------------------------------------------------------------- reconcile

  /** scheduleReconcile asks for a reconcile in delayMs; an earlier pending one stands, a later one is brought forward. */
  #scheduleReconcile(delayMs: number): void {
    if (this.#stopped) return;
    const dueMs = this.#now() + delayMs;
    if (this.#reconcileTimer) {
      if (dueMs >= this.#reconcileDueMs) return;
      clearTimeout(this.#reconcileTimer);
    }
    this.#reconcileDueMs = dueMs;
    this.#reconcileTimer = setTimeout(() => {
      this.#reconcileTimer = undefined;
      this.#reconcileDueMs = Number.POSITIVE_INFINITY;
      this.#track(this.reconcile('gap'));
    }, delayMs);
    this.#reconcileTimer.unref();
  }

  /** reconcile asks Salt for the truth and corrects every managed instance; open intents are resolved. */
  reconcile(why: string): Promise<void> {
    if (this.#reconciling) { this.#reconcileAgain = true; return this.#reconciling; }
    this.#reconciling = (async () => {
      try {
        do {
          this.#reconcileAgain = false;
          await this.#reconcileOnce(why);
        } while (this.#reconcileAgain && !this.#stopped);
      } finally {
        this.#reconciling = undefined;
      }
    })();
    return this.#reconciling;
  }

  async #reconcileOnce(why: string): Promise<void> {
    const began = this.#now();
    const salt = this.#opts.salt;
    let cloud;
    let up;
    try {
      const providers = [...new Set([...this.#pools.values()].map((p) => p.managed.provider).filter((p): p is string => p !== undefined))];
      cloud = await salt.cloudInstances(providers.length > 0 ? providers : undefined);
      // presence only of the managed instances salt-cloud reports running: a stopped minion would make Salt wait
      // its whole gather timeout, and minions outside the pools are none of our business
      const runningIds = cloud.filter((c) => c.state !== 'stopped' && (this.#instances.has(c.id) || this.#patterns.some((p) => p.re.test(c.id)))).map((c) => c.id);
      up = runningIds.length === 0 ? [] : await salt.minionsUp(runningIds);
    } catch (err) {
      this.#opts.observer?.reconcile('error');
      this.#log.warn({ err, why }, 'reconcile failed: Salt did not answer; will retry');
      this.#scheduleReconcile(5_000);
      return;
    }
    const now = this.#now();
    const cloudById = new Map(cloud.map((c) => [c.id, c]));
    this.#inBatch(() => {
      for (const c of cloud) {
        if (!this.#instances.has(c.id)) this.#adoptByPattern(c.id, now);
      }
    });
    const upSet = new Set(up);
    const running = [...this.#instances.values()].filter((i) => cloudById.get(i.id)?.state === 'running' && upSet.has(i.id));
    let grains: ReadonlyMap<string, import('./ports.ts').ReadyGrain> = new Map();
    if (running.length > 0) {
      try {
        grains = await salt.readyGrains(running.map((i) => i.id));
      } catch (err) {
        this.#log.warn({ err }, 'reconcile: grains.item failed; readiness not corrected this pass');
      }
    }
    const after = this.#now();
    let corrections = 0;
    this.#inBatch(() => { for (const inst of [...this.#instances.values()]) {
      if (inst.sinceMs > began) continue; // changed while we asked Salt: our snapshot is older than the event
      const c = cloudById.get(inst.id);
      const grain = grains.get(inst.id);
      const input: LifecycleInput = {
        kind: 'observed',
        cloudState: c === undefined ? 'absent' : c.state,
        minionUp: upSet.has(inst.id),
        ...(grain === undefined ? {} : { grain }),
      };
      const before = inst.state;
      const res = this.#apply(inst, input, after, `reconcile (${why})`);
      if (res.kind === 'moved') {
        corrections += 1;
        this.#opts.observer?.correction(inst.pool);
        this.#log.info({ pool: inst.pool, minion: inst.id, from: before, to: res.instance.state, why }, 'reconcile corrected an instance');
      }
    } });
    // a created instance that is stopped here and gone from the cloud was destroyed: forget it
    for (const inst of [...this.#instances.values()]) {
      if (inst.created && inst.state === 'stopped' && !cloudById.has(inst.id) && inst.sinceMs <= began) this.#forget(inst);
    }
    for (const [id, pending] of [...this.#unconfirmedStarts]) {
      const state = cloudById.get(id)?.state;
      const inst = this.#instances.get(id);
      const stillStopped = state === undefined || state === 'stopped';
      const settled = inst?.state !== 'starting' || !stillStopped || began >= pending.untilMs;
      if (!settled) { this.#scheduleReconcile(Math.max(1_000, pending.untilMs - began)); continue; }
      this.#unconfirmedStarts.delete(id);
      const happened = !(inst?.state === 'starting' && stillStopped);
      if (pending.intentId !== undefined) {
        const detail = `resolved on reconcile: cloud state ${state ?? 'absent'}; ${happened ? 'it happened' : 'not carried out by Salt within the confirm window: the instance is back in the reserve'}`;
        this.#finish(pending.intentId, happened ? 'done' : 'failed', detail);
      }
      if (!happened) this.#actionFailed(id, 'start'); // Salt confirms it never started: back to the reserve
    }
    this.#resolveIntents(cloudById);
    this.#settleUncovered(cloudById, began);
    this.#reconciled = true;
    this.#opts.observer?.reconcile('ok');
    this.#log.info({ why, instances: this.#instances.size, corrections, durationMs: this.#now() - began }, 'reconciled with Salt');
    for (const name of this.#pools.keys()) this.evaluateSoon(name);
  }

  /**
   * settleUncovered finishes what no open intent, call in this process or confirm window covers any more, from
   * Salt's view of one reconcile (open intents are read once, only when a candidate needs them):
   * - a `starting` instance Salt still reports stopped a whole confirm window after its start goes back to the
   *   reserve: a start that failed just before a crash (the intent closed as failed, the instance not yet moved
   *   back) would otherwise count as capacity until the provision timeout, then back the pool off;
   * - a `failed` instance Salt still reports running gets its stop sent again (its stop call failed): a failed VM
   *   must not burn money. At most once per FAILED_STOP_RETRY_MS per instance.
   */
  #settleUncovered(cloudById: ReadonlyMap<string, { state: string }>, began: number): void {
    let covered: Set<string> | undefined;
    const isCovered = (id: string): boolean => {
      covered ??= new Set((this.#storeCall(() => this.#opts.store.openIntents()) ?? []).map((i) => i.instance));
      return covered.has(id);
    };
    for (const inst of [...this.#instances.values()]) {
      if (inst.sinceMs > began) continue;
      const state = cloudById.get(inst.id)?.state;
      const stopped = state === undefined || state === 'stopped';
      if (inst.state === 'starting' && stopped && !this.#unconfirmedStarts.has(inst.id) && !isCovered(inst.id)) {
        const waitMs = (inst.lastStartMs ?? inst.sinceMs) + this.#confirmWindowMs() - began;
        if (waitMs > 0) { this.#scheduleReconcile(Math.max(1_000, waitMs)); continue; }
        this.#log.info({ pool: inst.pool, minion: inst.id, cloud: state ?? 'absent' }, 'a start no call or intent covers was not carried out: back to the reserve');
        this.#actionFailed(inst.id, 'start');
      } else if (inst.state === 'failed' && !stopped) { // a stopped one was moved to stopped by the reconcile above
        const last = this.#failedStopAtMs.get(inst.id);
        if (last !== undefined && began - last < FAILED_STOP_RETRY_MS) { this.#scheduleReconcile(FAILED_STOP_RETRY_MS - (began - last)); continue; }
        const rt = this.#pools.get(inst.pool);
        if (rt === undefined || isCovered(inst.id)) continue;
        this.#log.info({ pool: inst.pool, minion: inst.id, cloud: state }, 'failed instance still running in Salt: stop sent again');
        this.#track(this.#stopFailed(rt, inst));
      }
    }
  }

  /**
   * resolveIntents closes intents left open by a crash: Salt's state says whether the action happened. A start not
   * seen in Salt yet stays open for the confirm window (salt-api carries out a call whose client died); after it the
   * instance goes back to the reserve and the next decision starts what is needed, so one need ends in one start.
   * A stop cut off before Salt is idle-checked and sent again, or undrained. Nothing is redone blindly.
   */
  #resolveIntents(cloudById: ReadonlyMap<string, { state: string }>): void {
    const open: readonly Intent[] = this.#storeCall(() => this.#opts.store.openIntents()) ?? [];
    for (const intent of open) {
      if (this.#sending.has(intent.id)) continue; // its call is still running in this process
      if ([...this.#unconfirmedStarts.values()].some((p) => p.intentId === intent.id)) continue; // being confirmed
      const state = cloudById.get(intent.instance)?.state;
      const happened = intent.kind === 'start' || intent.kind === 'create'
        ? state !== undefined && state !== 'stopped'
        : intent.kind === 'stop' ? state === 'stopped' || state === undefined
        : intent.kind === 'destroy' ? state === undefined
        : false;
      const inst = this.#instances.get(intent.instance);
      const rt = inst === undefined ? undefined : this.#pools.get(inst.pool);
      if (!happened && intent.kind === 'start' && inst?.state === 'starting') {
        // salt-api may still be carrying the call out (it outlives our connection): confirm within the window
        if (!this.#unconfirmedStarts.has(intent.instance)) {
          this.#unconfirmedStarts.set(intent.instance, { untilMs: this.#now() + this.#confirmWindowMs(), intentId: intent.id });
          this.#scheduleReconcile(this.#confirmWindowMs());
          this.#log.info({ intent: intent.id, minion: intent.instance }, 'open start intent not seen in Salt yet: confirming');
        }
        continue;
      }
      const detail = `resolved on reconcile: cloud state ${state ?? 'absent'}; ${happened ? 'it happened' : 'it did not happen and is not redone blindly'}`;
      this.#finish(intent.id, happened ? 'done' : 'failed', detail);
      this.#log.info({ intent: intent.id, kind: intent.kind, minion: intent.instance, happened }, 'open intent resolved');
      if (!happened && (intent.kind === 'stop' || intent.kind === 'destroy') && inst?.state === 'stopping' && rt !== undefined) {
        this.#track(this.#retryStop(rt, inst));
      }
    }
    this.#countIntents();
  }

  // ---------------------------------------------------------------- timers

  #tick(): void {
    const now = this.#now();
    for (const inst of [...this.#instances.values()]) {
      if (IN_FLIGHT_STATES.includes(inst.state)) this.#apply(inst, { kind: 'tick' }, now, 'timer');
    }
  }

  #every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.#timers.push(t);
  }

  // ---------------------------------------------------------------- views (EngineApi)

  pools(): readonly PoolView[] {
    return [...this.#pools.values()].map((rt) => {
      const list = this.#poolInstances(rt.managed.spec.name);
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
      };
    });
  }

  instances(): readonly Instance[] {
    return [...this.#instances.values()].sort((a, b) => a.pool.localeCompare(b.pool) || a.id.localeCompare(b.id));
  }

  history(id: string, limit?: number): readonly Transition[] {
    return this.#storeCall(() => this.#opts.store.history(id, limit)) ?? [];
  }

  decisions(pool?: string, limit?: number): readonly DecisionRecord[] {
    return this.#storeCall(() => this.#opts.store.decisions(pool, limit)) ?? [];
  }

  series(pool: string): readonly { atMs: number; workload?: number; ready: number; total: number }[] {
    return this.#pools.get(pool)?.series ?? [];
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

  async scale(pool: string, delta: number): Promise<Decision | undefined> {
    const rt = this.#pools.get(pool);
    if (rt === undefined) return undefined;
    const spec = rt.managed.spec;
    const now = this.#now();
    const instances = this.#poolInstances(pool);
    const active = instances.filter((i) => i.state !== 'stopped' && i.state !== 'failed').length;
    const wantedSize = Math.min(spec.max, Math.max(spec.min, active + delta));
    // a manual scale is a target: decide() applies the same caps and target picking through the target strategy
    const manualSpec: PoolSpec = { ...spec, paused: false, strategy: { kind: 'target', perInstance: 1 }, upCooldownMs: 0, downCooldownMs: 0, intervalMs: 0 };
    await this.#refreshIdle(rt, now);
    const decision = decide(manualSpec, instances, { value: wantedSize, atMs: now, source: 'manual' }, now, rt.history);
    const labelled: Decision = { ...decision, reason: `manual scale ${delta > 0 ? '+' : ''}${delta}: ${decision.reason}` };
    return this.#evaluate(rt, labelled);
  }

  health(): { stream: boolean; store: boolean; storeProblem?: string } {
    const problem = this.#storeWatch.problem();
    return { stream: this.#opts.events ? this.#opts.events.connected : true, store: problem === undefined, ...(problem === undefined ? {} : { storeProblem: problem.message }) };
  }

  // ---------------------------------------------------------------- plumbing

  #poolInstances(pool: string): Instance[] {
    return [...(this.#byPool.get(pool)?.values() ?? [])];
  }

  /** forget drops a destroyed instance from memory and the store. */
  #forget(inst: Instance): void {
    this.#instances.delete(inst.id);
    this.#byPool.get(inst.pool)?.delete(inst.id);
    this.#storeCall(() => this.#opts.store.forgetInstance(inst.id));
    this.#log.info({ pool: inst.pool, minion: inst.id }, 'destroyed instance forgotten');
  }

  /** index keeps the instance in memory, by id and by pool. */
  #index(inst: Instance): void {
    this.#instances.set(inst.id, inst);
    let pool = this.#byPool.get(inst.pool);
    if (pool === undefined) { pool = new Map(); this.#byPool.set(inst.pool, pool); }
    pool.set(inst.id, inst);
  }

  #put(inst: Instance, transition?: Transition): void {
    this.#index(inst);
    if (this.#batch !== undefined) {
      this.#batch.push(transition === undefined ? { instance: inst } : { instance: inst, transition });
      return;
    }
    this.#storeCall(() => this.#opts.store.saveInstance(inst, transition));
  }

  /** inBatch runs fn with instance writes collected, then writes them in one transaction. */
  #inBatch(fn: () => void): void {
    const outer = this.#batch === undefined;
    if (outer) this.#batch = [];
    try {
      fn();
    } finally {
      if (outer) {
        const batch = this.#batch ?? [];
        this.#batch = undefined;
        if (batch.length > 0) {
          this.#storeCall(() => this.#opts.store.atomically(() => {
            for (const e of batch) this.#opts.store.saveInstance(e.instance, e.transition);
          }));
        }
      }
    }
  }

  #savePool(rt: PoolRuntime): void {
    this.#storeCall(() => this.#opts.store.setPoolState(rt.managed.spec.name, { history: rt.history, paused: rt.paused }));
  }

  #sample(rt: PoolRuntime, now: number, workload: number | undefined): void {
    const list = this.#poolInstances(rt.managed.spec.name);
    const ready = list.filter((i) => i.state === 'ready').length;
    const total = list.filter((i) => ACTIVE_STATES.includes(i.state)).length;
    const last = rt.series[rt.series.length - 1];
    if (last === undefined || now - last.atMs >= 5_000 || last.ready !== ready || last.total !== total || last.workload !== workload) {
      rt.series.push({ atMs: now, ready, total, ...(workload === undefined ? {} : { workload }) });
      if (rt.series.length > SERIES_MAX) rt.series.splice(0, rt.series.length - SERIES_MAX);
    }
  }

  #countIntents(): void {
    this.#opts.observer?.openIntents(this.#openIntentCount);
  }


  /** mayAct: this process holds the store lease and the store can carry the intent log (writable, its file still the one open). */
  #mayAct(): boolean {
    return (this.#opts.gate?.mayAct() ?? true) && this.#storeWatch.mayAct();
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
    this.#inBatch(() => { for (const inst of this.#instances.values()) this.#put(inst); });
    for (const rt of this.#pools.values()) this.#savePool(rt);
    this.#scheduleReconcile(0);
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

  #now(): number {
    return this.#opts.clock.now();
  }
}

/** LIFECYCLE_KINDS are the events that move an instance; the others (job returns, auth, keys, our own draining echo) are not fed. */
const LIFECYCLE_KINDS: ReadonlySet<SaltEvent['kind']> = new Set(['minion-start', 'cloud', 'instance-ready', 'instance-failed', 'run-new', 'run-ret']);

/** minionOf is the managed instance an event is about, if it is one the lifecycle takes. */
function minionOf(event: SaltEvent): string | undefined {
  return LIFECYCLE_KINDS.has(event.kind) ? eventMinion(event) : undefined;
}
