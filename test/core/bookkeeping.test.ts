import t from 'tap';
import { afterDecision, afterTransition, EMPTY_HISTORY, mergeSignals, newerAlert, observeWorkload, withIdleChecks, withoutIdle } from '../../src/core/bookkeeping.ts';
import { newInstance } from '../../src/core/lifecycle.ts';
import { pickStartTargets } from '../../src/core/safety.ts';
import type { Instance, PoolSpec } from '../../src/core/types.ts';

const spec: PoolSpec = {
  name: 'p', env: 'prod', instanceType: 't', min: 0, max: 4, upThreshold: 10, downThreshold: 1, intervalMs: 60_000,
  upCooldownMs: 60_000, downCooldownMs: 60_000, step: 1, strategy: { kind: 'adaptive', perInstance: 8, peakWindowMs: 600_000 },
  provisionTimeoutMs: 600_000, drainTimeoutMs: 600_000, scaleIn: 'stop', canCreate: false, signalMaxAgeMs: 600_000,
  failureBackoffBaseMs: 60_000, failureBackoffMaxMs: 600_000, dryRun: false, paused: false,
};
const inState = (id: string, state: Instance['state']): Instance => ({ ...newInstance(id, 'p', 0), state });

t.test('a scale-up stamps lastUpMs, a scale-down lastDownMs and drops its targets\' idle confirmations, a hold nothing', async (t) => {
  const h = { ...EMPTY_HISTORY, idleSinceMs: { a: 5, b: 6 } };
  t.equal(afterDecision(h, { kind: 'hold', reason: 'x' }, 100), h);
  t.same(afterDecision(h, { kind: 'scaleUp', count: 1, targets: [{ kind: 'create' }], reason: 'x' }, 100).lastUpMs, 100);
  const down = afterDecision(h, { kind: 'scaleDown', count: 1, targets: ['a'], reason: 'x' }, 200);
  t.equal(down.lastDownMs, 200);
  t.same(down.idleSinceMs, { b: 6 });
});

t.test('an instance that fails on its way to ready counts a provisioning failure; the next ready one clears the count', async (t) => {
  const failed = afterTransition(EMPTY_HISTORY, inState('a', 'failed'), 'deploying', 50);
  t.ok(failed.provisioningFailed);
  t.equal(failed.history.consecutiveFailures, 1);
  t.equal(failed.history.lastFailureMs, 50);
  const twice = afterTransition(failed.history, inState('b', 'failed'), 'starting', 60);
  t.equal(twice.history.consecutiveFailures, 2);
  const ready = afterTransition(twice.history, inState('c', 'ready'), 'deploying', 70);
  t.notOk(ready.provisioningFailed);
  t.equal(ready.history.consecutiveFailures, 0);
});

t.test('an instance ready from a start says its start-to-ready time; ready from a drain or unstarted says none', async (t) => {
  const started = { ...inState('a', 'ready'), lastStartMs: 1_000 };
  const ready = afterTransition(EMPTY_HISTORY, started, 'deploying', 241_000);
  t.equal(ready.startToReadyMs, 240_000);
  t.same(ready.history.startLatenciesMs, [240_000], 'the same time the budget strategy plans its lead with');
  t.equal(afterTransition(EMPTY_HISTORY, started, 'draining', 500_000).startToReadyMs, undefined, 'an undrain is no start');
  t.equal(afterTransition(EMPTY_HISTORY, inState('b', 'ready'), 'booted', 500_000).startToReadyMs, undefined, 'no start seen (a minion found ready)');
  t.equal(afterTransition(EMPTY_HISTORY, { ...started, state: 'failed' }, 'deploying', 500_000).startToReadyMs, undefined, 'a failed deploy is not ready');
});

t.test('a failed stop is not a provisioning failure, and an undrain does not clear the count', async (t) => {
  const stopFailed = afterTransition(EMPTY_HISTORY, inState('a', 'failed'), 'stopping', 50);
  t.notOk(stopFailed.provisioningFailed);
  t.equal(stopFailed.history.consecutiveFailures, 0);
  const counted = { ...EMPTY_HISTORY, consecutiveFailures: 2 };
  t.equal(afterTransition(counted, inState('a', 'ready'), 'draining', 60).history.consecutiveFailures, 2);
});

