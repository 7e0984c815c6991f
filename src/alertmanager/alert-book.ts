/**
 * alert-book: the level-triggered memory of the scale alerts, per pool and fingerprint.
 *
 * Each webhook notification is the current state of its alert group. Per fingerprint, an incoming alert is
 * compared with what the book holds (HA pairs deliver the same notification twice; retries arrive late):
 *
 *   (none) ------------------------------ any ---------------------------> stored
 *   held startsAt  <  incoming startsAt   (a new occurrence)  -----------> replaced
 *   held startsAt  >  incoming startsAt   (an older occurrence) ---------> ignored (stale)
 *   same startsAt, held resolved, incoming firing (replay of older) -----> ignored (no resurrection)
 *   same startsAt, both firing, incoming endsAt earlier -----------------> ignored (older notification)
 *   same startsAt, otherwise (newer endsAt, resolution, duplicate) ------> replaced (duplicates change nothing)
 *
 * A firing alert counts until its endsAt (when Alertmanager sends one) and, without endsAt, until the pool's
 * signalMaxAge after the last notification that mentioned it. Fingerprints of a group that a non-truncated,
 * non-stale notification no longer lists are dropped (Alertmanager forgets alerts once resolved).
 * Pure apart from its own state: time is passed in.
 */
import type { AlertSignal } from '../core/types.ts';
import type { Config, PoolConfig } from '../config/schema.ts';
import type { WebhookAlert, WebhookPayload } from './webhook-schema.ts';

interface Entry {
  readonly direction: 'up' | 'down';
  readonly firing: boolean;
  readonly startsAtMs: number;
  /** endsAtMs: undefined when Alertmanager did not set it (zero time). */
  readonly endsAtMs: number | undefined;
  readonly workload: number | undefined;
  readonly seenMs: number;
  readonly groupKey: string;
}

/** ApplyResult says what one notification did: alerts taken, alerts ignored (with reasons), pools touched. */
export interface ApplyResult {
  readonly accepted: number;
  readonly ignored: readonly string[];
  readonly pools: readonly string[];
}

/** RESOLVED_KEEP_MS is how long a resolved alert is remembered to stop replays from resurrecting it. */
export const RESOLVED_KEEP_MS = 24 * 3_600_000;
/** MAX_ENTRIES_PER_POOL bounds the memory a flood of distinct fingerprints can take. */
export const MAX_ENTRIES_PER_POOL = 1000;
/** SWEEP_EVERY_MS: resolved entries past RESOLVED_KEEP_MS are swept at most this often (not on every notification). */
const SWEEP_EVERY_MS = 60_000;

function timeMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  // Alertmanager writes Go's zero time (year 1) for "not set".
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** parseWorkload reads a workload value; only finite numbers count (NaN, Inf, text -> undefined). */
export function parseWorkload(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text.trim());
  return Number.isFinite(value) ? value : undefined;
}

/** AlertBook holds the current scale alerts per pool and turns them into AlertSignals. */
export class AlertBook {
  readonly #alerts: Config['alerts'];
  readonly #pools: ReadonlyMap<string, PoolConfig>;
  readonly #byLabels: ReadonlyMap<string, string>;
  readonly #entries = new Map<string, Map<string, Entry>>();
  /** groupPools: per groupKey, the pools that hold (or held) an entry of that group — a notification visits only those. */
  readonly #groupPools = new Map<string, Set<string>>();
  #sweptMs: number | undefined;

  constructor(alerts: Config['alerts'], pools: readonly PoolConfig[]) {
    this.#alerts = alerts;
    this.#pools = new Map(pools.map((p) => [p.name, p]));
    const byLabels = new Map<string, string>();
    for (const p of pools) if (!byLabels.has(`${p.env}\u0000${p.instanceType}`)) byLabels.set(`${p.env}\u0000${p.instanceType}`, p.name);
    this.#byLabels = byLabels;
  }

