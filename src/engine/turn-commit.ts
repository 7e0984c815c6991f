/**
 * turn-commit: the group commit of one turn. The writes the engine makes while it handles one loop turn (the
 * decisions, transitions and intents of every pool evaluated together) share one SQLite transaction, committed
 * (one fsync) once the turn's synchronous work is done: at the end of the current microtask queue, never on a
 * timer, so a lone notification waits for nothing but its own commit.
 *
 * ```
 *   join(write) ──first of the turn?──► store.begin(), commit queued as a microtask
 *               └──► write runs now (in-memory state moves at once; the rows join the open transaction)
 *               └──► durable: resolves true once the turn committed, false when it could not (reported)
 *   microtask: store.commit() ──ok──► every durable of the turn: true  ──► the executor sends the calls
 *                              └fail─► rolled back, reported to the store watch ──► false: no call is sent
 * ```
 */
import type { StateStore } from './ports.ts';

/** TurnCommitOptions wires the group commit: the store, and the engine's storeCall (which reports a failure). */
export interface TurnCommitOptions {
  readonly store: Pick<StateStore, 'begin' | 'commit'>;
  readonly storeCall: <T>(fn: () => T) => T | undefined;
  /** schedule runs the commit once the turn's work is done (default: queueMicrotask). */
  readonly schedule?: (fn: () => void) => void;
}

/** TurnCommit collects the writes of one turn into one transaction and says when they are durable. */
export class TurnCommit {
  readonly #opts: TurnCommitOptions;
  #durable: Promise<boolean> | undefined;
  #settle: ((ok: boolean) => void) | undefined;
  /** commits: how many turns were committed (or failed to); for tests and benches. */
  commits = 0;

  constructor(opts: TurnCommitOptions) {
    this.#opts = opts;
  }

  /**
   * join runs `write` inside the current turn's transaction (opening it when it is the turn's first write) and
   * returns what it returned with `durable`, which resolves true once the turn committed and false when the
   * transaction could not be opened or committed (the failure already reported through storeCall). An exception
   * of `write` propagates, and the rest of the turn still commits.
   */
  join<T>(write: () => T): { readonly value: T; readonly durable: Promise<boolean> } {
    const durable = this.#durable ?? this.#open();
    return { value: write(), durable };
  }

  #open(): Promise<boolean> {
    const opened = this.#opts.storeCall(() => { this.#opts.store.begin(); return true; }) === true;
    // a turn whose transaction did not open: its writes go out one by one, and none of them counts as durable
    if (!opened) return Promise.resolve(false);
    const durable = new Promise<boolean>((resolve) => { this.#settle = resolve; });
    this.#durable = durable;
    (this.#opts.schedule ?? queueMicrotask)(() => { this.#commit(); });
    return durable;
  }

  #commit(): void {
    const settle = this.#settle;
    this.#durable = undefined;
    this.#settle = undefined;
    this.commits += 1;
    const ok = this.#opts.storeCall(() => { this.#opts.store.commit(); return true; }) === true;
    settle?.(ok);
  }
}
