/**
 * system-clock: the runtime's time behind the Clock port (Date.now and the global timers, unref'd so a timer never
 * keeps the process alive on its own). `withTimers` completes a clock that gives only `now`, so a caller that
 * brings its own time (a test, the simulator) need not bring timers, and adds `within`, built on the clock's own timer.
 */
import type { Clock, Timer } from './ports.ts';

/**
 * RunningClock is a Clock whose timers are all present (what the engine's roles use), with `within`: the engine's one
 * "wait for this, or give up after ms" (the timer is cancelled when the promise settles first, so none is left behind).
 */
export type RunningClock = Required<Clock> & {
  /**
   * within resolves true once `settles` settles (fulfilled or rejected: its outcome is the caller's to read), false when
   * ms pass first. For a promise that settles: one pending for the process's life keeps one reaction per call.
   */
  within(settles: Promise<unknown>, ms: number): Promise<boolean>;
};

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

/**
 * breathe lets the loop run its timers and I/O between two slices of a long piece of work (a reconcile pass, the
 * evaluation of every pool): a turn yielded from the check phase resolves in the next loop iteration, and the first
 * yield may be taken from the poll phase (an answer's callback), where it resolves in the same iteration's check phase.
 */
export async function breathe(clock: Pick<RunningClock, 'yieldTurn'>): Promise<void> {
  await clock.yieldTurn();
  await clock.yieldTurn();
}

/** withinOn is `within` on the timers of `afterMs`. */
function withinOn(afterMs: (ms: number, fn: () => void) => Timer): RunningClock['within'] {
  return (settles, ms) => new Promise<boolean>((resolve) => {
    const timer = afterMs(ms, () => { resolve(false); });
    const settled = (): void => { timer.cancel(); resolve(true); };
    settles.then(settled, settled);
  });
}

/** systemClock is wall-clock time and the global timers. */
export const systemClock: RunningClock = { now: () => Date.now(), after, every, yieldTurn, within: withinOn(after) };

/** withTimers fills in the timers a clock does not bring with the system's. */
export function withTimers(clock: Clock): RunningClock {
  const afterMs = clock.after?.bind(clock) ?? after;
  return {
    now: () => clock.now(),
    after: afterMs,
    every: clock.every?.bind(clock) ?? every,
    yieldTurn: clock.yieldTurn?.bind(clock) ?? yieldTurn,
    within: withinOn(afterMs),
  };
}
