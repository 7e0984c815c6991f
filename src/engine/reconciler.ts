/**
 * reconciler: Salt is the truth. At startup, after every stream gap, when an event contradicts what we hold, and
 * every reconcile interval, it asks Salt for the cloud's and the minions' state, corrects every managed instance,
 * resolves the intents a crash left open, and keeps the confirm window of start calls that may still happen.
 *
 * A stream (re)connect asks for a reconcile to catch the events sent while no stream was open; a reconcile whose reads
 * (cloud.query, manage.up, grains.item, in that order) all began once the engine had seen that connection open
 * already answers it, so the connect's is dropped when one such reconcile has succeeded or is running (one that
 * fails, or could not read every grain, does not count: it is retried). One whose reads began before the connect
 * does not cover it: one more runs after it. The startup reconcile waits (bounded) for the stream's first connect
 * before it reads, so that the startup asks Salt for the whole fleet once, not twice.
 *
 * ```
 *   cloud.query ─► adopt unknown names matching a reservedPattern
 *     ─► manage.up of the managed instances the cloud reports running ─► grains.item of those running and up
 *     ─► lifecycle 'observed' per instance (slices of 1,000: a transaction each, the loop free between them)
 *     ─► forget destroyed created instances
 *        (a failed created instance whose create Salt left unanswered is kept while salt-cloud may still make it)
 *     ─► confirm window: unconfirmed starts settle (happened, or back to the reserve)
 *     ─► open intents resolved (happened? done : failed; a stop cut off is idle-checked and sent again)
 *     ─► what nothing covers any more: a start never carried out, a failed VM still running
 *     ─► every pool evaluated (250 pools a loop turn)
 * ```
 */
import { outcomeUnknown } from '../errors.ts';
import type { LifecycleInput } from '../core/lifecycle.ts';
import type { EngineContext, ReconcilerRole } from './context.ts';
import type { Intent, ReadyGrain, Timer } from './ports.ts';
import { StreamCoverage } from './stream-coverage.ts';
import { breathe } from './system-clock.ts';

/** FAILED_STOP_RETRY_MS: a failed instance still running gets its stop resent at most this often. */
const FAILED_STOP_RETRY_MS = 5_000;
const DEFAULT_CONFIRM_WINDOW_MS = 60_000;
/** RECONCILE_SLICE: instances corrected in one task (and one store transaction) of a reconcile pass. */
export const RECONCILE_SLICE = 1_000;

/**
 * RunningPhase: where a running reconcile is: waiting for the event stream's first connect (the startup's, since
 * `sinceMs`), or asking Salt since `sinceMs`, after `streamWaitMs` of that wait (0: none).
 */
export type RunningPhase =
  | { readonly kind: 'stream'; readonly sinceMs: number }
  | { readonly kind: 'salt'; readonly sinceMs: number; readonly streamWaitMs: number };

/**
 * runningReason says what the running startup reconcile is doing at `nowMs`, for a manual scale that could not wait for
 * it: while it waits for the event stream it has not asked Salt, and the time it has asked Salt counts from its reads.
 */
export function runningReason(phase: RunningPhase, nowMs: number): string {
  const seconds = (ms: number): number => Math.round(ms / 1000);
  if (phase.kind === 'stream') return `the startup reconcile has waited ${seconds(nowMs - phase.sinceMs)}s for the event stream to connect and has not asked Salt yet`;
  const waited = phase.streamWaitMs > 0 ? ` (after waiting ${seconds(phase.streamWaitMs)}s for the event stream to connect)` : '';
  return `the startup reconcile has asked Salt for ${seconds(nowMs - phase.sinceMs)}s without an answer yet${waited}`;
}

