// conformance: the emulator answers the recorded salt-api requests like the real Salt 3006 did.
import t from 'tap';
import { PERMISSIVE_ACL, startEmulator, type Emulator } from '../../src/emulator/index.ts';
import { login, openSse, parseChunked, post, sseEvents, normalizeTag, waitUntil } from './raw-client.ts';
import { compareAnswer, readFixture as read, readRequest, sendRecorded } from './recordings.ts';

/** The lab of the recordings, rebuilt as an emulator world (same users and perms, clients, minions, provider and profile). */
const LAB = {
  users: [{ username: 'lab', password: 'labsecret', eauth: 'sharedsecret', perms: PERMISSIVE_ACL }],
  enabledClients: ['local', 'local_async', 'local_batch', 'local_subset', 'runner', 'runner_async', 'wheel', 'wheel_async'],
  staticMinions: ['lab-m1', 'lab-m2'],
  instances: ['gpu-dev-1', 'gpu-dev-2', 'gpu-dev-3'].map((id) => ({ id, provider: 'lab-localproc', driver: 'localproc' })),
  profiles: { 'gpu-dev': { provider: 'lab-localproc', driver: 'localproc' } },
  delays: { startMs: 5, bootMs: 10, deployMs: 10, createMs: 5, stopMs: 5 },
};

/** One row per recorded exchange; `depth` limits the shape comparison, `before` prepares the world. */
interface Row { file: string; depth?: number; token?: 'ours' | 'keep'; before?: (emu: Emulator) => void; tweak?: (body: string) => string }
const TABLE: Row[] = [
  { file: 'auth_01_login_ok', token: 'keep' },
  { file: 'auth_02_login_ok_form', token: 'keep' },
  { file: 'auth_03_login_bad_password', token: 'keep' },
  { file: 'auth_06_bogus_token_root', token: 'keep' },
  { file: 'auth_07_no_token_root', token: 'keep' },
  { file: 'auth_08_bogus_token_events', token: 'keep' },
  { file: 'auth_09_nonhex_token_events', token: 'keep' },
  { file: 'req_01_index_get' },
  { file: 'req_02_local_sync_test_ping' },
  { file: 'req_07_local_sync_no_minions' },
  { file: 'req_08_local_async' },
  { file: 'req_11_runner_sync_manage_up' },
  { file: 'req_12_runner_sync_manage_status' },
  { file: 'req_13_runner_async_manage_status' },
  { file: 'req_15_runner_sync_error' },
  { file: 'req_16_wheel_key_list_all' },
  { file: 'req_17_minions_get', depth: 3 },
  { file: 'req_18_minions_get_id', depth: 3 },
  { file: 'req_19_minions_post' },
  { file: 'req_21_run_eauth_in_body' },
  { file: 'req_22_run_bad_token' },
  { file: 'req_23_runner_cloud_query' },
  { file: 'req_24_runner_cloud_full_query' },
  { file: 'req_25_runner_cloud_show_instance' },
  { file: 'req_25b_cloud_action_instances_string_quirk' },
  { file: 'req_25c_cloud_action_instance_singular' },
  { file: 'req_26_disabled_client' },
  { file: 'req_28_runner_auth_mk_token' },
  { file: 'req_30_cloud_action_start' },
  { file: 'req_32_cloud_action_start_again' },
  { file: 'req_33_cloud_action_stop' },
  { file: 'req_34_cloud_action_unknown_instance' },
  { file: 'req_50_local_grains_setval' },
  { file: 'req_51_local_grains_item_list' },
  { file: 'req_52_local_grains_delval' },
  { file: 'req_52b_local_grains_delkey_force' },
  { file: 'req_53_local_cmd_retcode_idle' },
  { file: 'req_54_local_cmd_retcode_busy', before: (emu) => emu.world.setBusy('lab-m1', true) },
  { file: 'req_55_local_cmd_retcode_minion_down', before: (emu) => emu.world.setBusy('lab-m1', false) },
  { file: 'req_56_runner_event_send_heartbeat' },
  { file: 'req_57_runner_manage_alived' },
  { file: 'req_58_runner_cloud_profile_create' },
  { file: 'req_59_runner_cloud_destroy' },
  { file: 'auth_15_logout' },
  { file: 'auth_16_after_logout_root' },
];

