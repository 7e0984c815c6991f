// create-wait: salt-cloud answers `cloud.profile` once the VM is up and bootstrapped, minutes on a real cloud, so a
// create waits as long as it is told (the pool's provisionTimeout), not salt.timeout; against the salt-api emulator,
// whose cloud.profile takes `createMs` and whose Salt second is a real one here (salt-api's wait for the runner, the
// lowstate `timeout`, lasts as many seconds as it says). (Real Salt: test/real-salt/story.ts, step 7, where a loaded CI
// machine once took over salt.timeout's 60 s and the service failed an instance that was being made.)
import t, { type Test } from 'tap';
import { startEmulator, type Emulator } from '../../src/emulator/index.ts';
import { SaltApiActions } from '../../src/salt-api/actions.ts';
import { SaltClient } from '../../src/salt-api/client.ts';
import { createLogger } from '../../src/log.ts';
import { waitUntil } from '../emulator/raw-client.ts';

const logger = createLogger({ level: 'silent' });
const CLIENT_TIMEOUT_MS = 300;
const CREATE_MS = 1_500;

async function setup(tt: Test): Promise<{ emu: Emulator; actions: SaltApiActions }> {
  const emu = await startEmulator({ instances: [], profiles: { 'gpu-t1': { provider: 'emu-cloud' } }, delays: { createMs: CREATE_MS, bootMs: 5, deployMs: 5, saltSecondMs: 1000 } });
  const client = new SaltClient({ url: emu.url, username: 'autoscaler', password: 'secret', eauth: 'pam', tlsVerify: true, timeoutMs: CLIENT_TIMEOUT_MS, logger });
  tt.teardown(async () => { await client.close(); await emu.close(); });
  return { emu, actions: new SaltApiActions(client, logger) };
}

t.test('a create told to wait longer than salt.timeout outlasts it, and the instance is made', async (t) => {
  const { emu, actions } = await setup(t);
  await actions.create('gpu-t1-a', 'gpu-t1', 10_000);
  t.ok(emu.world.instance('gpu-t1-a') !== undefined, 'the instance exists in the cloud');
  t.same(emu.calls.filter((c) => c.fun === 'cloud.profile').map((c) => c.status), [200], 'one cloud.profile call, answered');
});

t.test('a create without a wait of its own gives up at salt.timeout (what a slow cloud made of every create before)', async (t) => {
  const { actions } = await setup(t);
  await t.rejects(actions.create('gpu-t1-b', 'gpu-t1'), { code: 'ASC_ERR_SALT_TIMEOUT', message: new RegExp(`within ${CLIENT_TIMEOUT_MS} ms`) });
});

t.test('the wait a create is given bounds it: past it salt-api answers 504, and salt-cloud goes on making the instance', async (t) => {
  const { emu, actions } = await setup(t);
  // salt-api waits 1 s (the lowstate `timeout`), the cloud takes 1.5 s: salt-api's 504 comes before our own deadline
  await t.rejects(actions.create('gpu-t1-c', 'gpu-t1', 900), { code: 'ASC_ERR_SALT_TIMEOUT', status: 504, message: /answered 504 .*the runner goes on/ });
  t.same(emu.calls.filter((c) => c.fun === 'cloud.profile').map((c) => c.status), [504], 'salt-api answered 504');
  await waitUntil(() => emu.world.instance('gpu-t1-c')?.state === 'running', 5_000, 'the instance made after the 504');
  t.ok(emu.events.some((e) => /^salt\/run\/\d+\/ret$/.test(e.tag) && e.data['fun'] === 'runner.cloud.profile'), 'the runner returned on the bus');
});
