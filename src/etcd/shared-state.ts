/**
 * shared-state: the state a new leader needs, in etcd when `ha` is on: open intents and each pool's runtime state.
 *
 * ```
 *   <prefix>/intents/<id, 16 digits>   JSON Intent (status open)       written by openIntent, deleted by finishIntent
 *   <prefix>/pools/<pool, URI-encoded> JSON runtime state of the pool  (paused, cooldown stamps, back-off, budget)
 * ```
 * Every write goes through the leader's fence (one etcd txn comparing its own election key), so a deposed leader
 * writes nothing and learns it (ASC_ERR_ETCD_NOT_LEADER): the action the intent guards is not sent. A new leader
 * reads both prefixes in one txn (one consistent revision) with load(), and resolves the open intents against Salt
 * as a restart after a crash does.
 *
 * Intent ids are `<create revision of the leader's election key> * 1e6 + <seq>`: unique across leaders without a
 * round trip (two leaders never share an election revision; a term writes fewer than a million intents), and in
 * order. Finished intents are deleted, not kept: their history (and the decision history) stays in the local SQLite
 * store, which has it already; etcd only carries what a takeover needs. Traffic: 1 etcd txn per openIntent, per
 * finishIntent, per setPoolState, or per commit() of any mix of them; 1 txn per load().
 */
import { z } from 'zod';
import type { Intent, IntentKind, Leadership, NewIntent, ReplicaBatch, ReplicaSnapshot } from '../engine/ports.ts';
import { EtcdError } from '../errors.ts';
import type { EtcdClient } from './client.ts';

/** INTENTS_PER_TERM bounds the intents one leader term can number (the id's low part). */
export const INTENTS_PER_TERM = 1_000_000;

/** FenceHolder is what the shared state needs of the leadership: the fence, and the revision that numbers intents. */
export type FenceHolder = Pick<Leadership, 'fence'> & { readonly createRevision: number };

/** NewIntent and SharedBatch are the engine's replica port types (src/engine/ports.ts): one definition for both sides. */
export type { NewIntent };
export type SharedBatch = ReplicaBatch;

/** SharedSnapshot is what load() reads: open intents (oldest first), pool states, the revision read at, and skipped keys. */
export interface SharedSnapshot extends ReplicaSnapshot {
  readonly revision: number;
  /** skipped: keys under the prefixes whose value could not be read (kept, reported, never guessed). */
  readonly skipped: readonly string[];
}

const IntentValue = z.strictObject({
  id: z.number().int().positive(),
  kind: z.enum(['start', 'create', 'stop', 'destroy', 'drain', 'undrain']),
  instance: z.string().min(1),
  pool: z.string().min(1),
  createdMs: z.number(),
  status: z.literal('open'),
});
const PoolValue = z.record(z.string(), z.unknown());

/** SharedState is the async interface the engine wires when `ha` is on (EtcdSharedState implements it). */
export interface SharedState {
  load(): Promise<SharedSnapshot>;
  openIntent(kind: IntentKind, instance: string, pool: string, nowMs: number): Promise<Intent>;
  finishIntent(id: number): Promise<void>;
  setPoolState(pool: string, value: Readonly<Record<string, unknown>> | undefined): Promise<void>;
  commit(batch: SharedBatch): Promise<readonly Intent[]>;
}

/** EtcdSharedState keeps SharedState under `<prefix>/intents/` and `<prefix>/pools/`, every write fenced. */
export class EtcdSharedState implements SharedState {
  readonly #client: EtcdClient;
  readonly #fence: FenceHolder;
  readonly #intents: string;
  readonly #pools: string;
  #term = 0;
  #seq = 0;

  constructor(opts: { readonly client: EtcdClient; readonly leadership: FenceHolder; readonly prefix: string }) {
    this.#client = opts.client;
    this.#fence = opts.leadership;
    const prefix = opts.prefix.replace(/\/+$/, '');
    this.#intents = `${prefix}/intents/`;
    this.#pools = `${prefix}/pools/`;
  }

