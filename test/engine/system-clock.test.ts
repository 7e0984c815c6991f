/**
 * system-clock: `within(promise, ms)`, the engine's one "wait for this, or give up after ms", on the clock's own timers
 * (here the fake clock's, through withTimers): true when the promise settles in time, false when ms pass first, and no
 * timer left behind either way.
 */
import t from 'tap';
import { systemClock, withTimers } from '../../src/engine/system-clock.ts';
import { FakeClock } from '../support/engine-ports.ts';

/** pending is a promise settled only by hand. */
function pending(): { readonly promise: Promise<void>; resolve(): void; reject(err: Error): void } {
  let resolve = (): void => undefined;
  let reject = (_err: Error): void => undefined;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

t.test('within is true when the promise settles in time, at that moment, and cancels its timer', async (t) => {
  const fake = new FakeClock();
  const clock = withTimers(fake);
  const startMs = fake.now();
  const work = pending();
  let answer: boolean | undefined;
  let atMs = 0;
  void clock.within(work.promise, 1_000).then((ok) => { answer = ok; atMs = fake.now(); });
  t.equal(fake.liveTimers(), 1, 'one timer while it waits');
  await fake.advance(400);
  t.equal(answer, undefined, 'still waiting at 400 ms');
  work.resolve();
  await fake.advance(0);
  t.equal(answer, true, 'settled in time');
  t.equal(atMs - startMs, 400, 'answered when the promise settled, not when the timer would have fired');
  t.equal(fake.liveTimers(), 0, 'its timer cancelled: none left behind');
});

t.test('within counts a rejection as settled (the caller reads the outcome) and cancels its timer', async (t) => {
  const fake = new FakeClock();
  const work = pending();
  const waiting = withTimers(fake).within(work.promise, 1_000);
  work.reject(new Error('salt-api could not be reached'));
  t.equal(await waiting, true);
  t.equal(fake.liveTimers(), 0, 'its timer cancelled');
  await t.rejects(work.promise, /could not be reached/, 'the rejection stays the caller\'s to read');
});

t.test('within is false once ms pass before the promise settles, and leaves no timer', async (t) => {
  const fake = new FakeClock();
  const work = pending();
  let answer: boolean | undefined;
  void withTimers(fake).within(work.promise, 1_000).then((ok) => { answer = ok; });
  await fake.advance(999);
  t.equal(answer, undefined, 'still waiting 1 ms before the end');
  await fake.advance(1);
  t.equal(answer, false, 'timed out at 1,000 ms');
  t.equal(fake.liveTimers(), 0, 'no timer left');
  work.resolve();
  await fake.advance(0);
  t.equal(answer, false, 'a late settle changes nothing');
});

t.test('the system clock\'s within answers a settled promise without waiting out its timer', async (t) => {
  t.equal(await systemClock.within(Promise.resolve(), 3_600_000), true);
});
