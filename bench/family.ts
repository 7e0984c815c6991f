/**
 * bench/family: the policy benches' latency settings, and the yardstick of issue 13 (the family "hold the peak of the
 * last H minutes, plus S spare instances" tuned per trace in hindsight), which lives in src/sim/family.ts since
 * `simulate --hindsight` shows it too.
 */
import type { SimOptions } from '../src/sim/simulate.ts';

export { cheapestMember, familyPolicy, HOLD_MINUTES, holdPeakSignal, SPARE_INSTANCES, tuneFamily, type Tuned } from '../src/sim/family.ts';

/** LATENCY_OPTIONS are the policy benches' two latency settings: the simulator's defaults, or every start-to-ready latency doubled. */
export const LATENCY_OPTIONS: Readonly<Record<'1x' | '2x', SimOptions>> = {
  '1x': {},
  '2x': { startLatencyMs: 120_000, deployLatencyMs: 360_000, createLatencyMs: 480_000 },
};
