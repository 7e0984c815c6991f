/**
 * store-watch: whether the state store can still carry the intent log, and so whether this process may act.
 *
 *   writable ──a store call fails (disk full, I/O)──► unwritable ──probe write every checkInterval succeeds──► writable
 *      │              └──quick_check right away: fails──┐
 *      │ every checkInterval, on each change the store's │
 *      │ watch reports, else before each action:         │
 *      │   the path names another file or none ─────────►├──► lost (fatal): acting stops for good, onFatal(err) (exit 1)
 *      │ every integrityInterval: quick_check fails ─────┘
 *
 * Only a probe write brings an unwritable store back: on a full disk some writes (an update in place) still succeed,
 * and one of them must not let an action out whose intent could not be written. mayAct() is false unless writable and
 * not lost. A deleted or replaced file stops the next action of a later turn: while started, the store's watch of its
 * path (inotify, StateStore.watchFile) reports a rename, deletion or creation on the path in the next poll phase of the
 * event loop, and the path is stat'ed then, before that turn's evaluations (they run in its check phase), so the way
 * to an action stats nothing; what the watch cannot see (a mount, another host on a network filesystem) is found by
 * the stat every checkInterval. Without a watch, mayAct() stats the path once per event-loop turn (the first mayAct()
 * of the turn). Within one turn the engine runs synchronously or on microtasks (an evaluation from its decision to its
 * calls asks four times): a stat there would answer what the turn's first one did, as no other code of this process
 * runs in between, and the file can change right after any stat whichever it is.
 */
import { AutoscalerError } from '../errors.ts';
import type { Clock, FileWatch, StateStore, StoreFault } from './ports.ts';

export type { StoreFault };


/** StoreWatchLogger is the slice of pino the watch logs through. */
interface StoreWatchLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** StoreWatchOptions wires a StoreWatch; the intervals default to 1 s (file and probe) and 5 min (quick_check). */
export interface StoreWatchOptions {
  readonly store: Pick<StateStore, 'probeWrite' | 'fileStatus' | 'integrityCheck' | 'watchFile'>;
  readonly clock: Clock;
  readonly logger: StoreWatchLogger;
  readonly checkIntervalMs?: number;
  readonly integrityIntervalMs?: number;
  /** onFault: a fault was found (for metrics). */
  readonly onFault?: (fault: StoreFault) => void;
  /** onWritable: the store became unwritable (false) or writable again (true). */
  readonly onWritable?: (writable: boolean) => void;
  /** onFatal: called once when the store is lost (replaced or corrupt): this process must stop. */
  readonly onFatal?: (err: AutoscalerError) => void;
}

/** StoreWatch keeps the store's health; the engine reports failed store calls to it and asks it before acting. */
export class StoreWatch {
  readonly #opts: StoreWatchOptions;
  #unwritable: string | undefined;
  #lost: AutoscalerError | undefined;
  #integrityAtMs: number | undefined;
  /** #fileSeen: the path was found naming the open file in this event-loop turn (cleared at its end). */
  #fileSeen = false;
  /** #watch: the store's watch of its path while started (undefined: none, mayAct() stats once per turn). */
  #watch: FileWatch | undefined;
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(opts: StoreWatchOptions) {
    this.#opts = opts;
  }

