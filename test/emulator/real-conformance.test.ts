// real-conformance: the emulator, with the product's user and the shipped ACL, answers the requests recorded from a
// real Salt 3006.10 master (test/fixtures/salt-api/real_*, test/real-salt/record.ts) like that master did.
import t, { type Test } from 'tap';
import { SHIPPED_MASTER_CONF, readMasterConf, startEmulator, type Emulator } from '../../src/emulator/index.ts';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitUntil } from './raw-client.ts';
import { compareAnswer, readFixture, readRequest, sendRecorded } from './recordings.ts';

const SECRET = 'real-salt-suite-secret';
const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/salt-api/', import.meta.url));
/** The real-Salt lab of the recordings: the product's user through sharedsecret with the shipped ACL body, two reserved instances. */
const LAB = {
  users: [{ username: 'salt-autoscaler', password: SECRET, eauth: 'sharedsecret', perms: readMasterConf(SHIPPED_MASTER_CONF).externalAuth['pam']?.['salt-autoscaler'] ?? [] }],
  instances: ['gpu-prod-type1-1', 'gpu-prod-type1-2'].map((id) => ({ id, provider: 'lab-local', driver: 'localproc' })),
  delays: { startMs: 5, bootMs: 10, deployMs: 10, createMs: 5, stopMs: 5, saltSecondMs: 5 },
};

/** One row per recorded exchange, in recording order; `before` brings the world where the lab was. */
interface Row { file: string; depth?: number; before?: (emu: Emulator) => Promise<void> | void }
const TABLE: Row[] = [
  { file: 'real_02_acl_denied_local_fun' },
  { file: 'real_03_acl_denied_local_args' },
  { file: 'real_04_acl_denied_local_target' },
  { file: 'real_05_acl_denied_runner' },
  { file: 'real_06_acl_denied_wheel_client' },
  { file: 'real_07_cloud_query_reserve' },
  // cloud.action answers per provider/driver/name; the node itself is the driver's (the lab's localproc is terse)
  { file: 'real_08_cloud_action_start', depth: 4 },
  { file: 'real_09_grains_item_ready', before: (emu) => waitUntil(() => emu.world.instance('gpu-prod-type1-1')?.phase === 'ready', 3000, 'ready') },
  { file: 'real_10_idle_check_idle' },
  { file: 'real_11_idle_check_busy', before: (emu) => emu.world.setBusy('gpu-prod-type1-1', true) },
  { file: 'real_12_manage_up_list_short_timeouts', before: (emu) => emu.world.setBusy('gpu-prod-type1-1', false) },
  { file: 'real_13_cloud_action_start_failing_deploy', depth: 4, before: (emu) => emu.world.setFailDeploy('gpu-prod-type1-2', true) },
  { file: 'real_14_cloud_action_stop', depth: 4, before: (emu) => waitUntil(() => emu.world.instance('gpu-prod-type1-2')?.phase === 'failed', 3000, 'failed') },
  { file: 'real_15_manage_up_stopped_minion_short_timeouts' },
  { file: 'real_16_manage_up_stopped_minion_default_timeouts' },
];

const body = (name: string): unknown => JSON.parse(readFixture(`${name}.body`).toString('utf8'));

t.test('every real_* exchange recorded has a row here (the other fixture tables leave them to this one)', async (t) => {
  const recorded = readdirSync(FIXTURE_DIR).filter((f) => /^real_\d.*\.body$/.test(f)).map((f) => f.slice(0, -'.body'.length)).sort();
  t.same(recorded.filter((f) => f !== 'real_01_login_shipped_acl' && !TABLE.some((r) => r.file === f)), [], 'no recording without a row');
});

t.test('answers the real master\'s recordings with their status, headers and body shape', async (t) => {
  const emu = await startEmulator(LAB);
  t.teardown(() => emu.close());
  const loginRaw = await sendRecorded(emu.url, readRequest('real_01_login_shipped_acl'), readRequest('real_01_login_shipped_acl').headers);
  t.test('real_01_login_shipped_acl', async (t) => {
    compareAnswer(t, loginRaw, 'real_01_login_shipped_acl');
    const ours = JSON.parse(loginRaw.body().toString('utf8')) as { return: [{ perms: unknown }] };
    const recorded = body('real_01_login_shipped_acl') as { return: [{ perms: unknown }] };
    t.same(ours.return[0].perms, recorded.return[0].perms, 'perms: the shipped ACL as the real master answered it');
  });
  const token = (JSON.parse(loginRaw.body().toString('utf8')) as { return: [{ token: string }] }).return[0].token;
  for (const row of TABLE) {
    await row.before?.(emu);
    const req = readRequest(row.file);
    const headers = req.headers.map(([k, v]): [string, string] => [k, k.toLowerCase() === 'x-auth-token' ? token : v]);
    const raw = await sendRecorded(emu.url, req, headers);
    t.test(row.file, async (t) => {
      compareAnswer(t, raw, row.file, row.depth);
      // where the answer is small and the world the same, the values match too
      if (['real_04_acl_denied_local_target', 'real_05_acl_denied_runner', 'real_10_idle_check_idle', 'real_11_idle_check_busy',
        'real_12_manage_up_list_short_timeouts', 'real_16_manage_up_stopped_minion_default_timeouts'].includes(row.file)) {
        t.same(JSON.parse(raw.body().toString('utf8')), body(row.file), 'same value');
      }
    });
  }
});

/** loginToken logs in with the recorded real_01 request. */
async function loginToken(emu: Emulator): Promise<string> {
  const login = readRequest('real_01_login_shipped_acl');
  return (JSON.parse((await sendRecorded(emu.url, login, login.headers)).body().toString('utf8')) as { return: [{ token: string }] }).return[0].token;
}

