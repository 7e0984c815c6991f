/**
 * read-pause: while scale-ups come in a burst, the salt event stream stops reading, so the burst's calls go out before
 * the bus's events (the started instances' own among them) are read and parsed: their CPU comes after the burst instead
 * of inside it, and nothing of them is held in the heap meanwhile (TCP holds the bytes).
 *
 * ```
 *   scale-up decided ─► the last BURST_SCALE_UPS scale-ups within BURST_WINDOW_MS? ─no─► nothing
 *                                                                               └yes─► events.pauseReads(PAUSE_LINGER_MS)
 *   each further scale-up of the burst extends the pause to PAUSE_LINGER_MS after it; the stream bounds the pause
 *   (its cap, then reading as long as it paused), keeps every event in order and does not count it against its heartbeat
 * ```
 * A lone scale-up (or a few) never pauses anything: an event waits only when a burst's calls are on their way.
 */
import type { EventSource } from './ports.ts';

/** BURST_SCALE_UPS / BURST_WINDOW_MS: this many scale-ups decided within this time are a burst. */
export const BURST_SCALE_UPS = 8;
export const BURST_WINDOW_MS = 100;
/** PAUSE_LINGER_MS: how long after a burst's last scale-up the reads stay paused (its calls are sent well within it). */
export const PAUSE_LINGER_MS = 250;

/** ReadPause watches the scale-ups decided and pauses the event source's reads during a burst. */
export class ReadPause {
  readonly #source: EventSource | undefined;
  /** #times: when the last BURST_SCALE_UPS scale-ups were decided (a ring; -Infinity for none). */
  readonly #times = new Float64Array(BURST_SCALE_UPS).fill(Number.NEGATIVE_INFINITY);
  #next = 0;

  constructor(source: EventSource | undefined) {
    this.#source = source;
  }

  /** scaleUp counts one scale-up decided at `nowMs`; in a burst, the reads pause (or stay paused) for PAUSE_LINGER_MS more. */
  scaleUp(nowMs: number): void {
    if (this.#source?.pauseReads === undefined) return;
    this.#times[this.#next] = nowMs;
    this.#next = (this.#next + 1) % BURST_SCALE_UPS;
    // (#next is now the oldest of the last BURST_SCALE_UPS)
    if (nowMs - (this.#times[this.#next] ?? Number.NEGATIVE_INFINITY) <= BURST_WINDOW_MS) this.#source.pauseReads(PAUSE_LINGER_MS);
  }
}
