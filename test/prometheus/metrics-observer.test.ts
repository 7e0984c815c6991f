import t from 'tap';
import { metricsObserver } from '../../src/main.ts';
import { createMetrics } from '../../src/prometheus/metrics.ts';

t.test('an ignored lifecycle input is counted by its reason up to the colon, cut at 60 characters', async (t) => {
  const metrics = createMetrics();
  const observer = metricsObserver(metrics, { now: () => 0 });
  observer.ignored('reconcile: consistent (stopped, cloud stopped)');
  observer.ignored('reconcile: still ready (cloud running, minion up)');
  observer.ignored('unknown minion');
  observer.ignored('x'.repeat(100));
  const values = (await metrics.lifecycleIgnored.get()).values.map((v) => [v.labels['reason'], v.value]);
  t.same(values.sort(), [['reconcile', 2], ['unknown minion', 1], ['x'.repeat(60), 1]].sort());
});
