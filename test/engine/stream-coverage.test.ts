/**
 * stream coverage: a stream connect needs a reconcile unless a reconcile that read Salt after it has succeeded, is
 * running, or has not sent its reads yet; a failed pass covers nothing. Each case of the rule alone, on the bookkeeping
 * the reconciler keeps (test/engine/ports/stream-connect.test.ts runs the same rule through the whole engine).
 */
import t from 'tap';
import { StreamCoverage, type Fired } from '../../src/engine/stream-coverage.ts';

/** Step is one thing the reconciler tells its bookkeeping; `ok` / `grainsMissing` are a pass's success, all read or not. */
type Step = 'connect' | 'begin' | 'send' | 'ok' | 'grainsMissing' | 'end' | 'ask';

/** run plays the steps; it returns what the timer runs then and whether a pass missing grains asked to read again. */
function run(steps: readonly Step[]): { fired: Fired; readAgain: boolean } {
  const c = new StreamCoverage();
  let readAgain = false;
  for (const step of steps) {
    if (step === 'connect') c.connected();
    else if (step === 'begin') c.passBegins();
    else if (step === 'send') c.readsSent();
    else if (step === 'ok') c.passSucceeded(true);
    else if (step === 'grainsMissing') readAgain = c.passSucceeded(false);
    else if (step === 'end') c.passEnded();
    else c.asked();
  }
  return { fired: c.fire(), readAgain };
}

const CASES: readonly { name: string; steps: readonly Step[]; fired: Fired; readAgain?: boolean }[] = [
  { name: 'no connect yet: nothing to run', steps: [], fired: 'covered' },
  { name: 'a connect with no reconcile running needs one of its own', steps: ['connect'], fired: 'connect' },
  { name: 'a connect while a pass has not sent its reads is covered by it', steps: ['begin', 'connect'], fired: 'covered' },
  { name: 'a connect is covered by the running pass whose reads began after it', steps: ['begin', 'connect', 'send'], fired: 'covered' },
  { name: 'a connect stays covered once the pass that read after it succeeded and ended', steps: ['begin', 'connect', 'send', 'ok', 'end'], fired: 'covered' },
  { name: 'a connect after the running pass sent its reads is not covered by it', steps: ['begin', 'send', 'connect'], fired: 'connect' },
  { name: 'nor by that pass\'s success', steps: ['begin', 'send', 'connect', 'ok', 'end'], fired: 'connect' },
  { name: 'a failed pass covers while it runs', steps: ['connect', 'begin', 'send'], fired: 'covered' },
  { name: 'a failed pass covers nothing once it ended', steps: ['connect', 'begin', 'send', 'end'], fired: 'connect' },
  { name: 'a pass missing grains covers nothing and asks again for the connect it was to cover', steps: ['connect', 'begin', 'send', 'grainsMissing', 'end'], fired: 'connect', readAgain: true },
  { name: 'a pass missing grains asks nothing for a connect after its reads (that one is due anyway)', steps: ['connect', 'begin', 'send', 'connect', 'grainsMissing'], fired: 'connect', readAgain: false },
  { name: 'a pass missing grains asks nothing when a succeeded pass covers the newest connect', steps: ['connect', 'begin', 'send', 'ok', 'begin', 'send', 'grainsMissing', 'end'], fired: 'covered', readAgain: false },
  { name: 'a plain request runs whether the connects are covered or not', steps: ['connect', 'begin', 'ask'], fired: 'plain' },
  { name: 'a plain request runs with no connect at all', steps: ['ask'], fired: 'plain' },
];

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const got = run(c.steps);
    t.equal(got.fired, c.fired, `fired after ${c.steps.join(' ') || 'nothing'}`);
    if (c.readAgain !== undefined) t.equal(got.readAgain, c.readAgain, 'read again');
  });
}

t.test('a plain request is used up by the timer that ran it', async (t) => {
  const c = new StreamCoverage();
  c.asked();
  t.equal(c.fire(), 'plain');
  t.equal(c.fire(), 'covered');
});

t.test('opened says whether the stream has connected at least once', async (t) => {
  const c = new StreamCoverage();
  t.notOk(c.opened());
  c.connected();
  t.ok(c.opened());
  t.equal(c.newest(), 1);
});
