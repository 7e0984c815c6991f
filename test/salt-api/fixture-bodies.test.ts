// Every recorded salt-api response body (`*.body`) goes through our client and its schemas, served by a
// real HTTP server replaying the fixture's status, content type and bytes; each row names its file.
import t, { type Test } from 'tap';
import { readdirSync } from 'node:fs';
import { SaltClient } from '../../src/salt-api/client.ts';
import { SaltApiActions } from '../../src/salt-api/actions.ts';
import { EventFrame, JobAnswer, ReturnEnvelope } from '../../src/salt-api/wire.ts';
import { AutoscalerError, SaltApiError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { FIXTURES, fixtureReply, loginReply, lowFun, startFixtureServer, type FixtureServer, type Reply } from './fixture-server.ts';

const logger = createLogger({ level: 'silent' });

interface Ctx {
  readonly client: SaltClient;
  readonly actions: SaltApiActions;
  readonly server: FixtureServer;
}
type Row = (tt: Tap, ctx: Ctx, name: string) => Promise<void>;
type Tap = Test;

/** serve answers /login with a fresh token and every other request with the named fixture (or a per-fun override). */
const LOGIN_FIXTURES = new Set(['auth_01_login_ok', 'auth_02_login_ok_form', 'auth_03_login_bad_password', 'auth_04_login_unknown_user', 'auth_05_login_auto_eauth', 'auth_10_login_short_token_expire']);
/** ROUTES: rows whose action makes more than one call answer the other calls from another fixture (by `fun`). */
const ROUTES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  req_50_local_grains_setval: { 'grains.item': 'req_51_local_grains_item_list' },
  req_50b_local_grains_setval_again: { 'grains.item': 'req_51_local_grains_item_list' },
};

/** withServer answers /login with a fresh token (or the login fixture under test) and every other request with the fixture. */
async function withServer(name: string, row: Row, tt: Tap): Promise<void> {
  const byFun = ROUTES[name] ?? {};
  const server = await startFixtureServer((seen): Reply => {
    if (seen.path === '/login') return LOGIN_FIXTURES.has(name) ? fixtureReply(name) : loginReply('a'.repeat(40));
    const fun = lowFun(seen.body);
    const override = fun === undefined ? undefined : byFun[fun];
    return fixtureReply(override ?? name);
  });
  const client = new SaltClient({ url: server.url, username: 'lab', password: 'labsecret', eauth: 'sharedsecret', tlsVerify: true, timeoutMs: 2000, logger });
  try {
    await row(tt, { client, actions: new SaltApiActions(client, logger), server }, name);
  } finally {
    await client.close();
    await server.close();
  }
}

async function rejectsWith(tt: Tap, p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  try {
    await p;
    tt.fail(`expected ${code}, it resolved`);
  } catch (err) {
    tt.ok(err instanceof AutoscalerError, 'a typed AutoscalerError');
    tt.equal((err as AutoscalerError).code, code);
    if (re) tt.match((err as Error).message, re);
  }
}

const loginOk: Row = async (tt, { client }) => {
  const s = await client.login();
  tt.match(s.token, /^[0-9a-f]{40}$/);
  tt.ok(s.expiresAtMs > s.renewAtMs, 'renews before it expires');
};
const refusedCall: Row = async (tt, { client, server }) => {
  await rejectsWith(tt, client.local('*', 'test.ping'), 'ASC_ERR_SALT_AUTH');
  tt.equal(server.seen.filter((s) => s.path === '/login').length, 2, 'logged in again once after the 401');
  tt.equal(server.seen.filter((s) => s.path === '/').length, 2, 'retried the call once');
};
const unusedEndpoint = (expect: (json: unknown) => boolean, what: string): Row => async (tt, _ctx, name) => {
  const reply = fixtureReply(name);
  let json: unknown;
  try { json = JSON.parse(reply.body); } catch { json = undefined; }
  tt.ok(expect(json), `${name}: ${what}`);
};