  /** start runs the periodic checks and the watch of the store's path until stop(). */
  start(): void {
    if (this.#timers.length > 0) return;
    // (a watch that broke leaves the stat once per turn to mayAct(), as without one)
    this.#watch = this.#opts.store.watchFile?.(() => { this.#checkFile(); }, () => { this.#watch = undefined; this.#checkFile(); });
    if (this.#watch !== undefined) this.#checkFile(); // (a change before the watch began)
    this.#every(this.#opts.checkIntervalMs ?? 1_000, () => this.#check());
    this.#every(this.#opts.integrityIntervalMs ?? 5 * 60_000, () => this.#checkIntegrity());
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
    this.#watch?.close();
    this.#watch = undefined;
  }

  /** callFailed takes a failed store call: the store counts as unwritable until a probe write succeeds, and its integrity is checked. */
  callFailed(err: unknown): void {
    if (this.#lost !== undefined) return;
    this.#opts.onFault?.('write');
    if (this.#unwritable === undefined) {
      this.#unwritable = `a state store write failed: ${describe(err)}`;
      this.#opts.logger.error({ err, code: 'ASC_ERR_STORE_WRITE' }, 'state store not writable: nothing is sent to salt-api until a probe write succeeds');
      this.#opts.onWritable?.(false);
    }
    this.#integritySoon();
  }

  /** integritySoon checks integrity after a failure, at most once per check interval (a full disk fails many calls in a row). */
  #integritySoon(): void {
    const now = this.#opts.clock.now();
    if (this.#integrityAtMs === undefined || now - this.#integrityAtMs >= (this.#opts.checkIntervalMs ?? 1_000)) this.#checkIntegrity();
  }

  /** mayAct: the store is writable, not lost, and its path still names the file this process has open (watched, else stat once a loop turn). */
  mayAct(): boolean {
    if (this.#lost !== undefined || this.#unwritable !== undefined) return false;
    if (this.#fileSeen || this.#watch !== undefined) return true;
    this.#checkFile();
    if (this.#lost !== undefined) return false;
    this.#fileSeen = true;
    setImmediate(() => { this.#fileSeen = false; });
    return true;
  }

  /** problem says why the store is not healthy (undefined when it is). */
  problem(): { readonly code: 'ASC_ERR_STORE_WRITE' | 'ASC_ERR_STORE_REPLACED' | 'ASC_ERR_STORE_CORRUPT'; readonly message: string } | undefined {
    if (this.#lost !== undefined) return { code: this.#lost.code as 'ASC_ERR_STORE_REPLACED' | 'ASC_ERR_STORE_CORRUPT', message: this.#lost.message };
    return this.#unwritable === undefined ? undefined : { code: 'ASC_ERR_STORE_WRITE', message: this.#unwritable };
  }

  #check(): void {
    this.#checkFile();
    if (this.#lost !== undefined || this.#unwritable === undefined) return;
    try {
      this.#opts.store.probeWrite(this.#opts.clock.now());
    } catch {
      this.#integritySoon(); // still failing: said once when it began; a corrupt file fails here too
      return;
    }
    const was = this.#unwritable;
    this.#unwritable = undefined;
    this.#opts.logger.info({ was }, 'state store writable again: acting resumes');
    this.#opts.onWritable?.(true);
  }

  #checkFile(): void {
    if (this.#lost !== undefined) return;
    let status: string;
    try {
      status = this.#opts.store.fileStatus();
    } catch (err) {
      status = `not readable (${describe(err)})`;
    }
    if (status === 'same') return;
    const what = status === 'missing' ? 'was deleted' : status === 'replaced' ? 'was replaced by another file' : `is ${status}`;
    this.#fatal('replaced', new AutoscalerError('ASC_ERR_STORE_REPLACED',
      `the state database file ${what} while this process had it open: another process may act on the same fleet; this one stops acting (restore the file or restart the service)`));
  }

  #checkIntegrity(): void {
    this.#checkFile(); // a file gone is said as such, not as a failed check of the file now at the path
    if (this.#lost !== undefined) return;
    this.#integrityAtMs = this.#opts.clock.now();
    let result: string;
    try {
      result = this.#opts.store.integrityCheck();
    } catch (err) {
      result = describe(err);
    }
    if (result === 'ok') return;
    this.#fatal('corrupt', new AutoscalerError('ASC_ERR_STORE_CORRUPT',
      `the state database failed its integrity check (PRAGMA quick_check: ${result}): this process stops acting; restore a backup or move the file away and restart`));
  }

  #fatal(fault: StoreFault, err: AutoscalerError): void {
    this.#lost = err;
    this.stop();
    this.#opts.onFault?.(fault);
    this.#opts.logger.error({ code: err.code, err }, 'state store lost: this process stops acting');
    this.#opts.onWritable?.(false);
    this.#opts.onFatal?.(err);
  }

  #every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.#timers.push(t);
  }
}

function describe(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? ` (${String(err.code)})` : '';
  return `${err instanceof Error ? err.message : String(err)}${code}`;
}
