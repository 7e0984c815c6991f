/**
 * salt-truth: Salt is the truth, events are the fast path (issue 10 and issue 12, break 4).
 * - an instance someone else started is followed from its events, without waiting for a reconcile;
 * - a cloud stop/destroy event the engine did not cause, for a ready instance, changes nothing on its own word:
 *   Salt is asked, and a busy instance is never stopped because of a stale event;
 * - a stop made outside is followed once Salt confirms it;
 * - a failed deploy's reason is the failing state's id and comment from the minion's state return.
 */
import t from 'tap';
import pino from 'pino';
import { SaltClient } from '../../src/salt-api/client.ts';
import { startHarness, stateOf, waitFor, type Harness } from '../support/engine-harness.ts';

const FAST = { startMs: 50, stopMs: 50, bootMs: 100, deployMs: 100, createMs: 50 };

function stopCalls(h: Harness, id: string): number {
  return h.emu.calls.filter((c) => c.fun === 'cloud.action' && (c.kwarg as { func?: string; instances?: string[] } | undefined)?.func === 'stop'
    && ((c.kwarg as { instances?: string[] }).instances ?? []).includes(id)).length;
}

/** byHand runs `cloud.action` through salt-api as an operator would (salt-cloud -a … by hand), not through the engine. */
async function byHand(h: Harness, func: 'start' | 'stop', id: string): Promise<void> {
  const client = new SaltClient({ url: h.emu.url, username: h.config.salt.username, password: h.config.salt.password, eauth: h.config.salt.eauth, tlsVerify: true, timeoutMs: 5_000, logger: pino({ level: 'silent' }) });
  try {
    await client.lowstate({ client: 'runner', fun: 'cloud.action', kwarg: { func, instances: [id] } });
  } finally {
    await client.close();
  }
}

async function readyOne(h: Harness): Promise<string> {
  h.engine.alertSignal({ pool: 'test/t1', direction: 'up', workload: 1, atMs: Date.now() });
  let id = '';
  await waitFor('one ready instance', () => { id = h.engine.instances().find((i) => i.state === 'ready')?.id ?? ''; return id !== ''; }, 10_000);
  return id;
}

t.test('an instance started outside the autoscaler is followed from its events to ready, not from a reconcile', async (t) => {
  const h = await startHarness({ emulator: { instances: [{ id: 'gpu-t1-1' }, { id: 'gpu-t1-2' }], delays: FAST }, pool: { max: 2, strategy: 'target', perInstance: 1 } });
  t.teardown(() => h.close());
  await waitFor('startup reconcile', () => h.logs.some((l) => l.includes('reconciled with Salt')), 10_000);
  const reconcilesBefore = h.logs.filter((l) => l.includes('reconciled with Salt')).length;
  await byHand(h, 'start', 'gpu-t1-2');
  await waitFor('gpu-t1-2 ready', () => stateOf(h, 'gpu-t1-2') === 'ready', 10_000);
  const path = h.engine.history('gpu-t1-2').map((tr) => `${tr.to}: ${tr.reason}`);
  t.match(path[0], /^starting: cloud reports starting \(started outside the autoscaler\)/, 'the cloud event started its new life');
  t.ok(path.some((p) => p.startsWith('booted: minion started')), 'then the minion start');
  t.notOk(path.some((p) => /reconcile/.test(p)), `no step came from a reconcile (${path.join(' | ')})`);
  t.equal(h.logs.filter((l) => l.includes('reconciled with Salt')).length, reconcilesBefore, 'and none ran meanwhile');
  t.equal(h.emu.calls.filter((c) => c.fun === 'cloud.action').length, 1, 'the only cloud action was the one by hand');
});

t.test('a stale cloud stopped event for a ready busy instance stops nothing: Salt is asked and the instance stays ready', async (t) => {
  const h = await startHarness({ emulator: { instances: [{ id: 'gpu-t1-1' }], delays: FAST }, pool: { max: 1, min: 0, strategy: 'target', perInstance: 1, provisionTimeout: '2s' } });
  t.teardown(() => h.close());
  const id = await readyOne(h);
  h.emu.world.setBusy(id, true);
  const reconciles = h.logs.filter((l) => l.includes('reconciled with Salt')).length;
  h.emu.fire(`salt/cloud/${id}/stopped`, { name: id, event: 'stopped instance' });
  h.emu.fire(`salt/cloud/${id}/destroyed`, { name: id, event: 'destroyed instance' });
  h.emu.fire(`salt/cloud/${id}/stopping`, { name: id, event: 'stopping instance' });
  await waitFor('the contradicting events confirmed with Salt', () => h.logs.filter((l) => l.includes('reconciled with Salt')).length > reconciles, 10_000);
  t.ok(h.logs.some((l) => l.includes('confirming with Salt')), 'the engine logged that it asks Salt');
  // past the provision timeout: before the fix the instance went stopped -> started outside -> failed -> stopped while busy
  await new Promise((r) => setTimeout(r, 3_000));
  t.equal(stateOf(h, id), 'ready', 'still ready');
  t.equal(stopCalls(h, id), 0, 'no stop was sent');
  t.equal(h.emu.world.instance(id)?.state, 'running', 'the VM still runs');
  t.notOk(h.engine.history(id).some((tr) => tr.to === 'stopped' || tr.to === 'failed'), 'no transition to stopped or failed');
});

