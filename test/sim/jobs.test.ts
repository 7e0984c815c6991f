import t from 'tap';
import { JobBook, waitPercentile } from '../../src/sim/jobs.ts';
import { seededRandom, startDraws } from '../../src/sim/latency.ts';

const dense = (waits: readonly (number | undefined)[]): number[] => Array.from(waits, (n) => n ?? 0);

t.test('a rise queues jobs of at most one instance each, placed best fit on ready instances', async (t) => {
  const book = new JobBook(8);
  book.follow(20, 0);
  t.equal(book.queuedGpus(), 20, 'nothing ready: all of it waits');
  book.hostsAre(['a', 'b']);
  book.place(2);
  t.same([book.jobsOn('a'), book.jobsOn('b')], [[8], [8]]);
  t.equal(book.queuedGpus(), 4, 'the 4-GPU job finds no room');
  book.follow(23, 2);
  book.hostsAre(['a', 'b', 'c']);
  book.place(3);
  t.same(book.jobsOn('c'), [4, 3], 'the 3-GPU job goes where it fits best, next to the 4-GPU one');
  t.equal(book.queuedGpus(), 0);
  t.same(dense(book.waits), [0, 1, 2, 1], 'two jobs placed after 2 minutes, the 4-GPU one after 3, the 3-GPU one after 1');
});

t.test('a fall ends queued work first, then the work of the least loaded instance', async (t) => {
  const book = new JobBook(8);
  book.hostsAre(['a', 'b']);
  book.follow(12, 0);
  book.place(0);
  t.same([book.jobsOn('a'), book.jobsOn('b')], [[8], [4]]);
  book.follow(14, 1);
  t.equal(book.queuedGpus(), 2);
  book.follow(9, 2);
  t.equal(book.queuedGpus(), 0, 'the queued job ended first');
  t.same([book.jobsOn('a'), book.jobsOn('b')], [[8], [1]], 'then 3 GPUs of the least loaded instance');
  t.ok(book.busy('b'), 'one GPU of work keeps an instance busy');
  book.follow(8, 3);
  t.notOk(book.busy('b'), 'idle once no job runs on it');
  t.ok(book.busy('a'));
});

t.test('an instance that leaves gives its jobs back to the head of the queue', async (t) => {
  const book = new JobBook(8);
  book.hostsAre(['a']);
  book.follow(8, 0);
  book.place(0);
  book.hostsAre([]);
  t.equal(book.queuedGpus(), 8);
  book.finish(5);
  t.same(dense(book.waits), [1, 0, 0, 0, 0, 1], 'still queued at the end: waited until then');
});

t.test('the wait percentile counts jobs, not minutes', async (t) => {
  t.equal(waitPercentile([], 0.95), 0);
  t.equal(waitPercentile([95, 0, 5], 0.95), 0);
  t.equal(waitPercentile([94, 0, 6], 0.95), 2);
});

t.test('latency draws repeat for a seed and stay within the jitter', async (t) => {
  const base = { startMs: 60_000, deployMs: 180_000, createMs: 240_000, stopMs: 60_000, jitter: 0.25, failureShare: 0.1 };
  const a = startDraws(base, 3);
  const b = startDraws(base, 3);
  const draws = Array.from({ length: 2000 }, () => a(false));
  t.same(Array.from({ length: 2000 }, () => b(false)), draws);
  t.ok(draws.every((d) => d.bootMs >= 45_000 && d.bootMs <= 75_000 && d.deployMs >= 135_000 && d.deployMs <= 225_000));
  t.ok(draws.some((d) => d.bootMs < 50_000) && draws.some((d) => d.bootMs > 70_000), 'the draws reach both ends of the band');
  const failed = draws.filter((d) => d.fails).length;
  t.ok(failed > 150 && failed < 250, `${failed} of 2000 failed at a 10 % share`);
  t.ok(startDraws(base, 3)(true).bootMs >= 180_000, 'a create draws from the create latency');
  t.same(startDraws({ ...base, jitter: 0, failureShare: 0 }, 9)(false), { bootMs: 60_000, deployMs: 180_000, fails: false });
  const r = seededRandom(1);
  t.ok(Array.from({ length: 100 }, r).every((x) => x >= 0 && x < 1));
});
