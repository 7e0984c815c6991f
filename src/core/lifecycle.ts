/**
 * lifecycle: the instance state machine (pure). One instance, one input, one result; never throws.
 *
 * ```
 *            create issued                cloud created
 *   stopped ---------------> creating ------------------+
 *      |                        | minion start          v
 *      | start issued           +-------------------> starting --salt/minion/<id>/start--> booted
 *      +------------------------------------------------^                                    |
 *                                                                          orchestrate runs  v
 *   ready <--ready event | run-ret ok | fresh ready grain on reconcile------------------ deploying
 *     |  ^ \__ minion restart: stays ready; an orchestrate that really runs -> deploying -> ready
 *     |  | undrain / drain failed
 *     v  |
 *   draining --idle confirmed, stop issued--> stopping --cloud stopped / destroyed--> stopped
 *                                                ^
 *   creating|starting|booted|deploying           | stop issued
 *     --provision timeout, failed event, run-ret not ok, action failed--> failed
 *   creating --create unanswered (504, timeout): stays creating; past the provision timeout--> failed
 *
 *   started outside the autoscaler (events, live): stopped --cloud starting|started|created--> starting,
 *     --minion start--> booted, --deploy orchestrate runs--> deploying (a new life, then as above)
 *   a cloud stop/destroy we did not issue, for a ready/draining/in-flight instance: ignored with `confirm`
 *     (the engine asks Salt: a stale event never takes capacity away); so are ready/failed/return events
 *     for a stopped instance
 *
 *   reconcile (`observed`): the cloud is the truth.
 *     stopped/absent in the cloud          -> stopped (in-flight: only once booted, or past the provision timeout)
 *     running while we think stopped       -> starting | booted | ready (someone started it)
 *     running + minion up + fresh grain    -> ready  (grain deployedAtMs > lastStartMs; older = previous life)
 *     running, not ready past the timeout  -> failed
 * ```
 *
 * A result is `moved` (new instance + the transition, from != to, with a reason) or `ignored` (duplicate,
 * out-of-order, impossible or informational input; the instance is returned unchanged). The engine persists
 * moved results and counts ignored ones.
 */
import type { SaltEvent } from './salt-event.ts';
import { IN_FLIGHT_STATES, type Instance, type InstanceState, type Transition } from './types.ts';

/** LifecycleGrain is the part of the `salt_autoscaler` grain the lifecycle reads (engine ReadyGrain is assignable to it). */
export interface LifecycleGrain {
  readonly ready: boolean;
  readonly deployedAtMs?: number;
}

/** LifecycleActionKind names the engine action that failed in an `action-failed` input. */
export type LifecycleActionKind = 'start' | 'create' | 'stop' | 'destroy' | 'drain' | 'undrain';

/** LifecycleAction is something the engine did (or failed to do) to the instance. */
export type LifecycleAction =
  | { readonly kind: 'start-issued' }
  | { readonly kind: 'create-issued' }
  | { readonly kind: 'drain-issued' }
  | { readonly kind: 'undrain'; readonly reason: string }
  | { readonly kind: 'stop-issued' }
  | { readonly kind: 'destroy-issued' }
  | { readonly kind: 'action-failed'; readonly action: LifecycleActionKind; readonly reason: string }
  /**
   * create-unanswered: the create call ended without Salt's answer (salt-api's 504 once its wait ran out, a timeout, a
   * lost connection): salt-cloud may still be making the VM, so the instance stays on its way until its provision timeout.
   */
  | { readonly kind: 'create-unanswered'; readonly reason: string };

/** LifecycleTick asks the machine to check its timers (provision timeout). */
export interface LifecycleTick {
  readonly kind: 'tick';
}

/** LifecycleObservation is what a reconcile pass saw: salt-cloud state (lower-cased, `absent` when not listed), `manage.up`, the grain. */
export interface LifecycleObservation {
  readonly kind: 'observed';
  readonly cloudState: string;
  readonly minionUp: boolean;
  readonly grain?: LifecycleGrain;
}

/** LifecycleInput is everything step() accepts: typed Salt events, engine actions, timer ticks, reconcile observations. */
export type LifecycleInput = SaltEvent | LifecycleAction | LifecycleTick | LifecycleObservation;

