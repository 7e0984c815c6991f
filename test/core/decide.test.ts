import t from 'tap';
import { decide } from '../../src/core/decide.ts';
import { failureBackoffMs } from '../../src/core/safety.ts';
import type { Instance, InstanceState, PoolHistory, PoolSpec } from '../../src/core/types.ts';

/** NOW_MS is the fixed time of the table tests. */
const NOW_MS = 1_700_000_000_000;

/** pool builds a threshold pool `prod/type1` (min 0, max 5, interval 270 s) with overrides. */
function pool(overrides: Partial<PoolSpec> = {}): PoolSpec {
  return {
    name: 'prod/type1', env: 'prod', instanceType: 'type1', min: 0, max: 5, upThreshold: 1, downThreshold: 0,
    intervalMs: 270_000, upCooldownMs: 270_000, downCooldownMs: 270_000, step: 1, strategy: { kind: 'threshold' },
    provisionTimeoutMs: 900_000, drainTimeoutMs: 600_000, scaleIn: 'stop', canCreate: false, signalMaxAgeMs: 810_000,
    failureBackoffBaseMs: 60_000, failureBackoffMaxMs: 1_800_000, dryRun: false, paused: false, ...overrides,
  };
}

/** inst builds an instance of `prod/type1` in a state (a reserved one unless `created`). */
function inst(id: string, state: InstanceState, overrides: Partial<Instance> = {}): Instance {
  return { id, pool: 'prod/type1', state, sinceMs: NOW_MS - 600_000, reason: 'test', created: false, ...overrides };
}

/** hist builds a pool history with no actions, no failures and no idle instances, with overrides. */
function hist(overrides: Partial<PoolHistory> = {}): PoolHistory {
  return { consecutiveFailures: 0, idleSinceMs: {}, ...overrides };
}

/** load is a fresh workload sample. */
function load(value: number, atMs = NOW_MS): { value: number; atMs: number; source: string } {
  return { value, atMs, source: 'test' };
}

const stopped = (n: number): ReturnType<typeof inst>[] => Array.from({ length: n }, (_, k) => inst(`gpu-${k + 1}`, 'stopped'));

t.test('starts a stopped reserved instance when the workload reaches upThreshold, with the reason in words', async (t) => {
  const d = decide(pool(), stopped(2), load(3), NOW_MS, hist());
  t.same(d, {
    kind: 'scaleUp', count: 1, targets: [{ kind: 'start', id: 'gpu-1' }],
    reason: 'workload 3 >= upThreshold 1: start 1 (ready 0, in flight 0, max 5)',
  });
});

