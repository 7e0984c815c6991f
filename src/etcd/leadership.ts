/**
 * leadership: the Leadership port on an etcd election, as etcd's own concurrency package elects (client/v3/concurrency):
 * each candidate puts a key `<prefix>/leader/<lease id>` on its own lease; the key with the lowest create revision
 * leads; a waiting candidate watches only the key just before its own (no thundering herd).
 *
 * ```
 *   acquire --grant lease (TTL), put <prefix>/leader/<lease> if absent--> candidate (create revision R)
 *   candidate --a key created before R exists: watch it until deleted, then look again--> candidate
 *   candidate --no key before R: put our name + since, fenced on R--> leader
 *   leader|candidate --keepalive every TTL/3 (sent at S, answered TTL): unexpired until S + TTL by our clock
 *   leader --keepalive says the lease is gone | our key is gone | a fence compare fails--> lost (onLost once)
 *   leader --etcd unreachable (quorum lost, members down)--> leader, but mayAct() false once S + TTL passed;
 *          true again when a keepalive answers (etcd keeps leases alive across a leader election)
 *   leader --release()--> revoke the lease: the key goes, the next candidate leads at once
 * ```
 * mayAct() is true only while leading and the lease is unexpired by our own clock, measured from the *send* time of
 * the last keepalive that answered: etcd renewed the lease when it received that keepalive, later than we sent it, so
 * our deadline never outlives etcd's. A process frozen past its TTL (SIGSTOP, GC, frozen VM) finds mayAct() false on
 * waking and its fence() refused by etcd: its key went with its lease and another candidate leads.
 *
 * etcd traffic: per TTL/3 one keepalive and one range of the first election key (the leader view; for the leader also
 * the "my key is still there" check); a leader term adds one fenced put (its name and since); a waiting candidate
 * holds one watch.
 */
import type { FencedWrite, LeaderView, Leadership } from '../engine/ports.ts';
import { AutoscalerError } from '../errors.ts';
import { processName } from '../process-name.ts';
import type { EtcdClient, EtcdLogger, TxnOp } from './client.ts';

/** EtcdLeadershipOptions configures an EtcdLeadership. */
export interface EtcdLeadershipOptions {
  readonly client: EtcdClient;
  /** prefix: one autoscaler cluster per prefix (`/salt-autoscaler`); the election lives under `<prefix>/leader/`. */
  readonly prefix: string;
  /** ttlMs: the lease TTL (whole seconds on etcd; at least 1s). */
  readonly ttlMs: number;
  readonly logger: EtcdLogger;
  /** self: this process's name (default `<host>@<pid ns>:<pid>:<random>`, as the SQLite lease names owners). */
  readonly self?: string;
  /** now: our clock (epoch ms, monotonic by default); tests may pass their own. */
  readonly now?: () => number;
}

/** monotonicNow is epoch ms that never jump back (wall clock steps do not shorten or stretch a lease). */
function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}

/** ElectionValue is what a candidate writes into its election key. */
interface ElectionValue {
  readonly name: string;
  readonly sinceMs?: number;
}

function parseValue(raw: string): ElectionValue {
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v === 'object' && v !== null && 'name' in v && typeof v.name === 'string') {
      const since = 'sinceMs' in v && typeof v.sinceMs === 'number' ? v.sinceMs : undefined;
      return since === undefined ? { name: v.name } : { name: v.name, sinceMs: since };
    }
  } catch {
    // a key written by something else: show it as it is
  }
  return { name: raw };
}

type State = 'idle' | 'candidate' | 'leader' | 'lost' | 'released';

/** EtcdLeadership implements Leadership on an etcd election (see the diagram above). */
export class EtcdLeadership implements Leadership {
  readonly self: string;
  readonly #opts: EtcdLeadershipOptions;
  readonly #client: EtcdClient;
  readonly #now: () => number;
  readonly #electionPrefix: string;
  readonly #listeners: ((why: string) => void)[] = [];
  #state: State = 'idle';
  #leaseId: string | undefined;
  #key: string | undefined;
  #createRevision = 0;
  #deadlineMs = 0;
  #sinceMs: number | undefined;
  #leader: ElectionValue | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #leaseGone = false;
  #wait: AbortController | undefined;
  #unreachableSinceMs: number | undefined;

  constructor(opts: EtcdLeadershipOptions) {
    this.#opts = opts;
    this.#client = opts.client;
    this.#now = opts.now ?? monotonicNow;
    this.self = opts.self ?? processName();
    this.#electionPrefix = `${opts.prefix.replace(/\/+$/, '')}/leader/`;
  }

  /** electionKey is this process's key in the election (undefined before a campaign). */
  get electionKey(): string | undefined {
    return this.#key;
  }

  /** createRevision is the create revision of this process's election key: its place in line, and the fence. */
  get createRevision(): number {
    return this.#createRevision;
  }

