/**
 * stream-coverage: which event stream connects still need a reconcile of their own. A connect may have missed the
 * events sent while no stream was open, so it needs a reconcile, unless a reconcile that read Salt after it has
 * succeeded, is running, or has not sent its reads yet. A pass that failed covers nothing; one that could not read
 * every grain covers nothing either, and asks to be read again when it was the one to cover the newest connect.
 *
 * ```
 *   connected ─► (timer) fire: 'connect' ─► pass: passBegins ─► readsSent (on the newest connect seen)
 *                      └► 'covered' when a pass covers it      ─► passSucceeded(allRead) | (failed) ─► passEnded
 *   asked (any other request) ─► fire: 'plain' (runs whatever the connects say)
 * ```
 *
 * Connects are numbered in the order the engine sees them open (0: none yet); a connect counts from when its gap is
 * handled, never earlier than it really opened.
 */

/** Fired is what a pending reconcile timer runs: a plain request, a connect's reconcile, or nothing (covered). */
export type Fired = 'plain' | 'connect' | 'covered';

/** StreamCoverage is the reconciler's bookkeeping of stream connects and the passes that cover them. */
export class StreamCoverage {
  /** #seen: the newest connect seen (each asks for a reconcile). */
  #seen = 0;
  /** #covered: the newest connect a succeeded pass covers (all its reads began once that connect was seen). */
  #covered = 0;
  /** #pass: the running pass: `none`, `unsent` (its reads not sent yet), or the connect its reads began on. */
  #pass: 'none' | 'unsent' | number = 'none';
  /** #plain: a request other than a connect's joined the pending timer. */
  #plain = false;

  /** connected: the stream (re)connected; this connect asks for a reconcile. */
  connected(): void { this.#seen += 1; }

  /** opened: the stream has connected at least once. */
  opened(): boolean { return this.#seen > 0; }

  /** newest: the newest connect seen (for the log). */
  newest(): number { return this.#seen; }

  /** asked: a request other than a connect's joined the pending timer: it runs whatever the connects say. */
  asked(): void { this.#plain = true; }

  /** passBegins: a pass is about to run; until its reads are sent it covers every connect. */
  passBegins(): void { this.#pass = 'unsent'; }

  /** readsSent: the pass's first read goes now (the others follow it): it covers the connects seen so far. */
  readsSent(): void { this.#pass = this.#seen; }

  /** passEnded: no pass runs now. */
  passEnded(): void { this.#pass = 'none'; }

  /**
   * passSucceeded: the running pass read Salt (`allRead`: every grain too) and it counts as covering. Returns true when
   * it read no grain of a connect it was the one to cover: that connect is to be read again, as after a failure.
   */
  passSucceeded(allRead: boolean): boolean {
    const read = typeof this.#pass === 'number' ? this.#pass : 0;
    if (allRead) { this.#covered = Math.max(this.#covered, read); return false; }
    return read >= this.#seen && this.#seen > this.#covered;
  }

  /** covered: the newest connect needs no reconcile of its own: a succeeded pass covers it, or the running one does. */
  covered(): boolean {
    if (this.#covered >= this.#seen) return true;
    return this.#pass === 'unsent' || (typeof this.#pass === 'number' && this.#pass >= this.#seen);
  }

  /** fire: the pending timer fired; what it runs (a plain request is used up by it). */
  fire(): Fired {
    const plain = this.#plain;
    this.#plain = false;
    if (plain) return 'plain';
    return this.covered() ? 'covered' : 'connect';
  }
}
