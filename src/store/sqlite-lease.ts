/**
 * lease: one writer per state file. Two salt-autoscaler processes acting on one fleet would start twice for one
 * need, so the process that acts holds a lease row in the state database and renews it every third of its TTL.
 *
 *   acquire ──free, expired, ours, or holder's pid dead on this host──► leader ──renew every ttl/3──► leader
 *      │ held by a live process                                            │ someone else holds it (we stalled past the TTL)
 *      ▼                                                                   ▼
 *   standby: retry every second (no HTTP, no Salt calls)                   lost: onLost() (the service stops acting and exits)
 *
 * mayAct() is the engine's "may I act now" check: true only while our lease is unexpired by our own clock, so a
 * process whose event loop stalled past its TTL sends nothing before it has renewed.
 */
import { localHost, processName } from '../process-name.ts';
import type { Clock, FencedWrite, LeaderView, LeaseHolder, Leadership, StateStore } from '../engine/ports.ts';

/** LeaseLogger is the slice of pino the keeper logs through. */
interface LeaseLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LeaseOptions {
  readonly store: Pick<StateStore, 'tryLease' | 'releaseLease'>;
  readonly clock: Clock;
  readonly ttlMs: number;
  readonly logger: LeaseLogger;
  /** owner: this process's name in the lease (default `<host>@<pid ns>:<pid>:<random>`). */
  readonly owner?: string;
  /** isAlive: whether a pid on this host still runs (default: signal 0). */
  readonly isAlive?: (pid: number) => boolean;
  /** onLost: called once when another process took the lease from us. */
  readonly onLost?: (holder: LeaseHolder) => void;
}

/** pidAlive says whether a process with this pid exists (EPERM: it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** parseOwner splits `<host>:<pid>:<tag>` (undefined for an owner written otherwise). */
export function parseOwner(owner: string): { host: string; pid: number } | undefined {
  const m = /^(.*):(\d+):[^:]+$/.exec(owner);
  return m === null ? undefined : { host: m[1] ?? '', pid: Number(m[2]) };
}

/** LeaseKeeper is the single-host leadership: the lease row in the state file (see the drawing above). */
export class LeaseKeeper implements Leadership {
  readonly owner: string;
  readonly #opts: LeaseOptions;
  #expiresMs = 0;
  #held = false;
  #lost = false;
  #timer: NodeJS.Timeout | undefined;
  #since: number | undefined;
  #holder: LeaseHolder | undefined;
  readonly #lostListeners: ((why: string) => void)[] = [];

  constructor(opts: LeaseOptions) {
    this.#opts = opts;
    this.owner = opts.owner ?? processName();
  }

  /** holderGone: the holder runs on this host (and PID namespace) and its process is gone (a crash): no need to wait out its TTL. */
  #holderGone = (holder: LeaseHolder): boolean => {
    const parsed = parseOwner(holder.owner);
    if (parsed === undefined || parsed.host !== localHost() || parsed.pid === process.pid) return false;
    return !(this.#opts.isAlive ?? pidAlive)(parsed.pid);
  };

  /** tryOnce attempts to take or renew the lease; it returns the holder afterwards. */
  tryOnce(): LeaseHolder {
    const now = this.#opts.clock.now();
    const holder = this.#opts.store.tryLease(this.owner, now, this.#opts.ttlMs, this.#holderGone);
    this.#held = holder.owner === this.owner;
    this.#holder = holder;
    if (this.#held) this.#expiresMs = holder.expiresMs;
    if (this.#held) this.#since ??= now;
    return holder;
  }

  /**
   * acquire waits until this process holds the lease (true) or `signal` aborts (false). While another live process
   * holds it, it logs once that it is on standby and retries every second.
   */
  async acquire(signal?: AbortSignal): Promise<boolean> {
    let told = false;
    for (;;) {
      if (signal?.aborted === true) return false;
      const holder = this.tryOnce();
      if (this.#held) {
        this.#opts.logger.info({ owner: this.owner, ttlMs: this.#opts.ttlMs }, 'store lease acquired: this process acts');
        return true;
      }
      if (!told) {
        told = true;
        this.#opts.logger.warn({ holder: holder.owner, since: new Date(holder.acquiredMs).toISOString(), expires: new Date(holder.expiresMs).toISOString() },
          'standby: another salt-autoscaler holds the store lease; waiting until it stops or its lease expires');
      }
      // polling the lease row is cheap: a standby looks every second (or every third of a shorter TTL)
      await sleep(Math.max(250, Math.min(1_000, Math.floor(this.#opts.ttlMs / 3))), signal);
    }
  }

  /** keep renews the lease every third of the TTL until release(); a renewal that finds another holder is a loss. */
  keep(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => { this.#renew(); }, Math.max(250, Math.floor(this.#opts.ttlMs / 3)));
    this.#timer.unref();
  }

  #renew(): void {
    if (this.#lost) return;
    let holder: LeaseHolder;
    try {
      holder = this.tryOnce();
    } catch (err) {
      // a store that cannot write: mayAct() turns false when the lease runs out by our clock
      this.#opts.logger.error({ err }, 'store lease renewal failed');
      return;
    }
    if (!this.#held) {
      this.#lost = true;
      this.#stopTimer();
      this.#opts.logger.error({ holder: holder.owner }, 'store lease lost to another process: this process stops acting');
      this.#opts.onLost?.(holder);
      for (const listener of this.#lostListeners) listener(`the store lease was taken by ${holder.owner}`);
    }
  }

  /** mayAct: this process holds an unexpired lease by its own clock. */
  mayAct(): boolean {
    return this.#held && !this.#lost && this.#opts.clock.now() < this.#expiresMs;
  }

  /** self names this process as the lease does (`<host>@<pid ns>:<pid>:<random>`). */
  get self(): string {
    return this.owner;
  }

  /** onLost registers what to do when another process took the lease from us (called once). */
  onLost(listener: (why: string) => void): void {
    this.#lostListeners.push(listener);
  }

  /** view says who holds the lease as this process last saw it. */
  view(): LeaderView {
    const now = this.#opts.clock.now();
    const leads = this.mayAct();
    const holder = this.#holder;
    return {
      self: this.owner,
      isLeader: leads,
      ...(holder === undefined ? {} : { leader: holder.owner }),
      ...(leads && this.#since !== undefined ? { sinceMs: this.#since } : holder === undefined ? {} : { sinceMs: holder.acquiredMs }),
      ...(leads ? { leaseRemainingMs: Math.max(0, this.#expiresMs - now) } : {}),
    };
  }

  /**
   * fence: the intents live in the same file as the lease, written in the same process under the same lock, so the
   * check is mayAct() (a process stalled past its TTL sees its lease expired by its own clock and writes nothing).
   */
  async fence(_writes: readonly FencedWrite[]): Promise<boolean> {
    return this.mayAct();
  }

  /** release stops renewing and gives the lease up (a clean stop), so a standby takes over at once. */
  release(): void {
    this.#stopTimer();
    if (!this.#held) return;
    this.#held = false;
    this.#since = undefined;
    try {
      this.#opts.store.releaseLease(this.owner);
    } catch (err) {
      this.#opts.logger.warn({ err }, 'store lease release failed: a standby waits for it to expire');
    }
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