t.test('answers every recorded request with the recorded status, headers and body shape', async (t) => {
  const emu = await startEmulator(LAB);
  t.teardown(() => emu.close());
  let token = await login(emu.url, LAB.users[0]);
  let loggedOutToken = '';
  for (const row of TABLE) {
    row.before?.(emu);
    const req = readRequest(row.file);
    const substitute = (v: string): string => (/^([0-9a-f]{40}|<token>)$/.test(v) ? (row.file === 'auth_16_after_logout_root' ? loggedOutToken : token) : v);
    const headers = row.token === 'keep' ? req.headers : req.headers.map(([k, v]): [string, string] => [k, k.toLowerCase() === 'x-auth-token' ? substitute(v) : v]);
    if (row.file === 'auth_15_logout') loggedOutToken = token;
    const raw = await sendRecorded(emu.url, req, headers);
    t.test(row.file, async (t) => compareAnswer(t, raw, row.file, row.depth));
    if (row.file === 'auth_01_login_ok') token = await login(emu.url, LAB.users[0]);
  }
});

// ---- SSE framing --------------------------------------------------------------------------------------

function recordedTags(file: string): string[] {
  return read(file).toString('utf8').split('\n').filter((l) => l.startsWith('tag: ')).map((l) => l.slice(5));
}

