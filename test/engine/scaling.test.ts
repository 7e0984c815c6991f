import t from 'tap';
import Fastify, { type FastifyInstance } from 'fastify';
import { alertmanagerWebhook } from '../../src/alertmanager/webhook.ts';
import { startHarness, startCalls, stateOf, waitFor, type Harness } from '../support/engine-harness.ts';
import { alert, notification } from '../alertmanager/payloads.ts';

/** withWebhook mounts the real Alertmanager receiver in front of the harness' engine. */
async function withWebhook(h: Harness): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(alertmanagerWebhook, {
    config: h.config, onSignal: (s) => h.engine.alertSignal(s), now: () => Date.now(),
    logger: (await import('../support/engine-harness.ts')).capturingLogger([]),
  });
  return app;
}

function scaleAlerts(workload: number, opts: { up?: boolean; down?: boolean } = {}): Record<string, unknown> {
  const now = Date.now();
  const endsAt = new Date(now + 120_000).toISOString();
  const startsAt = new Date(now - 1_000).toISOString();
  return notification([
    alert({ name: 'SaltAutoscalerScaleUp', env: 'test', type: 't1', status: opts.up ? 'firing' : 'resolved', workload: String(workload), startsAt, endsAt: opts.up ? endsAt : new Date(now).toISOString(), fingerprint: 'up0000000000000a' }),
    alert({ name: 'SaltAutoscalerScaleDown', env: 'test', type: 't1', status: opts.down ? 'firing' : 'resolved', workload: String(workload), startsAt, endsAt: opts.down ? endsAt : new Date(now).toISOString(), fingerprint: 'down00000000000b' }),
  ]);
}

async function post(app: FastifyInstance, body: unknown): Promise<number> {
  const res = await app.inject({ method: 'POST', url: '/alertmanager/webhook', payload: body as Record<string, unknown> });
  return res.statusCode;
}

const totalStarts = (h: Harness): number => ['gpu-t1-1', 'gpu-t1-2', 'gpu-t1-3'].reduce((n, id) => n + startCalls(h.emu, id), 0);

t.test('a firing alert starts one reserved instance, none while it deploys, a second after the interval if still firing', async (t) => {
  const h = await startHarness({ emulator: { delays: { startMs: 20, bootMs: 50, deployMs: 700 } }, pool: { interval: '1500ms' } });
  const app = await withWebhook(h);
  t.teardown(async () => { await app.close(); await h.close(); });
  t.equal(await post(app, scaleAlerts(3, { up: true })), 200);
  await waitFor('first start', () => totalStarts(h) === 1);
  await waitFor('deploying', () => stateOf(h, 'gpu-t1-1') === 'deploying');
  t.equal(await post(app, scaleAlerts(3, { up: true })), 200, 'Alertmanager repeats the notification');
  t.equal(totalStarts(h), 1, 'no second start while the first instance deploys');
  await waitFor('first ready', () => stateOf(h, 'gpu-t1-1') === 'ready');
  await waitFor('second start after the interval', () => totalStarts(h) === 2, 10_000);
  const ups = h.store.decisions('test/t1', 100).filter((d) => d.decision.kind === 'scaleUp');
  t.equal(ups.length, 2);
  const gap = (ups[0]?.atMs ?? 0) - (ups[1]?.atMs ?? 0);
  t.ok(gap >= 1_500, `the second start came at least one interval after the first (${gap} ms)`);
});

t.test('resolved + down alert drains and stops an idle instance and leaves a busy one', async (t) => {
  const h = await startHarness({
    emulator: { instances: [{ id: 'gpu-t1-1', state: 'running' }, { id: 'gpu-t1-2', state: 'running' }, { id: 'gpu-t1-3' }], busy: ['gpu-t1-2'] },
    pool: { interval: '500ms' },
  });
  const app = await withWebhook(h);
  t.teardown(async () => { await app.close(); await h.close(); });
  await waitFor('both adopted as ready', () => stateOf(h, 'gpu-t1-1') === 'ready' && stateOf(h, 'gpu-t1-2') === 'ready');
  t.equal(await post(app, scaleAlerts(0, { down: true })), 200);
  await waitFor('idle one stopped', () => h.emu.world.instance('gpu-t1-1')?.state === 'stopped' && stateOf(h, 'gpu-t1-1') === 'stopped');
  // several more intervals of a firing down alert: the busy one stays
  const until = Date.now() + 2_000;
  await waitFor('two more seconds of down alert', () => Date.now() > until, 5_000);
  t.equal(h.emu.world.instance('gpu-t1-2')?.state, 'running', 'the busy instance is still running');
  t.equal(stateOf(h, 'gpu-t1-2'), 'ready');
  t.notOk(h.emu.calls.some((c) => c.fun === 'cloud.action' && JSON.stringify(c).includes('stop') && JSON.stringify(c).includes('gpu-t1-2')), 'no stop was sent for the busy instance');
  const drained = h.emu.events.filter((e) => e.tag === 'salt-autoscaler/instance/gpu-t1-1/draining');
  t.equal(drained.length, 1, 'the draining event was fired for the idle instance');
});

