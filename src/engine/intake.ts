/**
 * intake: what comes into the engine — salt-api events and stream gaps, Alertmanager signals — turned into
 * lifecycle inputs, signal updates and reconcile requests. It decides nothing.
 *
 * ```
 *   (before parsing) eventInterest ──────────► the stream skips, counted, what nothing below reads
 *   stream connect / reconnect ──────────────► reconciler.streamConnected (a reconcile at once on connect, in 250 ms
 *                                               on reconnect, unless one that reads Salt after it covers it)
 *   stream gap (heartbeat missed or failed) ─► reconciler.schedule (250 ms)
 *   job-ret with a failing state (deploying) ─► remembered as the why of its coming failed event
 *   lifecycle event of a managed minion ──────► fleet.step (unknown id matching a reservedPattern: adopted), in the
 *                                               turn's group commit: the events of one read share one transaction
 *   alert signal ─────────────────────────────► pool.alert (a late notification does not replace a newer one)
 * ```
 */
import { newerAlert } from '../core/bookkeeping.ts';
import { eventMinion } from '../core/lifecycle.ts';
import type { SaltEvent, StreamItem } from '../core/salt-event.ts';
import { IN_FLIGHT_STATES, type Instance } from '../core/types.ts';
import type { EngineContext } from './context.ts';
import type { AlertSignal, EventInterest, EventSource } from './ports.ts';

/** LIFECYCLE_KINDS are the events that move an instance; the others (job returns, auth, keys, our own draining echo) are not fed. */
const LIFECYCLE_KINDS: ReadonlySet<SaltEvent['kind']> = new Set(['minion-start', 'cloud', 'instance-ready', 'instance-failed', 'run-new', 'run-ret']);

/** InterestView is what the interest reads of the fleet (Fleet implements it). */
export interface InterestView {
  get(id: string): { readonly state: Instance['state'] } | undefined;
  /** managedName: the id is one of ours, or matches a pool's reservedPattern (an event for it would adopt it). */
  managedName(id: string): boolean;
}

/**
 * eventInterest says, before an event's body is parsed, which events `Intake.handle` reads beyond counting them:
 * the lifecycle events of a managed name, the run events of an orchestrate (its minion is in the body), the job
 * returns of an instance on its way to ready (the why of a coming failed event). Auth, key, job-new, draining
 * echoes, run events that are no orchestrate and other tags are never read; the stream reads heartbeats itself.
 */
export function eventInterest(fleet: InterestView): EventInterest {
  return (kind, minion) => {
    switch (kind) {
      case 'run-new':
      case 'run-ret':
        return minion === undefined || (minion !== '' && fleet.managedName(minion));
      case 'job-ret': {
        const inst = minion === undefined ? undefined : fleet.get(minion);
        return inst !== undefined && IN_FLIGHT_STATES.includes(inst.state);
      }
      case 'minion-start':
      case 'cloud':
      case 'instance-ready':
      case 'instance-failed':
        return minion !== undefined && fleet.managedName(minion);
      case 'auth':
      case 'key':
      case 'job-new':
      case 'instance-draining':
      case 'heartbeat':
      case 'other':
      case 'gap':
        return false;
      default:
        return kind satisfies never;
    }
  };
}

/** minionOf is the managed instance an event is about, if it is one the lifecycle takes. */
function minionOf(event: SaltEvent): string | undefined {
  return LIFECYCLE_KINDS.has(event.kind) ? eventMinion(event) : undefined;
}

/** Intake feeds events and signals into the engine. */
export class Intake {
  readonly #ctx: EngineContext;
  /**
   * #deployFailures: per minion on its way to ready, the failing state's comment of its last state run (a job-ret
   * the deploy orchestrate's `salt.state` produced). The orchestrate's failed event cannot carry it (its SLS renders
   * before any step runs), so the failed event's reason is replaced by it.
   */
  readonly #deployFailures = new Map<string, string>();

  constructor(ctx: EngineContext) {
    this.#ctx = ctx;
  }

  /** consume reads the event source until it ends or the engine stops. */
  async consume(source: EventSource): Promise<void> {
    source.setInterest?.(eventInterest(this.#ctx.fleet));
    try {
      for await (const item of source.items()) {
        if (this.#ctx.stopped()) break;
        this.handle(item);
      }
    } catch (err) {
      this.#ctx.log.error({ err }, 'event stream ended with an error');
    }
  }

  /** handle feeds one stream item into the lifecycle. */
  handle(item: StreamItem): void {
    const now = this.#ctx.clock.now();
    if (item.kind === 'gap') {
      this.#ctx.log.info({ reason: item.reason }, 'event stream gap: reconciling');
      if (item.reason === 'connect' || item.reason === 'reconnect') this.#ctx.reconciler.streamConnected(item.reason === 'connect' ? 0 : 250);
      else this.#ctx.reconciler.schedule(250);
      return;
    }
    this.#ctx.opts.observer?.event(item.kind, item.stampMs === undefined ? undefined : now - item.stampMs);
    if (item.kind === 'job-ret') {
      // not a lifecycle input: a failed state run of an instance on its way is the why of its coming failed event
      const deploying = item.failure === undefined ? undefined : this.#ctx.fleet.get(item.minion);
      if (deploying !== undefined && item.failure !== undefined && IN_FLIGHT_STATES.includes(deploying.state)) this.#deployFailures.set(deploying.id, item.failure);
      return;
    }
    const id = minionOf(item);
    if (id === undefined) return;
    const known = this.#ctx.fleet.get(id);
    if (known === undefined && !this.#ctx.fleet.managedName(id)) return;
    // the events of one read of the stream share one commit (turn-commit.ts, `loop`)
    this.#ctx.turn.join(() => {
      const inst = known ?? this.#ctx.fleet.adoptByPattern(id, now);
      if (inst === undefined) return;
      const failure = item.kind === 'instance-failed' ? this.#deployFailures.get(id) : undefined;
      this.#ctx.apply(inst, item.kind === 'instance-failed' && failure !== undefined ? { ...item, reason: failure } : item, now, `event ${item.tag}`);
    }, 'loop');
  }

  /** settled: the instance is no longer on its way to ready; a remembered deploy failure is dropped. */
  settled(id: string): void {
    this.#deployFailures.delete(id);
  }

  /** alertSignal takes one pool's level-triggered state from the Alertmanager receiver. */
  alertSignal(signal: AlertSignal): void {
    const rt = this.#ctx.pools.get(signal.pool);
    if (rt === undefined || !newerAlert(rt.alert, signal)) return;
    rt.alert = signal;
    this.#ctx.evaluator.evaluateSoon(signal.pool);
  }
}