/** post sends one lowstate chunk and returns the status and `return[0]` (or the HTML text). */
async function post(emu: Emulator, token: string, chunk: Record<string, unknown>): Promise<{ status: number; value: unknown }> {
  const res = await fetch(`${emu.url}/`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', 'x-auth-token': token }, body: JSON.stringify([chunk]) });
  const text = await res.text();
  return { status: res.status, value: res.status === 200 ? (JSON.parse(text) as { return: unknown[] }).return[0] : text };
}

/** downWorld is the lab with gpu-prod-type1-1 up and gpu-prod-type1-2 stopped after it ran (its key accepted, its minion down). */
async function downWorld(t: Test): Promise<{ emu: Emulator; token: string }> {
  const emu = await startEmulator({ ...LAB, instances: LAB.instances.map((i) => ({ ...i, state: 'running' as const })) });
  t.teardown(() => emu.close());
  const token = await loginToken(emu);
  t.equal((await post(emu, token, { client: 'runner', fun: 'cloud.action', kwarg: { func: 'stop', instances: ['gpu-prod-type1-2'] } })).status, 200);
  return { emu, token };
}

t.test('a top-level timeout shorter than manage.up\'s ping wait answers 504 (real_15), and the runner still returns on the bus', async (t) => {
  const { emu, token } = await downWorld(t);
  const began = Date.now();
  const res = await post(emu, token, { client: 'runner', fun: 'manage.up', tgt: ['gpu-prod-type1-1', 'gpu-prod-type1-2'], tgt_type: 'list', timeout: 1, gather_job_timeout: 2 });
  t.equal(res.status, 504);
  t.ok(Date.now() - began >= LAB.delays.saltSecondMs, 'after salt-api\'s wait (1 Salt second)');
  await waitUntil(() => emu.events.some((e) => /^salt\/run\/\d+\/ret$/.test(e.tag) && e.data['fun'] === 'runner.manage.up'), 3000, 'the runner ret');
  const ret = emu.events.find((e) => /^salt\/run\/\d+\/ret$/.test(e.tag) && e.data['fun'] === 'runner.manage.up');
  t.same(ret?.data['return'], ['gpu-prod-type1-1'], 'the runner finished after its own wait');
});

t.test('manage.up filters by kwarg tgt (list and glob) and waits only when a targeted minion does not answer', async (t) => {
  const { emu, token } = await downWorld(t);
  const up = (kwarg: Record<string, unknown>, top: Record<string, unknown> = {}): Promise<{ status: number; value: unknown }> =>
    post(emu, token, { client: 'runner', fun: 'manage.up', ...top, kwarg: { timeout: 2, gather_job_timeout: 3, ...kwarg } });
  t.same(await up({ tgt: ['gpu-prod-type1-1'], tgt_type: 'list' }), { status: 200, value: ['gpu-prod-type1-1'] });
  t.same(await up({ tgt: ['gpu-prod-type1-2'], tgt_type: 'list' }), { status: 200, value: [] });
  t.same(await up({ tgt: 'gpu-prod-*' }), { status: 200, value: ['gpu-prod-type1-1'] });
  t.same(await up({ tgt: ['gpu-prod-type1-1'], tgt_type: 'list' }, { timeout: 1 }), { status: 200, value: ['gpu-prod-type1-1'] }, 'every targeted minion answers: no wait, no 504');
  t.equal((await up({}, { timeout: 4 })).status, 504, 'the stopped minion makes the ping wait 2 + 3 s, longer than salt-api\'s 4 s');
  t.same(await up({}, { timeout: 6 }), { status: 200, value: ['gpu-prod-type1-1'] });
});

t.test('a cloud.profile that outlasts salt-api\'s wait (the lowstate timeout, in Salt seconds) answers 504, and salt-cloud still makes the VM', async (t) => {
  const createMs = 40 * LAB.delays.saltSecondMs; // 40 Salt seconds
  const emu = await startEmulator({ ...LAB, profiles: { 'gpu-lab': { provider: 'lab-local', driver: 'localproc' } }, delays: { ...LAB.delays, createMs } });
  t.teardown(() => emu.close());
  const token = await loginToken(emu);
  const began = Date.now();
  const res = await post(emu, token, { client: 'runner', fun: 'cloud.profile', prof: 'gpu-lab', instances: ['gpu-prod-type1-9'], timeout: 10 });
  t.equal(res.status, 504, 'salt-api stopped waiting after 10 Salt seconds');
  t.match(res.value, /did not receive a timely response/, 'CherryPy\'s 504 page');
  t.ok(Date.now() - began < createMs, 'answered before the VM was made');
  await waitUntil(() => emu.world.instance('gpu-prod-type1-9')?.state === 'running', 5000, 'the VM made after the 504');
  t.ok(emu.events.some((e) => e.tag === 'salt/cloud/gpu-prod-type1-9/created'), 'salt-cloud fired created');
  t.ok(emu.events.some((e) => /^salt\/run\/\d+\/ret$/.test(e.tag) && e.data['fun'] === 'runner.cloud.profile'), 'the runner returned on the bus');
  const inTime = await post(emu, token, { client: 'runner', fun: 'cloud.profile', prof: 'gpu-lab', instances: ['gpu-prod-type1-8'], timeout: 60 });
  t.equal(inTime.status, 200, 'a wait longer than the create gets the answer');
  t.ok(emu.world.instance('gpu-prod-type1-8') !== undefined);
});
