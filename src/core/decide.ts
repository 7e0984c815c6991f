/**
 * decide: one evaluation of one pool -> one Decision with a reason in words. Pure: time is `nowMs`.
 *
 *   paused? --yes--> hold
 *     | no
 *   fresh signal? --no--> desired = size (only min/max can move it: never scale down on missing data)
 *     | yes
 *   strategy (threshold | target | adaptive) -> desired
 *     |
 *   cap to [min, max] (counting in-flight instances; the cap is written into the reason)
 *     |
 *   desired > size --> failure backoff? cooldown? targets (reserve, then create)? --> scaleUp | hold
 *   desired < size --> cooldown? confirmed-idle ready instances? ----------------> scaleDown | hold
 *   desired = size --> hold
 *
 * size = ready + in flight (creating, starting, booted, deploying); failed, draining and stopping
 * instances are not counted, but a scale-up never takes the pool's ready + in flight + failed + draining + stopping
 * above max (they still run until Salt reports them stopped). "hold" is a value and starts no cooldown.
 */
import { backoffLeftMs, capToBounds, cooldownLeftMs, pickIdleTargets, pickStartTargets } from './safety.ts';
import { budgetNote } from './strategies/budget.ts';
import { desiredSize } from './strategies/desired-size.ts';
import type { Decision, Instance, PoolHistory, PoolSpec, Workload } from './types.ts';
import { IN_FLIGHT_STATES } from './types.ts';

/** MANUAL_SOURCE marks a Workload that is a wanted size set by an operator (`scale POOL DELTA`), not a demand signal. */
export const MANUAL_SOURCE = 'manual';

/** PoolCounts is the census decide() reasons with. */
export interface PoolCounts {
  readonly ready: number;
  readonly inFlight: number;
  readonly failed: number;
  /** leaving: draining + stopping (still running until Salt has stopped them). */
  readonly leaving: number;
  /** size: ready + in flight. */
  readonly size: number;
}

/** countInstances counts the pool's instances by role (failed ones are never part of the size). */
export function countInstances(instances: readonly Instance[]): PoolCounts {
  let ready = 0;
  let inFlight = 0;
  let failed = 0;
  let leaving = 0;
  for (const i of instances) {
    if (i.state === 'ready') ready += 1;
    else if (IN_FLIGHT_STATES.includes(i.state)) inFlight += 1;
    else if (i.state === 'failed') failed += 1;
    else if (i.state === 'draining' || i.state === 'stopping') leaving += 1;
  }
  return { ready, inFlight, failed, leaving, size: ready + inFlight };
}

function seconds(ms: number): string {
  return `${Math.ceil(ms / 1000)}s`;
}

/** PoolWish is what the pool wants before cooldowns and targets: its desired size (capped) against its size now. */
export interface PoolWish {
  readonly counts: PoolCounts;
  /** desired: the strategy's size capped to [min, max]; equal to size on a missing or stale signal (unless the caps move it). */
  readonly desired: number;
  readonly fresh: boolean;
  /** because: the strategy's reason and the cap note, in words. */
  readonly because: string;
}

/**
 * poolWish is the first half of decide(): the census, the signal's freshness, the strategy and the caps. The engine
 * asks it before an evaluation to run the idle check only when a drain is wanted (desired < size), so a busy pool
 * puts no idle-check jobs on the Salt master.
 */
export function poolWish(pool: PoolSpec, instances: readonly Instance[], workload: Workload | undefined, nowMs: number, history: PoolHistory): PoolWish {
  return wishOf(pool, countInstances(instances.filter((i) => i.pool === pool.name)), workload, nowMs, history);
}

/** wishOf is poolWish on a census already taken. */
function wishOf(pool: PoolSpec, counts: PoolCounts, workload: Workload | undefined, nowMs: number, history: PoolHistory): PoolWish {
  let wish: { desired: number; reason: string };
  let fresh = false;
  if (workload === undefined) {
    wish = { desired: counts.size, reason: 'no workload signal' };
  } else if (nowMs - workload.atMs > pool.signalMaxAgeMs) {
    wish = {
      desired: counts.size,
      reason: `workload signal stale (age ${seconds(nowMs - workload.atMs)} > signalMaxAge ${seconds(pool.signalMaxAgeMs)})`,
    };
  } else if (workload.source === MANUAL_SOURCE) {
    // a manual scale asks for a size, not a workload: no strategy words (it would name a perInstance it does not use)
    fresh = true;
    wish = { desired: workload.value, reason: `wanted size ${workload.value} (size now ${counts.size})` };
  } else {
    fresh = true;
    wish = desiredSize({ pool, size: counts.size, inFlight: counts.inFlight, workload: workload.value, nowMs, memory: history.policy, history });
  }
  const capped = capToBounds(pool, wish.desired);
  const because = capped.note === '' ? wish.reason : `${wish.reason}, ${capped.note}`;
  return { counts, desired: capped.desired, fresh, because: pool.strategy.kind === 'budget' ? `${because}; ${budgetNote(pool, history.budget)}` : because };
}

