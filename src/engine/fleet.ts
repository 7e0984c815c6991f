/**
 * fleet: the engine's index of managed instances (by id and by pool), the one writer of instance state to the
 * store, and the one caller of the lifecycle. Writes made inside `inBatch` (a reconcile pass, a scale-up) land in
 * one store transaction.
 *
 * ```
 *   input ──step(lifecycle)──► moved: index + save (or batch) ──► onMoved(inst, from)   (the engine reacts)
 *                         └──► ignored ──► onIgnored(inst, input, result)               (confirm or log)
 * ```
 */
import { newInstance, step, type LifecycleInput, type StepResult } from '../core/lifecycle.ts';
import type { Instance, InstanceState, Transition } from '../core/types.ts';
import type { ManagedPool } from './pool-state.ts';
import type { EngineLogger, StateStore } from './ports.ts';

/** globToRegExp turns a salt-style glob (`gpu-prod-*`) into an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** FleetOptions wires the fleet index. */
export interface FleetOptions {
  readonly pools: readonly ManagedPool[];
  readonly store: StateStore;
  readonly log: EngineLogger;
  readonly storeCall: <T>(fn: () => T) => T | undefined;
  readonly onMoved: (inst: Instance, from: InstanceState, nowMs: number) => void;
  readonly onIgnored: (inst: Instance, input: LifecycleInput, result: Extract<StepResult, { kind: 'ignored' }>, source: string) => void;
}

const DEFAULT_PROVISION_TIMEOUT_MS = 15 * 60_000;

/** InstanceWrite is one instance row to write, with the transition that produced it when there is one. */
interface InstanceWrite { readonly instance: Instance; readonly transition?: Transition }

/**
 * HeldLines are info lines written later, in the order they were added, once: a scale-up's `decision` and
 * `instance state` lines wait until its calls are sent (a line is ~10 us of the path to the call). After
 * `release`, a line added is written at once.
 */
export class HeldLines {
  readonly #log: EngineLogger;
  #lines: [object, string][] | undefined = [];

  constructor(log: EngineLogger) {
    this.#log = log;
  }

  add(obj: object, msg: string): void {
    if (this.#lines === undefined) this.#log.info(obj, msg);
    else this.#lines.push([obj, msg]);
  }

  /** release writes the held lines (the first call; later ones find none). */
  release(): void {
    const lines = this.#lines;
    this.#lines = undefined;
    for (const [obj, msg] of lines ?? []) this.#log.info(obj, msg);
  }
}

/** Fleet indexes the managed instances and writes every change of them. */
export class Fleet {
  readonly #opts: FleetOptions;
  readonly #instances = new Map<string, Instance>();
  readonly #byPool = new Map<string, Map<string, Instance>>();
  readonly #patterns: { pool: string; re: RegExp }[] = [];
  readonly #provisionTimeoutMs = new Map<string, number>();
  /** #batch collects instance writes while inBatch runs, so they land in one transaction. */
  #batch: InstanceWrite[] | undefined;
  /**
   * #deferred holds the instance writes of a scale-up until its calls are sent (`deferring`); while it holds any,
   * every later instance write queues behind them, so the rows are written in the order the moves were made.
   */
  #deferred: InstanceWrite[] | undefined;
  /** #held takes the `instance state` lines while `holdingLines` runs. */
  #held: HeldLines | undefined;

  constructor(opts: FleetOptions) {
    this.#opts = opts;
    for (const managed of opts.pools) {
      this.#provisionTimeoutMs.set(managed.spec.name, managed.spec.provisionTimeoutMs);
      if (managed.reservedPattern !== undefined) this.#patterns.push({ pool: managed.spec.name, re: globToRegExp(managed.reservedPattern) });
    }
  }

