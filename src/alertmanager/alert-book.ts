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
 *
 * Memory is bounded whatever senders do: a group is known by a hash of its groupKey (a key can be as long as the
 * body; the book never keeps one), a group is forgotten with its last entry, an entry not seen for RESOLVED_KEEP_MS
 * and no longer live is swept, and the book holds at most MAX_ENTRIES_PER_POOL entries per pool and MAX_BOOK_BYTES
 * in all (estimated; resolved and expired entries go first, then the least recently seen).
 * Pure apart from its own state: time is passed in.
 */
import { hash } from 'node:crypto';
import type { AlertSignal } from '../core/types.ts';
import { ParsedTimes, type WebhookAlert, type WebhookPayload } from './webhook-schema.ts';

/** AlertContract names what the book reads from an alert (config `alerts:`; main.ts passes it). */
export interface AlertContract {
  /** scaleUpAlert, scaleDownAlert: the alertnames asking a pool to scale up / down. */
  readonly scaleUpAlert: string;
  readonly scaleDownAlert: string;
  /** envLabel, instanceTypeLabel: the labels naming a pool by its env and instance type. */
  readonly envLabel: string;
  readonly instanceTypeLabel: string;
  /** poolLabel: the label naming a pool directly (wins over env + instance type). */
  readonly poolLabel: string;
  /** workloadAnnotation: the annotation (or label) carrying the workload value. */
  readonly workloadAnnotation: string;
}

/** AlertPool is what the book knows of a pool: how alerts find it, and how long a signal without endsAt lives. */
export interface AlertPool {
  readonly name: string;
  readonly env: string;
  readonly instanceType: string;
  readonly signalMaxAgeMs: number;
}

interface Entry {
  readonly direction: 'up' | 'down';
  readonly firing: boolean;
  readonly startsAtMs: number;
  /** endsAtMs: undefined when Alertmanager did not set it (zero time). */
  readonly endsAtMs: number | undefined;
  readonly workload: number | undefined;
  readonly seenMs: number;
  /** group: hashGroupKey of the notification's groupKey. */
  readonly group: string;
  /** bytes: the estimated memory this entry holds (entryBytes). */
  readonly bytes: number;
}

/** ApplyResult says what one notification did: alerts taken, alerts ignored (with reasons), pools touched. */
export interface ApplyResult {
  /** group: hashGroupKey of the notification's groupKey (what the book knows the group by). */
  readonly group: string;
  readonly accepted: number;
  readonly ignored: readonly string[];
  readonly pools: readonly string[];
}

/** RESOLVED_KEEP_MS is how long a resolved alert is remembered to stop replays from resurrecting it. */
export const RESOLVED_KEEP_MS = 24 * 3_600_000;
/** MAX_ENTRIES_PER_POOL bounds the entries a flood of distinct fingerprints can leave in one pool. */
export const MAX_ENTRIES_PER_POOL = 1000;
/** MAX_BOOK_BYTES bounds the estimated memory of all entries together (many pools x many fingerprints). */
export const MAX_BOOK_BYTES = 8 * 1_048_576;
/** ENTRY_OVERHEAD_BYTES estimates what one entry costs besides its strings (object, map slots, numbers). */
const ENTRY_OVERHEAD_BYTES = 256;

/** hashGroupKey is the book's name for a group: the first 32 hex digits of the SHA-256 of its groupKey. */
export function hashGroupKey(groupKey: string): string {
  return hash('sha256', groupKey, 'hex').slice(0, 32);
}

/** GROUP_KEY_LOG_CHARS: a groupKey up to this long is logged whole, a longer one as its first characters. */
const GROUP_KEY_LOG_CHARS = 64;

/** groupKeyDigest is a bounded form of a groupKey for a log line: the key when short, else its first characters and its length. */
export function groupKeyDigest(groupKey: string): string {
  if (groupKey.length <= GROUP_KEY_LOG_CHARS) return groupKey;
  return `${groupKey.slice(0, GROUP_KEY_LOG_CHARS - 16)}…(${groupKey.length} chars)`;
}

/** entryBytes estimates the memory of one entry (strings at two bytes a character). */
function entryBytes(fingerprint: string, group: string): number {
  return ENTRY_OVERHEAD_BYTES + 2 * (fingerprint.length + group.length);
}

/** BookSize is what the book holds: groups, entries and their estimated bytes. */
export interface BookSize {
  readonly groups: number;
  readonly entries: number;
  readonly bytes: number;
}
/** SWEEP_EVERY_MS: resolved entries past RESOLVED_KEEP_MS are swept at most this often (not on every notification). */
const SWEEP_EVERY_MS = 60_000;

