/**
 * bus: the emulated Salt event bus. Everything the master "fires" goes through `publish`, which stamps it,
 * applies the bus-level faults (master down, duplicates, reordering, malformed frames) and hands it to every
 * subscribed stream (SSE or websocket connection).
 *
 *   publish(tag, data) --master down?--> dropped (lost, as after a real master restart)
 *          |                  no
 *          v
 *     add _stamp --> duplicate? (x2) --> reorder? (hold one, swap with the next) --> deliver --> subscribers
 *                                                                                   (malformed flag per event)
 */
import { saltStamp } from './wire.ts';

/** BusEvent is one Salt event as the streams send it: `{"data": {..., "_stamp"}, "tag": "..."}`. */
export interface BusEvent {
  readonly tag: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** BusSubscriber receives each delivered event; `malformed` asks the stream to send it broken. */
export type BusSubscriber = (event: BusEvent, malformed: boolean) => void;

/** Timers runs the emulator's delayed work on unref'd timers, so `close()` can clear them all. */
export class Timers {
  readonly #pending = new Set<NodeJS.Timeout>();
  /** after runs `fn` after `ms` unless cleared by `clearAll` or by the returned cancel. */
  after(ms: number, fn: () => void): () => void {
    const timer = setTimeout(() => {
      this.#pending.delete(timer);
      fn();
    }, Math.max(0, ms));
    timer.unref();
    this.#pending.add(timer);
    return () => { clearTimeout(timer); this.#pending.delete(timer); };
  }
  /** sleep resolves after `ms` (never, once cleared: the emulator is closing). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }
  /** clearAll cancels every pending timer. */
  clearAll(): void {
    for (const t of this.#pending) clearTimeout(t);
    this.#pending.clear();
  }
}

/** REORDER_FLUSH_MS is how long a held-back event waits for a successor before it is sent anyway. */
export const REORDER_FLUSH_MS = 50;

/** EventBus fans events out to subscribers and implements the bus faults. */
export class EventBus {
  readonly #subscribers = new Set<BusSubscriber>();
  readonly #history: BusEvent[] = [];
  readonly #now: () => number;
  readonly #timers: Timers;
  #silentUntilMs = 0;
  #duplicate = false;
  #reorder = false;
  #held: BusEvent | undefined;
  #malformedLeft = 0;
  #lost = 0;

  constructor(now: () => number, timers: Timers) {
    this.#now = now;
    this.#timers = timers;
  }

  /** history lists every event published and not lost, in publish order (for tests and the control API). */
  get history(): readonly BusEvent[] {
    return this.#history;
  }

  /** lostCount is how many events were dropped while the master was down. */
  get lostCount(): number {
    return this.#lost;
  }

  /** subscribe adds a stream; the returned function removes it. */
  subscribe(fn: BusSubscriber): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  /** publish fires `tag` with `data` (plus `_stamp`); returns the event, or undefined when it was lost. */
  publish(tag: string, data: Readonly<Record<string, unknown>>): BusEvent | undefined {
    const nowMs = this.#now();
    if (nowMs < this.#silentUntilMs) {
      this.#lost += 1;
      return undefined;
    }
    const event: BusEvent = { tag, data: { ...data, _stamp: saltStamp(nowMs, this.#history.length % 1000) } };
    this.#history.push(event);
    this.#route(event);
    if (this.#duplicate) this.#route(event);
    return event;
  }

  /** masterDown drops every event for `ms` (streams stay open and silent). */
  masterDown(ms: number): void {
    this.#silentUntilMs = this.#now() + ms;
  }

  /** setDuplicate turns on or off sending each event twice. */
  setDuplicate(on: boolean): void {
    this.#duplicate = on;
  }

  /** setReorder turns on or off swapping consecutive events. */
  setReorder(on: boolean): void {
    this.#reorder = on;
    if (!on) this.#flushHeld();
  }

  /** malformNext sends the next `n` events as broken frames. */
  malformNext(n: number): void {
    this.#malformedLeft += n;
  }

  #route(event: BusEvent): void {
    if (!this.#reorder) {
      this.#deliver(event);
      return;
    }
    const held = this.#held;
    if (held === undefined) {
      this.#held = event;
      this.#timers.after(REORDER_FLUSH_MS, () => this.#flushHeld());
      return;
    }
    this.#held = undefined;
    this.#deliver(event);
    this.#deliver(held);
  }

  #flushHeld(): void {
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    this.#deliver(held);
  }

  #deliver(event: BusEvent): void {
    const malformed = this.#malformedLeft > 0;
    if (malformed) this.#malformedLeft -= 1;
    for (const fn of [...this.#subscribers]) fn(event, malformed);
  }
}