t.test('an instance that leaves ready loses its idle confirmation', async (t) => {
  const h = { ...EMPTY_HISTORY, idleSinceMs: { a: 5, b: 6 } };
  t.same(afterTransition(h, inState('a', 'draining'), 'ready', 10).history.idleSinceMs, { b: 6 });
  t.same(afterTransition(h, inState('a', 'ready'), 'ready', 10).history.idleSinceMs, { a: 5, b: 6 });
});

t.test('idle checks keep the first time an instance was seen idle and drop busy or unreachable ones', async (t) => {
  const h = { ...EMPTY_HISTORY, idleSinceMs: { a: 5, b: 6 } };
  const next = withIdleChecks(h, [['a', 'idle'], ['b', 'busy'], ['c', 'idle'], ['d', 'unreachable']], 100);
  t.same(next.idleSinceMs, { a: 5, c: 100 });
  t.same(withoutIdle(next).idleSinceMs, {});
  t.equal(withoutIdle(EMPTY_HISTORY), EMPTY_HISTORY);
});

t.test('the adaptive strategy\'s memory follows the workload; a strategy without memory keeps none', async (t) => {
  const h = observeWorkload(EMPTY_HISTORY, spec, { value: 12, atMs: 10, source: 's' }, 10);
  t.same(h.policy?.samples, [{ atMs: 10, value: 12 }]);
  t.equal(observeWorkload(EMPTY_HISTORY, { ...spec, strategy: { kind: 'threshold' } }, { value: 12, atMs: 10, source: 's' }, 10), EMPTY_HISTORY);
  t.equal(observeWorkload(h, spec, undefined, 20), h);
});

t.test('a fresh pulled value wins over the alert; a firing alert holds its level until it expires', async (t) => {
  const alert = { pool: 'p', direction: 'up' as const, atMs: 1_000, expiresMs: 500_000 };
  t.same(mergeSignals(spec, alert, undefined, 100_000), { value: 10, atMs: 100_000, source: 'alertmanager' }, 'no workload value: the threshold it crossed, as of now');
  t.same(mergeSignals(spec, { ...alert, workload: 33 }, undefined, 100_000)?.value, 33);
  t.equal(mergeSignals(spec, alert, undefined, 600_000), undefined, 'expired');
  t.equal(mergeSignals(spec, { ...alert, direction: 'none' }, undefined, 100_000), undefined, 'resolved');
  const pulled = { value: 3, atMs: 90_000, source: 'promql' };
  t.equal(mergeSignals(spec, alert, pulled, 100_000), pulled, 'pulled within one interval of the alert wins');
  const oldPulled = { value: 3, atMs: 1_000, source: 'promql' };
  t.equal(mergeSignals(spec, alert, oldPulled, 100_000)?.source, 'alertmanager', 'a pulled value older than the alert by more than an interval loses');
  t.equal(mergeSignals(spec, undefined, oldPulled, 100_000), oldPulled);
});

t.test('a late notification does not replace a newer alert state', async (t) => {
  const held = { pool: 'p', direction: 'up' as const, atMs: 2_000 };
  t.notOk(newerAlert(held, { ...held, atMs: 1_000 }));
  t.ok(newerAlert(held, { ...held, atMs: 3_000 }));
  t.ok(newerAlert(undefined, held));
});

t.test('an instance that failed to start or deploy goes to the back of the reserve until it is ready once', async (t) => {
  const failed = afterTransition(EMPTY_HISTORY, inState('a', 'failed'), 'deploying', 50).history;
  t.same(failed.startFailedMs, { a: 50 });
  const refused = afterTransition(failed, inState('b', 'stopped'), 'starting', 60).history;
  t.same(refused.startFailedMs, { a: 50, b: 60 });
  t.same(afterTransition(refused, inState('a', 'ready'), 'deploying', 70).history.startFailedMs, { b: 60 });
  const reserve = ['a', 'b', 'c'].map((id) => inState(id, 'stopped'));
  t.same(pickStartTargets(spec, reserve, 3, refused).map((s) => (s.kind === 'start' ? s.id : 'create')), ['c', 'a', 'b'], 'never failed first, then least recently failed');
  t.same(pickStartTargets(spec, reserve, 3).map((s) => (s.kind === 'start' ? s.id : 'create')), ['a', 'b', 'c'], 'by name without a history');
});
