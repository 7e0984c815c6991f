/**
 * executor: decision -> intents -> calls. Every action is written to the store as an intent before its call goes
 * out and marked done or failed after; dry-run is handled here, in one place (the intent is not written, the
 * call is not sent, the decision stays visible). It also drives a drain to its end: idle check, then stop or undrain.
 *
 * ```
 *   scaleUp:   [may act?] ─► moves in memory ─► the turn's transaction (alone in its turn: their own): intents ─► calls ─► the next group commit:
 *              decision, cooldown stamp, starting/creating transitions (a crash between: recovered from the intents)
 *   scaleDown: drain-issued ─► intent + mark draining ─► idle check every interval until idle (stop) | busy past
 *              drainTimeout or capacity wanted again (undrain, recorded)
 *   stop / destroy ─► intent ─► call ─► the cloud's stopped event (or a reconcile) ends it
 * ```
 *
 * Retry policy (the one place that decides it): a failed action is never retried blindly. The intent is marked
 * failed, the instance keeps its in-flight state or moves on `action-failed`, and a reconcile is scheduled; the next
 * evaluation decides again from Salt's truth. Failed instances are stopped and back the pool off (core/decide).
 */
import { AutoscalerError, outcomeUnknown } from '../errors.ts';
import { afterDecision } from '../core/bookkeeping.ts';
import { newInstance } from '../core/lifecycle.ts';
import type { Decision, Instance } from '../core/types.ts';
import type { EngineContext, ExecutorRole } from './context.ts';
import { HeldLines } from './fleet.ts';
import type { PoolRuntime } from './pool-state.ts';
import type { IdleResult, Intent, IntentKind } from './ports.ts';

/**
 * Send sends one prepared action; `committed` says whether the turn that wrote its intent is durable, and `sent`
 * runs once its call is sent (or has failed before).
 */
type Send = (committed: boolean, sent: () => void) => Promise<void>;

/** Executor carries decisions out through the intent log. */
export class Executor implements ExecutorRole {
  readonly #ctx: EngineContext;
  /** #sending: intents whose call runs in this process (never resolved as crash leftovers). */
  readonly #sending = new Set<number>();
  /** #failedStopAtMs: when the stop of a failed instance was last sent (reconcile resends a failed one, rate-limited). */
  readonly #failedStopAtMs = new Map<string, number>();
  #createSeq = 0;
  openIntentCount = 0;

  constructor(ctx: EngineContext) {
    this.#ctx = ctx;
  }