const ROWS: Record<string, Row> = {
  auth_01_login_ok: loginOk,
  auth_02_login_ok_form: loginOk,
  auth_03_login_bad_password: async (tt, { client }) => {
    await rejectsWith(tt, client.login(), 'ASC_ERR_SALT_AUTH', /401 to \/login \(user=lab, eauth=sharedsecret\)/);
  },
  auth_04_login_unknown_user: loginOk, // perms {} (not []) still parses
  auth_05_login_auto_eauth: loginOk,
  auth_06_bogus_token_root: refusedCall,
  auth_07_no_token_root: refusedCall,
  auth_08_bogus_token_events: unusedEndpoint((j) => j === undefined, '401 HTML from /events, not JSON (stream tests cover the re-login)'),
  auth_09_nonhex_token_events: unusedEndpoint((j) => j === undefined, '401 HTML from /events?token='),
  auth_10_login_short_token_expire: async (tt, { client }) => {
    const s = await client.login();
    tt.equal(s.expiresAtMs - s.renewAtMs, 300, 'a 3 s token renews 10% (300 ms) before expiry');
  },
  auth_11_expired_token_root: refusedCall,
  auth_12_expired_token_events: unusedEndpoint((j) => j === undefined, '401 HTML from /events with an expired token'),
  auth_13_expired_token_events_query: unusedEndpoint((j) => j === undefined, '401 HTML from /events?salt_token='),
  auth_14_ws_bogus_token: unusedEndpoint((j) => j === undefined, '401 HTML to the /ws upgrade (stream tests cover it)'),
  auth_15_logout: async (tt, { client, server }) => {
    await client.login();
    await client.logout();
    tt.same(server.seen.map((s) => s.path), ['/login', '/logout']);
  },
  auth_16_after_logout_root: refusedCall,
  req_01_index_get: unusedEndpoint((j) => !ReturnEnvelope.safeParse(j).success, 'GET / is not a lowstate answer'),
  req_02_local_sync_test_ping: async (tt, { client }) => {
    tt.same(await client.local('*', 'test.ping'), { 'lab-m1': true, 'lab-m2': true });
  },
  req_03_local_sync_args: async (tt, { client }) => {
    const ret = await client.local('lab-m1', 'test.arg', { arg: ['a', 1], kwarg: { k: 'v' } });
    tt.ok('lab-m1' in ret);
  },
  req_04_local_sync_failing_exception: async (tt, { client }) => {
    const ret = await client.local('lab-m1', 'test.exception', { arg: ['boom'] });
    tt.match(ret['lab-m1'], /Traceback/);
  },
  req_05_local_sync_failing_retcode: async (tt, { client }) => {
    const ret = await client.local('lab-m1', 'cmd.run', { arg: ['exit 3'], fullReturn: true });
    tt.match(ret['lab-m1'], { retcode: 3 });
  },
  req_06_local_sync_missing_function: async (tt, { client }) => {
    tt.match((await client.local('lab-m1', 'test.no_such_fn'))['lab-m1'], /is not available/);
  },
  req_07_local_sync_no_minions: async (tt, { client }) => {
    tt.same(await client.local('nomatch-*', 'test.ping'), {});
  },
  req_08_local_async: async (tt, { client }) => {
    tt.same(await client.localAsync('*', 'test.sleep', { arg: [1] }), { jid: '20261128070131626923', minions: ['lab-m1', 'lab-m2'] });
  },
  req_09_jobs_jid: async (tt, { client, server }) => {
    const job = await client.job('20261128070131626923');
    tt.equal(job.info?.[0]?.jid, '20261128070131626923');
    tt.equal(server.seen.at(-1)?.path, '/jobs/20261128070131626923');
  },
  req_10_jobs_list: unusedEndpoint((j) => ReturnEnvelope.safeParse(j).success, 'GET /jobs is a return list'),
  req_11_runner_sync_manage_up: async (tt, { actions }) => {
    tt.same(await actions.minionsUp(), ['lab-m1', 'lab-m2']);
  },
  req_12_runner_sync_manage_status: async (tt, { client }) => {
    tt.match(await client.runner('manage.status'), { up: Array, down: Array });
  },
  req_13_runner_async_manage_status: async (tt, { client }) => {
    tt.equal((await client.runnerAsync('manage.status')).jid, '20261128070136942438');
  },
  req_14_jobs_jid_runner: async (tt, { client }) => {
    tt.ok(JobAnswer.safeParse(await client.job('20261128070136942438')).success);
  },
  req_15_runner_sync_error: async (tt, { client }) => {
    await rejectsWith(tt, client.runner('no_such.runner'), 'ASC_ERR_SALT_RUNNER', /500 to \/: An unexpected error occurred/);
  },
  req_16_wheel_key_list_all: async (tt, { client }) => {
    const w = await client.wheel('key.list_all');
    tt.equal(w.data.success, true);
    tt.match(w.data.return, { minions: ['lab-m1', 'lab-m2'] });
  },
  req_17_minions_get: unusedEndpoint((j) => ReturnEnvelope.safeParse(j).success, 'GET /minions is a return list'),
  req_18_minions_get_id: unusedEndpoint((j) => ReturnEnvelope.safeParse(j).success, 'GET /minions/<id> is a return list'),
  req_19_minions_post: unusedEndpoint((j) => ReturnEnvelope.safeParse(j).success, 'POST /minions (202) is a return list'),
  req_20_run_session_token_in_body: unusedEndpoint((j) => j === undefined, '/run with a session token: 401 HTML'),
  req_21_run_eauth_in_body: unusedEndpoint((j) => ReturnEnvelope.safeParse(j).success, '/run with eauth in body'),
  req_22_run_bad_token: unusedEndpoint((j) => j === undefined, '/run with a bogus token: 401 HTML'),
  req_23_runner_cloud_query: async (tt, { actions }) => {
    const all = await actions.cloudInstances();
    tt.same(all.map((i) => `${i.provider}/${i.id}=${i.state}`), ['lab-localproc/gpu-dev-1=stopped', 'lab-localproc/gpu-dev-2=stopped', 'lab-localproc/gpu-dev-3=stopped']);
    tt.same(await actions.cloudInstances(['other-provider']), [], 'filtered by provider');
  },
  req_24_runner_cloud_full_query: async (tt, { actions }) => {
    tt.ok((await actions.cloudInstances()).length > 0, 'full_query flattens the same way');
  },
  req_25_runner_cloud_show_instance: async (tt, { client }) => {
    tt.match(await client.runner('cloud.action', { func: 'show_instance', instances: ['gpu-dev-2'] }), { 'lab-localproc': { localproc: { 'gpu-dev-2': Object } } });
  },
  req_25b_cloud_action_instances_string_quirk: async (tt, { actions, server }) => {
    await rejectsWith(tt, actions.start('gpu-dev-2'), 'ASC_ERR_ACTION_FAILED', /Not Actioned/);
    const sent = server.seen.find((s) => s.path === '/')?.body as [{ kwarg: { instances: unknown } }];
    tt.same(sent[0].kwarg.instances, ['gpu-dev-2'], 'instances is sent as a list');
  },
  req_25c_cloud_action_instance_singular: async (tt, { client }) => {
    tt.match(await client.runner('cloud.action', { func: 'show_instance', instance: 'gpu-dev-2' }), Object);
  },
  req_26_disabled_client: async (tt, { client }) => {
    await rejectsWith(tt, client.lowstate({ client: 'ssh', tgt: '*', fun: 'test.ping' }), 'ASC_ERR_SALT_CLIENT_DISABLED', /netapi_enable_clients/);
  },
  req_27_local_yaml_accept: async (tt, { client }) => {
    await rejectsWith(tt, client.local('lab-m1', 'test.ping'), 'ASC_ERR_SALT_RESPONSE', /not JSON/);
  },
  req_28_runner_auth_mk_token: async (tt, { client }) => {
    tt.match(await client.runner('auth.mk_token'), { token: /^[0-9a-f]{64}$/ });
  },
  req_29_run_salt_token_in_body: unusedEndpoint((j) => ReturnEnvelope.safeParse(j).success, '/run with the eauth token'),
  req_29b_root_salt_token_as_x_auth_token: refusedCall,
  req_30_cloud_action_start: async (tt, { actions, server }) => {
    await actions.start('gpu-dev-1');
    tt.same(server.seen.at(-1)?.body, [{ client: 'runner', fun: 'cloud.action', kwarg: { func: 'start', instances: ['gpu-dev-1'] } }]);
  },
  req_31_cloud_query_after_start: async (tt, { actions }) => {
    tt.ok((await actions.cloudInstances()).some((i) => i.id === 'gpu-dev-1' && i.state === 'running'));
  },
  req_32_cloud_action_start_again: async (tt, { actions }) => {
    await actions.start('gpu-dev-1');
    tt.pass('starting a running instance (changed: false) is not an error');
  },
  req_33_cloud_action_stop: async (tt, { actions, server }) => {
    await actions.stop('gpu-dev-1');
    tt.same(server.seen.at(-1)?.body, [{ client: 'runner', fun: 'cloud.action', kwarg: { func: 'stop', instances: ['gpu-dev-1'] } }], 'sent cloud.action func=stop for the instance');
  },
  req_34_cloud_action_unknown_instance: async (tt, { actions }) => {
    await rejectsWith(tt, actions.start('gpu-dev-9'), 'ASC_ERR_ACTION_FAILED', /did not start gpu-dev-9.*Not Found/);
  },
  req_35_cloud_action_start_async_gpu3: async (tt, { client }) => {
    tt.match(await client.runnerAsync('cloud.action', { func: 'start', instances: ['gpu-dev-3'] }), { jid: /^\d{20}$/ });
  },
  req_36_wheel_key_delete: async (tt, { client }) => { tt.same((await client.wheel('key.delete', { match: 'gpu-dev-1' })).data.return, {}); },
  req_37_wheel_key_reject: async (tt, { client }) => { tt.match((await client.wheel('key.reject', { match: 'gpu-dev-1' })).data, { success: true }); },
  req_38_wheel_key_accept: async (tt, { client }) => { tt.match((await client.wheel('key.accept', { match: 'gpu-dev-1' })).data, { success: true }); },
  req_40_after_api_restart_old_token_root: refusedCall,
  req_41_after_api_restart_ws_old_token: unusedEndpoint((j) => j === undefined, '401 HTML to the /ws upgrade after a restart'),
  req_50_local_grains_setval: async (tt, { actions, server }) => {
    await actions.setDraining('lab-m1', true);
    const setval = server.seen.find((s) => lowFun(s.body) === 'grains.setval')?.body as [{ arg: unknown[] }];
    tt.same(setval[0].arg, ['salt_autoscaler', { deployed_at: 1795850190, draining: true, ready: true }], 'keeps the other grain keys');
  },
  req_50b_local_grains_setval_again: async (tt, { actions, server }) => {
    await actions.setDraining('lab-m1', false);
    const setval = server.seen.find((s) => lowFun(s.body) === 'grains.setval')?.body;
    tt.match(setval, [{ client: 'local', tgt: 'lab-m1', fun: 'grains.setval' }], 'sent grains.setval to the minion');
    tt.same((setval as [{ arg: unknown[] }] | undefined)?.[0].arg, ['salt_autoscaler', { deployed_at: 1795850190, draining: false, ready: true }], 'draining false, the other grain keys kept');
  },
  req_51_local_grains_item_list: async (tt, { actions, server }) => {
    const grains = await actions.readyGrains(['lab-m1', 'lab-m2']);
    tt.same([...grains.entries()], [['lab-m1', { ready: true, draining: true, deployedAtMs: 1795850190000 }]], 'lab-m2 (grain "") is absent');
    tt.match(server.seen.at(-1)?.body, [{ tgt: ['lab-m1', 'lab-m2'], tgt_type: 'list', fun: 'grains.item' }]);
  },
  req_52_local_grains_delval: async (tt, { client }) => {
    tt.match(await client.local('lab-m1', 'grains.delval'), { 'lab-m1': { result: false } });
  },
  req_52b_local_grains_delkey_force: async (tt, { client }) => {
    tt.match(await client.local('lab-m1', 'grains.delkey'), { 'lab-m1': { result: true } });
  },
  req_53_local_cmd_retcode_idle: async (tt, { actions }) => { tt.equal(await actions.idleCheck('lab-m1', 'cmd.retcode', ['x']), 'idle'); },
  req_54_local_cmd_retcode_busy: async (tt, { actions }) => { tt.equal(await actions.idleCheck('lab-m1', 'cmd.retcode', ['x']), 'busy'); },
  req_55_local_cmd_retcode_minion_down: async (tt, { actions }) => { tt.equal(await actions.idleCheck('gpu-dev-2', 'cmd.retcode', ['true']), 'unreachable'); },
  req_56_runner_event_send_heartbeat: async (tt, { actions, server }) => {
    await actions.fireEvent('salt-autoscaler/heartbeat', { seq: 1, sent_at: 1795850190.5 });
    tt.match(server.seen.at(-1)?.body, [{ client: 'runner', fun: 'event.send', tag: 'salt-autoscaler/heartbeat', data: { seq: 1 } }]);
  },
  req_57_runner_manage_alived: async (tt, { client }) => { tt.ok(Array.isArray(await client.runner('manage.alived'))); },
  req_58_runner_cloud_profile_create: async (tt, { actions, server }) => {
    await actions.create('gpu-dev-9', 'gpu-dev');
    tt.match(server.seen.at(-1)?.body, [{ fun: 'cloud.profile', prof: 'gpu-dev', instances: ['gpu-dev-9'] }]);
  },
  req_59_runner_cloud_destroy: async (tt, { actions, server }) => {
    await actions.destroy('gpu-dev-9');
    tt.same(server.seen.at(-1)?.body, [{ client: 'runner', fun: 'cloud.destroy', instances: ['gpu-dev-9'] }], 'sent cloud.destroy for the instance');
  },
};

