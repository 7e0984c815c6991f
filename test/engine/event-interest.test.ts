// The engine tells its event stream what it reads (eventInterest, asked from the tag alone); the stream counts the
// rest by kind without parsing it. The table is the interest itself; the harness test is the service's real path:
// SaltEventStream over the emulator's SSE, with the interest the engine set.
import t from 'tap';
import { eventInterest, type InterestView } from '../../src/engine/intake.ts';
import type { InstanceState } from '../../src/core/types.ts';
import { startHarness, stateOf, waitFor } from '../support/engine-harness.ts';

const view = (states: Record<string, InstanceState>, pattern = /^gpu-t1-/): InterestView => ({
  get: (id) => (states[id] === undefined ? undefined : { state: states[id] }),
  managedName: (id) => states[id] !== undefined || pattern.test(id),
});

t.test('the engine reads lifecycle events of managed names, run events, and job returns of instances on their way', async (t) => {
  const interest = eventInterest(view({ 'gpu-t1-1': 'deploying', 'gpu-t1-2': 'ready' }));
  const rows: [Parameters<typeof interest>[0], string | undefined, boolean, string][] = [
    ['job-ret', 'gpu-t1-1', true, 'a deploying instance: its failed state run is the why of its failed event'],
    ['job-ret', 'gpu-t1-2', false, 'a ready instance: nothing reads its job returns'],
    ['job-ret', 'lab-m1', false, 'a minion the autoscaler does not manage'],
    ['minion-start', 'gpu-t1-2', true, 'an instance of the fleet'],
    ['minion-start', 'gpu-t1-9', true, 'a name matching a reservedPattern (it would be adopted)'],
    ['cloud', 'lab-m1', false, 'a cloud event for another name'],
    ['instance-ready', 'gpu-t1-1', true, 'our own ready event'],
    ['instance-failed', 'gpu-t1-1', true, 'our own failed event'],
    ['instance-draining', 'gpu-t1-1', false, 'our own draining echo: informational'],
    ['run-new', undefined, true, 'an orchestrate names its minion in the body'],
    ['run-ret', undefined, true, 'an orchestrate names its minion in the body'],
    ['run-ret', '', false, 'a run event that is no orchestrate names no minion'],
    ['job-ret', undefined, false, 'a job return whose minion is not known'],
    ['job-new', '', false, 'job publications'],
    ['auth', undefined, false, 'auth'],
    ['key', undefined, false, 'key events'],
    ['other', '', false, 'anything else'],
  ];
  for (const [kind, minion, reads, why] of rows) t.equal(interest(kind, minion), reads, `${kind} ${minion ?? '(in the body)'}: ${why}`);
});

t.test('the service skips, counted by kind, the events its engine does not read, and still reads the ones it does', async (t) => {
  const h = await startHarness({
    emulator: { instances: [{ id: 'gpu-t1-1' }], delays: { startMs: 50, stopMs: 50, bootMs: 100, deployMs: 60_000, createMs: 50 } },
    pool: { max: 1, strategy: 'target', perInstance: 1, failureBackoff: { base: '1m', max: '1m' } },
  });
  t.teardown(() => h.close());
  await waitFor('startup reconcile', () => h.logs.some((l) => l.includes('reconciled with Salt')), 10_000);
  const before = { ...h.stream.stats.skipped };
  h.emu.fire('salt/auth', { id: 'lab-m1', act: 'accept' });
  h.emu.fire('salt/job/1/new', { jid: '1', minions: ['lab-m1'], fun: 'test.ping' });
  h.emu.fire('salt/job/1/ret/lab-m1', { id: 'lab-m1', fun: 'state.sls', success: false, return: ['boom'] });
  h.emu.fire('salt/custom/thing', { x: 1 });
  h.emu.fire('salt/run/3/ret', { fun: 'runner.cloud.action', fun_args: [{ func: 'start', instances: ['gpu-t1-1'] }], success: true, return: {} });
  await waitFor('five skipped', () => ['auth', 'job-new', 'job-ret', 'other', 'run-ret'].every((k) => (h.stream.stats.skipped[k as 'auth'] ?? 0) > (before[k as 'auth'] ?? 0)), 10_000);
  // the lifecycle still reads what it needs: a deploy's failing state run, then its failed event
  h.engine.alertSignal({ pool: 'test/t1', direction: 'up', workload: 1, atMs: Date.now() });
  await waitFor('gpu-t1-1 deploying', () => stateOf(h, 'gpu-t1-1') === 'deploying', 10_000);
  h.emu.fire('salt/job/2/ret/gpu-t1-1', { id: 'gpu-t1-1', fun: 'state.sls', success: false, return: { 'test_|-x_|-x_|-fail': { result: false, comment: 'no image', __id__: 'image', __run_num__: 0 } } });
  h.emu.fire('salt-autoscaler/instance/gpu-t1-1/failed', { id: 'gpu-t1-1', reason: 'deploy failed' });
  await waitFor('gpu-t1-1 failed', () => h.engine.history('gpu-t1-1').some((tr) => tr.to === 'failed'), 10_000);
  t.match(h.engine.history('gpu-t1-1').find((tr) => tr.to === 'failed')?.reason, /^failed event: image: no image$/);
  t.ok(h.stream.stats.events > 0, 'events were parsed');
});