t.test('does not scale up again while an instance is still deploying', async (t) => {
  const p = pool({ strategy: { kind: 'target', perInstance: 1 } });
  const d = decide(p, [inst('gpu-1', 'deploying'), ...stopped(3).slice(1)], load(1), NOW_MS, hist());
  t.equal(d.kind, 'hold');
  t.match(d.reason, /hold at 1 \(ready 0, in flight 1/);
});

t.test('never starts above max, and says it capped', async (t) => {
  const d = decide(pool({ max: 2 }), [inst('gpu-1', 'ready'), inst('gpu-2', 'ready'), inst('gpu-3', 'stopped')], load(10), NOW_MS, hist());
  t.equal(d.kind, 'hold');
  t.match(d.reason, 'capped 3 to max 2');
});

t.test('failed, draining and stopping instances are not capacity but hold their slots of max until Salt reports them stopped', async (t) => {
  const target = pool({ max: 3, strategy: { kind: 'target', perInstance: 1 } });
  const one = decide(target, [inst('gpu-1', 'ready'), inst('gpu-2', 'failed'), ...stopped(2).map((i) => ({ ...i, id: `gpu-r${i.id}` }))], load(3), NOW_MS, hist());
  t.match(one, { kind: 'scaleUp', count: 1 }, 'wants 2 more, room for 1 beside the failed one');
  const none = decide(target, [inst('gpu-1', 'ready'), inst('gpu-2', 'failed'), inst('gpu-3', 'failed'), inst('gpu-4', 'stopped')], load(3), NOW_MS, hist());
  t.equal(none.kind, 'hold');
  t.match(none.reason, '2 failed, draining or stopping instance(s) still hold slots of max 3 until Salt reports them stopped');
  const leaving = decide(target, [inst('gpu-1', 'ready'), inst('gpu-2', 'draining'), inst('gpu-3', 'stopping'), inst('gpu-4', 'stopped')], load(3), NOW_MS, hist());
  t.equal(leaving.kind, 'hold', 'a draining and a stopping instance still run: no third start');
});

t.test('the threshold strategy does not start again for the same need while an instance is in flight', async (t) => {
  const d = decide(pool({ max: 5 }), [inst('gpu-1', 'ready'), inst('gpu-2', 'deploying'), inst('gpu-3', 'stopped')], load(10), NOW_MS, hist());
  t.equal(d.kind, 'hold');
  t.match(d.reason, 'waiting for 1 in flight');
});

t.test('the target strategy counts in-flight instances toward the size', async (t) => {
  const p = pool({ max: 5, strategy: { kind: 'target', perInstance: 1 } });
  const d = decide(p, [inst('gpu-1', 'ready'), inst('gpu-2', 'deploying'), inst('gpu-3', 'stopped'), inst('gpu-4', 'stopped')], load(3), NOW_MS, hist());
  t.equal(d.kind, 'scaleUp');
  t.equal(d.kind === 'scaleUp' ? d.count : 0, 1, 'only the gap above ready + in flight is started');
});

t.test('scales up by the whole gap with the target strategy, capped at max', async (t) => {
  const p = pool({ max: 3, strategy: { kind: 'target', perInstance: 8 } });
  const d = decide(p, stopped(5), load(80), NOW_MS, hist());
  t.equal(d.kind, 'scaleUp');
  t.same(d.kind === 'scaleUp' ? d.targets.map((x) => (x.kind === 'start' ? x.id : 'create')) : [], ['gpu-1', 'gpu-2', 'gpu-3']);
  t.match(d.reason, 'workload 80 / perInstance 8 wants 10, capped 10 to max 3: start 3');
});

t.test('starts instances up to min even without a workload signal', async (t) => {
  const d = decide(pool({ min: 2 }), stopped(3), undefined, NOW_MS, hist());
  t.equal(d.kind, 'scaleUp');
  t.equal(d.kind === 'scaleUp' ? d.count : 0, 2);
  t.match(d.reason, 'no workload signal, raised 0 to min 2: start 2');
});

t.test('holds on a stale signal and never scales down on it', async (t) => {
  const ready = [inst('gpu-1', 'ready'), inst('gpu-2', 'ready')];
  const idle = hist({ idleSinceMs: { 'gpu-1': NOW_MS - 900_000, 'gpu-2': NOW_MS - 900_000 } });
  const d = decide(pool(), ready, load(0, NOW_MS - 900_000), NOW_MS, idle);
  t.equal(d.kind, 'hold');
  t.match(d.reason, 'workload signal stale (age 900s > signalMaxAge 810s)');
  t.match(d.reason, 'never scale on missing data');
});

t.test('holds on a missing signal', async (t) => {
  const d = decide(pool(), [inst('gpu-1', 'ready')], undefined, NOW_MS, hist({ idleSinceMs: { 'gpu-1': 0 } }));
  t.equal(d.kind, 'hold');
  t.match(d.reason, 'no workload signal');
});

t.test('drains idle instances above max even without a signal', async (t) => {
  const ready = [inst('gpu-1', 'ready'), inst('gpu-2', 'ready')];
  const d = decide(pool({ max: 1 }), ready, undefined, NOW_MS, hist({ idleSinceMs: { 'gpu-2': NOW_MS - 60_000 } }));
  t.same(d.kind === 'scaleDown' ? d.targets : [], ['gpu-2']);
  t.match(d.reason, 'capped 2 to max 1: drain 1');
});

t.test('holds a scale-up inside the up cooldown and acts after it', async (t) => {
  const p = pool({ upCooldownMs: 60_000 });
  const early = decide(p, stopped(2), load(3), NOW_MS, hist({ lastUpMs: NOW_MS - 10_000 }));
  t.equal(early.kind, 'hold');
  t.match(early.reason, 'up cooldown has 50s left');
  t.equal(decide(p, stopped(2), load(3), NOW_MS, hist({ lastUpMs: NOW_MS - 60_000 })).kind, 'scaleUp');
});

t.test('keeps separate up and down cooldowns: a quick scale-up, a slow scale-down', async (t) => {
  const p = pool({ upCooldownMs: 60_000, downCooldownMs: 600_000 });
  const h = hist({ lastUpMs: NOW_MS - 120_000, idleSinceMs: { 'gpu-1': NOW_MS - 120_000 } });
  const down = decide(p, [inst('gpu-1', 'ready'), inst('gpu-2', 'stopped')], load(0), NOW_MS, h);
  t.equal(down.kind, 'hold');
  t.match(down.reason, 'down cooldown has 480s left');
  const up = decide(p, [inst('gpu-1', 'ready'), inst('gpu-2', 'stopped')], load(5), NOW_MS, h);
  t.equal(up.kind, 'scaleUp');
});

t.test('backs the pool off exponentially after failures, capped, for scale-up only', async (t) => {
  const p = pool();
  t.equal(failureBackoffMs(p, 0), 0);
  t.equal(failureBackoffMs(p, 1), 60_000);
  t.equal(failureBackoffMs(p, 3), 240_000);
  t.equal(failureBackoffMs(p, 12), 1_800_000);
  const blocked = decide(p, stopped(2), load(3), NOW_MS, hist({ consecutiveFailures: 3, lastFailureMs: NOW_MS - 200_000 }));
  t.equal(blocked.kind, 'hold');
  t.match(blocked.reason, '3 failed instance(s) back the pool off for 40s more');
  t.equal(decide(p, stopped(2), load(3), NOW_MS, hist({ consecutiveFailures: 3, lastFailureMs: NOW_MS - 240_000 })).kind, 'scaleUp');
  const down = decide(p, [inst('gpu-1', 'ready')], load(0), NOW_MS,
    hist({ consecutiveFailures: 3, lastFailureMs: NOW_MS - 1_000, idleSinceMs: { 'gpu-1': NOW_MS - 1_000 } }));
  t.equal(down.kind, 'scaleDown');
});

t.test('does not count failed instances toward the size', async (t) => {
  const p = pool({ strategy: { kind: 'target', perInstance: 1 } });
  const d = decide(p, [inst('gpu-1', 'failed'), inst('gpu-2', 'stopped')], load(1), NOW_MS, hist());
  t.same(d.kind === 'scaleUp' ? d.targets : [], [{ kind: 'start', id: 'gpu-2' }]);
});

t.test('holds with a reason when the pool is paused', async (t) => {
  const d = decide(pool({ paused: true }), stopped(2), load(9), NOW_MS, hist());
  t.same(d, { kind: 'hold', reason: 'pool paused (ready 0, in flight 0)' });
});

t.test('prefers stopped reserved instances, then creates from the profile', async (t) => {
  const p = pool({ canCreate: true, scaleIn: 'destroy', strategy: { kind: 'target', perInstance: 1 } });
  const fleet = [inst('gpu-9', 'stopped'), inst('gpu-c1', 'stopped', { created: true }), inst('gpu-1', 'ready')];
  const d = decide(p, fleet, load(4), NOW_MS, hist());
  t.same(d.kind === 'scaleUp' ? d.targets : [], [{ kind: 'start', id: 'gpu-9' }, { kind: 'create' }, { kind: 'create' }]);
  t.match(d.reason, 'start 3, 2 created from profile');
});

t.test('with scale-in stop, a created instance stopped back is started again before creating another', async (t) => {
  const p = pool({ canCreate: true, scaleIn: 'stop', strategy: { kind: 'target', perInstance: 1 } });
  const fleet = [inst('gpu-9', 'stopped'), inst('gpu-c1', 'stopped', { created: true }), inst('gpu-1', 'ready')];
  const d = decide(p, fleet, load(4), NOW_MS, hist());
  t.same(d.kind === 'scaleUp' ? d.targets : [], [{ kind: 'start', id: 'gpu-9' }, { kind: 'start', id: 'gpu-c1' }, { kind: 'create' }]);
});

t.test('holds when no reserved instance is left and no profile is configured', async (t) => {
  const d = decide(pool(), [inst('gpu-1', 'ready')], load(3), NOW_MS, hist());
  t.equal(d.kind, 'hold');
  t.match(d.reason, 'no stopped reserved instance is left and no profile to create from');
});

t.test('starts only what is available and says so', async (t) => {
  const p = pool({ strategy: { kind: 'target', perInstance: 1 } });
  const d = decide(p, stopped(2), load(4), NOW_MS, hist());
  t.equal(d.kind === 'scaleUp' ? d.count : 0, 2);
  t.match(d.reason, 'only 2 of 4 available');
});

t.test('drains the longest idle ready instance first', async (t) => {
  const fleet = [inst('gpu-1', 'ready'), inst('gpu-2', 'ready'), inst('gpu-3', 'ready')];
  const h = hist({ idleSinceMs: { 'gpu-1': NOW_MS - 60_000, 'gpu-3': NOW_MS - 300_000 } });
  const d = decide(pool(), fleet, load(0), NOW_MS, h);
  t.same(d, { kind: 'scaleDown', count: 1, targets: ['gpu-3'], reason: 'workload 0 <= downThreshold 0: drain 1 (ready 3, in flight 0, min 0)' });
});

t.test('holds when no ready instance is confirmed idle', async (t) => {
  const d = decide(pool(), [inst('gpu-1', 'ready'), inst('gpu-2', 'deploying')], load(0), NOW_MS, hist({ idleSinceMs: { 'gpu-2': NOW_MS } }));
  t.equal(d.kind, 'hold');
  t.match(d.reason, 'no ready instance is confirmed idle');
});

t.test('never drains below min', async (t) => {
  const d = decide(pool({ min: 1 }), [inst('gpu-1', 'ready')], load(0), NOW_MS, hist({ idleSinceMs: { 'gpu-1': 0 } }));
  t.equal(d.kind, 'hold');
  t.match(d.reason, 'raised 0 to min 1');
});

t.test('ignores instances of other pools', async (t) => {
  const other = inst('gpu-x', 'stopped', { pool: 'dev/type1' });
  const d = decide(pool(), [other, inst('gpu-1', 'stopped')], load(2), NOW_MS, hist());
  t.same(d.kind === 'scaleUp' ? d.targets : [], [{ kind: 'start', id: 'gpu-1' }]);
});

t.test('with scale-in destroy, an idle created instance is drained before an idle reserved one', async (t) => {
  const p = pool({ canCreate: true, scaleIn: 'destroy', strategy: { kind: 'target', perInstance: 1 } });
  const fleet = [inst('gpu-1', 'ready'), inst('gpu-c1', 'ready', { created: true })];
  const d = decide(p, fleet, load(1), NOW_MS, hist({ idleSinceMs: { 'gpu-1': NOW_MS - 600_000, 'gpu-c1': NOW_MS - 60_000 } }));
  t.same(d.kind === 'scaleDown' ? d.targets : [], ['gpu-c1']);
});

t.test('a manual wanted size is decided without strategy words (no invented perInstance)', async (t) => {
  const spec = pool({ strategy: { kind: 'target', perInstance: 1 }, intervalMs: 0, upCooldownMs: 0, downCooldownMs: 0 });
  const ready = [inst('gpu-1', 'ready'), inst('gpu-2', 'ready'), inst('gpu-3', 'stopped')];
  const up = decide(spec, ready, { value: 3, atMs: NOW_MS, source: 'manual' }, NOW_MS, hist());
  t.equal(up.kind, 'scaleUp');
  t.equal(up.reason, 'wanted size 3 (size now 2): start 1 (ready 2, in flight 0, max 5)');
  const down = decide(spec, ready, { value: 1, atMs: NOW_MS, source: 'manual' }, NOW_MS, hist({ idleSinceMs: { 'gpu-1': NOW_MS - 1, 'gpu-2': NOW_MS - 1 } }));
  t.equal(down.kind, 'scaleDown');
  t.notMatch(down.reason, /perInstance/);
  t.match(down.reason, /^wanted size 1 \(size now 2\): drain 1/);
});