  sending(intentId: number): boolean { return this.#sending.has(intentId); }
  failedStopAtMs(id: string): number | undefined { return this.#failedStopAtMs.get(id); }
  countIntents(): void { this.#ctx.opts.observer?.openIntents(this.openIntentCount); }

  /** record keeps a decision for the API and remembers its kind and time. */
  record(rt: PoolRuntime, decision: Decision, now: number): void {
    rt.lastDecision = { kind: decision.kind, atMs: now };
    this.#recordRow(rt, decision, now);
  }

  #recordRow(rt: PoolRuntime, decision: Decision, now: number): void {
    const spec = rt.managed.spec;
    this.#ctx.storeCall(() => this.#ctx.opts.store.recordDecision({ pool: spec.name, atMs: now, decision, dryRun: spec.dryRun }));
  }

  /**
   * scaleUp writes the intents of its actions in the turn's group commit (one transaction, one fsync, for every pool
   * evaluated in this turn) and sends the calls once it is durable. A turn that could not commit sends none of them:
   * each action fails with the store's error (and is reported).
   * The only evaluation of its loop turn (`lone`, with no transaction open) writes its intents in a transaction of their
   * own instead: nothing could share that commit, and its calls need not wait for the end of the microtasks.
   * The moves (in flight at once, in memory), the decision and the cooldown stamp are written once the first call is
   * sent, in the next group commit, with the `decision` and `instance state` lines: a call needs its intent alone,
   * and a crash before they are written is recovered from the open intent (Engine.start, `recoverOpenIntents`).
   */
  async scaleUp(rt: PoolRuntime, decision: Extract<Decision, { kind: 'scaleUp' }>, now: number, lone = false): Promise<void> {
    const ctx = this.#ctx;
    const spec = rt.managed.spec;
    const lines = new HeldLines(ctx.log);
    lines.add({ pool: spec.name, action: decision.kind, reason: decision.reason, dryRun: spec.dryRun }, 'decision');
    let written = false;
    let committed = false;
    const sent = (): void => {
      if (written) return;
      written = true;
      ctx.turn.join(() => ctx.storeCall(() => ctx.opts.store.atomically(() => {
        // (a decision whose intents were rolled back is not recorded: nothing of it was sent)
        if (committed || spec.dryRun) this.#recordRow(rt, decision, now);
        ctx.savePool(rt);
        ctx.fleet.writeDeferred();
      })), 'loop');
      ctx.fleet.writeDeferred(); // (when the block could not run: the rows held must not hold back every later write)
      lines.release();
    };
    rt.lastDecision = { kind: decision.kind, atMs: now };
    rt.history = afterDecision(rt.history, decision, now);
    if (spec.dryRun) sent(); // nothing is sent: its lines (`dry-run: action not sent`) follow the decision's
    else ctx.scaleUpDecided(now);
    let sends: Send[] = [];
    try {
      const prepare = (): void => {
        const targets = (): void => ctx.fleet.holdingLines(lines, () => {
          sends = decision.targets.map((t) => (t.kind === 'start' ? this.#prepareStart(rt, t.id, now) : this.#prepareCreate(rt, now)));
        });
        if (spec.dryRun) ctx.fleet.inBatch(targets); // (moves nothing: nothing to hold)
        else ctx.fleet.deferring(targets);
      };
      // the intents are all or nothing: a block (a SAVEPOINT in the turn) for several; one intent is one statement,
      // all or nothing on its own, and nothing else is written before the call
      const write = (): boolean => ctx.storeCall(() => {
        if (decision.targets.length > 1) ctx.opts.store.atomically(prepare);
        else prepare();
        return true;
      }) === true;
      if (lone && ctx.turn.pending() === undefined) {
        // the only evaluation of its turn, and no transaction open: its intents are their own transaction (autocommit;
        // a block for several), durable once written, and the calls leave at once, with no turn to wait for
        committed = write();
      } else {
        const { value, durable } = ctx.turn.join(write);
        committed = (await durable) && value; // (a block that threw was rolled back: its intents are none)
      }
      await Promise.all(sends.map((send) => send(committed, sent)));
    } finally {
      sent(); // no call was sent (dry-run, nothing to do, a throw)
    }
  }

  /** recordInTurn records a decision in the turn's group commit (a hold: nothing waits for it). */
  recordInTurn(rt: PoolRuntime, decision: Decision, now: number): void {
    this.#ctx.turn.join(() => { this.record(rt, decision, now); });
  }

  /** written is the intent when the turn that wrote it committed; a rolled-back intent is no intent (its action is not sent). */
  #written(intent: Intent | undefined, committed: boolean): Intent | undefined {
    if (committed || intent === undefined) return intent;
    this.openIntentCount = Math.max(0, this.openIntentCount - 1);
    return undefined;
  }

  /** open writes the intent of an action: undefined in dry-run (nothing is sent) or when this process may not act (nothing is written). */
  #open(rt: PoolRuntime, kind: IntentKind, id: string, nowMs = this.#ctx.clock.now()): Intent | undefined {
    const spec = rt.managed.spec;
    if (spec.dryRun) {
      this.#ctx.opts.observer?.action(kind, 'dry_run');
      this.#ctx.log.info({ pool: spec.name, minion: id, action: kind }, 'dry-run: action not sent');
      return undefined;
    }
    if (!this.#ctx.mayAct()) return undefined; // the gate holds before an intent is opened, and again before the call
    const intent = this.#ctx.intents.open(kind, id, spec.name, nowMs);
    if (intent !== undefined) this.openIntentCount += 1;
    return intent;
  }

  /** finish marks an intent done or failed and keeps the open-intent count. */
  finish(intentId: number, status: 'done' | 'failed', detail?: string): void {
    this.#ctx.intents.finish(intentId, status, detail);
    this.openIntentCount = Math.max(0, this.openIntentCount - 1);
  }

  /**
   * finishInTurn is finish for a call that answered: the answers that come in together share one commit (`loop`).
   * A crash before it leaves the intent open, and the startup reconcile resolves it from Salt's truth.
   */
  #finishInTurn(intentId: number, status: 'done' | 'failed', detail?: string): void {
    this.#ctx.turn.join(() => { this.finish(intentId, status, detail); }, 'loop');
  }

  /**
   * send makes the call of an opened intent and marks the intent done or failed; no intent = not sent. `sent` (a
   * scale-up's held writes and lines) runs right after the call is sent, or when it fails before.
   */
  async #send(rt: PoolRuntime, kind: IntentKind, id: string, intent: Intent | undefined, call: () => Promise<void>, onError?: (err: unknown) => void, sent?: () => void): Promise<boolean> {
    const ctx = this.#ctx;
    const spec = rt.managed.spec;
    if (intent) this.#sending.add(intent.id);
    this.countIntents();
    const started = ctx.clock.now();
    try {
      if (intent === undefined) {
        throw ctx.mayAct() ? new AutoscalerError('ASC_ERR_STORE_WRITE', `${kind} of ${id} not sent: its intent could not be written to the state store`) : ctx.notActing(kind, id);
      }
      if (!ctx.mayAct()) throw ctx.notActing(kind, id);
      if (ctx.intents.replicated) await ctx.intents.shared(intent); // the intent reaches the replica (fenced) before the call goes out
      if (!ctx.mayAct()) throw ctx.notActing(kind, id);
      const calling = call();
      sent?.();
      await calling;
      this.#finishInTurn(intent.id, 'done');
      ctx.opts.observer?.action(kind, 'ok');
      ctx.log.info({ pool: spec.name, minion: id, action: kind, durationMs: ctx.clock.now() - started }, 'action done');
      return true;
    } catch (err) {
      sent?.();
      const detail = err instanceof Error ? err.message : String(err);
      if (intent) this.#finishInTurn(intent.id, 'failed', detail);
      ctx.opts.observer?.action(kind, 'error');
      ctx.log.warn({ pool: spec.name, minion: id, action: kind, err }, 'action failed');
      onError?.(err);
      ctx.reconciler.schedule(1_000);
      return false;
    } finally {
      if (intent) this.#sending.delete(intent.id);
      this.countIntents();
    }
  }

  /**
   * act is open + send for actions that need no shared transaction. An intent written while a turn is open (an
   * event's turn: a failed instance's stop) is durable only with that turn: its call waits for the commit.
   */
  async #act(rt: PoolRuntime, kind: IntentKind, id: string, call: () => Promise<void>): Promise<boolean> {
    if (rt.managed.spec.dryRun) { this.#open(rt, kind, id); return false; }
    const intent = this.#open(rt, kind, id);
    const turn = this.#ctx.turn.pending();
    return this.#send(rt, kind, id, intent === undefined || turn === undefined ? intent : this.#written(intent, await turn), call);
  }

  /**
   * prepareStart moves a reserved instance to starting and writes its intent, stamped with the decision's time (the
   * time a restart's recovery gives the pool's cooldown); the returned function sends the call.
   */
  #prepareStart(rt: PoolRuntime, id: string, decidedMs: number): Send {
    const ctx = this.#ctx;
    const inst = ctx.fleet.get(id);
    if (inst === undefined) return async () => {};
    if (rt.managed.spec.dryRun) { this.#open(rt, 'start', id); return async () => {}; }
    ctx.apply(inst, { kind: 'start-issued' }, ctx.clock.now(), 'scale-up');
    const intent = this.#open(rt, 'start', id, decidedMs);
    return async (committed, sent) => {
      // a failed call may still have started the VM: the reconcile it scheduled decides
      await this.#send(rt, 'start', id, this.#written(intent, committed), () => ctx.opts.cloud.start(id), (err) => { ctx.reconciler.startUnconfirmed(id, err); }, sent);
    };
  }

  /** prepareCreate names a new instance, moves it to creating and writes its intent (as prepareStart); the returned function sends it. */
  #prepareCreate(rt: PoolRuntime, decidedMs: number): Send {
    const ctx = this.#ctx;
    const profile = rt.managed.profile;
    if (profile === undefined) return async () => {};
    const id = this.#newName(rt);
    if (rt.managed.spec.dryRun) { this.#open(rt, 'create', id); return async () => {}; }
    const now = ctx.clock.now();
    const inst: Instance = { ...newInstance(id, rt.managed.spec.name, now), created: true };
    ctx.fleet.put(inst);
    ctx.apply(inst, { kind: 'create-issued' }, now, 'scale-up');
    const intent = this.#open(rt, 'create', id, decidedMs);
    return async (committed, sent) => {
      let failure: unknown;
      const ok = await this.#send(rt, 'create', id, this.#written(intent, committed), () => ctx.opts.cloud.create(id, profile, rt.managed.spec.provisionTimeoutMs), (err) => { failure = err; }, sent);
      if (ok) return;
      if (outcomeUnknown(failure)) this.#createUnanswered(rt, id, failure);
      else this.actionFailed(id, 'create', failure);
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
      const suffix = `${this.#ctx.clock.now().toString(36)}${this.#createSeq.toString(36)}`;
      const id = single && pattern !== undefined ? `${pattern.slice(0, star)}${suffix}${pattern.slice(star + 1)}` : `${base}-${suffix}`;
      if (!this.#ctx.fleet.has(id)) return id;
    }
  }

  /** drain marks a ready instance draining on its minion, then finishes the drain. */
  async drain(rt: PoolRuntime, id: string): Promise<void> {
    const ctx = this.#ctx;
    const inst = ctx.fleet.get(id);
    if (inst === undefined || inst.state !== 'ready') return;
    const spec = rt.managed.spec;
    if (spec.dryRun) { await this.#act(rt, 'drain', id, async () => {}); return; }
    ctx.apply(inst, { kind: 'drain-issued' }, ctx.clock.now(), 'scale-down');
    const marked = await this.#act(rt, 'drain', id, async () => {
      await ctx.opts.minions.setDraining(id, true);
      await ctx.opts.minions.fireEvent(`salt-autoscaler/instance/${id}/draining`, { id, pool: spec.name });
    });
    await this.finishDrain(rt, id, marked ? undefined : 'could not mark draining');
  }

  /**
   * finishDrain waits (up to the pool's drainTimeout, re-checking every evaluate interval) for the draining instance's
   * idle check to say idle, then stops it; busy or unreachable until the timeout = undrain, with the reason recorded.
   * It also resumes drains a crash interrupted (instances found `draining` at startup).
   */
  async finishDrain(rt: PoolRuntime, id: string, failure?: string): Promise<void> {
    const ctx = this.#ctx;
    const spec = rt.managed.spec;
    const began = ctx.clock.now();
    let verdict: IdleResult = 'unreachable';
    let wanted: string | undefined;
    if (failure === undefined) {
      for (;;) {
        verdict = await ctx.idleCheck(rt, id);
        if (verdict === 'idle' || ctx.stopped() || ctx.fleet.get(id)?.state !== 'draining') break;
        if (ctx.clock.now() - began >= spec.drainTimeoutMs) break;
        // the workload came back while it drains: this deployed, paid instance is the fastest capacity there is
        wanted = ctx.evaluator.wantsCapacity(rt);
        if (wanted !== undefined) break;
        await ctx.sleep(Math.min(ctx.opts.evaluateIntervalMs, spec.drainTimeoutMs));
      }
    }
    const current = ctx.fleet.get(id);
    if (current === undefined || current.state !== 'draining' || ctx.stopped()) return;
    if (verdict !== 'idle') {
      const reason = failure ?? wanted ?? `idle check said ${verdict} for ${Math.round((ctx.clock.now() - began) / 1000)}s (drainTimeout ${Math.round(spec.drainTimeoutMs / 1000)}s): kept`;
      ctx.apply(current, { kind: 'undrain', reason }, ctx.clock.now(), 'scale-down');
      ctx.storeCall(() => ctx.opts.store.recordDecision({
        pool: spec.name, atMs: ctx.clock.now(), dryRun: false,
        decision: { kind: 'hold', reason: `scale-down of ${id} cancelled: ${reason}` },
      }));
      await this.#act(rt, 'undrain', id, () => ctx.opts.minions.setDraining(id, false));
      return;
    }
    ctx.apply(current, { kind: this.#destroys(rt, current) ? 'destroy-issued' : 'stop-issued' }, ctx.clock.now(), 'scale-down');
    await this.#sendStop(rt, current);
  }

  /**
   * retryStop finishes a stop a crash cut off before it reached Salt: idle check first (time has passed), then the
   * stop is sent again for the same instance, or the instance is undrained back to ready when it is busy again.
   */
  async retryStop(rt: PoolRuntime, inst: Instance): Promise<void> {
    const ctx = this.#ctx;
    const verdict = await ctx.idleCheck(rt, inst.id);
    const current = ctx.fleet.get(inst.id);
    if (current === undefined || current.state !== 'stopping' || ctx.stopped()) return;
    if (verdict === 'idle') {
      await this.#sendStop(rt, current);
      return;
    }
    ctx.apply(current, { kind: 'undrain', reason: `the stop never reached Salt and the idle check now says ${verdict}` }, ctx.clock.now(), 'recovery');
    await this.#act(rt, 'undrain', current.id, () => ctx.opts.minions.setDraining(current.id, false));
  }

  /** destroys: scale-in `destroy` removes instances created from the profile; everything else is stopped. */
  #destroys(rt: PoolRuntime, inst: Instance): boolean {
    return inst.created && rt.managed.spec.scaleIn === 'destroy';
  }

  /** sendStop sends the stop (or destroy) of a `stopping` instance through the intent log. */
  async #sendStop(rt: PoolRuntime, inst: Instance): Promise<void> {
    const { cloud } = this.#ctx.opts;
    const destroy = this.#destroys(rt, inst);
    const ok = destroy
      ? await this.#act(rt, 'destroy', inst.id, () => cloud.destroy(inst.id))
      : await this.#act(rt, 'stop', inst.id, () => cloud.stop(inst.id));
    if (!ok) this.actionFailed(inst.id, destroy ? 'destroy' : 'stop');
  }

  /** stopFailed stops an instance that failed to become ready, so a broken VM does not burn money. */
  async stopFailed(rt: PoolRuntime, inst: Instance): Promise<void> {
    if (rt.managed.spec.dryRun || this.#ctx.following()) return; // a follower leaves it to the leader
    this.#failedStopAtMs.set(inst.id, this.#ctx.clock.now());
    const ok = await this.#act(rt, 'stop', inst.id, () => this.#ctx.opts.cloud.stop(inst.id));
    if (ok) this.#failedStopAtMs.delete(inst.id);
    else this.#ctx.log.warn({ minion: inst.id }, 'could not stop a failed instance; reconcile will retry');
  }

  /** actionFailed moves the instance on a failed call (`err`, when there is one, says why in the instance's reason). */
  actionFailed(id: string, action: IntentKind, err?: unknown): void {
    const inst = this.#ctx.fleet.get(id);
    const why = err === undefined ? '' : `: ${err instanceof Error ? err.message : String(err)}`;
    if (inst) this.#ctx.apply(inst, { kind: 'action-failed', action, reason: `${action} call failed${why}` }, this.#ctx.clock.now(), 'action');
  }

  /**
   * createUnanswered: the create call ended without Salt's answer (salt-api's 504 once its wait ran out, our timeout, a
   * lost connection), and salt-cloud goes on making the VM. The instance stays on its way (it counts as capacity: one
   * need, one create) until its provision timeout; past it, it fails, and is stopped once Salt lists it. Either way the
   * reconciler keeps it while Salt may still list it (absent from cloud.query is not yet gone).
   */
  #createUnanswered(rt: PoolRuntime, id: string, err: unknown): void {
    const ctx = this.#ctx;
    const inst = ctx.fleet.get(id);
    if (inst === undefined) return;
    const spec = rt.managed.spec;
    const now = ctx.clock.now();
    const message = err instanceof Error ? err.message : String(err);
    ctx.reconciler.createUnanswered(id, now + spec.provisionTimeoutMs);
    ctx.log.info({ pool: spec.name, minion: id, err }, 'create unanswered: salt-cloud may still be making the instance; followed until the provision timeout');
    ctx.apply(inst, { kind: 'create-unanswered', reason: `cloud.profile unanswered (${message})` }, now, 'action');
  }
}