t.test('frames SSE like the recording: a retry chunk, then a tag chunk and a data chunk per event', async (t) => {
  const rec = parseChunked(read('sse_04_cloud_start_stop.raw'));
  t.equal(rec.chunks[0], 'retry: 400\n', 'recording starts with the retry chunk');
  const emu = await startEmulator(LAB);
  t.teardown(() => emu.close());
  const token = await login(emu.url, LAB.users[0]);
  const sse = await openSse(emu.url, token);
  t.teardown(() => sse.close());
  await sse.waitFor(() => sse.chunks().length >= 1);
  await post(emu.url, token, { client: 'runner', fun: 'cloud.action', kwarg: { func: 'start', instances: ['gpu-dev-1'] } });
  await sse.waitFor(() => sseEvents(sse.chunks()).some((e) => /^salt\/run\/\d+\/ret$/.test(e.tag) && e.data['fun'] === 'runner.state.orchestrate'));
  const ours = sse.chunks();
  const structure = (chunks: readonly string[]): string[] => chunks.map((c, i) => {
    if (i === 0) return c;
    if (i % 2 === 1) return /^tag: [^\n]+\n$/.test(c) ? 'tag' : `bad tag chunk ${JSON.stringify(c)}`;
    return /^data: \{"data": \{.*\}, "tag": "[^"]+"\}\n\n$/s.test(c) ? 'data' : `bad data chunk ${JSON.stringify(c.slice(0, 80))}`;
  });
  t.same(structure(ours), structure(rec.chunks.slice(0, ours.length)), 'same chunk structure as sse_04');
  for (const e of sseEvents(ours)) {
    t.equal(typeof e.data['_stamp'], 'string', `${e.tag} carries _stamp`);
    t.match(String(e.data['_stamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  }
  const headLines = sse.headers().map((l) => l.toLowerCase());
  t.ok(headLines.includes('content-type: text/event-stream;charset=utf-8'));
  t.ok(headLines.includes('transfer-encoding: chunked'));
});

t.test('emits the recorded tag sequence when an instance starts and deploys', async (t) => {
  const emu = await startEmulator(LAB);
  t.teardown(() => emu.close());
  const token = await login(emu.url, LAB.users[0]);
  const res = await post(emu.url, token, { client: 'runner', fun: 'cloud.action', kwarg: { func: 'start', instances: ['gpu-dev-1'] } });
  t.equal(res.status, 200);
  await waitUntil(() => emu.world.instance('gpu-dev-1')?.phase === 'ready', 15_000, 'ready');
  const ours = emu.events.map((e) => normalizeTag(e.tag, 'gpu-dev-1'));
  const sse04 = recordedTags('sse_04_cloud_start_stop.sse').map((x) => normalizeTag(x, 'gpu-dev-1'));
  const sse11 = recordedTags('sse_11_autoscaler_calls.sse').map((x) => normalizeTag(x, 'gpu-dev-9'));
  t.same(ours.slice(0, 19), sse04.slice(0, 19), 'start, boot, reactor and lab steps as in sse_04');
  const from = sse11.indexOf('salt/auth');
  const to = sse11.indexOf('salt-autoscaler/instance/<id>/ready') + 3;
  t.same(ours, [...sse04.slice(0, 4), ...sse11.slice(from, to)], 'then the contract steps (grain, ready event) as in sse_11');
  const ready = emu.events.find((e) => e.tag === 'salt-autoscaler/instance/gpu-dev-1/ready');
  t.same(Object.keys(ready?.data ?? {}).sort(), ['_stamp', 'id']);
  const orch = emu.events.find((e) => e.data['fun'] === 'runner.state.orchestrate');
  t.same(orch?.data['fun_args'], [{ mods: 'orch.salt_autoscaler.deploy', pillar: { target_minion: 'gpu-dev-1' } }]);
  t.equal(orch?.data['user'], 'Reactor');
  const ret = emu.events.at(-1);
  t.same(Object.keys((ret?.data['return'] as Record<string, unknown>) ?? {}).sort(), ['data', 'outputter', 'retcode']);
  t.ok(((ret?.data['return'] as { data: Record<string, unknown> }).data)['vm_master'], 'orchestrate return keyed by the master id');
});

t.test('emits the recorded tag sequence when an instance is created from a profile', async (t) => {
  const emu = await startEmulator(LAB);
  t.teardown(() => emu.close());
  const token = await login(emu.url, LAB.users[0]);
  const res = await post(emu.url, token, { client: 'runner', fun: 'cloud.profile', prof: 'gpu-dev', instances: ['gpu-dev-9'] });
  t.equal(res.status, 200);
  await waitUntil(() => emu.world.instance('gpu-dev-9')?.phase === 'ready', 15_000, 'ready');
  const ours = emu.events.map((e) => normalizeTag(e.tag, 'gpu-dev-9'));
  const sse11 = recordedTags('sse_11_autoscaler_calls.sse').map((x) => normalizeTag(x, 'gpu-dev-9'));
  const from = sse11.findIndex((x, i) => x === 'salt/run/J/new' && sse11[i + 1] === 'salt/cloud/<id>/creating');
  const to = sse11.indexOf('salt-autoscaler/instance/<id>/ready') + 3;
  t.same(ours, sse11.slice(from, to));
});

t.test('emits the recorded failure sequence when the deploy orchestrate fails', async (t) => {
  const emu = await startEmulator({ ...LAB, instances: [{ id: 'gpu-dev-3', provider: 'lab-localproc', driver: 'localproc', failDeploy: true }] });
  t.teardown(() => emu.close());
  const token = await login(emu.url, LAB.users[0]);
  await post(emu.url, token, { client: 'runner', fun: 'cloud.action', kwarg: { func: 'start', instances: ['gpu-dev-3'] } });
  await waitUntil(() => emu.world.instance('gpu-dev-3')?.phase === 'failed', 15_000, 'failed');
  await waitUntil(() => emu.events.at(-1)?.data['fun'] === 'runner.state.orchestrate', 15_000, 'orchestrate ret');
  const ours = emu.events.map((e) => normalizeTag(e.tag, 'gpu-dev-3'));
  const sse05 = recordedTags('sse_05_orch_failure.sse').map((x) => normalizeTag(x, 'gpu-dev-3'));
  t.same(ours.slice(0, 16), sse05.slice(0, 16), 'as sse_05 up to the failing state events');
  t.same(ours.slice(16), ['salt/run/J/args', 'salt/run/J/new', 'salt-autoscaler/instance/<id>/failed', 'salt/run/J/ret', 'salt/run/J/ret']);
  const failed = emu.events.find((e) => e.tag.endsWith('/failed'));
  t.same(Object.keys(failed?.data ?? {}).sort(), ['_stamp', 'id', 'reason']);
  const ret = emu.events.at(-1);
  t.equal(ret?.data['success'], false);
  t.equal((ret?.data['return'] as { retcode: number }).retcode, 1);
  t.equal(emu.world.instance('gpu-dev-3')?.grains['salt_autoscaler'], undefined, 'no ready grain');
});

t.test('emits stopping and stopped inside the stop runner and takes the minion down', async (t) => {
  const emu = await startEmulator({ ...LAB, instances: [{ id: 'gpu-dev-1', provider: 'lab-localproc', driver: 'localproc', state: 'running' }] });
  t.teardown(() => emu.close());
  const token = await login(emu.url, LAB.users[0]);
  t.equal(emu.world.instance('gpu-dev-1')?.minionUp, true);
  const res = await post(emu.url, token, { client: 'runner', fun: 'cloud.action', kwarg: { func: 'stop', instances: ['gpu-dev-1'] } });
  t.same(res.body, { return: [{ 'lab-localproc': { localproc: { 'gpu-dev-1': { name: 'gpu-dev-1', state: 'stopped', pid: null, changed: true, comment: 'gpu-dev-1 was stopped.' } } } }] });
  const sse04 = recordedTags('sse_04_cloud_start_stop.sse').map((x) => normalizeTag(x, 'gpu-dev-1'));
  const stopAt = sse04.indexOf('salt/cloud/<id>/stopping') - 1;
  t.same(emu.events.map((e) => normalizeTag(e.tag, 'gpu-dev-1')), sse04.slice(stopAt, stopAt + 4));
  t.equal(emu.world.instance('gpu-dev-1')?.minionUp, false);
  const idle = await post(emu.url, token, { client: 'local', tgt: 'gpu-dev-1', fun: 'cmd.retcode', arg: ['true'] });
  t.same(idle.body, { return: [{}] }, 'a down minion is absent from the idle check');
});
