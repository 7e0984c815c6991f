/**
 * latency: how long the simulated cloud and Salt take for each start, drawn from a seeded generator so a run is
 * repeatable: the n-th start of a run always gets the same draws, whatever the policy.
 *
 *   latency = base x (1 + jitter x u), u uniform in [-1, 1)   (jitter 0 = the base exactly)
 *   a start fails with probability failureShare: its deploy orchestrate fires `instance/<id>/failed` instead of ready
 */

/** Latencies are the simulated cloud's base times (ms), their relative jitter and the share of starts that fail. */
export interface Latencies {
  readonly startMs: number;
  readonly deployMs: number;
  readonly createMs: number;
  readonly stopMs: number;
  /** jitter: 0..1, each drawn latency is within base x (1 +- jitter). */
  readonly jitter: number;
  /** failureShare: 0..1, the share of starts whose deploy fails. */
  readonly failureShare: number;
}

/** seededRandom is mulberry32: a small, fast, deterministic generator of floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** StartDraw is one start's fate: when its minion starts, when its deploy ends, and whether the deploy fails. */
export interface StartDraw {
  readonly bootMs: number;
  readonly deployMs: number;
  readonly fails: boolean;
}

/** startDraws returns the draw function of one run: `created` picks the create latency instead of the start's. */
export function startDraws(latencies: Latencies, seed: number): (created: boolean) => StartDraw {
  const random = seededRandom(seed);
  const jittered = (baseMs: number): number => Math.max(0, Math.round(baseMs * (1 + latencies.jitter * (2 * random() - 1))));
  return (created) => {
    const bootMs = jittered(created ? latencies.createMs : latencies.startMs);
    const deployMs = jittered(latencies.deployMs);
    return { bootMs, deployMs, fails: random() < latencies.failureShare };
  };
}