/** StepContext is the time and the pool's provision timeout, passed in (core never reads a clock). */
export interface StepContext {
  readonly nowMs: number;
  readonly provisionTimeoutMs: number;
}

/**
 * StepResult is a move (with its transition) or an ignored input (with why); the instance is unchanged when ignored.
 * `confirm` on an ignored input says it contradicts what we hold and must not change capacity on its own word: the
 * engine asks Salt (a reconcile) instead.
 */
export type StepResult =
  | { readonly kind: 'moved'; readonly instance: Instance; readonly transition: Transition }
  | { readonly kind: 'ignored'; readonly instance: Instance; readonly reason: string; readonly confirm?: true };

/** newInstance makes a known, stopped instance of a pool (e.g. one of the reserve) that was never started by us. */
export function newInstance(id: string, pool: string, nowMs: number): Instance {
  return { id, pool, state: 'stopped', sinceMs: nowMs, reason: 'new instance', created: false };
}

/** isInFlight is true for an instance on its way to ready (creating, starting, booted, deploying). */
export function isInFlight(instance: Instance): boolean {
  return IN_FLIGHT_STATES.includes(instance.state);
}

/**
 * countsAsCapacity is true when the instance counts toward the pool's size: ready, or in flight (so the pool does
 * not scale twice for one need). Draining, stopping, stopped and failed instances do not count. An instance counts
 * once whatever it is doing: a re-deploy of a ready instance moves it to deploying, never adds a second one.
 */
export function countsAsCapacity(instance: Instance): boolean {
  return instance.state === 'ready' || isInFlight(instance);
}

type CloudPhase = 'running' | 'pending' | 'stopping' | 'stopped' | 'absent' | 'unknown';

const CLOUD_PHASES: Readonly<Record<string, CloudPhase>> = {
  running: 'running', active: 'running',
  pending: 'pending', starting: 'pending', booting: 'pending', provisioning: 'pending', creating: 'pending', rebooting: 'pending',
  stopping: 'stopping', 'shutting-down': 'stopping', deallocating: 'stopping',
  stopped: 'stopped', terminated: 'stopped', shutoff: 'stopped', poweroff: 'stopped', off: 'stopped', deallocated: 'stopped',
  absent: 'absent',
};

function cloudPhase(cloudState: string): CloudPhase {
  return CLOUD_PHASES[cloudState.trim().toLowerCase()] ?? 'unknown';
}

function ignored(instance: Instance, reason: string): StepResult {
  return { kind: 'ignored', instance, reason };
}

/** unconfirmed ignores an input that contradicts the instance's state until Salt confirms it (see StepResult). */
function unconfirmed(instance: Instance, reason: string): StepResult {
  return { kind: 'ignored', instance, reason: `${reason}: asking Salt before it changes capacity`, confirm: true };
}

/** startedOutside moves a stopped instance onto its way to ready: someone else started it (a new life). */
function startedOutside(instance: Instance, to: InstanceState, what: string, ctx: StepContext, deployJid?: string): StepResult {
  return moved(instance, to, `${what} (started outside the autoscaler)`, ctx,
    { lastStartMs: ctx.nowMs, newLife: true, ...(deployJid === undefined ? {} : { deployJid }) });
}

/** Extra carries the field changes that come with a move (a new life, a deploy jid, ready time). */
interface Extra {
  readonly lastStartMs?: number;
  readonly readyMs?: number;
  readonly deployJid?: string;
  readonly created?: boolean;
  /** newLife drops the previous life's deployJid. */
  readonly newLife?: boolean;
}

function moved(instance: Instance, to: InstanceState, reason: string, ctx: StepContext, extra: Extra = {}): StepResult {
  if (to === instance.state) return ignored(instance, reason);
  // sinceMs never goes backwards, even when the caller's clock does.
  const atMs = Math.max(ctx.nowMs, instance.sinceMs);
  const jid = extra.deployJid ?? (extra.newLife === true ? undefined : instance.deployJid);
  // A stop ends the life: its ready time must not make a later stop look like one of a ready instance.
  const readyMs = extra.readyMs ?? (to === 'stopped' ? undefined : instance.readyMs);
  const lastStartMs = extra.lastStartMs ?? instance.lastStartMs;
  // built field by field (its fields in the order every instance has them), not spread: a move is on the way to each call
  const next: { -readonly [K in keyof Instance]: Instance[K] } = {
    id: instance.id, pool: instance.pool, state: to, sinceMs: atMs, reason, created: extra.created ?? instance.created,
  };
  if (lastStartMs !== undefined) next.lastStartMs = lastStartMs;
  if (readyMs !== undefined) next.readyMs = readyMs;
  if (jid !== undefined) next.deployJid = jid;
  return { kind: 'moved', instance: next, transition: { from: instance.state, to, atMs, reason } };
}

