/**
 * oracle: the exact minimum paid instance-minutes that serve a demand with no waiting, knowing the future.
 *
 * ```
 *   needed[t] = ceil(demand[t] / gpusPerInstance)          instances that must be READY at minute t
 *
 *   level k (k = 1 .. max needed): the minutes with needed[t] >= k, as runs of required minutes
 *
 *   k=2      ##..........####                      a gap of g minutes between two runs costs min(g, lead):
 *   k=1   ######...##########..                    keep the instance (g) or stop it and start it again (lead)
 *         ^ warm at t = 0: levels <= needed[0] are ready for free, every other fresh start pays its lead
 * ```
 *
 * Why levels: instances are interchangeable, so the running count c[t] is all a plan is, and both its cost terms
 * split by level: sum c[t] = sum_k #{t: c[t] >= k}, and the starts (each paying `lead` minutes before it is ready)
 * are sum_k #{t: c[t] >= k > c[t-1]}. Each level is then an independent 0/1 problem whose optimum bridges every
 * gap no longer than the lead; a bridged gap of level k+1 only spans shorter gaps of level k, which are bridged
 * too, so the per-level optima stack into one plan. The trailing minutes after a level's last run cost nothing
 * (the instance stops).
 */

/** OraclePlan is the oracle's cost: paid instance-minutes (ready minutes + a lead per fresh start), starts and stops. */
export interface OraclePlan {
  readonly instanceMinutes: number;
  readonly starts: number;
  readonly stops: number;
}

/**
 * exactOracle is the cheapest plan that has needed[t] instances ready at every minute t, given that a fresh start
 * is paid `leadMinutes` before it is ready and the needed[0] instances of minute 0 are ready at no extra cost.
 */
export function exactOracle(needed: readonly number[], leadMinutes: number): OraclePlan {
  const warm = needed[0] ?? 0;
  const top = needed.reduce((a, b) => Math.max(a, b), 0);
  let instanceMinutes = 0;
  let starts = 0;
  let stops = 0;
  for (let level = 1; level <= top; level += 1) {
    let lastRequired = -1;
    for (let t = 0; t < needed.length; t += 1) {
      if ((needed[t] ?? 0) < level) continue;
      instanceMinutes += 1;
      if (lastRequired < 0) {
        if (level > warm) {
          starts += 1;
          instanceMinutes += leadMinutes;
        }
      } else {
        const gap = t - lastRequired - 1;
        if (gap > leadMinutes) {
          starts += 1;
          stops += 1;
          instanceMinutes += leadMinutes;
        } else {
          instanceMinutes += gap;
        }
      }
      lastRequired = t;
    }
    if (lastRequired >= 0 && lastRequired < needed.length - 1) stops += 1;
  }
  return { instanceMinutes, starts, stops };
}
