import t from 'tap';
import { formatShare, machineTicks, shareOver, taskCpuS, threadSample, type ThreadSample } from '../../bench/thread-share.ts';

t.test('taskCpuS reads utime + stime after the command, whatever the command holds', async (t) => {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
  t.equal(taskCpuS('4242 (node) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0'), 3);
  t.equal(taskCpuS('77 (V8 Worker) (x)) R 1 77 77 0 -1 0 0 0 0 0 7 3 0 0'), 0.1, 'a command with spaces and parens');
});

t.test('machineTicks: busy is every column but idle and iowait', async (t) => {
  const m = machineTicks('cpu  100 5 20 800 50 3 2 10 0 0\ncpu0 50 2 10 400 25 1 1 5 0 0\n');
  t.same(m, { busy: 100 + 5 + 20 + 3 + 2 + 10, total: 990 });
});

t.test('shareOver reads between the samples just outside the window', async (t) => {
  const s = (atMs: number, mainS: number, otherS: number, busy: number, total: number): ThreadSample => ({ atMs, mainS, otherS, machineBusy: busy, machineTotal: total });
  const samples = [s(0, 1, 0, 0, 0), s(100, 1.05, 0.01, 10, 20), s(1100, 1.55, 0.31, 180, 220), s(1200, 1.6, 0.32, 190, 240)];
  const share = shareOver(samples, 150, 1050);
  t.ok(share !== undefined);
  t.equal(share?.windowMs, 1000, 'from the sample at 100 to the one at 1100');
  t.ok(Math.abs((share?.mainShare ?? 0) - 0.5) < 1e-9, 'the main thread on a core half the window');
  t.ok(Math.abs((share?.otherCores ?? 0) - 0.3) < 1e-9, 'the other threads 0.3 of a core');
  t.ok(Math.abs((share?.machineBusy ?? 0) - 170 / 200) < 1e-9, 'the machine 85 % busy');
  t.match(formatShare(share ?? { windowMs: 0, mainShare: 0, otherCores: 0, machineBusy: 0 }), /main thread on a core 50 % of it \(1\.00 s read\), its other threads 0\.30 of a core, the machine 85 % busy/);
  t.equal(shareOver(samples, 1150, 1300), undefined, 'no sample after the window');
  t.equal(shareOver(samples, -5, 50), undefined, 'no sample before the window');
  t.equal(shareOver(samples, 1050, Number.NEGATIVE_INFINITY), undefined, 'a wave without a start has no window');
});

const probe = threadSample(process.pid, 0);
t.test('threadSample reads this very process: its main thread and the machine move forward', { skip: probe === undefined ? 'no /proc here: the bench says nothing of threads' : false }, async (t) => {
  const a = threadSample(process.pid, 0);
  if (a === undefined) throw new Error('/proc went away');
  const until = Date.now() + 150;
  let x = 0;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  const b = threadSample(process.pid, 150);
  t.ok(b !== undefined && x > 0);
  t.ok((b?.mainS ?? 0) > a.mainS, `the busy main thread counted (${a.mainS} -> ${b?.mainS})`);
  t.ok((b?.machineTotal ?? 0) > a.machineTotal && (b?.machineBusy ?? 0) > a.machineBusy, 'the machine counted');
  t.equal(threadSample(2 ** 30, 0), undefined, 'a process that is gone: undefined');
});