function toReady(instance: Instance, reason: string, ctx: StepContext): StepResult {
  return moved(instance, 'ready', reason, ctx, { readyMs: Math.max(ctx.nowMs, instance.sinceMs) });
}

/** provisionAgeMs: how long the current way to ready has taken (from the last start, else from entering the state). */
function provisionAgeMs(instance: Instance, nowMs: number): number {
  return nowMs - (instance.lastStartMs ?? instance.sinceMs);
}

function pastProvisionTimeout(instance: Instance, ctx: StepContext): boolean {
  return provisionAgeMs(instance, ctx.nowMs) > ctx.provisionTimeoutMs;
}

function timeoutReason(instance: Instance, ctx: StepContext, what: string): string {
  const ageS = Math.round(provisionAgeMs(instance, ctx.nowMs) / 1000);
  const was = instance.state === 'creating' ? 'was creating: salt-cloud had not reported the VM made' : `was ${instance.state}`;
  return `provision timeout: ${what} ${ageS}s after start (timeout ${Math.round(ctx.provisionTimeoutMs / 1000)}s, ${was})`;
}

/**
 * grainIsFresh: a ready grain counts only when deployed after the last start; without a known start any ready grain
 * counts. `deployed_at` is whole epoch seconds (`date +%s` in the orchestrate), so it is compared with the start's
 * second: a deploy in the same second as the start is fresh. A grain from a previous life is always older than that
 * second, because a stop (and the drain before it) lies between that deploy and the new start.
 */
function grainIsFresh(grain: LifecycleGrain | undefined, lastStartMs: number | undefined): boolean {
  if (grain === undefined || !grain.ready) return false;
  if (lastStartMs === undefined) return true;
  return grain.deployedAtMs !== undefined && grain.deployedAtMs >= Math.floor(lastStartMs / 1000) * 1000;
}

function stepAction(instance: Instance, input: LifecycleAction, ctx: StepContext): StepResult {
  const s = instance.state;
  switch (input.kind) {
    case 'start-issued':
      return s === 'stopped'
        ? moved(instance, 'starting', 'start issued', ctx, { lastStartMs: ctx.nowMs, newLife: true })
        : ignored(instance, `start issued for a ${s} instance (only a stopped instance can be started)`);
    case 'create-issued':
      return s === 'stopped'
        ? moved(instance, 'creating', 'create issued (cloud.profile)', ctx, { lastStartMs: ctx.nowMs, newLife: true, created: true })
        : ignored(instance, `create issued for a ${s} instance (only a stopped or absent instance can be created)`);
    case 'drain-issued':
      return s === 'ready' ? moved(instance, 'draining', 'drain issued', ctx) : ignored(instance, `drain issued for a ${s} instance (only a ready instance drains)`);
    case 'undrain':
      // stopping: a stop that never reached Salt (crash) is abandoned when the instance is no longer idle
      return s === 'draining' || (s === 'stopping' && readyThisLife(instance))
        ? toReady(instance, `undrained: ${input.reason}`, ctx)
        : ignored(instance, `undrain for a ${s} instance (only a draining instance, or a stopping one that was ready in this life, can be undrained)`);
    case 'stop-issued':
      return s === 'draining' || s === 'failed'
        ? moved(instance, 'stopping', 'stop issued', ctx)
        : ignored(instance, `stop issued for a ${s} instance (only draining or failed instances are stopped)`);
    case 'destroy-issued':
      return s === 'draining' || s === 'failed' || s === 'stopped'
        ? moved(instance, 'stopping', 'destroy issued', ctx)
        : ignored(instance, `destroy issued for a ${s} instance (only draining, failed or stopped instances are destroyed)`);
    case 'action-failed':
      return actionFailed(instance, input.action, input.reason, ctx);
    case 'create-unanswered':
      if (s !== 'creating') return ignored(instance, `create unanswered for a ${s} instance (${input.reason})`);
      return pastProvisionTimeout(instance, ctx)
        ? moved(instance, 'failed', `create unanswered past the provision timeout (${Math.round(ctx.provisionTimeoutMs / 1000)}s): ${input.reason}; salt-cloud may still make it: it is stopped once Salt lists it`, ctx)
        : ignored(instance, `create unanswered (${input.reason}): salt-cloud may still be making it, followed until the provision timeout`);
    default:
      return input satisfies never;
  }
}