  get size(): number { return this.#instances.size; }
  get(id: string): Instance | undefined { return this.#instances.get(id); }
  has(id: string): boolean { return this.#instances.has(id); }
  /** all is a snapshot of every instance (safe to change the fleet while iterating it). */
  all(): Instance[] { return [...this.#instances.values()]; }
  /** inPool is a snapshot of one pool's instances. */
  inPool(pool: string): Instance[] { return [...(this.#byPool.get(pool)?.values() ?? [])]; }
  /** managedName: the id is one of ours, or matches a pool's reservedPattern. */
  managedName(id: string): boolean { return this.#instances.has(id) || this.#patterns.some((p) => p.re.test(id)); }

  /** adoptByPattern takes an unknown instance whose name matches a pool's reservedPattern into that pool, stopped. */
  adoptByPattern(id: string, nowMs: number): Instance | undefined {
    const match = this.#patterns.find((p) => p.re.test(id));
    if (match === undefined) return undefined;
    const inst = newInstance(id, match.pool, nowMs);
    this.put(inst);
    return inst;
  }

  /** step feeds one lifecycle input; a move is written and reported to onMoved, an ignored input to onIgnored. */
  step(inst: Instance, input: LifecycleInput, nowMs: number, source: string): StepResult {
    const provisionTimeoutMs = this.#provisionTimeoutMs.get(inst.pool) ?? DEFAULT_PROVISION_TIMEOUT_MS;
    const result = step(inst, input, { nowMs, provisionTimeoutMs });
    if (result.kind === 'ignored') {
      this.#opts.onIgnored(inst, input, result, source);
      return result;
    }
    const { transition } = result;
    this.put(result.instance, transition);
    const line = { pool: inst.pool, minion: inst.id, from: transition.from, to: transition.to, reason: transition.reason };
    if (this.#held === undefined) this.#opts.log.info(line, 'instance state');
    else this.#held.add(line, 'instance state');
    this.#opts.onMoved(result.instance, transition.from, nowMs);
    return result;
  }

  /** index keeps the instance in memory, by id and by pool (no write: loading from the store). */
  index(inst: Instance): void {
    this.#instances.set(inst.id, inst);
    let pool = this.#byPool.get(inst.pool);
    if (pool === undefined) { pool = new Map(); this.#byPool.set(inst.pool, pool); }
    pool.set(inst.id, inst);
  }

  /** put indexes the instance and writes it (with its transition), or adds it to the open batch. */
  put(inst: Instance, transition?: Transition): void {
    this.index(inst);
    const write = transition === undefined ? { instance: inst } : { instance: inst, transition };
    if (this.#batch !== undefined) this.#batch.push(write);
    else this.#write([write]);
  }

  /** write writes instance rows in one transaction, or queues them behind the deferred ones. */
  #write(writes: InstanceWrite[]): void {
    if (this.#deferred !== undefined) { this.#deferred.push(...writes); return; }
    const [only] = writes;
    if (writes.length === 1 && only !== undefined) {
      this.#opts.storeCall(() => this.#opts.store.saveInstance(only.instance, only.transition));
      return;
    }
    this.#opts.storeCall(() => this.#opts.store.atomically(() => {
      for (const e of writes) this.#opts.store.saveInstance(e.instance, e.transition);
    }));
  }

  /** forget drops a destroyed instance from memory and the store. */
  forget(inst: Instance): void {
    this.#instances.delete(inst.id);
    this.#byPool.get(inst.pool)?.delete(inst.id);
    this.#opts.storeCall(() => this.#opts.store.forgetInstance(inst.id));
    this.#opts.log.info({ pool: inst.pool, minion: inst.id }, 'destroyed instance forgotten');
  }

  /** inBatch runs fn with instance writes collected, then writes them in one transaction (nested calls join the outer one). */
  inBatch(fn: () => void): void {
    const outer = this.#batch === undefined;
    if (outer) this.#batch = [];
    try {
      fn();
    } finally {
      if (outer) {
        const batch = this.#batch ?? [];
        this.#batch = undefined;
        if (batch.length > 0) this.#write(batch);
      }
    }
  }

  /**
   * deferring runs fn as inBatch does, but holds its instance writes (and every later one) until writeDeferred():
   * a scale-up's moves are in memory at once (they count as in flight) and written once its calls are sent.
   */
  deferring(fn: () => void): void {
    this.#deferred ??= [];
    this.inBatch(fn);
  }

  /** writeDeferred writes the held instance writes in one transaction, in the order they were made (none held: nothing). */
  writeDeferred(): void {
    const writes = this.#deferred;
    this.#deferred = undefined;
    if (writes !== undefined && writes.length > 0) this.#write(writes);
  }

  /** holdingLines runs fn with the `instance state` lines of its moves added to `lines` instead of written. */
  holdingLines(lines: HeldLines, fn: () => void): void {
    const outer = this.#held;
    this.#held = lines;
    try {
      fn();
    } finally {
      this.#held = outer;
    }
  }

  /** rewriteAll writes every instance again (after the store could not write for a while). */
  rewriteAll(): void {
    this.inBatch(() => { for (const inst of this.#instances.values()) this.put(inst); });
  }
}
