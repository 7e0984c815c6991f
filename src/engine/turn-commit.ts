/**
 * turn-commit: the group commit of one turn. The writes the engine makes while it handles one loop turn (the
 * decisions, transitions and intents of every pool evaluated together; the transitions of the salt events read
 * together; the intents finished together) share one SQLite transaction, committed (one fsync) once the turn's work
 * is done, never on a timer:
 *
 * - `microtask` (an evaluation turn): at the end of the current microtask queue, so a lone notification waits for
 *   nothing but its own commit;
 * - `loop` (salt events, finished intents): at the end of this event-loop turn (`setImmediate`), so the events of
 *   one read of the stream, each handled a few microtasks after the one before, and the answers that came in
 *   together share one commit instead of one each.
 *
 * ```
 *   join(write, at) ──first of the turn?──► store.begin(), commit queued (at: microtask | loop)
 *                   └──► write runs now (in-memory state moves at once; the rows join the open transaction)
 *                   └──► durable: resolves true once the turn committed, false when it could not (reported)
 *   a microtask join into a turn opened for `loop` moves its commit to the end of the microtask queue
 *   commit: store.commit() ──ok──► every durable of the turn: true  ──► the calls that wait for it are sent
 *                           └fail─► rolled back, reported to the store watch ──► false: no call is sent
 * ```
 * An intent written while a turn is open is durable only when that turn commits: its call waits for `pending()`.
 */
import type { StateStore } from './ports.ts';

/** CommitPoint is when a turn commits: at the end of the microtask queue, or at the end of the event-loop turn. */
export type CommitPoint = 'microtask' | 'loop';

/** TurnCommitOptions wires the group commit: the store, and the engine's storeCall (which reports a failure). */
export interface TurnCommitOptions {
  readonly store: Pick<StateStore, 'begin' | 'commit'>;
  readonly storeCall: <T>(fn: () => T) => T | undefined;
  /** schedule runs a `microtask` commit once the turn's work is done (default: queueMicrotask). */
  readonly schedule?: (fn: () => void) => void;
  /** scheduleLoop runs a `loop` commit at the end of the event-loop turn (default: setImmediate). */
  readonly scheduleLoop?: (fn: () => void) => void;
}

/** Turn is one open transaction: what resolves its writes' durability, and whether a microtask commit is queued. */
interface Turn {
  readonly durable: Promise<boolean>;
  readonly settle: (ok: boolean) => void;
  microtask: boolean;
}

const NOT_DURABLE = Promise.resolve(false);

/** TurnCommit collects the writes of one turn into one transaction and says when they are durable. */
export class TurnCommit {
  readonly #opts: TurnCommitOptions;
  #turn: Turn | undefined;
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
  join<T>(write: () => T, at: CommitPoint = 'microtask'): { readonly value: T; readonly durable: Promise<boolean> } {
    const turn = this.#turn ?? this.#open(at);
    // a turn whose transaction did not open: its writes go out one by one, and none of them counts as durable
    if (turn === undefined) return { value: write(), durable: NOT_DURABLE };
    if (at === 'microtask' && !turn.microtask) {
      turn.microtask = true;
      this.#schedule(turn, 'microtask');
    }
    return { value: write(), durable: turn.durable };
  }

  /** pending is the durability of the open turn (undefined when none is open: a write now commits on its own). */
  pending(): Promise<boolean> | undefined {
    return this.#turn?.durable;
  }

  /** flush commits the open turn now (the engine stops). */
  flush(): void {
    if (this.#turn !== undefined) this.#commit(this.#turn);
  }

  #open(at: CommitPoint): Turn | undefined {
    const opened = this.#opts.storeCall(() => { this.#opts.store.begin(); return true; }) === true;
    if (!opened) return undefined;
    let settle: (ok: boolean) => void = () => undefined;
    const durable = new Promise<boolean>((resolve) => { settle = resolve; });
    const turn: Turn = { durable, settle, microtask: at === 'microtask' };
    this.#turn = turn;
    this.#schedule(turn, at);
    return turn;
  }

  #schedule(turn: Turn, at: CommitPoint): void {
    const run = (): void => { this.#commit(turn); };
    if (at === 'microtask') (this.#opts.schedule ?? queueMicrotask)(run);
    else (this.#opts.scheduleLoop ?? ((fn: () => void) => { setImmediate(fn); }))(run);
  }

  /** commit ends `turn` once: a second scheduled commit of a turn already ended does nothing. */
  #commit(turn: Turn): void {
    if (this.#turn !== turn) return;
    this.#turn = undefined;
    this.commits += 1;
    const ok = this.#opts.storeCall(() => { this.#opts.store.commit(); return true; }) === true;
    turn.settle(ok);
  }
}
