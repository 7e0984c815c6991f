/**
 * system-clock: the runtime's time behind the Clock port (Date.now and the global timers, unref'd so a timer never
 * keeps the process alive on its own). `withTimers` completes a clock that gives only `now`, so a caller that
 * brings its own time (a test, the simulator) need not bring timers.
 */
import type { Clock, Timer } from './ports.ts';

/** RunningClock is a Clock whose timers are all present (what the engine's roles use). */
export type RunningClock = Required<Clock>;

function after(ms: number, fn: () => void): Timer {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => { clearTimeout(t); } };
}

function every(ms: number, fn: () => void): Timer {
  const t = setInterval(fn, ms);
  t.unref();
  return { cancel: () => { clearInterval(t); } };
}

function yieldTurn(): Promise<void> {
  return new Promise<void>((resolve) => { setImmediate(resolve); });
}

/** systemClock is wall-clock time and the global timers. */
export const systemClock: RunningClock = { now: () => Date.now(), after, every, yieldTurn };

/** withTimers fills in the timers a clock does not bring with the system's. */
export function withTimers(clock: Clock): RunningClock {
  return {
    now: () => clock.now(),
    after: clock.after?.bind(clock) ?? after,
    every: clock.every?.bind(clock) ?? every,
    yieldTurn: clock.yieldTurn?.bind(clock) ?? yieldTurn,
  };
}