  /** intentKey is where intent `id` lives. */
  intentKey(id: number): string {
    return `${this.#intents}${String(id).padStart(16, '0')}`;
  }

  /** poolKey is where pool `name`'s runtime state lives. */
  poolKey(name: string): string {
    return `${this.#pools}${encodeURIComponent(name)}`;
  }

  /** load reads every open intent and pool state at one revision (one txn of two ranges). */
  async load(): Promise<SharedSnapshot> {
    const answer = await this.#client.txn([], [{ getPrefix: this.#intents }, { getPrefix: this.#pools }]);
    const skipped: string[] = [];
    const intents: Intent[] = [];
    for (const kv of answer.responses[0]?.response_range?.kvs ?? []) {
      const parsed = IntentValue.safeParse(safeJson(kv.value));
      if (parsed.success) intents.push(parsed.data);
      else skipped.push(kv.key);
    }
    const pools = new Map<string, Readonly<Record<string, unknown>>>();
    for (const kv of answer.responses[1]?.response_range?.kvs ?? []) {
      const parsed = PoolValue.safeParse(safeJson(kv.value));
      if (parsed.success) pools.set(decodeURIComponent(kv.key.slice(this.#pools.length)), parsed.data);
      else skipped.push(kv.key);
    }
    intents.sort((a, b) => a.id - b.id);
    return { intents, pools, revision: answer.header.revision, skipped };
  }

  /** openIntent writes one open intent (fenced) and returns it with its id. */
  async openIntent(kind: IntentKind, instance: string, pool: string, nowMs: number): Promise<Intent> {
    const [intent] = await this.commit({ open: [{ kind, instance, pool, nowMs }] });
    if (intent === undefined) throw new EtcdError('ASC_ERR_ETCD_RESPONSE', 'commit returned no intent', { path: '/v3/kv/txn', endpoint: this.#client.endpoint, status: 200 });
    return intent;
  }

  /** finishIntent removes an open intent (fenced): its outcome is recorded locally, a new leader no longer needs it. */
  async finishIntent(id: number): Promise<void> {
    await this.commit({ finish: [id] });
  }

  /** setPoolState writes (or, with undefined, removes) a pool's runtime state (fenced). */
  async setPoolState(pool: string, value: Readonly<Record<string, unknown>> | undefined): Promise<void> {
    await this.commit({ pools: { [pool]: value } });
  }

  /**
   * commit makes every write of `batch` in one fenced txn and returns the intents it opened; it throws
   * ASC_ERR_ETCD_NOT_LEADER when the fence refused (nothing written: send nothing), or the client's EtcdError.
   */
  async commit(batch: SharedBatch): Promise<readonly Intent[]> {
    const term = this.#fence.createRevision;
    if (term !== this.#term) {
      this.#term = term;
      this.#seq = 0;
    }
    const opened: Intent[] = (batch.open ?? []).map((n) => {
      this.#seq += 1;
      if (this.#seq >= INTENTS_PER_TERM) throw new EtcdError('ASC_ERR_ETCD_NOT_LEADER', `a leader term numbers at most ${INTENTS_PER_TERM - 1} intents: campaign again for a new term`, { path: '', endpoint: '', status: 0 });
      return { id: term * INTENTS_PER_TERM + this.#seq, kind: n.kind, instance: n.instance, pool: n.pool, createdMs: n.nowMs, status: 'open' };
    });
    const writes = [
      ...opened.map((i) => ({ key: this.intentKey(i.id), value: JSON.stringify(i) })),
      ...(batch.finish ?? []).map((id) => ({ key: this.intentKey(id) })),
      ...Object.entries(batch.pools ?? {}).map(([name, value]) => (value === undefined ? { key: this.poolKey(name) } : { key: this.poolKey(name), value: JSON.stringify(value) })),
    ];
    if (term === 0 || !(await this.#fence.fence(writes))) {
      throw new EtcdError('ASC_ERR_ETCD_NOT_LEADER', 'the shared state refused a write: this process no longer leads (nothing written, nothing may be sent)', { path: '/v3/kv/txn', endpoint: this.#client.endpoint, status: 0 });
    }
    return opened;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
