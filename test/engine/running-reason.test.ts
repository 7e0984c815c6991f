/**
 * running reason: what a manual scale refused during the startup reconcile is told, by the reconcile's phase. While it
 * waits for the event stream it has not asked Salt; once it reads, the time it has asked Salt counts from its reads.
 * (test/engine/ports/scale-before-reconcile.test.ts gets the asking phase's reason through the engine; the waiting
 * phase outlasts no manual scale's 5 s wait there, since the stream wait is 2 s at most.)
 */
import t from 'tap';
import { runningReason, type RunningPhase } from '../../src/engine/reconciler.ts';

const CASES: readonly { name: string; phase: RunningPhase; nowMs: number; reason: string }[] = [
  {
    name: 'waiting for the event stream: Salt not asked yet',
    phase: { kind: 'stream', sinceMs: 10_000 }, nowMs: 11_400,
    reason: 'the startup reconcile has waited 1s for the event stream to connect and has not asked Salt yet',
  },
  {
    name: 'asking Salt after waiting for the stream: the seconds count from the reads, the wait said apart',
    phase: { kind: 'salt', sinceMs: 12_000, streamWaitMs: 2_000 }, nowMs: 16_000,
    reason: 'the startup reconcile has asked Salt for 4s without an answer yet (after waiting 2s for the event stream to connect)',
  },
  {
    name: 'asking Salt with no wait for the stream (it was connected)',
    phase: { kind: 'salt', sinceMs: 10_000, streamWaitMs: 0 }, nowMs: 16_000,
    reason: 'the startup reconcile has asked Salt for 6s without an answer yet',
  },
];

for (const c of CASES) {
  t.test(c.name, async (t) => {
    t.equal(runningReason(c.phase, c.nowMs), c.reason);
  });
}