function actionFailed(instance: Instance, action: LifecycleActionKind, reason: string, ctx: StepContext): StepResult {
  const s = instance.state;
  switch (action) {
    case 'start':
      // the engine reports a failed start only once Salt confirmed the instance is still stopped: back to the reserve,
      // not a failed instance (a 5xx from salt-api says nothing about the VM, and must not back the pool off)
      return s === 'starting' ? moved(instance, 'stopped', `start failed, still stopped: ${reason}`, ctx) : ignored(instance, `start failure for a ${s} instance`);
    case 'create':
      return s === 'creating' ? moved(instance, 'failed', `create failed: ${reason}`, ctx) : ignored(instance, `create failure for a ${s} instance`);
    case 'stop':
    case 'destroy':
      // failed again: the engine retries stopping failed instances.
      return s === 'stopping' ? moved(instance, 'failed', `${action} failed: ${reason}`, ctx) : ignored(instance, `${action} failure for a ${s} instance`);
    case 'drain':
      return s === 'draining' ? toReady(instance, `drain failed, kept serving: ${reason}`, ctx) : ignored(instance, `drain failure for a ${s} instance`);
    case 'undrain':
      return ignored(instance, `undrain failed (${reason}): the state does not change`);
    default:
      return action satisfies never;
  }
}

function stepTick(instance: Instance, ctx: StepContext): StepResult {
  if (isInFlight(instance) && pastProvisionTimeout(instance, ctx)) {
    return moved(instance, 'failed', timeoutReason(instance, ctx, 'not ready'), ctx);
  }
  return ignored(instance, 'no timer due');
}

function stepObserved(instance: Instance, input: LifecycleObservation, ctx: StepContext): StepResult {
  const phase = cloudPhase(input.cloudState);
  const s = instance.state;
  if (phase === 'unknown') return ignored(instance, `unknown cloud state '${input.cloudState}'`);
  const gone = phase === 'stopped' || phase === 'absent';
  const goneReason = phase === 'absent' ? 'reconcile: absent from the cloud' : `reconcile: cloud reports ${input.cloudState}`;
  switch (s) {
    case 'stopped': {
      if (phase !== 'running') return ignored(instance, `reconcile: consistent (stopped, cloud ${input.cloudState})`);
      // Someone started it. A grain deployed after we last saw it stopped (or any grain when it never had a
      // life we know of) is a whole life we missed: adopt it as ready.
      const knownLife = instance.lastStartMs !== undefined ? instance.sinceMs : undefined;
      if (input.minionUp && grainIsFresh(input.grain, knownLife)) {
        return moved(instance, 'ready', 'reconcile: running with a ready grain (started outside the autoscaler)', ctx,
          { lastStartMs: ctx.nowMs, readyMs: Math.max(ctx.nowMs, instance.sinceMs), newLife: true });
      }
      return moved(instance, input.minionUp ? 'booted' : 'starting', 'reconcile: running while stopped (started outside the autoscaler)', ctx,
        { lastStartMs: ctx.nowMs, newLife: true });
    }
    case 'creating':
    case 'starting':
    case 'booted':
    case 'deploying': {
      const booted = s === 'booted' || s === 'deploying';
      if (phase === 'running' && input.minionUp && grainIsFresh(input.grain, instance.lastStartMs)) {
        return toReady(instance, 'reconcile: ready grain deployed after the last start', ctx);
      }
      if (gone && booted) return moved(instance, 'stopped', goneReason, ctx);
      if (pastProvisionTimeout(instance, ctx)) {
        return moved(instance, 'failed', timeoutReason(instance, ctx, `cloud ${input.cloudState}, minion ${input.minionUp ? 'up' : 'down'}, not ready`), ctx);
      }
      if (phase === 'running' && input.minionUp && !booted) return moved(instance, 'booted', 'reconcile: running and minion up', ctx);
      return ignored(instance, `reconcile: still ${s} (cloud ${input.cloudState}, minion ${input.minionUp ? 'up' : 'down'})`);
    }
    case 'ready':
    case 'draining':
      if (gone) return moved(instance, 'stopped', goneReason, ctx);
      if (phase === 'stopping') return moved(instance, 'stopping', 'reconcile: cloud reports stopping (stopped outside the autoscaler)', ctx);
      return ignored(instance, `reconcile: consistent (${s}, cloud ${input.cloudState})`);
    case 'stopping':
      if (gone) return moved(instance, 'stopped', goneReason, ctx);
      if (phase === 'running' && ctx.nowMs - instance.sinceMs > ctx.provisionTimeoutMs) {
        return moved(instance, 'failed', 'reconcile: still running long after the stop was issued', ctx);
      }
      return ignored(instance, `reconcile: stop in progress (cloud ${input.cloudState})`);
    case 'failed':
      if (gone) return moved(instance, 'stopped', goneReason, ctx);
      return ignored(instance, `reconcile: failed instance awaits its stop (cloud ${input.cloudState})`);
    default:
      return s satisfies never;
  }
}