t.test('a stop made outside the autoscaler is followed once Salt confirms it', async (t) => {
  const h = await startHarness({ emulator: { instances: [{ id: 'gpu-t1-1' }, { id: 'gpu-t1-2' }], delays: FAST }, pool: { max: 1, strategy: 'target', perInstance: 1 } });
  t.teardown(() => h.close());
  const id = await readyOne(h);
  await byHand(h, 'stop', id);
  await waitFor(`${id} stopped in the service`, () => h.engine.history(id).some((tr) => tr.to === 'stopped'), 10_000);
  const stopped = h.engine.history(id).find((tr) => tr.to === 'stopped');
  t.match(stopped?.reason, /^reconcile: cloud reports stopped/, 'moved on Salt\'s word, asked at once');
  t.equal(stopCalls(h, id), 1, 'the only stop was the one by hand');
});

t.test('a failed deploy is recorded with the failing state\'s id and comment from the minion\'s state return', async (t) => {
  const h = await startHarness({
    emulator: { instances: [{ id: 'gpu-t1-1' }], delays: { ...FAST, deployMs: 60_000 } },
    pool: { max: 1, strategy: 'target', perInstance: 1, failureBackoff: { base: '1m', max: '1m' } },
  });
  t.teardown(() => h.close());
  h.engine.alertSignal({ pool: 'test/t1', direction: 'up', workload: 1, atMs: Date.now() });
  await waitFor('gpu-t1-1 deploying', () => stateOf(h, 'gpu-t1-1') === 'deploying', 10_000);
  // what the shipped orchestrate's `salt.state` step returns from the minion (real_sse_02), then its failed event
  h.emu.fire('salt/job/20261202060704085188/ret/gpu-t1-1', {
    cmd: '_return', id: 'gpu-t1-1', fun: 'state.sls', success: false, retcode: 2, jid: '20261202060704085188',
    return: {
      'file_|-training_env_idle_check_|-/usr/local/bin/training-idle_|-managed': { result: true, comment: 'File updated', __id__: 'training_env_idle_check', __run_num__: 0 },
      'test_|-training_env_agent_image_missing_|-x_|-fail_without_changes': { result: false, comment: 'pillar training_env:agent:image is not set', __id__: 'training_env_agent_image_missing', __run_num__: 1 },
    },
  });
  h.emu.fire('salt-autoscaler/instance/gpu-t1-1/failed', { id: 'gpu-t1-1', reason: 'deploy orchestrate orch.salt_autoscaler.deploy failed' });
  await waitFor('gpu-t1-1 failed', () => h.engine.history('gpu-t1-1').some((tr) => tr.to === 'failed'), 10_000);
  t.match(h.engine.history('gpu-t1-1').find((tr) => tr.to === 'failed')?.reason, /^failed event: training_env_agent_image_missing: pillar training_env:agent:image is not set$/);
});

t.test('a reconcile asks manage.up only for the running managed instances, with short timeouts', async (t) => {
  const h = await startHarness({ emulator: { instances: [{ id: 'gpu-t1-1' }, { id: 'gpu-t1-2' }, { id: 'gpu-t1-3' }], staticMinions: ['lab-other'], delays: FAST }, pool: { max: 1, strategy: 'target', perInstance: 1 } });
  t.teardown(() => h.close());
  const startup = h.emu.calls.filter((c) => c.fun === 'manage.up');
  t.equal(startup.length, 0, 'nothing runs at startup: no managed instance is running, so no presence to ask');
  const id = await readyOne(h);
  await h.engine.reconcile('test');
  const up = h.emu.calls.filter((c) => c.fun === 'manage.up').at(-1);
  t.same(up?.kwarg, { tgt: [id], tgt_type: 'list', timeout: 2, gather_job_timeout: 3 }, 'only the running instance, timeouts inside kwarg');
});