  get #ttlS(): number {
    return Math.max(1, Math.round(this.#opts.ttlMs / 1000));
  }

  /**
   * acquire campaigns until this process leads (true) or `signal` aborts (false, the candidacy withdrawn). etcd
   * unreachable: it logs once and tries again every second.
   */
  async acquire(signal?: AbortSignal): Promise<boolean> {
    if (this.#state === 'leader') return true;
    this.#state = 'candidate';
    let told = false;
    for (;;) {
      if (signal?.aborted === true) {
        await this.#resign();
        this.#state = 'idle';
        return false;
      }
      try {
        if (await this.#campaignOnce(signal)) {
          this.#state = 'leader';
          this.#opts.logger.info({ self: this.self, key: this.#key, revision: this.#createRevision, ttlMs: this.#opts.ttlMs }, 'etcd election won: this process acts');
          return true;
        }
        await sleep(50, signal);
      } catch (err) {
        if (!(err instanceof AutoscalerError)) throw err;
        if (!told) this.#opts.logger.warn({ err }, 'etcd election: campaign failed, retrying every second');
        told = true;
        await sleep(1_000, signal);
      }
    }
  }

  /** campaignOnce makes sure we have a lease and a key, then waits in line; true once we lead, false to start over. */
  async #campaignOnce(signal?: AbortSignal): Promise<boolean> {
    if (this.#leaseId === undefined || this.#leaseGone) await this.#newLease();
    const key = this.#key ?? '';
    const leaseId = this.#leaseId ?? '0';
    if (this.#createRevision === 0) {
      const put: TxnOp = { put: key, value: JSON.stringify({ name: this.self } satisfies ElectionValue), lease: leaseId };
      const answer = await this.#client.txn([{ key, target: 'CREATE', createRevision: 0, result: 'EQUAL' }], [put], [{ get: key }]);
      this.#createRevision = answer.succeeded
        ? answer.header.revision
        : answer.responses[0]?.response_range?.kvs[0]?.create_revision ?? 0;
      if (this.#createRevision === 0) return false;
    }
    for (;;) {
      if (signal?.aborted === true || this.#leaseGone) return false;
      const before = await this.#client.range(this.#electionPrefix, {
        prefix: true, maxCreateRevision: this.#createRevision - 1, sortTarget: 'CREATE', sortOrder: 'DESCEND', limit: 1,
      });
      const predecessor = before.kvs[0];
      if (predecessor === undefined) {
        const sinceMs = Date.now();
        const value = JSON.stringify({ name: this.self, sinceMs } satisfies ElectionValue);
        const won = await this.#client.txn([{ key, target: 'CREATE', createRevision: this.#createRevision, result: 'EQUAL' }], [{ put: key, value, lease: leaseId }]);
        if (!won.succeeded) {
          // our key went with our lease while we waited: a new lease, a new place in line
          this.#leaseGone = true;
          return false;
        }
        this.#sinceMs = sinceMs;
        this.#leader = { name: this.self, sinceMs };
        return true;
      }
      await this.#refreshView();
      this.#wait = new AbortController();
      const waitSignal = signal === undefined ? this.#wait.signal : AbortSignal.any([signal, this.#wait.signal]);
      this.#opts.logger.debug({ predecessor: predecessor.key, self: this.self }, 'etcd election: waiting for the candidate before us');
      await this.#client.waitDelete(predecessor.key, before.header.revision + 1, this.#opts.ttlMs, waitSignal);
      this.#wait = undefined;
    }
  }

  async #newLease(): Promise<void> {
    const oldLease = this.#leaseId;
    this.#stopTimer();
    const sentMs = this.#now();
    const lease = await this.#client.leaseGrant(this.#ttlS);
    this.#leaseId = lease.id;
    this.#leaseGone = false;
    this.#key = `${this.#electionPrefix}${BigInt(lease.id).toString(16)}`;
    this.#createRevision = 0;
    this.#deadlineMs = sentMs + Math.min(lease.ttlS * 1000, this.#opts.ttlMs);
    this.#startTimer();
    if (oldLease !== undefined) this.#opts.logger.info({ lease: lease.id }, 'etcd election: new lease (the old one expired)');
  }

  /** keep renews leadership in the background (the keepalive started with the campaign); a loss calls onLost once. */
  keep(): void {
    if (this.#state === 'leader' && this.#timer === undefined) this.#startTimer();
  }

  #startTimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => { void this.#tick(); }, Math.max(100, Math.floor(this.#opts.ttlMs / 3)));
    this.#timer.unref();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** tick renews the lease and refreshes the leader view; it never overlaps itself. */
  async #tick(): Promise<void> {
    if (this.#ticking || this.#leaseId === undefined) return;
    this.#ticking = true;
    try {
      await this.#renew(this.#leaseId);
      if (this.#state === 'leader' || this.#state === 'candidate') await this.#refreshView();
    } finally {
      this.#ticking = false;
    }
  }

  async #renew(leaseId: string): Promise<void> {
    const sentMs = this.#now();
    let ttlS: number;
    try {
      ({ ttlS } = await this.#client.leaseKeepAlive(leaseId, { timeoutMs: Math.max(100, Math.floor(this.#opts.ttlMs / 3)) }));
    } catch (err) {
      if (this.#unreachableSinceMs === undefined) {
        this.#unreachableSinceMs = sentMs;
        this.#opts.logger.error({ err, remainingMs: Math.max(0, this.#deadlineMs - sentMs) }, 'etcd keepalive failed: this process stops acting when its lease runs out by its own clock');
      }
      return;
    }
    if (leaseId !== this.#leaseId) return;
    if (ttlS <= 0) {
      this.#leaseGone = true;
      this.#wait?.abort();
      if (this.#state === 'leader') this.#lose('the lease expired in etcd (this process missed its keepalives)');
      return;
    }
    if (this.#unreachableSinceMs !== undefined) {
      this.#opts.logger.info({ outageMs: sentMs - this.#unreachableSinceMs }, 'etcd keepalive answers again');
      this.#unreachableSinceMs = undefined;
    }
    this.#deadlineMs = Math.max(this.#deadlineMs, sentMs + Math.min(ttlS * 1000, this.#opts.ttlMs));
  }

  async #refreshView(): Promise<void> {
    let first;
    try {
      first = (await this.#client.range(this.#electionPrefix, { prefix: true, sortTarget: 'CREATE', sortOrder: 'ASCEND', limit: 1 }, { timeoutMs: Math.max(100, Math.floor(this.#opts.ttlMs / 3)) })).kvs[0];
    } catch {
      return;
    }
    this.#leader = first === undefined ? undefined : parseValue(first.value);
    if (this.#state === 'leader' && (first?.key !== this.#key || first?.create_revision !== this.#createRevision)) {
      this.#lose(first === undefined ? 'the election key is gone' : `the election key is gone; ${this.#leader?.name ?? first.key} leads`);
    }
  }

  /** mayAct: this process leads and its lease is unexpired by its own clock. */
  mayAct(): boolean {
    return this.#state === 'leader' && this.#now() < this.#deadlineMs;
  }

  /** release stops renewing and revokes the lease (a clean stop): the election key goes, the next candidate leads at once. */
  async release(): Promise<void> {
    this.#state = 'released';
    await this.#resign();
  }

  async #resign(): Promise<void> {
    this.#stopTimer();
    this.#wait?.abort();
    const leaseId = this.#leaseId;
    this.#leaseId = undefined;
    this.#key = undefined;
    this.#createRevision = 0;
    this.#sinceMs = undefined;
    if (leaseId === undefined) return;
    try {
      await this.#client.leaseRevoke(leaseId, { timeoutMs: Math.max(500, Math.floor(this.#opts.ttlMs / 3)) });
    } catch (err) {
      this.#opts.logger.warn({ err }, 'etcd lease revoke failed: the next candidate waits for it to expire');
    }
  }

  /** onLost registers what to do when this process stopped leading (another took over, or its lease is gone). */
  onLost(listener: (why: string) => void): void {
    this.#listeners.push(listener);
  }

  #lose(why: string): void {
    if (this.#state !== 'leader') return;
    this.#state = 'lost';
    this.#opts.logger.error({ self: this.self, why }, 'etcd leadership lost: this process stops acting');
    void this.#resign();
    for (const listener of this.#listeners) listener(why);
  }

  /** view is who leads as this process last saw it (read every TTL/3). */
  view(): LeaderView {
    const isLeader = this.mayAct();
    if (this.#state === 'leader') {
      return {
        leader: this.self, self: this.self, isLeader,
        ...(this.#sinceMs === undefined ? {} : { sinceMs: this.#sinceMs }),
        leaseRemainingMs: Math.max(0, Math.round(this.#deadlineMs - this.#now())),
      };
    }
    const leader = this.#leader;
    return {
      self: this.self, isLeader,
      ...(leader === undefined ? {} : { leader: leader.name }),
      ...(leader?.sinceMs === undefined ? {} : { sinceMs: leader.sinceMs }),
    };
  }

  /**
   * fence writes `writes` in one etcd transaction that compares the create revision of our own election key: true =
   * written while this process led; false = nothing written, because this process does not lead by its own clock
   * (not even sent) or etcd says its key is gone or not its own (then it steps down: onLost). An unreachable etcd
   * rejects with an EtcdError (outcome unknown: the guarded action must not be sent either).
   */
  async fence(writes: readonly FencedWrite[]): Promise<boolean> {
    const key = this.#key;
    if (!this.mayAct() || key === undefined) return false;
    const ops: TxnOp[] = writes.map((w) => (w.value === undefined ? { delete: w.key } : { put: w.key, value: w.value }));
    const answer = await this.#client.txn([{ key, target: 'CREATE', createRevision: this.#createRevision, result: 'EQUAL' }], ops);
    if (!answer.succeeded) {
      this.#lose('a fenced write was refused: the election key is gone or not ours');
      return false;
    }
    return true;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