  /** poolOf maps an alert to its pool: the pool label when it names a pool, else env + instance type labels. */
  poolOf(labels: Readonly<Record<string, string>>): string | undefined {
    const direct = labels[this.#alerts.poolLabel];
    if (direct !== undefined && this.#pools.has(direct)) return direct;
    const env = labels[this.#alerts.envLabel];
    const type = labels[this.#alerts.instanceTypeLabel];
    if (env === undefined || type === undefined) return undefined;
    return this.#byLabels.get(`${env}\u0000${type}`);
  }

  /** apply records one notification received at `nowMs`. */
  apply(payload: WebhookPayload, nowMs: number): ApplyResult {
    const ignored: string[] = [];
    const touched = new Set<string>();
    const listed = new Set<string>();
    let accepted = 0;
    let newest = false;
    for (const alert of payload.alerts) {
      const name = alert.labels['alertname'] ?? '';
      const direction = name === this.#alerts.scaleUpAlert ? 'up' : name === this.#alerts.scaleDownAlert ? 'down' : undefined;
      if (direction === undefined) {
        ignored.push(`alert ${JSON.stringify(name)} (${alert.fingerprint}) is not a scale alert`);
        continue;
      }
      const pool = this.poolOf(alert.labels);
      if (pool === undefined) {
        ignored.push(`alert ${name} (${alert.fingerprint}) matches no pool (${this.#describeLabels(alert.labels)})`);
        continue;
      }
      listed.add(`${pool}\u0000${alert.fingerprint}`);
      const outcome = this.#record(pool, direction, alert, payload.groupKey, nowMs);
      if (outcome === 'stale') {
        ignored.push(`alert ${name} (${alert.fingerprint}) is older than the one already received`);
        continue;
      }
      newest = true;
      accepted += 1;
      touched.add(pool);
    }
    if (payload.truncatedAlerts === 0 && (newest || payload.alerts.length === 0)) {
      for (const pool of this.#groupPools.get(payload.groupKey) ?? []) {
        const entries = this.#entries.get(pool);
        if (entries === undefined) continue;
        for (const [fingerprint, entry] of entries) {
          if (entry.groupKey === payload.groupKey && !listed.has(`${pool}\u0000${fingerprint}`)) {
            entries.delete(fingerprint);
            touched.add(pool);
          }
        }
      }
    }
    if (payload.truncatedAlerts > 0) ignored.push(`${payload.truncatedAlerts} alert(s) truncated by Alertmanager (max_alerts)`);
    this.#prune(nowMs, touched);
    return { accepted, ignored, pools: [...touched].sort() };
  }

  #describeLabels(labels: Readonly<Record<string, string>>): string {
    const a = this.#alerts;
    return [a.poolLabel, a.envLabel, a.instanceTypeLabel].map((k) => `${k}=${labels[k] ?? '(unset)'}`).join(', ');
  }

  #record(pool: string, direction: 'up' | 'down', alert: WebhookAlert, groupKey: string, nowMs: number): 'stored' | 'stale' {
    let entries = this.#entries.get(pool);
    if (!entries) {
      entries = new Map();
      this.#entries.set(pool, entries);
    }
    const startsAtMs = timeMs(alert.startsAt) ?? 0;
    const endsAtMs = timeMs(alert.endsAt);
    const firing = alert.status === 'firing';
    const held = entries.get(alert.fingerprint);
    if (held) {
      if (startsAtMs < held.startsAtMs) return 'stale';
      if (startsAtMs === held.startsAtMs) {
        if (!held.firing && firing) return 'stale';
        if (held.firing && firing && (endsAtMs ?? 0) < (held.endsAtMs ?? 0)) return 'stale';
      }
    }
    const workloadText = alert.annotations[this.#alerts.workloadAnnotation] ?? alert.labels[this.#alerts.workloadAnnotation];
    entries.set(alert.fingerprint, {
      direction, firing, startsAtMs, endsAtMs, workload: parseWorkload(workloadText), seenMs: nowMs, groupKey,
    });
    let pools = this.#groupPools.get(groupKey);
    if (pools === undefined) {
      pools = new Set();
      this.#groupPools.set(groupKey, pools);
    }
    pools.add(pool);
    return 'stored';
  }

  /**
   * prune drops resolved entries older than RESOLVED_KEEP_MS (a sweep of every pool, at most once per
   * SWEEP_EVERY_MS) and caps the pools this notification touched at MAX_ENTRIES_PER_POOL (only they can have grown).
   */
  #prune(nowMs: number, touched: ReadonlySet<string>): void {
    const sweep = this.#sweptMs === undefined || nowMs - this.#sweptMs >= SWEEP_EVERY_MS || nowMs < this.#sweptMs;
    if (sweep) {
      this.#sweptMs = nowMs;
      for (const entries of this.#entries.values()) {
        for (const [fingerprint, entry] of entries) {
          if (!entry.firing && nowMs - entry.seenMs > RESOLVED_KEEP_MS) entries.delete(fingerprint);
        }
      }
    }
    for (const pool of touched) {
      const entries = this.#entries.get(pool);
      if (entries !== undefined && entries.size > MAX_ENTRIES_PER_POOL) {
        const oldest = [...entries].sort((a, b) => a[1].seenMs - b[1].seenMs).slice(0, entries.size - MAX_ENTRIES_PER_POOL);
        for (const [fingerprint] of oldest) entries.delete(fingerprint);
      }
    }
  }

  #live(entry: Entry, pool: PoolConfig, nowMs: number): boolean {
    if (!entry.firing) return false;
    if (entry.endsAtMs !== undefined && entry.endsAtMs > entry.startsAtMs) return nowMs < entry.endsAtMs;
    return nowMs - entry.seenMs <= pool.signalMaxAgeMs;
  }

  /** signal is the pool's current AlertSignal at `nowMs` (direction `none` when no scale alert is live). */
  signal(pool: string, nowMs: number): AlertSignal {
    const spec = this.#pools.get(pool);
    const entries = this.#entries.get(pool);
    let best: Entry | undefined;
    let lastSeenMs: number | undefined;
    for (const entry of entries?.values() ?? []) {
      lastSeenMs = Math.max(lastSeenMs ?? entry.seenMs, entry.seenMs);
      if (!spec || !this.#live(entry, spec, nowMs)) continue;
      if (!best || entry.startsAtMs > best.startsAtMs || (entry.startsAtMs === best.startsAtMs && entry.seenMs > best.seenMs)) best = entry;
    }
    if (!best) return { pool, direction: 'none', atMs: lastSeenMs ?? nowMs };
    const expiresMs = best.endsAtMs !== undefined && best.endsAtMs > best.startsAtMs ? best.endsAtMs : undefined;
    return {
      pool,
      direction: best.direction,
      ...(best.workload === undefined ? {} : { workload: best.workload }),
      atMs: best.seenMs,
      ...(expiresMs === undefined ? {} : { expiresMs }),
    };
  }

  /** signals is every configured pool's current signal. */
  signals(nowMs: number): AlertSignal[] {
    return [...this.#pools.keys()].map((pool) => this.signal(pool, nowMs));
  }
}
