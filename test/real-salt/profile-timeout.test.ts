// profile-timeout on a real master: a `cloud.profile` runner that outlasts salt-api's wait (the lowstate `timeout`;
// NetapiClient.runner -> RunnerClient.cmd_sync waits that long for the runner's ret event, then raises
// SaltClientTimeout, which rest_cherrypy answers 504) gets salt-api's 504, and salt-cloud goes on making the VM: a
// later cloud.query lists it. The service reads that 504 as an unanswered call (ASC_ERR_SALT_TIMEOUT), not as Salt's
// refusal; the emulator, asked the same with the same create time, answers the same (src/emulator/functions.ts).
//
//   npm run test:salt   (as root, with ../shared/salt or SALT_SRC; skips visibly otherwise; see salt/README.md)
import t from 'tap';
import { startEmulator } from '../../src/emulator/index.ts';
import { createLogger } from '../../src/log.ts';
import { SaltApiActions } from '../../src/salt-api/actions.ts';
import { SaltClient } from '../../src/salt-api/client.ts';
import { PROVIDER, SHARED_SECRET, SLOW_CREATE_S, SLOW_PROFILE, SaltLab, findSaltSources } from '../support/real-salt.ts';

const logger = createLogger({ level: 'silent' });
/** WAIT_S: salt-api's wait for the runner, shorter than SLOW_PROFILE's create. */
const WAIT_S = 2;

/** ask posts one lowstate chunk with a token and returns the status and the body's text. */
async function ask(url: string, token: string, chunk: Record<string, unknown>): Promise<{ status: number; text: string; ms: number }> {
  const began = Date.now();
  const res = await fetch(`${url}/`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', 'x-auth-token': token }, body: JSON.stringify([chunk]) });
  return { status: res.status, text: await res.text(), ms: Date.now() - began };
}

async function login(url: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
  return ((await res.json()) as { return: { token: string }[] }).return[0]?.token ?? '';
}

const found = findSaltSources();
if (found.sources.length === 0) {
  t.test('real Salt: a cloud.profile outlasting salt-api\'s wait', { skip: `no real Salt: ${found.skip ?? 'none found'}` }, () => undefined);
}

for (const source of found.sources) {
  t.test(`Salt ${source.label}: a cloud.profile outlasting salt-api's wait answers 504, and salt-cloud still makes the VM`, { timeout: 600_000 }, async (t) => {
    const lab = await SaltLab.start(source, { reserved: [] });
    t.teardown(() => lab.close());
    t.comment(lab.saltVersion);
    const token = await login(lab.apiUrl, { username: 'salt-autoscaler', password: SHARED_SECRET, eauth: 'sharedsecret' });
    const chunk = { client: 'runner', fun: 'cloud.profile', prof: SLOW_PROFILE, instances: ['gpu-prod-type1-71'], timeout: WAIT_S };
    const real = await ask(lab.apiUrl, token, chunk);
    t.equal(real.status, 504, `salt-api answers 504 after its ${WAIT_S} s wait (${real.ms} ms: ${real.text.slice(0, 200)})`);
    t.match(real.text, /did not receive a timely response/, 'CherryPy\'s Gateway Timeout page');
    t.ok(real.ms < SLOW_CREATE_S * 1000, 'before the VM was made');
    await lab.waitFor(() => lab.running('gpu-prod-type1-71'), 120_000, 'salt-cloud making the VM after the 504');
    const query = await ask(lab.apiUrl, token, { client: 'runner', fun: 'cloud.query' });
    t.match(query.text, /gpu-prod-type1-71/, 'a later cloud.query lists it');
    t.same(lab.actions().filter((a) => a.action === 'create').map((a) => a.name), ['gpu-prod-type1-71'], 'made once');

    // the service's create, told to wait WAIT_S: salt-api's 504 comes before its own deadline, read as unanswered
    const client = new SaltClient({ url: lab.apiUrl, username: 'salt-autoscaler', password: SHARED_SECRET, eauth: 'sharedsecret', tlsVerify: true, timeoutMs: 30_000, logger });
    t.teardown(() => client.close());
    await t.rejects(new SaltApiActions(client, logger).create('gpu-prod-type1-72', SLOW_PROFILE, WAIT_S * 1000),
      { code: 'ASC_ERR_SALT_TIMEOUT', status: 504 }, 'the service reads it as a call Salt left unanswered');
    await lab.waitFor(() => lab.running('gpu-prod-type1-72'), 120_000, 'the service\'s VM made after the 504 too');

    // the emulator, whose Salt second is a real one here and whose create takes as long, answers the same
    const emu = await startEmulator({ instances: [], profiles: { [SLOW_PROFILE]: { provider: PROVIDER, driver: 'localproc' } }, delays: { createMs: SLOW_CREATE_S * 1000, saltSecondMs: 1000 } });
    t.teardown(() => emu.close());
    const emulated = await ask(emu.url, await login(emu.url, { username: 'autoscaler', password: 'secret', eauth: 'pam' }), chunk);
    t.equal(emulated.status, real.status, 'the emulator answers the same status');
    t.match(emulated.text, /did not receive a timely response/, 'with the same page');
  });
}