/** Reconciler brings the engine's view in line with Salt's. */
export class Reconciler implements ReconcilerRole {
  readonly #ctx: EngineContext;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: Timer | undefined;
  /** #dueMs: when #timer fires (a sooner request replaces a later one). */
  #dueMs = Number.POSITIVE_INFINITY;
  /**
   * #unconfirmedStarts: instances whose start call failed, with the time until which a reconcile may still see them
   * start. A call that timed out or lost its connection may still be carried out by Salt, so it gets a window; an
   * answer that says the start failed gets none.
   */
  readonly #unconfirmedStarts = new Map<string, { readonly untilMs: number; readonly intentId?: number }>();
  /**
   * #unansweredCreates: created instances whose cloud.profile call ended without Salt's answer, with the time until
   * which salt-cloud may still be making them: while absent from cloud.query they are neither moved to stopped nor
   * forgotten (a VM salt-cloud lists later is this instance, not one to adopt or create again).
   */
  readonly #unansweredCreates = new Map<string, number>();
  /** succeeded: a reconcile has succeeded; no evaluation runs on the state of a previous life before it. */
  succeeded = false;
  /** #lastFailure: why the last reconcile could not ask Salt (cleared by a success). */
  #lastFailure: string | undefined;
  /** #phase: where the reconcile now running is (read while #running is set). */
  #phase: RunningPhase = { kind: 'salt', sinceMs: 0, streamWaitMs: 0 };
  /** #coverage: which stream connects still need a reconcile (a pass that read Salt after one covers it). */
  readonly #coverage = new StreamCoverage();
  /** #markOpened settles #opened. */
  #markOpened: () => void = () => undefined;
  /** #opened settles on the stream's first connect, or when the engine stops: what the startup's wait for the stream ends on. */
  readonly #opened = new Promise<void>((resolve) => { this.#markOpened = resolve; });

  constructor(ctx: EngineContext) {
    this.#ctx = ctx;
  }

  confirmWindowMs(): number {
    return this.#ctx.opts.startConfirmWindowMs ?? DEFAULT_CONFIRM_WINDOW_MS;
  }

  /** schedule asks for a reconcile in delayMs; an earlier pending one stands, a later one is brought forward. */
  schedule(delayMs: number): void {
    this.#coverage.asked();
    this.#arm(delayMs);
  }

  /**
   * streamConnected: the event stream (re)connected; events sent while none was open may be lost, so a reconcile is
   * due in delayMs, unless one whose reads begin after this moment covers it (StreamCoverage).
   */
  streamConnected(delayMs: number): void {
    this.#coverage.connected();
    this.#markOpened();
    this.#arm(delayMs);
  }