/** decide evaluates one pool: its instances (of this pool), its workload (undefined = missing), the time, its history. */
export function decide(
  pool: PoolSpec,
  instances: readonly Instance[],
  workload: Workload | undefined,
  nowMs: number,
  history: PoolHistory,
): Decision {
  const mine = instances.filter((i) => i.pool === pool.name);
  const counts = countInstances(mine);
  const census = `ready ${counts.ready}, in flight ${counts.inFlight}`;
  if (pool.paused) return { kind: 'hold', reason: `pool paused (${census}${pool.strategy.kind === 'budget' ? `; ${budgetNote(pool, history.budget)}` : ''})` };

  const { desired, fresh, because } = wishOf(pool, counts, workload, nowMs, history);
  if (desired > counts.size) {
    // failed, draining and stopping instances are not capacity, but until Salt reports them stopped they still run:
    // max is the most VMs the pool runs, so they hold their slots
    const held = counts.failed + counts.leaving;
    const wanted = Math.min(desired - counts.size, Math.max(0, pool.max - counts.size - held));
    if (wanted === 0) {
      return {
        kind: 'hold',
        reason: `${because}: would start ${desired - counts.size}, but ${held} failed, draining or stopping instance(s) still hold slots of max ${pool.max} until Salt reports them stopped (${census})`,
      };
    }
    const backoffMs = backoffLeftMs(pool, history, nowMs);
    if (backoffMs > 0) {
      return {
        kind: 'hold',
        reason: `${because}: would start ${wanted}, but ${history.consecutiveFailures} failed instance(s) back the pool off for ${seconds(backoffMs)} more (${census})`,
      };
    }
    const coolMs = cooldownLeftMs(pool, history, 'up', nowMs);
    if (coolMs > 0) {
      return { kind: 'hold', reason: `${because}: would start ${wanted}, but up cooldown has ${seconds(coolMs)} left (${census})` };
    }
    const targets = pickStartTargets(pool, mine, wanted, history);
    if (targets.length === 0) {
      return {
        kind: 'hold',
        reason: `${because}: would start ${wanted}, but no stopped reserved instance is left${pool.canCreate ? '' : ' and no profile to create from'} (${census})`,
      };
    }
    const creates = targets.filter((t) => t.kind === 'create').length;
    const parts = [
      targets.length < wanted ? `only ${targets.length} of ${wanted} available` : '',
      creates > 0 ? `${creates} created from profile` : '',
    ].filter((p) => p !== '');
    const detail = parts.length > 0 ? `, ${parts.join(', ')}` : '';
    return {
      kind: 'scaleUp',
      count: targets.length,
      targets,
      reason: `${because}: start ${targets.length}${detail} (${census}, max ${pool.max})`,
    };
  }

  if (desired < counts.size) {
    const wanted = counts.size - desired;
    const coolMs = cooldownLeftMs(pool, history, 'down', nowMs);
    if (coolMs > 0) {
      return { kind: 'hold', reason: `${because}: would drain ${wanted}, but down cooldown has ${seconds(coolMs)} left (${census})` };
    }
    const targets = pickIdleTargets(mine, history, wanted, pool);
    if (targets.length === 0) {
      return { kind: 'hold', reason: `${because}: would drain ${wanted}, but no ready instance is confirmed idle (${census})` };
    }
    const only = targets.length < wanted ? `, only ${targets.length} of ${wanted} confirmed idle` : '';
    return {
      kind: 'scaleDown',
      count: targets.length,
      targets,
      reason: `${because}: drain ${targets.length}${only} (${census}, min ${pool.min})`,
    };
  }

  const tail = fresh ? `hold at ${counts.size}` : 'hold (never scale on missing data)';
  return { kind: 'hold', reason: `${because}: ${tail} (${census}, min ${pool.min}, max ${pool.max})` };
}