function timeMs(value: string | undefined, times: ParsedTimes): number | undefined {
  if (value === undefined) return undefined;
  const ms = times.ms(value);
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
  readonly #alerts: AlertContract;
  readonly #pools: ReadonlyMap<string, AlertPool>;
  readonly #byLabels: ReadonlyMap<string, string>;
  readonly #entries = new Map<string, Map<string, Entry>>();
  /** groupPools: per group hash, how many entries each pool holds of that group — a notification visits only those. */
  readonly #groupPools = new Map<string, Map<string, number>>();
  #bytes = 0;
  #count = 0;
  #sweptMs: number | undefined;

  constructor(alerts: AlertContract, pools: readonly AlertPool[]) {
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

  /**
   * apply records one notification received at `nowMs`; `times` parses its alerts' times (the webhook passes the one its
   * check parsed them with, so each is parsed once; a fresh one by default).
   */
  apply(payload: WebhookPayload, nowMs: number, times = new ParsedTimes()): ApplyResult {
    const ignored: string[] = [];
    const touched = new Set<string>();
    const listed = new Set<string>();
    let accepted = 0;
    let newest = false;
    const group = hashGroupKey(payload.groupKey);
    for (const alert of payload.alerts) {
      const name = alert.labels['alertname'] ?? '';
      const direction = name === this.#alerts.scaleUpAlert ? 'up' : name === this.#alerts.scaleDownAlert ? 'down' : undefined;
      if (direction === undefined) {
        ignored.push(`alert ${JSON.stringify(name.slice(0, 100))} (${alert.fingerprint}) is not a scale alert`);
        continue;
      }
      const pool = this.poolOf(alert.labels);
      if (pool === undefined) {
        ignored.push(`alert ${name} (${alert.fingerprint}) matches no pool (${this.#describeLabels(alert.labels)})`);
        continue;
      }
      listed.add(`${pool}\u0000${alert.fingerprint}`);
      const outcome = this.#record(pool, direction, alert, group, nowMs, times);
      if (outcome === 'stale') {
        ignored.push(`alert ${name} (${alert.fingerprint}) is older than the one already received`);
        continue;
      }
      newest = true;
      accepted += 1;
      touched.add(pool);
    }
    if (payload.truncatedAlerts === 0 && (newest || payload.alerts.length === 0)) {
      for (const pool of [...this.#groupPools.get(group)?.keys() ?? []]) {
        for (const [fingerprint, entry] of this.#entries.get(pool) ?? []) {
          if (entry.group === group && !listed.has(`${pool}\u0000${fingerprint}`)) {
            this.#drop(pool, fingerprint);
            touched.add(pool);
          }
        }
      }
    }
    if (payload.truncatedAlerts > 0) ignored.push(`${payload.truncatedAlerts} alert(s) truncated by Alertmanager (max_alerts)`);
    this.#prune(nowMs, touched);
    return { group, accepted, ignored, pools: [...touched].sort() };
  }

  /** size is what the book holds now (groups, entries, estimated bytes). */
  size(): BookSize {
    return { groups: this.#groupPools.size, entries: this.#count, bytes: this.#bytes };
  }

  #describeLabels(labels: Readonly<Record<string, string>>): string {
    const a = this.#alerts;
    return [a.poolLabel, a.envLabel, a.instanceTypeLabel].map((k) => `${k}=${(labels[k] ?? '(unset)').slice(0, 100)}`).join(', ');
  }

  /** #put stores an entry, keeping the group counts and the byte total. */
  #put(pool: string, fingerprint: string, entry: Entry): void {
    this.#drop(pool, fingerprint);
    let entries = this.#entries.get(pool);
    if (entries === undefined) {
      entries = new Map();
      this.#entries.set(pool, entries);
    }
    entries.set(fingerprint, entry);
    this.#bytes += entry.bytes;
    this.#count += 1;
    let pools = this.#groupPools.get(entry.group);
    if (pools === undefined) {
      pools = new Map();
      this.#groupPools.set(entry.group, pools);
    }
    pools.set(pool, (pools.get(pool) ?? 0) + 1);
  }

  /** #drop removes an entry; a group is forgotten with its last entry. */
  #drop(pool: string, fingerprint: string): void {
    const entries = this.#entries.get(pool);
    const entry = entries?.get(fingerprint);
    if (entries === undefined || entry === undefined) return;
    entries.delete(fingerprint);
    if (entries.size === 0) this.#entries.delete(pool);
    this.#bytes -= entry.bytes;
    this.#count -= 1;
    const pools = this.#groupPools.get(entry.group);
    const left = (pools?.get(pool) ?? 1) - 1;
    if (pools === undefined) return;
    if (left > 0) pools.set(pool, left);
    else pools.delete(pool);
    if (pools.size === 0) this.#groupPools.delete(entry.group);
  }

  #record(pool: string, direction: 'up' | 'down', alert: WebhookAlert, group: string, nowMs: number, times: ParsedTimes): 'stored' | 'stale' {
    const startsAtMs = timeMs(alert.startsAt, times) ?? 0;
    const endsAtMs = timeMs(alert.endsAt, times);
    const firing = alert.status === 'firing';
    const held = this.#entries.get(pool)?.get(alert.fingerprint);
    if (held) {
      if (startsAtMs < held.startsAtMs) return 'stale';
      if (startsAtMs === held.startsAtMs) {
        if (!held.firing && firing) return 'stale';
        if (held.firing && firing && (endsAtMs ?? 0) < (held.endsAtMs ?? 0)) return 'stale';
      }
    }
    const workloadText = alert.annotations[this.#alerts.workloadAnnotation] ?? alert.labels[this.#alerts.workloadAnnotation];
    this.#put(pool, alert.fingerprint, {
      direction, firing, startsAtMs, endsAtMs, workload: parseWorkload(workloadText), seenMs: nowMs, group,
      bytes: entryBytes(alert.fingerprint, group),
    });
    return 'stored';
  }

  /**
   * prune sweeps (at most once per SWEEP_EVERY_MS) every entry no longer live and not seen for RESOLVED_KEEP_MS,
   * caps the pools this notification touched at MAX_ENTRIES_PER_POOL (only they can have grown), then the whole
   * book at MAX_BOOK_BYTES; both caps drop entries no longer live first, then the least recently seen.
   */
  #prune(nowMs: number, touched: ReadonlySet<string>): void {
    const sweep = this.#sweptMs === undefined || nowMs - this.#sweptMs >= SWEEP_EVERY_MS || nowMs < this.#sweptMs;
    if (sweep) {
      this.#sweptMs = nowMs;
      for (const [pool, entries] of [...this.#entries]) {
        for (const [fingerprint, entry] of [...entries]) {
          if (nowMs - entry.seenMs > RESOLVED_KEEP_MS && !this.#liveIn(pool, entry, nowMs)) this.#drop(pool, fingerprint);
        }
      }
    }
    for (const pool of touched) {
      const entries = this.#entries.get(pool);
      if (entries !== undefined && entries.size > MAX_ENTRIES_PER_POOL) {
        this.#evict([...entries].map(([fingerprint, entry]) => ({ pool, fingerprint, entry })), entries.size - MAX_ENTRIES_PER_POOL, nowMs);
      }
    }
    if (this.#bytes > MAX_BOOK_BYTES) {
      const all = [...this.#entries].flatMap(([pool, entries]) => [...entries].map(([fingerprint, entry]) => ({ pool, fingerprint, entry })));
      // down to 90 % of the budget, so a book at its limit does not sort everything on every notification
      const average = this.#bytes / Math.max(1, this.#count);
      this.#evict(all, Math.ceil((this.#bytes - 0.9 * MAX_BOOK_BYTES) / average), nowMs);
    }
  }

  /** #evict drops `count` of `candidates`: entries no longer live first, then the least recently seen. */
  #evict(candidates: readonly { pool: string; fingerprint: string; entry: Entry }[], count: number, nowMs: number): void {
    const ranked = candidates.map((c) => ({ ...c, live: this.#liveIn(c.pool, c.entry, nowMs) ? 1 : 0 }));
    ranked.sort((a, b) => a.live - b.live || a.entry.seenMs - b.entry.seenMs);
    for (const { pool, fingerprint } of ranked.slice(0, count)) this.#drop(pool, fingerprint);
  }

  #liveIn(pool: string, entry: Entry, nowMs: number): boolean {
    const spec = this.#pools.get(pool);
    return spec !== undefined && this.#live(entry, spec, nowMs);
  }

  #live(entry: Entry, pool: AlertPool, nowMs: number): boolean {
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
    // field by field in this order (no spreads: a notification's signal is on the way to its salt-api call)
    const signal: { -readonly [K in keyof AlertSignal]: AlertSignal[K] } = best.workload === undefined
      ? { pool, direction: best.direction, atMs: best.seenMs }
      : { pool, direction: best.direction, workload: best.workload, atMs: best.seenMs };
    if (best.endsAtMs !== undefined && best.endsAtMs > best.startsAtMs) signal.expiresMs = best.endsAtMs;
    return signal;
  }

  /** signals is every configured pool's current signal. */
  signals(nowMs: number): AlertSignal[] {
    return [...this.#pools.keys()].map((pool) => this.signal(pool, nowMs));
  }
}
