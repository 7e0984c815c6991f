/**
 * window-share: a run's waiting as the budget is promised, over the pool's rolling `waitWindow`, and as the shipped
 * alert `SaltAutoscalerPoolOverBudget` reads it (`salt_autoscaler_pool_waiting_share` x `..._wait_window_covered` above
 * the budget `for: 1h`: a young pool's waiting against a whole window's demand at the rate seen).
 *
 * ```
 *   demand, unmet per minute ──► the share over the window up to each minute (a young pool's: since its start, as the
 *                                pool's gauge reads it) ──► worst full window
 *                            ──► x the part of the window measured (1 once whole) ──► minutes the alert would fire
 * ```
 * A whole trace within its budget may still fire the alert: the window moves, and a week of little demand makes a few
 * rises a large share of it.
 */

/** ALERT_FOR_MINUTES is the shipped alert's `for:` (1h): the share must stay above the budget this long before it fires. */
export const ALERT_FOR_MINUTES = 60;

/** WindowShares is a run's waiting over its rolling window. */
export interface WindowShares {
  /** worstShare: the highest share of demand that waited over any full window (the whole trace when it is shorter). */
  readonly worstShare: number;
  /**
   * alertHours: hours the alert would have fired: minutes past ALERT_FOR_MINUTES of each stretch where the share,
   * weighed by the part of the window measured, is above the budget.
   */
  readonly alertHours: number;
}

/**
 * windowShares reads the share of demand that waited over the `windowMinutes` up to each minute (per-minute series of
 * the same unit, e.g. GPU-minutes): its worst over a full window, and how long the shipped alert would fire with
 * `budget` (the series start with the pool: its first minutes are a young window). A window without demand has a
 * share of 0.
 */
export function windowShares(demand: readonly number[], unmet: readonly number[], windowMinutes: number, budget: number): WindowShares {
  const window = Math.max(1, Math.floor(windowMinutes));
  const full = Math.min(window, demand.length);
  let waited = 0;
  let wanted = 0;
  let worst = 0;
  let over = 0;
  let firing = 0;
  for (let t = 0; t < demand.length; t += 1) {
    waited += unmet[t] ?? 0;
    wanted += demand[t] ?? 0;
    if (t >= window) {
      waited -= unmet[t - window] ?? 0;
      wanted -= demand[t - window] ?? 0;
    }
    const share = wanted > 0 ? waited / wanted : 0;
    if (t >= full - 1) worst = Math.max(worst, share);
    const covered = Math.min(1, (t + 1) / window);
    over = share * covered > budget ? over + 1 : 0;
    if (over > ALERT_FOR_MINUTES) firing += 1;
  }
  return { worstShare: worst, alertHours: firing / 60 };
}