t.test('creates from the profile when no reserved instance is left', async (t) => {
  const h = await startHarness({
    emulator: { instances: [{ id: 'gpu-t1-1' }], profiles: { 'gpu-t1': { provider: 'emu-cloud' } } },
    pool: { reserved: ['gpu-t1-1'], profile: 'gpu-t1', max: 2, strategy: 'target', perInstance: 1, interval: '200ms' },
  });
  const app = await withWebhook(h);
  t.teardown(async () => { await app.close(); await h.close(); });
  t.equal(await post(app, scaleAlerts(2, { up: true })), 200);
  await waitFor('two ready', () => h.engine.pools()[0]?.ready === 2, 10_000);
  const created = h.engine.instances().filter((i) => i.created);
  t.equal(created.length, 1, 'one instance was created from the profile');
  t.ok(h.emu.calls.some((c) => c.fun === 'cloud.profile'), 'cloud.profile was called');
  t.equal(startCalls(h.emu, 'gpu-t1-1'), 1, 'the reserved one was started first');
});

t.test('a create that takes longer than salt.timeout is waited for up to provisionTimeout: the instance comes ready, not failed', async (t) => {
  const h = await startHarness({
    emulator: { instances: [], profiles: { 'gpu-t1': { provider: 'emu-cloud' } }, delays: { createMs: 2_500, bootMs: 30, deployMs: 30, saltSecondMs: 1000 } }, // salt-api waits the real 60 s
    pool: { reserved: [], profile: 'gpu-t1', max: 1, strategy: 'target', perInstance: 1, interval: '200ms', provisionTimeout: '1m' },
    salt: { timeout: '1s' },
  });
  const app = await withWebhook(h);
  t.teardown(async () => { await app.close(); await h.close(); });
  t.equal(await post(app, scaleAlerts(1, { up: true })), 200);
  await waitFor('the created instance ready', () => h.engine.pools()[0]?.ready === 1, 30_000, () => JSON.stringify(h.engine.instances()));
  const made = h.engine.instances().filter((i) => i.created);
  t.equal(made.length, 1, 'one instance created');
  t.same(h.emu.calls.filter((c) => c.fun === 'cloud.profile').map((c) => c.status), [200], 'one cloud.profile call, answered after 2.5 s');
  t.notOk(h.engine.instances().some((i) => i.state === 'failed'), 'nothing failed');
});

t.test('max is respected under a storm of duplicate alerts', async (t) => {
  const h = await startHarness({ emulator: { delays: { startMs: 20, bootMs: 30, deployMs: 30 } }, pool: { max: 2, interval: '100ms', strategy: 'target', perInstance: 1 } });
  const app = await withWebhook(h);
  t.teardown(async () => { await app.close(); await h.close(); });
  const statuses = await Promise.all(Array.from({ length: 200 }, () => post(app, scaleAlerts(50, { up: true }))));
  t.ok(statuses.every((s) => s === 200), 'every duplicate is accepted with 200');
  await waitFor('two ready', () => h.engine.pools()[0]?.ready === 2, 10_000);
  for (let i = 0; i < 20; i++) await post(app, scaleAlerts(50, { up: true }));
  await waitFor('a few more evaluations', async () => { await new Promise((r) => setTimeout(r, 300)); return true; });
  t.equal(totalStarts(h), 2, 'exactly max instances were started');
  t.equal(h.emu.world.instances().filter((i) => i.state === 'running').length, 2, 'never more than max running');
});

t.test('a draining instance that picked up work is waited for until drainTimeout, then kept', async (t) => {
  const h = await startHarness({
    emulator: { instances: [{ id: 'gpu-t1-1', state: 'running' }, { id: 'gpu-t1-2' }, { id: 'gpu-t1-3' }] },
    pool: { interval: '200ms', drainTimeout: '1s' },
    engine: { evaluateInterval: '200ms' },
  });
  const app = await withWebhook(h);
  t.teardown(async () => { await app.close(); await h.close(); });
  await waitFor('adopted as ready', () => stateOf(h, 'gpu-t1-1') === 'ready');
  h.emu.faults.delayNext(1, 300, { fun: 'event.send' }); // hold the draining event: the job arrives meanwhile
  t.equal(await post(app, scaleAlerts(0, { down: true })), 200);
  await waitFor('draining', () => stateOf(h, 'gpu-t1-1') === 'draining');
  h.emu.world.setBusy('gpu-t1-1', true);
  await waitFor('kept after the drain timeout', () => h.store.history('gpu-t1-1', 50).some((tr) => tr.from === 'draining' && tr.to === 'ready'), 10_000);
  t.equal(h.emu.world.instance('gpu-t1-1')?.state, 'running', 'the busy instance was not stopped');
  const cancelled = h.store.decisions('test/t1', 100).find((d) => d.decision.reason.includes('cancelled'));
  t.match(cancelled?.decision.reason ?? '', /busy for \d+s \(drainTimeout 1s\): kept/);
});