/** readyThisLife: the instance became ready after its last start (so a stop it never got can be abandoned). */
function readyThisLife(instance: Instance): boolean {
  return instance.readyMs !== undefined && instance.readyMs >= (instance.lastStartMs ?? Number.NEGATIVE_INFINITY);
}

/** eventMinion is the minion an event is about (the deploy orchestrate's target for run events), if any. */
export function eventMinion(event: SaltEvent): string | undefined {
  switch (event.kind) {
    case 'minion-start':
    case 'cloud':
    case 'instance-ready':
    case 'instance-failed':
    case 'instance-draining':
      return event.minion;
    case 'run-new':
    case 'run-ret':
      return event.orchestrateMinion;
    case 'auth':
    case 'key':
      return event.minion;
    case 'job-ret':
      return event.minion;
    case 'job-new':
    case 'heartbeat':
    case 'other':
      return undefined;
    default:
      return event satisfies never;
  }
}

/**
 * stepCloud: salt-cloud's own events. They follow a VM someone else started (a stopped instance goes on its way to
 * ready), and they end a stop we issued. A stop or destroy we did not issue, for an instance that serves or is on
 * its way, is not believed on its own: a stale or replayed event must not take capacity away, so Salt is asked.
 */
function stepCloud(instance: Instance, what: string, ctx: StepContext): StepResult {
  const s = instance.state;
  switch (what) {
    case 'created':
      if (s === 'creating') return moved(instance, 'starting', 'cloud created the instance', ctx);
      if (s === 'stopped') return startedOutside(instance, 'starting', 'cloud created the instance', ctx);
      return ignored(instance, `cloud created for a ${s} instance`);
    case 'starting':
    case 'started':
      return s === 'stopped' ? startedOutside(instance, 'starting', `cloud reports ${what}`, ctx) : ignored(instance, `cloud ${what}: informational`);
    case 'stopping':
    case 'destroying':
      if (s === 'stopped' || s === 'stopping') return ignored(instance, `cloud ${what} for a ${s} instance`);
      if (s === 'failed') return moved(instance, 'stopping', `cloud reports ${what}`, ctx);
      return unconfirmed(instance, `cloud ${what} for a ${s} instance the autoscaler did not stop`);
    case 'stopped':
    case 'destroyed':
      if (s === 'stopped') return ignored(instance, `cloud ${what} for a stopped instance`);
      if (s === 'stopping' || s === 'failed') return moved(instance, 'stopped', `cloud reports ${what}`, ctx);
      return unconfirmed(instance, `cloud ${what} for a ${s} instance the autoscaler did not stop`);
    default:
      // creating, requesting, deploying, ...: progress we learn better from the minion.
      return ignored(instance, `cloud ${what}: informational`);
  }
}

