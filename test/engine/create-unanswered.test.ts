// create-unanswered: salt-api waits for a cloud.profile runner only as long as the lowstate `timeout` (the pool's
// provisionTimeout) says, then answers 504 while salt-cloud goes on making the VM (rest_cherrypy: SaltClientTimeout ->
// 504; test/emulator/real-conformance.test.ts). The service must neither lose that instance nor create a second one for
// the same need: it stays on its way and is followed by its events or, when they are lost, by a reconcile; past its
// provision timeout it fails with a reason that says why, and is kept (stopped, not forgotten). Against the emulator,
// whose Salt second (saltSecondMs) makes salt-api's wait of 60 s last 600 ms here, shorter than the cloud's create.
import t, { type Test } from 'tap';
import { startHarness, waitFor, type Harness } from '../support/engine-harness.ts';

const PROFILE = { 'gpu-t1': { provider: 'emu-cloud' } };

function profileStatuses(h: Harness): number[] {
  return h.emu.calls.filter((c) => c.fun === 'cloud.profile').map((c) => c.status);
}

function dump(h: Harness): string {
  return JSON.stringify({ instances: h.engine.instances(), history: h.engine.instances().map((i) => h.engine.history(i.id, 50)), calls: h.emu.calls.map((c) => `${c.fun ?? ''} ${c.status}`) });
}

/** unanswered starts the harness with a pool that creates from the profile, asks for one instance and waits for the 504. */
async function unanswered(t: Test, o: { createMs: number; saltSecondMs: number; provisionTimeout: string; max: number; reconcileInterval?: string }): Promise<Harness> {
  const h = await startHarness({
    emulator: { instances: [], profiles: PROFILE, delays: { createMs: o.createMs, bootMs: 30, deployMs: 30, saltSecondMs: o.saltSecondMs } },
    pool: { reserved: [], reservedPattern: 'gpu-t1-*', profile: 'gpu-t1', max: o.max, strategy: 'target', perInstance: 1, interval: '200ms', provisionTimeout: o.provisionTimeout },
    ...(o.reconcileInterval === undefined ? {} : { engine: { reconcileInterval: o.reconcileInterval } }),
  });
  t.teardown(() => h.close());
  await h.engine.scale('test/t1', 1);
  await waitFor('salt-api\'s 504 to cloud.profile', () => profileStatuses(h)[0] === 504, 10_000, () => dump(h));
  return h;
}

t.test('a create salt-api stops waiting for (504) stays on its way: salt-cloud makes it, it comes ready, and it is created once', async (t) => {
  const h = await unanswered(t, { createMs: 1_500, saltSecondMs: 10, provisionTimeout: '1m', max: 2 });
  const [made] = h.engine.instances().filter((i) => i.created);
  t.equal(made?.state, 'creating', 'still on its way after the 504, not failed');
  await waitFor('the created instance ready', () => h.engine.pools()[0]?.ready === 1, 20_000, () => dump(h));
  t.same(profileStatuses(h), [504], 'one cloud.profile call');
  t.equal(h.emu.world.instances().length, 1, 'one VM in the cloud');
  t.equal(h.engine.instances().filter((i) => i.created).length, 1, 'one created instance known');
  t.notOk(h.engine.history(made?.id ?? '', 50).some((tr) => tr.to === 'failed'), 'never failed');
});

t.test('when the created instance\'s events are lost, a reconcile finds it in cloud.query and follows it to ready', async (t) => {
  const h = await unanswered(t, { createMs: 1_000, saltSecondMs: 10, provisionTimeout: '1m', max: 2, reconcileInterval: '1s' });
  h.emu.faults.masterRestart(2_000); // the VM is made, boots and deploys while the bus is silent: its events are lost
  await waitFor('the created instance ready', () => h.engine.pools()[0]?.ready === 1, 30_000, () => dump(h));
  const [made] = h.engine.instances().filter((i) => i.created);
  t.match(made?.reason, /reconcile/, `made ready by a reconcile (${made?.reason ?? ''})`);
  t.same(profileStatuses(h), [504], 'one cloud.profile call');
  t.equal(h.emu.world.instances().length, 1, 'one VM in the cloud');
});

t.test('a create unanswered past its provision timeout fails with the reason, and the instance is kept, not created again', async (t) => {
  // a real Salt second: salt-api waits the pool's 2 s provisionTimeout, the cloud takes 3.5 s and lists the VM only
  // then, so reconciles see the failed instance absent from cloud.query (taken for stopped and forgotten, the VM would
  // come back as one "started outside the autoscaler")
  const h = await unanswered(t, { createMs: 3_500, saltSecondMs: 1000, provisionTimeout: '2s', max: 1, reconcileInterval: '1s' });
  const [made] = h.engine.instances().filter((i) => i.created);
  const id = made?.id ?? '';
  await waitFor('the instance failed', () => h.engine.history(id, 50).some((tr) => tr.to === 'failed'), 10_000, () => dump(h));
  const failed = h.engine.history(id, 50).find((tr) => tr.to === 'failed');
  t.match(failed?.reason, /create unanswered past the provision timeout .*504|salt-cloud had not reported the VM made/, `the reason says why (${failed?.reason ?? ''})`);
  // several reconciles later: the instance is still known (stopped once Salt stopped it), and no second create went out
  await waitFor('the instance stopped in the cloud and here', () => h.emu.world.instance(id)?.state === 'stopped' && h.engine.instances().find((i) => i.id === id)?.state === 'stopped', 20_000, () => dump(h));
  const reconciles = (): number => h.emu.calls.filter((c) => c.fun === 'cloud.query').length;
  const seen = reconciles();
  await waitFor('two more reconciles', () => reconciles() >= seen + 2, 10_000, () => dump(h));
  t.ok(h.engine.instances().some((i) => i.id === id && i.created), 'the created instance is still known');
  t.notOk(h.engine.history(id, 50).some((tr) => /started outside/.test(tr.reason)), 'its VM, listed late, was never taken for one started outside the autoscaler');
  t.same(profileStatuses(h), [504], 'one cloud.profile call: not created again');
  t.equal(h.emu.world.instances().length, 1, 'one VM in the cloud');
});