t.test('a draining instance that finishes its job within drainTimeout is stopped', async (t) => {
  const h = await startHarness({
    emulator: { instances: [{ id: 'gpu-t1-1', state: 'running' }, { id: 'gpu-t1-2' }, { id: 'gpu-t1-3' }] },
    pool: { interval: '200ms', drainTimeout: '30s' },
    engine: { evaluateInterval: '200ms' },
  });
  const app = await withWebhook(h);
  t.teardown(async () => { await app.close(); await h.close(); });
  await waitFor('adopted as ready', () => stateOf(h, 'gpu-t1-1') === 'ready');
  h.emu.faults.delayNext(1, 300, { fun: 'event.send' });
  t.equal(await post(app, scaleAlerts(0, { down: true })), 200);
  await waitFor('draining', () => stateOf(h, 'gpu-t1-1') === 'draining');
  h.emu.world.setBusy('gpu-t1-1', true);
  const until = Date.now() + 800;
  await waitFor('still draining while busy', () => Date.now() > until && stateOf(h, 'gpu-t1-1') === 'draining');
  h.emu.world.setBusy('gpu-t1-1', false);
  await waitFor('stopped once idle', () => h.emu.world.instance('gpu-t1-1')?.state === 'stopped' && stateOf(h, 'gpu-t1-1') === 'stopped', 10_000);
  t.notOk(h.store.history('gpu-t1-1', 50).some((tr) => tr.from === 'draining' && tr.to === 'ready'), 'it was never undrained');
});

t.test('with scale-in destroy, a created instance is drained, destroyed and then forgotten', async (t) => {
  const h = await startHarness({
    emulator: { instances: [{ id: 'gpu-t1-1' }], profiles: { 'gpu-t1': { provider: 'emu-cloud' } } },
    pool: { reserved: ['gpu-t1-1'], profile: 'gpu-t1', scaleIn: 'destroy', max: 2, strategy: 'target', perInstance: 1, interval: '200ms' },
  });
  const app = await withWebhook(h);
  t.teardown(async () => { await app.close(); await h.close(); });
  t.equal(await post(app, scaleAlerts(2, { up: true })), 200);
  await waitFor('two ready', () => h.engine.pools()[0]?.ready === 2, 10_000);
  const created = h.engine.instances().find((i) => i.created);
  t.ok(created, 'one instance was created');
  // more than one evaluate interval (1 s here) at the wanted size: no drain is wanted, so no idle check is run
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  t.equal(h.emu.calls.filter((c) => c.fun === 'cmd.retcode').length, 0, 'no idle check while the pool is at its wanted size');
  t.equal(await post(app, scaleAlerts(1, { down: true })), 200);
  await waitFor('idle checks of both ready instances once a drain is wanted', () => h.emu.calls.filter((c) => c.fun === 'cmd.retcode').length >= 2, 10_000);
  await waitFor('the created one destroyed in the cloud', () => created !== undefined && h.emu.world.instance(created.id) === undefined, 10_000);
  await waitFor('and stopped here', () => created !== undefined && stateOf(h, created.id) === 'stopped', 10_000);
  await h.engine.reconcile('test');
  t.equal(created === undefined ? 'x' : stateOf(h, created.id), undefined, 'forgotten after the reconcile');
  t.same(h.store.loadInstances().map((i) => i.id), ['gpu-t1-1'], 'and gone from the store');
  t.equal(stateOf(h, 'gpu-t1-1'), 'ready', 'the reserved instance was kept (scale-in destroys created instances first)');
  t.ok(h.emu.calls.some((c) => c.fun === 'cloud.destroy'), 'cloud.destroy was called');
});

t.test('while the gate (store lease) is closed the engine decides nothing and sends nothing; opened, it acts', async (t) => {
  let open = false;
  const h = await startHarness({ gate: { mayAct: () => open } });
  const app = await withWebhook(h);
  t.teardown(async () => { await app.close(); await h.close(); });
  t.equal(await post(app, scaleAlerts(3, { up: true })), 200);
  const manual = await h.engine.scale('test/t1', 1);
  t.equal(manual?.kind, 'hold', 'a manual scale without the lease is a hold');
  t.match(manual?.reason, /store lease/, 'that says why');
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // more than one evaluate interval
  t.equal(h.emu.calls.filter((c) => c.fun === 'cloud.action').length, 0, 'no cloud.action while the gate is closed');
  open = true;
  await waitFor('a start once the gate opens', () => startCalls(h.emu, 'gpu-t1-1') + startCalls(h.emu, 'gpu-t1-2') + startCalls(h.emu, 'gpu-t1-3') === 1, 10_000);
  const started = h.engine.instances().find((i) => i.state !== 'stopped');
  await waitFor('it becomes ready', () => started !== undefined && stateOf(h, started.id) === 'ready', 10_000);
  const path = h.engine.history(started?.id ?? '').map((tr) => tr.to);
  t.same(path, ['starting', 'booted', 'deploying', 'ready'], 'the engine serves the instance history from the store, oldest first');
});
