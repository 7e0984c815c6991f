import t from 'tap';
import { checkModel, fitLine } from '../../bench/real-master.ts';

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
