/**
 * log-batch: the JSON log's destination in front of pino's stdout stream (sonic-boom): the lines written in one
 * event-loop turn go to it as one string at the end of the turn (`setImmediate`), not one by one.
 *
 * ```
 *   logger.info(...) ──► write(line): kept in the turn's list ──(end of the loop turn)──► out.write(lines joined)
 *   process 'exit' ──► the lines kept go to out, then out.flushSync()
 * ```
 * Why: in a burst (1,000 scale-ups in a second, five lines each) sonic-boom, while one write of the stream is in
 * flight, appends each new line to the string it holds and measures that string's UTF-8 length again, which copies the
 * whole held string (up to 16 KiB) for every line: ~6-9 KB of garbage a line in the load bench's wave, a fifth of what
 * the service allocated there (docs/benchmarks.md, "the wave"), and one write request per line when none is in
 * flight. Per turn it measures and copies each string once. The order of the lines is kept; what sonic-boom does for
 * the stream (async writes, EAGAIN retries, a closed pipe, the flush at exit) is unchanged. A line waits at most
 * until the end of its loop turn; a process killed with SIGKILL loses the lines of that turn as well as the ones
 * sonic-boom had not written yet.
 */
import type { DestinationStream } from 'pino';

/** BatchedOut is what the batch writes to: pino's sonic-boom stream (or a test's). */
export interface BatchedOut {
  write(data: string): unknown;
  flushSync?(): void;
}

/** TurnBatchedDestination keeps the lines of a loop turn and writes them to `out` together at its end. */
export class TurnBatchedDestination implements DestinationStream {
  readonly #out: BatchedOut;
  readonly #schedule: (fn: () => void) => void;
  #lines: string[] = [];
  #scheduled = false;

  /** constructor: `schedule` runs the turn's write at the end of the loop turn (default setImmediate). */
  constructor(out: BatchedOut, schedule: (fn: () => void) => void = (fn) => { setImmediate(fn); }) {
    this.#out = out;
    this.#schedule = schedule;
  }

  write(line: string): void {
    this.#lines.push(line);
    if (this.#scheduled) return;
    this.#scheduled = true;
    holding(this);
    this.#schedule(this.#writeTurn);
  }

  /** flushSync hands the lines kept to `out` and has it write everything now (the process exits). */
  flushSync(): void {
    this.#writeTurn();
    this.#out.flushSync?.();
  }

  readonly #writeTurn = (): void => {
    this.#scheduled = false;
    HOLDING.delete(this);
    const lines = this.#lines;
    if (lines.length === 0) return;
    this.#lines = [];
    this.#out.write(lines.length === 1 ? (lines[0] ?? '') : lines.join(''));
  };
}

/** HOLDING: the destinations with lines not yet handed to their stream (the only ones the exit must flush). */
const HOLDING = new Set<TurnBatchedDestination>();
let exitHooked = false;

/** holding notes a destination that keeps lines until its turn ends, and hooks the process's exit once. */
function holding(destination: TurnBatchedDestination): void {
  HOLDING.add(destination);
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const d of HOLDING) {
      try {
        d.flushSync();
      } catch {
        // (a stream that cannot write at exit: nothing left to tell it to)
      }
    }
  });
}
