/**
 * api-shapes: the JSON shapes of `GET /api/*` (contracts in DESIGN.md), built from the engine's views.
 * Times go out as ISO 8601 strings; decisions flatten to `{action, count, targets}` with `"(create)"` standing
 * for an instance to be created from the pool's profile.
 */
import type { Decision, Instance, PoolView, Transition } from '../core/types.ts';
import type { DecisionRecord, EngineApi } from '../engine/ports.ts';

/** PoolJson is one entry of `GET /api/pools`: exactly the engine's PoolView (the contract shape). */
export type PoolJson = PoolView;

/** InstanceJson is one entry of `GET /api/instances` (`since` as ISO 8601). */
export interface InstanceJson {
  readonly id: string;
  readonly pool: string;
  readonly state: Instance['state'];
  readonly since: string;
  readonly reason: string;
}

/** DecisionJson is one entry of `GET /api/decisions` (`at` as ISO 8601). */
export interface DecisionJson {
  readonly pool: string;
  readonly at: string;
  readonly action: Decision['kind'];
  readonly count: number;
  readonly targets: readonly string[];
  readonly reason: string;
  readonly dryRun: boolean;
}

/** SeriesPointJson is one sample of `GET /api/series?pool=` (`workload` null when unknown). */
export interface SeriesPointJson {
  readonly at: string;
  readonly atMs: number;
  readonly workload: number | null;
  readonly ready: number;
  readonly total: number;
}

/** CREATE_TARGET stands in `targets` for an instance that will be created from the pool's profile. */
export const CREATE_TARGET = '(create)';

/** isoTime renders epoch ms as ISO 8601; an invalid time renders as the epoch rather than throwing. */
export function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? new Date(0).toISOString() : date.toISOString();
}

/**
 * poolJson copies exactly the contract fields, plus the pool's measured start lead (startLeadMs, once a start has been
 * seen) and the budget strategy's waitBudget, waitingShare, waitWindowMs, waitWindowCovered and waitWindowStrict (no
 * internals leak).
 */
export function poolJson(pool: PoolView): PoolJson {
  return {
    name: pool.name, min: pool.min, max: pool.max, ready: pool.ready, inFlight: pool.inFlight,
    draining: pool.draining, failed: pool.failed, reserved: pool.reserved, paused: pool.paused,
    ...(pool.startLeadMs === undefined ? {} : { startLeadMs: pool.startLeadMs }),
    ...(pool.waitBudget === undefined ? {} : { waitBudget: pool.waitBudget }),
    ...(pool.waitingShare === undefined ? {} : { waitingShare: pool.waitingShare }),
    ...(pool.waitWindowMs === undefined ? {} : { waitWindowMs: pool.waitWindowMs }),
    ...(pool.waitWindowCovered === undefined ? {} : { waitWindowCovered: pool.waitWindowCovered }),
    ...(pool.waitWindowStrict === true ? { waitWindowStrict: true } : {}),
  };
}

/** instanceJson is the contract view of one instance. */
export function instanceJson(instance: Instance): InstanceJson {
  return { id: instance.id, pool: instance.pool, state: instance.state, since: isoTime(instance.sinceMs), reason: instance.reason };
}

/** InstanceDetailJson is `GET /api/instances/<id>`: the list fields, the instance's facts, and its transitions. */
export interface InstanceDetailJson extends InstanceJson {
  readonly created: boolean;
  readonly lastStart: string | null;
  readonly readySince: string | null;
  readonly deployJid: string | null;
  readonly history: readonly { readonly from: string; readonly to: string; readonly at: string; readonly reason: string }[];
}

/** instanceDetailJson renders one instance with its transition history (oldest first). */
export function instanceDetailJson(instance: Instance, history: readonly Transition[]): InstanceDetailJson {
  return {
    ...instanceJson(instance),
    created: instance.created,
    lastStart: instance.lastStartMs === undefined ? null : isoTime(instance.lastStartMs),
    readySince: instance.readyMs === undefined ? null : isoTime(instance.readyMs),
    deployJid: instance.deployJid ?? null,
    history: history.map((tr) => ({ from: tr.from, to: tr.to, at: isoTime(tr.atMs), reason: tr.reason })),
  };
}

/** decisionFields flattens a Decision into its `{action, count, targets, reason}` contract fields. */
export function decisionFields(decision: Decision): Pick<DecisionJson, 'action' | 'count' | 'targets' | 'reason'> {
  switch (decision.kind) {
    case 'hold':
      return { action: 'hold', count: 0, targets: [], reason: decision.reason };
    case 'scaleUp':
      return {
        action: 'scaleUp',
        count: decision.count,
        targets: decision.targets.map((target) => (target.kind === 'start' ? target.id : CREATE_TARGET)),
        reason: decision.reason,
      };
    case 'scaleDown':
      return { action: 'scaleDown', count: decision.count, targets: [...decision.targets], reason: decision.reason };
    default:
      return decision satisfies never;
  }
}

/** decisionJson is the contract view of one recorded decision. */
export function decisionJson(record: DecisionRecord): DecisionJson {
  return { pool: record.pool, at: isoTime(record.atMs), ...decisionFields(record.decision), dryRun: record.dryRun };
}

/** seriesJson is the contract view of one pool's chart samples, oldest first. */
export function seriesJson(samples: ReturnType<EngineApi['series']>): SeriesPointJson[] {
  return samples.map((sample) => ({
    at: isoTime(sample.atMs), atMs: sample.atMs, workload: sample.workload ?? null, ready: sample.ready, total: sample.total,
  }));
}

/** newestFirst orders decision records by time, newest first (stable for equal times). */
export function newestFirst(records: readonly DecisionRecord[]): DecisionRecord[] {
  return records.map((record, index) => ({ record, index }))
    .sort((a, b) => b.record.atMs - a.record.atMs || a.index - b.index)
    .map(({ record }) => record);
}
