/**
 * safety: the rules that stand between a strategy's wish and an action ("safest action wins").
 *
 * - bounds: never above `max` (counting in-flight instances), never below `min`; capping says what it changed.
 * - cooldowns: an up needs `upCooldownMs` since the pool's last action, a down needs `downCooldownMs`.
 * - failure backoff: after failed instances the pool waits failureBackoffBaseMs * 2^(failures-1),
 *   capped at failureBackoffMaxMs, before it starts anything (scale-up only; scale-down is never blocked).
 * - targets: starts prefer stopped reserved instances, then creation from the profile; drains take only
 *   ready instances the idle check confirmed, longest idle first.
 */
import type { Instance, PoolHistory, PoolSpec, StartTarget } from './types.ts';
import { byCodeUnits } from './order.ts';

/** Capped is a desired size after the min/max bounds, with the words saying what capping changed ('' if nothing). */
export interface Capped {
  readonly desired: number;
  readonly note: string;
}

/** capToBounds clamps a desired size into [min, max] and records the change. */
export function capToBounds(pool: PoolSpec, desired: number): Capped {
  if (desired > pool.max) return { desired: pool.max, note: `capped ${desired} to max ${pool.max}` };
  if (desired < pool.min) return { desired: pool.min, note: `raised ${desired} to min ${pool.min}` };
  return { desired, note: '' };
}

/** failureBackoffMs is how long the pool waits after its last failure: base * 2^(failures-1), capped; 0 without failures. */
export function failureBackoffMs(pool: PoolSpec, consecutiveFailures: number): number {
  if (consecutiveFailures <= 0) return 0;
  const exponent = Math.min(consecutiveFailures - 1, 40);
  return Math.min(pool.failureBackoffBaseMs * 2 ** exponent, pool.failureBackoffMaxMs);
}

/** backoffLeftMs is how much longer scale-up is blocked by failures (0 = not blocked). */
export function backoffLeftMs(pool: PoolSpec, history: PoolHistory, nowMs: number): number {
  if (history.consecutiveFailures <= 0 || history.lastFailureMs === undefined) return 0;
  const until = history.lastFailureMs + failureBackoffMs(pool, history.consecutiveFailures);
  return Math.max(0, until - nowMs);
}

/** cooldownLeftMs is how much longer an action in `direction` must wait since the pool's last action (0 = may act). */
export function cooldownLeftMs(pool: PoolSpec, history: PoolHistory, direction: 'up' | 'down', nowMs: number): number {
  const stamps = [history.lastUpMs, history.lastDownMs].filter((s): s is number => s !== undefined);
  if (stamps.length === 0) return 0;
  const last = Math.max(...stamps);
  const cooldownMs = direction === 'up' ? pool.upCooldownMs : pool.downCooldownMs;
  return Math.max(0, last + cooldownMs - nowMs);
}

/**
 * isStoppedReserve is true for a stopped instance that can be started again: one of the reserve, or one created from
 * the profile and stopped back (scale-in `stop` keeps created instances as reserve; `destroy` removes them).
 */
export function isStoppedReserve(instance: Instance, pool?: Pick<PoolSpec, 'scaleIn'>): boolean {
  return instance.state === 'stopped' && (!instance.created || pool?.scaleIn === 'stop');
}

/**
 * pickStartTargets returns up to `count` distinct targets: stopped reserved instances (never failed to start first,
 * then least recently failed; reserved before created; then by id), then creates if allowed. The first `count` are
 * selected in one pass, not the whole reserve sorted: a scale-up asks for a few of a pool's reserve, and this runs
 * on the way to its call. The order is a stable sort's (equal candidates keep the order they came in).
 */
export function pickStartTargets(pool: PoolSpec, instances: readonly Instance[], count: number, history?: Pick<PoolHistory, 'startFailedMs'>): readonly StartTarget[] {
  const failed = history?.startFailedMs;
  const failedMs = (id: string): number => failed?.[id] ?? Number.NEGATIVE_INFINITY;
  const before = (a: Instance, b: Instance): boolean =>
    (failedMs(a.id) - failedMs(b.id) || Number(a.created) - Number(b.created) || a.id.localeCompare(b.id)) < 0;
  const chosen: Instance[] = [];
  for (const inst of instances) {
    if (!(count >= 1) || !isStoppedReserve(inst, pool)) continue;
    let at = chosen.length;
    while (at > 0 && before(inst, chosen[at - 1] as Instance)) at -= 1;
    if (at >= count) continue;
    chosen.splice(at, 0, inst);
    if (chosen.length > count) chosen.pop();
  }
  const targets: StartTarget[] = chosen.map((i) => ({ kind: 'start', id: i.id }));
  while (pool.canCreate && targets.length < count) targets.push({ kind: 'create' });
  return targets;
}

/**
 * pickIdleTargets returns up to `count` ready instances confirmed idle, longest idle first (ties by id). With scale-in
 * `destroy`, instances created from the profile go first: they are the ones above the reserve, and destroying them
 * stops their storage cost too, while the reserve stays for the next fast start.
 */
export function pickIdleTargets(instances: readonly Instance[], history: PoolHistory, count: number, pool?: Pick<PoolSpec, 'scaleIn'>): readonly string[] {
  const createdFirst = pool?.scaleIn === 'destroy';
  return instances
    .filter((i) => i.state === 'ready' && history.idleSinceMs[i.id] !== undefined)
    .map((i) => ({ id: i.id, rank: createdFirst && i.created ? 0 : 1, sinceMs: history.idleSinceMs[i.id] ?? 0 }))
    .sort((a, b) => a.rank - b.rank || a.sinceMs - b.sinceMs || byCodeUnits(a.id, b.id))
    .slice(0, Math.max(0, count))
    .map((c) => c.id);
}