function stepEvent(instance: Instance, event: SaltEvent, ctx: StepContext): StepResult {
  const minion = eventMinion(event);
  if (minion !== instance.id) return ignored(instance, minion === undefined ? `${event.kind} event names no instance` : `${event.kind} event for another minion`);
  const s = instance.state;
  switch (event.kind) {
    case 'cloud':
      return stepCloud(instance, event.what, ctx);
    case 'minion-start':
      if (s === 'creating' || s === 'starting') return moved(instance, 'booted', 'minion started', ctx);
      if (s === 'stopped') return startedOutside(instance, 'booted', 'minion started', ctx);
      if (s === 'ready') return ignored(instance, 'minion restarted while ready: stays ready (a re-deploy moves it only when an orchestrate runs)');
      return ignored(instance, `minion start for a ${s} instance`);
    case 'run-new':
      if (s === 'creating' || s === 'starting' || s === 'booted') {
        return moved(instance, 'deploying', 'deploy orchestrate started', ctx, { deployJid: event.jid });
      }
      if (s === 'ready') return moved(instance, 'deploying', 'deploy orchestrate started again (re-deploy)', ctx, { deployJid: event.jid });
      if (s === 'stopped') return startedOutside(instance, 'deploying', 'deploy orchestrate started', ctx, event.jid);
      return ignored(instance, `deploy orchestrate for a ${s} instance`);
    case 'run-ret': {
      if (s === 'stopped') return unconfirmed(instance, 'deploy orchestrate return for a stopped instance');
      if (s !== 'creating' && s !== 'starting' && s !== 'booted' && s !== 'deploying') return ignored(instance, `deploy orchestrate return for a ${s} instance`);
      if (instance.deployJid !== undefined && instance.deployJid !== event.jid) return ignored(instance, 'return of another orchestrate run');
      if (event.success === true) return toReady(instance, 'deploy orchestrate succeeded', ctx);
      if (event.success === false) return moved(instance, 'failed', `deploy orchestrate failed${event.failure === undefined ? '' : `: ${event.failure}`}`, ctx);
      return ignored(instance, 'deploy orchestrate return without a success flag');
    }
    case 'instance-ready':
      if (isInFlight(instance)) return toReady(instance, 'ready event', ctx);
      if (s === 'stopped') return unconfirmed(instance, 'ready event for a stopped instance with no start seen');
      return ignored(instance, `ready event for a ${s} instance`);
    case 'instance-failed':
      if (isInFlight(instance)) return moved(instance, 'failed', `failed event${event.reason === undefined ? '' : `: ${event.reason}`}`, ctx);
      if (s === 'stopped') return unconfirmed(instance, 'failed event for a stopped instance with no start seen');
      return ignored(instance, `failed event for a ${s} instance`);
    case 'instance-draining':
      return ignored(instance, 'draining event: informational (drains are issued by the engine)');
    case 'auth':
    case 'key':
    case 'job-new':
    case 'job-ret':
    case 'heartbeat':
    case 'other':
      return ignored(instance, `${event.kind} event: not a lifecycle event`);
    default:
      return event satisfies never;
  }
}

/**
 * step applies one input to one instance and returns the result; it never throws. The same input applied twice
 * is ignored the second time (inputs are idempotent), and time never runs backwards in `sinceMs`.
 */
export function step(instance: Instance, input: LifecycleInput, ctx: StepContext): StepResult {
  if (input.kind === 'tick') return stepTick(instance, ctx);
  if (input.kind === 'observed') return stepObserved(instance, input, ctx);
  return isAction(input) ? stepAction(instance, input, ctx) : stepEvent(instance, input, ctx);
}

const ACTION_KINDS: ReadonlySet<string> = new Set<LifecycleAction['kind']>(['start-issued', 'create-issued', 'drain-issued', 'undrain', 'stop-issued', 'destroy-issued', 'action-failed', 'create-unanswered']);

/** isAction tells the engine's own actions from Salt events (both are lifecycle inputs). */
function isAction(input: LifecycleAction | SaltEvent): input is LifecycleAction {
  return ACTION_KINDS.has(input.kind);
}
