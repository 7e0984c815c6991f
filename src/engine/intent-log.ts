/**
 * intent-log: every action is written before it is sent. The local store (SQLite) always holds the intent; with a
 * replica (etcd when `ha` is on) the intent must also reach the replica, through the leadership's fence, before
 * the call goes out, so a leader on another host can resolve it after a takeover and a deposed leader sends nothing.
 *
 * ```
 *   open ──► local intent (sync, inside the decision's transaction) ──► queued for the replica
 *   before the call: shared(intent) ──► the queue goes out in ONE fenced commit (a scale-up of n = 1 txn)
 *                                   └─► refused (not the leader, replica down) = the call is not sent
 *   finish ──► local (sync) ──► replica finish, batched per loop turn (a lost finish is resolved again: harmless)
 *   takeover ──► importShared: the replica's open intents become local open intents; local ones it does not hold
 *                were never sent (or another leader resolved them) and are closed
 * ```
 */
import { AutoscalerError } from '../errors.ts';
import type { EngineLogger, Intent, IntentKind, StateReplica, StateStore } from './ports.ts';
import type { RunningClock } from './system-clock.ts';

/** IntentLogOptions wires the intent log. */
export interface IntentLogOptions {
  readonly store: StateStore;
  readonly storeCall: <T>(fn: () => T) => T | undefined;
  readonly replica?: StateReplica;
  readonly clock: RunningClock;
  readonly log: EngineLogger;
}

/** IntentLog writes intents to the store and, when there is one, to the replica. */
export class IntentLog {
  readonly #opts: IntentLogOptions;
  /** #replicaId: local intent id -> its id in the replica. */
  readonly #replicaId = new Map<number, number>();
  #queued: Intent[] = [];
  #flushing: Promise<void> | undefined;
  #finishes: number[] = [];
  #pools: Record<string, Readonly<Record<string, unknown>>> = {};
  #backgroundDue = false;

  constructor(opts: IntentLogOptions) {
    this.#opts = opts;
  }

  /** replicated: intents and pool state also go to a replica (HA). */
  get replicated(): boolean {
    return this.#opts.replica !== undefined;
  }

  /** open writes one intent to the store (undefined when the store refused) and queues it for the replica. */
  open(kind: IntentKind, instance: string, pool: string, nowMs: number): Intent | undefined {
    const intent = this.#opts.storeCall(() => this.#opts.store.openIntent(kind, instance, pool, nowMs));
    if (intent !== undefined && this.#opts.replica !== undefined) this.#queued.push(intent);
    return intent;
  }

  /** shared resolves once the intent is in the replica (at once without one); it rejects when the replica refused it. */
  async shared(intent: Intent): Promise<void> {
    if (this.#opts.replica === undefined || this.#replicaId.has(intent.id)) return;
    while (!this.#replicaId.has(intent.id)) {
      if (this.#flushing === undefined) {
        if (!this.#queued.some((q) => q.id === intent.id)) break;
        this.#flushing = this.#flush().finally(() => { this.#flushing = undefined; });
      }
      await this.#flushing;
    }
    if (!this.#replicaId.has(intent.id)) {
      throw new AutoscalerError('ASC_ERR_LEASE_NOT_HELD', `${intent.kind} of ${intent.instance} not sent: the shared state refused its intent (this process no longer leads, or etcd is unreachable)`);
    }
  }

  async #flush(): Promise<void> {
    const batch = this.#queued;
    this.#queued = [];
    if (batch.length === 0 || this.#opts.replica === undefined) return;
    try {
      const opened = await this.#opts.replica.commit({ open: batch.map((i) => ({ kind: i.kind, instance: i.instance, pool: i.pool, nowMs: i.createdMs })) });
      batch.forEach((local, n) => {
        const remote = opened[n];
        if (remote !== undefined) this.#replicaId.set(local.id, remote.id);
      });
    } catch (err) {
      this.#opts.log.warn({ err, intents: batch.length }, 'shared state refused the intents: their actions are not sent');
    }
  }

  /** finish marks an intent done or failed in the store, and forgets it in the replica. */
  finish(intentId: number, status: 'done' | 'failed', detail?: string): void {
    this.#opts.storeCall(() => this.#opts.store.finishIntent(intentId, status, detail));
    const remote = this.#replicaId.get(intentId);
    this.#queued = this.#queued.filter((q) => q.id !== intentId);
    if (remote === undefined) return;
    this.#replicaId.delete(intentId);
    this.#finishes.push(remote);
    this.#background();
  }

  /** poolState copies a pool's runtime state to the replica (batched per loop turn). */
  poolState(pool: string, value: Readonly<Record<string, unknown>>): void {
    if (this.#opts.replica === undefined) return;
    this.#pools[pool] = value;
    this.#background();
  }

  /** #background sends finishes and pool states at the end of the loop turn, in one commit (a failure is logged: a new leader resolves again). */
  #background(): void {
    if (this.#backgroundDue || this.#opts.replica === undefined) return;
    this.#backgroundDue = true;
    const replica = this.#opts.replica;
    void this.#opts.clock.yieldTurn().then(async () => {
      this.#backgroundDue = false;
      const finish = this.#finishes;
      const pools = this.#pools;
      this.#finishes = [];
      this.#pools = {};
      if (finish.length === 0 && Object.keys(pools).length === 0) return;
      try {
        await replica.commit({ finish, pools });
      } catch (err) {
        this.#opts.log.info({ err, finished: finish.length, pools: Object.keys(pools).length }, 'shared state did not take finished intents or pool state (a new leader resolves them again)');
      }
    });
  }

  /**
   * importShared makes this process's store hold what the replica holds, after it became the leader: each open
   * intent of the replica becomes a local open intent, mapped to its replica id; the local open intents the replica
   * does not hold are closed (never sent, since a call waits for the replica; or resolved by another leader).
   * It returns the replica's pool states for the engine to take over.
   */
  async importShared(): Promise<ReadonlyMap<string, Readonly<Record<string, unknown>>>> {
    const replica = this.#opts.replica;
    if (replica === undefined) return new Map();
    const snapshot = await replica.load();
    const mine = new Set(this.#replicaId.values());
    const held = new Set(snapshot.intents.map((i) => i.id));
    const { store, storeCall } = this.#opts;
    storeCall(() => store.atomically(() => {
      for (const local of store.openIntents()) {
        const remote = this.#replicaId.get(local.id);
        if (remote !== undefined && held.has(remote)) continue;
        store.finishIntent(local.id, 'failed', 'not in the shared state at takeover: never sent, or resolved by another leader');
        this.#replicaId.delete(local.id);
      }
      for (const intent of snapshot.intents) {
        if (mine.has(intent.id)) continue;
        const local = store.openIntent(intent.kind, intent.instance, intent.pool, intent.createdMs);
        this.#replicaId.set(local.id, intent.id);
      }
    }));
    this.#opts.log.info({ intents: snapshot.intents.length, pools: snapshot.pools.size }, 'took over the shared state');
    return snapshot.pools;
  }
}