  #arm(delayMs: number): void {
    if (this.#ctx.stopped()) return;
    const dueMs = this.#ctx.clock.now() + delayMs;
    if (this.#timer) {
      if (dueMs >= this.#dueMs) return;
      this.#timer.cancel();
    }
    this.#dueMs = dueMs;
    this.#timer = this.#ctx.clock.after(delayMs, () => {
      this.#timer = undefined;
      this.#dueMs = Number.POSITIVE_INFINITY;
      const fired = this.#coverage.fire();
      if (fired === 'covered') {
        this.#ctx.log.info({ connection: this.#coverage.newest(), running: this.#running !== undefined }, 'event stream connect: covered by a reconcile that read Salt after it');
        return;
      }
      this.#ctx.track(this.reconcile(fired === 'plain' ? 'gap' : 'stream connect'));
    });
  }

  /**
   * streamOpen resolves once the stream has connected (at once when it has), after waitMs, or when the engine stops.
   */
  async #streamOpen(waitMs: number): Promise<void> {
    if (this.#coverage.opened() || this.#ctx.stopped()) return;
    await this.#ctx.clock.within(this.#opened, waitMs);
  }

  /** cancel drops a pending reconcile and ends the startup's wait for the stream (the engine stops). */
  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#markOpened();
  }

  /** startUnconfirmed remembers a failed start call; a timeout or a lost connection leaves Salt time to carry it out. */
  startUnconfirmed(id: string, err: unknown): void {
    const windowMs = outcomeUnknown(err) ? this.confirmWindowMs() : 0;
    this.#unconfirmedStarts.set(id, { untilMs: this.#ctx.clock.now() + windowMs });
  }

  createUnanswered(id: string, untilMs: number): void {
    this.#unansweredCreates.set(id, untilMs);
  }

  /** makingStill: salt-cloud may still be making this instance that cloud.query does not list (an unanswered create). */
  #makingStill(id: string, listed: boolean, nowMs: number): boolean {
    const untilMs = this.#unansweredCreates.get(id);
    if (untilMs === undefined) return false;
    if (listed || nowMs > untilMs) { this.#unansweredCreates.delete(id); return false; }
    return true;
  }

  /**
   * awaitingSalt lists the instances whose start Salt has yet to confirm or deny: an open start intent (left by a
   * crash, or a call still running) or a failed start call inside its confirm window. While Salt still shows such an
   * instance stopped, the intent's resolution decides (back to the reserve after the window, or followed once it
   * shows up), not the provision timeout: time this process spent down or waiting is not a start that failed.
   */
  awaitingSalt(): ReadonlySet<string> {
    const open = this.#ctx.storeCall(() => this.#ctx.opts.store.openIntents()) ?? [];
    return new Set([...this.#unconfirmedStarts.keys(), ...open.filter((i) => i.kind === 'start').map((i) => i.instance)]);
  }

  /**
   * established waits up to `waitMs` for a reconcile to have succeeded: Salt's state, not the previous run's, is what
   * the engine holds then. When none has, it says why (the startup reconcile still waits for the event stream, still
   * asks Salt, or Salt did not answer it) and when to ask again.
   */
  async established(waitMs: number): Promise<{ readonly ok: true } | { readonly ok: false; readonly reason: string; readonly retryAfterMs: number }> {
    if (this.succeeded) return { ok: true };
    const running = this.#running;
    if (running !== undefined) {
      await this.#ctx.clock.within(running, waitMs);
      if (this.succeeded) return { ok: true };
    }
    const now = this.#ctx.clock.now();
    if (this.#running !== undefined) return { ok: false, reason: runningReason(this.#phase, now), retryAfterMs: waitMs };
    const retryAfterMs = Number.isFinite(this.#dueMs) ? Math.max(1_000, this.#dueMs - now) : 1_000;
    return { ok: false, reason: this.#lastFailure === undefined ? 'the startup reconcile has not begun' : `the startup reconcile could not ask Salt (${this.#lastFailure}); it is tried again`, retryAfterMs };
  }

  /** reconcile asks Salt for the truth and corrects every managed instance; open intents are resolved. */
  reconcile(why: string): Promise<void> {
    return this.#run(why, 0);
  }

  /**
   * startup runs the startup reconcile. While the event stream has not connected yet its reads wait for the connect, up
   * to streamWaitMs: read after it, they cover it, and the connect needs no second reconcile of the whole fleet.
   */
  startup(streamWaitMs: number): Promise<void> {
    return this.#run('startup', streamWaitMs);
  }

  #run(why: string, streamWaitMs: number): Promise<void> {
    if (this.#running) { this.#again = true; return this.#running; }
    const beganMs = this.#ctx.clock.now();
    this.#phase = { kind: 'stream', sinceMs: beganMs };
    this.#coverage.passBegins();
    this.#running = (async () => {
      try {
        if (streamWaitMs > 0) {
          await this.#streamOpen(streamWaitMs);
          if (this.#ctx.stopped()) return;
        }
        const askingMs = this.#ctx.clock.now();
        this.#phase = { kind: 'salt', sinceMs: askingMs, streamWaitMs: askingMs - beganMs };
        do {
          this.#again = false;
          this.#coverage.passBegins();
          await this.#once(why);
        } while (this.#again && !this.#ctx.stopped());
      } finally {
        this.#running = undefined;
        this.#coverage.passEnded();
      }
    })();
    return this.#running;
  }

  async #once(why: string): Promise<void> {
    const ctx = this.#ctx;
    const { fleet } = ctx;
    const began = ctx.clock.now();
    let cloud;
    let up;
    try {
      const providers = [...new Set([...ctx.pools.values()].map((p) => p.managed.provider).filter((p): p is string => p !== undefined))];
      this.#coverage.readsSent(); // the first read goes now: the others follow it
      cloud = await ctx.opts.cloud.cloudInstances(providers.length > 0 ? providers : undefined);
      // presence only of the managed instances the cloud reports running: a stopped minion would make Salt wait
      // its whole gather timeout, and minions outside the pools are none of our business
      const runningIds = cloud.filter((c) => c.state !== 'stopped' && fleet.managedName(c.id)).map((c) => c.id);
      up = runningIds.length === 0 ? [] : await ctx.opts.minions.minionsUp(runningIds);
    } catch (err) {
      ctx.opts.observer?.reconcile('error');
      this.#lastFailure = err instanceof Error ? err.message : String(err);
      ctx.log.warn({ err, why }, 'reconcile failed: Salt did not answer; will retry');
      this.schedule(5_000);
      return;
    }
    const now = ctx.clock.now();
    const cloudById = new Map(cloud.map((c) => [c.id, c]));
    fleet.inBatch(() => {
      for (const c of cloud) {
        if (!fleet.has(c.id)) fleet.adoptByPattern(c.id, now);
      }
    });
    const upSet = new Set(up);
    const running = fleet.all().filter((i) => cloudById.get(i.id)?.state === 'running' && upSet.has(i.id));
    let grains: ReadonlyMap<string, ReadyGrain> = new Map();
    let allRead = true;
    if (running.length > 0) {
      try {
        grains = await ctx.opts.minions.readyGrains(running.map((i) => i.id));
      } catch (err) {
        allRead = false;
        ctx.log.warn({ err }, 'reconcile: grains.item failed; readiness not corrected this pass');
      }
    }
    const after = ctx.clock.now();
    let corrections = 0;
    // in slices of RECONCILE_SLICE instances, one transaction each, the loop free between them: 10,000 instances in
    // one task stall it ~25-70 ms. What an event changes between two slices is newer than our reads: skipped below
    const ids = fleet.all().map((i) => i.id);
    for (let from = 0; from < ids.length; from += RECONCILE_SLICE) {
      if (ids.length > RECONCILE_SLICE) { // the first too: the grains' decode ran in this task
        await breathe(ctx.clock);
        if (ctx.stopped()) return;
      }
      let awaiting: ReadonlySet<string> | undefined;
      fleet.inBatch(() => {
        for (const id of ids.slice(from, from + RECONCILE_SLICE)) {
          const inst = fleet.get(id);
          if (inst === undefined) continue; // forgotten meanwhile
          if (inst.sinceMs > began) continue; // changed while we asked Salt: our snapshot is older than the event
          const c = cloudById.get(inst.id);
          if (inst.state === 'failed' && this.#makingStill(inst.id, c !== undefined, began)) continue; // not gone: not made yet
          if (inst.state === 'starting' && (c === undefined || c.state === 'stopped') && (awaiting ??= this.awaitingSalt()).has(inst.id)) continue;
          const grain = grains.get(inst.id);
          const input: LifecycleInput = {
            kind: 'observed',
            cloudState: c === undefined ? 'absent' : c.state,
            minionUp: upSet.has(inst.id),
            ...(grain === undefined ? {} : { grain }),
          };
          const before = inst.state;
          const res = ctx.apply(inst, input, after, `reconcile (${why})`);
          if (res.kind === 'moved') {
            corrections += 1;
            ctx.opts.observer?.correction(inst.pool);
            ctx.log.info({ pool: inst.pool, minion: inst.id, from: before, to: res.instance.state, why }, 'reconcile corrected an instance');
          }
        }
      });
    }
    // a created instance that is stopped here and gone from the cloud was destroyed: forget it
    for (const inst of fleet.all()) {
      if (inst.created && inst.state === 'stopped' && !cloudById.has(inst.id) && inst.sinceMs <= began && !this.#makingStill(inst.id, false, began)) fleet.forget(inst);
    }
    for (const id of [...this.#unansweredCreates.keys()]) this.#makingStill(id, cloudById.has(id), began); // listed or past: done
    if (!ctx.following()) { // what a reconcile resolves, it resolves by acting: a follower only looks
      this.#settleUnconfirmed(cloudById, began);
      this.#resolveIntents(cloudById);
      this.#settleUncovered(cloudById, began);
    }
    this.succeeded = true;
    this.#lastFailure = undefined;
    if (this.#coverage.passSucceeded(allRead)) this.schedule(5_000); // the connect this pass was to cover: read again, as after a failure
    ctx.opts.observer?.reconcile('ok');
    ctx.log.info({ why, instances: fleet.size, corrections, durationMs: ctx.clock.now() - began }, 'reconciled with Salt');
    // the pools' evaluations, a group a loop turn (Evaluator.evaluateAll)
    await ctx.evaluator.evaluateAll();
  }

  /** settleUnconfirmed ends the confirm window of failed start calls: Salt shows it happened, or the window ran out. */
  #settleUnconfirmed(cloudById: ReadonlyMap<string, { state: string }>, began: number): void {
    const ctx = this.#ctx;
    for (const [id, pending] of [...this.#unconfirmedStarts]) {
      const state = cloudById.get(id)?.state;
      const inst = ctx.fleet.get(id);
      const stillStopped = state === undefined || state === 'stopped';
      const settled = inst?.state !== 'starting' || !stillStopped || began >= pending.untilMs;
      if (!settled) { this.schedule(Math.max(1_000, pending.untilMs - began)); continue; }
      this.#unconfirmedStarts.delete(id);
      const happened = !(inst?.state === 'starting' && stillStopped);
      if (pending.intentId !== undefined) {
        const detail = `resolved on reconcile: cloud state ${state ?? 'absent'}; ${happened ? 'it happened' : 'not carried out by Salt within the confirm window: the instance is back in the reserve'}`;
        ctx.executor.finish(pending.intentId, happened ? 'done' : 'failed', detail);
      }
      if (!happened) ctx.executor.actionFailed(id, 'start'); // Salt confirms it never started: back to the reserve
    }
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
    const ctx = this.#ctx;
    let covered: Set<string> | undefined;
    const isCovered = (id: string): boolean => {
      covered ??= new Set((ctx.storeCall(() => ctx.opts.store.openIntents()) ?? []).map((i) => i.instance));
      return covered.has(id);
    };
    for (const inst of ctx.fleet.all()) {
      if (inst.sinceMs > began) continue;
      const state = cloudById.get(inst.id)?.state;
      const stopped = state === undefined || state === 'stopped';
      if (inst.state === 'starting' && stopped && !this.#unconfirmedStarts.has(inst.id) && !isCovered(inst.id)) {
        const waitMs = (inst.lastStartMs ?? inst.sinceMs) + this.confirmWindowMs() - began;
        if (waitMs > 0) { this.schedule(Math.max(1_000, waitMs)); continue; }
        ctx.log.info({ pool: inst.pool, minion: inst.id, cloud: state ?? 'absent' }, 'a start no call or intent covers was not carried out: back to the reserve');
        ctx.executor.actionFailed(inst.id, 'start');
      } else if (inst.state === 'failed' && !stopped) { // a stopped one was moved to stopped by the reconcile above
        const last = ctx.executor.failedStopAtMs(inst.id);
        if (last !== undefined && began - last < FAILED_STOP_RETRY_MS) { this.schedule(FAILED_STOP_RETRY_MS - (began - last)); continue; }
        const rt = ctx.pools.get(inst.pool);
        if (rt === undefined || isCovered(inst.id)) continue;
        ctx.log.info({ pool: inst.pool, minion: inst.id, cloud: state }, 'failed instance still running in Salt: stop sent again');
        ctx.track(ctx.executor.stopFailed(rt, inst));
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
    const ctx = this.#ctx;
    const open: readonly Intent[] = ctx.storeCall(() => ctx.opts.store.openIntents()) ?? [];
    for (const intent of open) {
      if (ctx.executor.sending(intent.id)) continue; // its call is still running in this process
      if ([...this.#unconfirmedStarts.values()].some((p) => p.intentId === intent.id)) continue; // being confirmed
      const state = cloudById.get(intent.instance)?.state;
      const happened = intent.kind === 'start' || intent.kind === 'create'
        ? state !== undefined && state !== 'stopped'
        : intent.kind === 'stop' ? state === 'stopped' || state === undefined
        : intent.kind === 'destroy' ? state === undefined
        : false;
      const inst = ctx.fleet.get(intent.instance);
      const rt = inst === undefined ? undefined : ctx.pools.get(inst.pool);
      if (!happened && intent.kind === 'start' && inst?.state === 'starting') {
        // salt-api may still be carrying the call out (it outlives our connection): confirm within the window
        if (!this.#unconfirmedStarts.has(intent.instance)) {
          this.#unconfirmedStarts.set(intent.instance, { untilMs: ctx.clock.now() + this.confirmWindowMs(), intentId: intent.id });
          this.schedule(this.confirmWindowMs());
          ctx.log.info({ intent: intent.id, minion: intent.instance }, 'open start intent not seen in Salt yet: confirming');
        }
        continue;
      }
      const detail = `resolved on reconcile: cloud state ${state ?? 'absent'}; ${happened ? 'it happened' : 'it did not happen and is not redone blindly'}`;
      ctx.executor.finish(intent.id, happened ? 'done' : 'failed', detail);
      ctx.log.info({ intent: intent.id, kind: intent.kind, minion: intent.instance, happened }, 'open intent resolved');
      if (!happened && (intent.kind === 'stop' || intent.kind === 'destroy') && inst?.state === 'stopping' && rt !== undefined) {
        ctx.track(ctx.executor.retryStop(rt, inst));
      }
    }
    ctx.executor.countIntents();
  }
}