// real_*: the product's ACL on a real master, replayed by test/salt-api/real-login.test.ts, test/salt-api/acl-coverage.test.ts
// and test/emulator/real-conformance.test.ts (which fails when one has no row there)
const bodies = readdirSync(FIXTURES).filter((f) => f.endsWith('.body') && !f.startsWith('real_')).map((f) => f.slice(0, -'.body'.length)).sort();

t.test('every recorded body has a row in the table', async (tt) => {
  tt.same(bodies.filter((b) => !(b in ROWS)), [], 'no fixture without a row');
  tt.same(Object.keys(ROWS).filter((r) => !bodies.includes(r)), [], 'no row without a fixture');
});

for (const name of bodies) {
  const row = ROWS[name];
  if (row === undefined) continue;
  t.test(name, async (tt) => {
    await withServer(name, row, tt);
  });
}

t.test('a truncated JSON body is a typed response error, not a crash', async (tt) => {
  const full = fixtureReply('req_30_cloud_action_start');
  const server = await startFixtureServer((seen) => seen.path === '/login' ? loginReply('b'.repeat(40)) : { ...full, body: full.body.slice(0, 60) });
  const client = new SaltClient({ url: server.url, username: 'lab', password: 'p', eauth: 'pam', tlsVerify: true, timeoutMs: 2000, logger });
  try {
    await rejectsWith(tt, client.runner('cloud.action'), 'ASC_ERR_SALT_RESPONSE');
    const err = await client.runner('cloud.action').catch((e: unknown) => e);
    tt.ok(err instanceof SaltApiError && err.status === 200 && err.endpoint === '/' && err.body.length <= 250, 'carries endpoint, status and a trimmed body');
  } finally {
    await client.close();
    await server.close();
  }
});

t.test('an event frame schema matches the stream frames (wire.EventFrame)', async (tt) => {
  tt.ok(EventFrame.safeParse({ tag: 'salt/auth', data: { id: 'x' } }).success);
  tt.notOk(EventFrame.safeParse({ tag: 1, data: {} }).success);
});
