import t from 'tap';
import { checkModel, checkReplay, fitLine, measuredDelays, replayOnEmulator } from '../../bench/real-master.ts';

t.test('fitLine recovers a line and checkModel scales cloud.query by nodes, minion calls by minions', async (t) => {
  const { a, b } = fitLine([[100, 1_010], [2_000, 1_200], [5_000, 1_500]]);
  t.ok(Math.abs(a - 1_000) < 1 && Math.abs(b - 0.1) < 1e-6, `fit ${a} + ${b}/node`);
  const model = { 'cloud.query': { ms: 1_000, perMinionMs: 0.1 }, 'manage.up': { ms: 500, perMinionMs: 10 }, '*': { ms: 300 } };
  const { checks, ok } = checkModel([
    { call: 'cloud.query', nodes: 5_000, minions: 3, medianMs: 1_500, minMs: 1_400, maxMs: 1_600 },
    { call: 'manage.up', nodes: 5_000, minions: 3, medianMs: 530, minMs: 500, maxMs: 600 },
    { call: 'grains.item', nodes: 5_000, minions: 3, medianMs: 300, minMs: 280, maxMs: 320 },
  ], model);
  t.same(checks.map((c) => c.modelMs), [1_500, 530, 300], 'cloud.query x nodes, manage.up x minions, others fall back to *');
  t.ok(ok, 'all within 0.7-1.5x');
  const slow = checkModel([{ call: 'cloud.action', nodes: 100, minions: 3, medianMs: 1_000, minMs: 900, maxMs: 1_100 }], model);
  t.equal(slow.checks[0]?.ratio, 0.3);
  t.notOk(slow.ok, 'a model 3x faster than the master is flagged');
  t.notOk(checkModel([], model).ok, 'no measurement is no verdict');
});

t.test('measuredDelays puts one run in the model\'s form: a line over the nodes for the cloud calls, the median for the minion calls', async (t) => {
  const row = (call: string, nodes: number, medianMs: number) => ({ call, nodes, minions: 3, medianMs, minMs: medianMs, maxMs: medianMs });
  const model = { 'manage.up': { ms: 860, perMinionMs: 0.05 }, 'grains.item': { ms: 270, perMinionMs: 10 }, '*': { ms: 300 } };
  const d = measuredDelays([
    row('cloud.query', 100, 1_010), row('cloud.query', 2_000, 1_200), row('cloud.query', 5_000, 1_500),
    // noise over close sizes can slope down: no negative per-node part, the line's value at the mean size instead
    row('cloud.action', 100, 1_300), row('cloud.action', 2_000, 1_100),
    row('manage.up', 100, 900), row('manage.up', 2_000, 1_000), row('manage.up', 5_000, 2_000),
    row('grains.item', 100, 330), row('grains.item', 2_000, 350),
  ], model);
  t.same(d['cloud.query'], { ms: 1_000, perMinionMs: 0.1 });
  t.same(d['cloud.action'], { ms: 1_200, perMinionMs: 0 });
  t.same(d['manage.up'], { ms: 1_000, perMinionMs: 0.05 }, 'the median over the sizes (one slow size does not move it), less 3 minions x 0.05');
  t.same(d['grains.item'], { ms: 310, perMinionMs: 10 }, 'the model\'s per-minion estimate kept, taken off the median for the 3 minions');
  t.same(d['*'], { ms: 300 }, 'what was not timed stays the model\'s');
});

t.test('checkReplay holds each call\'s level to 0.8-1.25x of the master and each size to 0.67-1.5x', async (t) => {
  const row = (call: string, nodes: number, medianMs: number) => ({ call, nodes, minions: 3, medianMs, minMs: medianMs, maxMs: medianMs });
  const master = [row('cloud.query', 100, 1_000), row('cloud.query', 10_000, 2_000), row('manage.up', 100, 800), row('manage.up', 10_000, 800)];
  const close = checkReplay(master, [row('cloud.query', 100, 1_100), row('cloud.query', 10_000, 2_000), row('manage.up', 100, 700), row('manage.up', 10_000, 1_000)]);
  t.same(close.checks.map((c) => c.ratio), [1.1, 1, 0.88, 1.25]);
  t.same(close.levels, [{ call: 'cloud.query', ratio: 1.05 }, { call: 'manage.up', ratio: 1.05 }], 'geometric mean over the sizes');
  t.ok(close.ok);
  // one size of the master off its line by 1.4x (as recorded on a quiet master) is noise, not a wrong emulator
  t.ok(checkReplay(master, [row('cloud.query', 100, 1_400), row('cloud.query', 10_000, 1_900), row('manage.up', 100, 800), row('manage.up', 10_000, 800)]).ok, 'one size at 1.4x passes');
  const level = checkReplay(master, [row('cloud.query', 100, 1_300), row('cloud.query', 10_000, 2_700), row('manage.up', 100, 800), row('manage.up', 10_000, 800)]);
  t.notOk(level.ok, `an emulator 1.3x slower than its master at every size fails (level ${level.levels[0]?.ratio}x)`);
  t.notOk(checkReplay(master, [row('cloud.query', 100, 1_000), row('cloud.query', 10_000, 3_200), row('manage.up', 100, 800), row('manage.up', 10_000, 800)]).ok,
    'a per-node part 1.6x too large at 10,000 nodes fails at that size');
  t.notOk(checkReplay(master, [row('cloud.query', 100, 1_000), row('cloud.query', 10_000, 2_000)]).ok, 'a call the emulator was not timed on fails');
  t.notOk(checkReplay([], []).ok, 'no measurement is no verdict');
});

t.test('replayOnEmulator times the calls against an emulator child that answers no faster than it was told', async (t) => {
  const delays = { 'cloud.query': { ms: 150, perMinionMs: 2 }, 'cloud.action': { ms: 120, perMinionMs: 1 }, 'manage.up': { ms: 100 }, 'grains.item': { ms: 80, perMinionMs: 10 }, '*': { ms: 0 } };
  const lines: string[] = [];
  const out = await replayOnEmulator({ sizes: [20, 40], minions: 2, rounds: 1, delays, log: (l) => lines.push(l) });
  const calls = ['cloud.query', 'manage.up', 'grains.item', 'cloud.action'];
  t.same(out.map((r) => `${r.call}@${r.nodes}/${r.minions}`), [20, 40].flatMap((n) => calls.map((c) => `${c}@${n}/2`)), 'every call at every size, 2 minions');
  const at = (call: string, nodes: number) => out.find((r) => r.call === call && r.nodes === nodes)?.medianMs ?? 0;
  t.ok(at('cloud.query', 40) >= 150 + 2 * 40 && at('cloud.query', 20) >= 150 + 2 * 20, `cloud.query scales with the nodes: ${at('cloud.query', 20)} / ${at('cloud.query', 40)} ms`);
  t.ok(at('cloud.action', 40) >= 120 + 40, `cloud.action ${at('cloud.action', 40)} ms`);
  t.ok(at('manage.up', 20) >= 100 && at('grains.item', 20) >= 80 + 10 * 2, `manage.up ${at('manage.up', 20)} ms, grains.item over 2 minions ${at('grains.item', 20)} ms`);
  t.equal(lines.length, 8, 'a progress line per call and size');
});
