// faults: each fault-injection switch of the emulator does what it says.
import t from 'tap';
import WebSocket from 'ws';
import { startEmulator } from '../../src/emulator/index.ts';
import { login, openSse, post, sseEvents, waitUntil } from './raw-client.ts';

const MANAGE_UP = { client: 'runner', fun: 'manage.up' };
const START = (id: string): unknown => ({ client: 'runner', fun: 'cloud.action', kwarg: { func: 'start', instances: [id] } });

t.test('failNext answers the next matching calls with the given status, then recovers', async (t) => {
  const emu = await startEmulator({ staticMinions: ['m1'] });
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  emu.faults.failNext(2, 500, { fun: 'manage.up' });
  const other = await post(emu.url, token, { client: 'runner', fun: 'manage.status' });
  t.equal(other.status, 200, 'a call that does not match is not affected');
  const first = await post(emu.url, token, MANAGE_UP);
  t.equal(first.status, 500);
  t.same(first.body, { status: 500, return: 'An unexpected error occurred' });
  t.equal((await post(emu.url, token, MANAGE_UP)).status, 500);
  const third = await post(emu.url, token, MANAGE_UP);
  t.same(third.body, { return: [['m1']] });
  emu.faults.failNext(1, 401, { path: '/' });
  const denied = await post(emu.url, token, MANAGE_UP);
  t.equal(denied.status, 401);
  t.match(denied.text, /<p>No permission -- see authorization schemes<\/p>/);
  emu.faults.failNext(1, 503);
  t.equal((await post(emu.url, token, MANAGE_UP)).status, 503);
  t.same(emu.calls.filter((c) => c.fun === 'manage.up').map((c) => c.status), [500, 500, 200, 401, 503], 'calls record every status');
});

t.test('delayNext holds the next matching call for the given time', async (t) => {
  const emu = await startEmulator();
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  emu.faults.delayNext(1, 300, { fun: 'manage.up' });
  const t0 = Date.now();
  await post(emu.url, token, MANAGE_UP);
  t.ok(Date.now() - t0 >= 290, 'the call was held');
});

// by order, not by speed: of two matching calls at once under a rule of one, one is held (60 s) and the other is
// answered meanwhile, and so is a third sent after it
t.test('delayNext holds only the next n matching calls', async (t) => {
  const emu = await startEmulator();
  const token = await login(emu.url);
  emu.faults.delayNext(1, 60_000, { fun: 'manage.up' });
  const answered: string[] = [];
  const send = (name: string): Promise<void> => post(emu.url, token, MANAGE_UP).then(() => { answered.push(name); }, () => undefined);
  const calls = [send('one of two'), send('one of two')];
  t.teardown(async () => { await emu.close(); await Promise.all(calls); }); // close ends the held call
  await waitUntil(() => answered.length > 0, 30_000, 'the call that is not held');
  await send('third');
  t.same(answered, ['one of two', 'third'], 'one of the two is still held; the rest were answered');
  t.equal(emu.calls.filter((c) => c.fun === 'manage.up').length, 2, 'Salt answered two calls');
});

t.test('cutStreams drops SSE without the terminating chunk, midFrame leaves half a chunk', async (t) => {
  const emu = await startEmulator();
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  const plain = await openSse(emu.url, token);
  const mid = await openSse(emu.url, token);
  t.teardown(() => { plain.close(); mid.close(); });
  await waitUntil(() => plain.chunks().length === 1 && mid.chunks().length === 1);
  emu.faults.cutStreams();
  await plain.waitFor(() => plain.closed());
  await mid.waitFor(() => mid.closed());
  t.equal(plain.terminated(), false, 'no 0-chunk');
  t.equal(plain.partial(), false);
  const again = await openSse(emu.url, token);
  t.teardown(() => again.close());
  await waitUntil(() => again.chunks().length === 1);
  emu.faults.cutStreams({ midFrame: true });
  await again.waitFor(() => again.closed());
  t.equal(again.partial(), true, 'the stream ends inside a chunk');
  t.equal(again.terminated(), false);
});

t.test('restartApi closes SSE without the 0-chunk, closes websockets with 1001 and kills every token', async (t) => {
  const emu = await startEmulator();
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  const sse = await openSse(emu.url, token);
  t.teardown(() => sse.close());
  const ws = new WebSocket(`${emu.url.replace('http', 'ws')}/ws/${token}`);
  t.teardown(() => ws.terminate());
  await new Promise((resolve) => ws.once('open', resolve));
  const closed = new Promise<[number, string]>((resolve) => ws.once('close', (code, reason) => resolve([code, String(reason)])));
  await waitUntil(() => sse.chunks().length === 1);
  emu.faults.restartApi();
  t.same(await closed, [1001, 'Server is shutting down']);
  await sse.waitFor(() => sse.closed());
  t.equal(sse.terminated(), false);
  const after = await post(emu.url, token, MANAGE_UP);
  t.equal(after.status, 401, 'the old token is dead');
  const fresh = await login(emu.url);
  t.equal((await post(emu.url, fresh, MANAGE_UP)).status, 200, 'a new login works');
});

t.test('masterRestart keeps streams open and silent; events meanwhile are lost', async (t) => {
  const emu = await startEmulator();
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  const sse = await openSse(emu.url, token);
  t.teardown(() => sse.close());
  await waitUntil(() => sse.chunks().length === 1);
  emu.faults.masterRestart(150);
  emu.fire('lost/while/down', {});
  const hb = await post(emu.url, token, { client: 'runner', fun: 'event.send', tag: 'salt-autoscaler/heartbeat', data: { seq: 1 } });
  t.same(hb.body, { return: [true] }, 'event.send still answers');
  await waitUntil(() => {
    emu.fire('back/up', {});
    return sseEvents(sse.chunks()).some((e) => e.tag === 'back/up');
  }, 15_000, 'the bus to come back');
  const tags = sseEvents(sse.chunks()).map((e) => e.tag);
  t.notOk(tags.includes('lost/while/down'));
  t.notOk(tags.includes('salt-autoscaler/heartbeat'), 'the heartbeat is lost too');
  t.equal(sse.closed(), false, 'the stream stayed open');
});

t.test('duplicateEvents sends each event twice; reorderEvents swaps consecutive events', async (t) => {
  const emu = await startEmulator();
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  const sse = await openSse(emu.url, token);
  t.teardown(() => sse.close());
  await waitUntil(() => sse.chunks().length === 1);
  emu.faults.duplicateEvents(true);
  emu.fire('a', {});
  emu.faults.duplicateEvents(false);
  emu.faults.reorderEvents(true);
  emu.fire('b', {});
  emu.fire('c', {});
  emu.faults.reorderEvents(false);
  emu.fire('d', {});
  await waitUntil(() => sseEvents(sse.chunks()).length >= 5);
  t.same(sseEvents(sse.chunks()).map((e) => e.tag), ['a', 'a', 'c', 'b', 'd']);
});

t.test('failStart makes the next start of that instance fail with an error return', async (t) => {
  const emu = await startEmulator({ instances: [{ id: 'gpu-1' }] });
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  emu.faults.failStart('gpu-1');
  const res = await post(emu.url, token, START('gpu-1'));
  t.equal(res.status, 200);
  const node = (res.body as { return: [Record<string, Record<string, Record<string, Record<string, unknown>>>>] }).return[0]['emu-cloud']?.['emu']?.['gpu-1'];
  t.match(node, { Error: /Failed to start gpu-1/ });
  t.equal(emu.world.instance('gpu-1')?.state, 'stopped');
  t.notOk(emu.events.some((e) => e.tag === 'salt/cloud/gpu-1/started'));
  const retry = await post(emu.url, token, START('gpu-1'));
  t.match(retry.body, { return: [{ 'emu-cloud': { emu: { 'gpu-1': { changed: true } } } }] }, 'only the next start fails');
});

t.test('expireTokens ends an SSE stream after one more event with the 0-chunk', async (t) => {
  const emu = await startEmulator();
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  const sse = await openSse(emu.url, token);
  t.teardown(() => sse.close());
  await waitUntil(() => sse.chunks().length === 1);
  emu.faults.expireTokens();
  t.equal(sse.terminated(), false, 'an idle stream stays open');
  emu.fire('one/more', {});
  emu.fire('never/seen', {});
  await sse.waitFor(() => sse.terminated());
  t.same(sseEvents(sse.chunks()).map((e) => e.tag), ['one/more']);
  t.equal(sse.closed(), false, 'the connection is kept alive');
  const res = await post(emu.url, token, MANAGE_UP);
  t.equal(res.status, 401);
  t.match(res.text, /Authentication error occurred\./);
});

t.test('malformedNext sends broken frames, then good ones again', async (t) => {
  const emu = await startEmulator();
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  const sse = await openSse(emu.url, token);
  t.teardown(() => sse.close());
  await waitUntil(() => sse.chunks().length === 1);
  emu.faults.malformedNext(1);
  emu.fire('broken', {});
  emu.fire('fine', {});
  await waitUntil(() => sseEvents(sse.chunks()).length >= 2);
  const [broken, fine] = sseEvents(sse.chunks());
  t.ok(broken?.data['__malformed'] !== undefined, 'the first data line is not JSON');
  t.equal(fine?.tag, 'fine');
  t.equal(typeof fine?.data['_stamp'], 'string');
});

t.test('setBusy and setFailDeploy drive the idle check and the deploy outcome', async (t) => {
  const emu = await startEmulator({ instances: [{ id: 'gpu-1', state: 'running' }, { id: 'gpu-2' }] });
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  const idle = (): Promise<unknown> => post(emu.url, token, { client: 'local', tgt: 'gpu-1', fun: 'cmd.retcode', arg: ['/usr/local/bin/training-idle'] }).then((r) => r.body);
  t.same(await idle(), { return: [{ 'gpu-1': 0 }] });
  emu.world.setBusy('gpu-1', true);
  t.same(await idle(), { return: [{ 'gpu-1': 1 }] });
  emu.world.setFailDeploy('gpu-2', true);
  await post(emu.url, token, START('gpu-2'));
  await waitUntil(() => emu.events.some((e) => e.tag === 'salt-autoscaler/instance/gpu-2/failed'), 15_000, 'failed event');
  t.equal(emu.world.instance('gpu-2')?.phase, 'failed');
});

t.test('the control API drives faults and reads state from another process', async (t) => {
  const emu = await startEmulator({ instances: [{ id: 'gpu-1' }] });
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  const control = async (path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
    const res = await fetch(`${emu.url}/_emulator/${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
  };
  t.equal((await control('fault', { kind: 'failNext', n: 1, status: 500, match: { fun: 'manage.up' } })).status, 200);
  t.equal((await post(emu.url, token, MANAGE_UP)).status, 500);
  t.equal((await control('fault', { kind: 'nonsense' })).status, 400, 'a bad fault is refused');
  t.equal((await control('busy', { id: 'gpu-1', busy: true })).status, 200);
  t.equal(emu.world.instance('gpu-1')?.busy, true);
  await control('fire', { tag: 'test/tag', data: { x: 1 } });
  t.ok(emu.events.some((e) => e.tag === 'test/tag'));
  const many = await control('fire-many', [{ tag: 'test/burst/1', data: { n: 1 } }, { tag: 'test/burst/2' }]);
  t.same(many.json, { ok: true, fired: 2 }, 'fire-many puts a burst on the bus in one request');
  t.same(emu.events.filter((e) => e.tag.startsWith('test/burst/')).map((e) => e.tag), ['test/burst/1', 'test/burst/2']);
  t.equal((await control('fire-many', { tag: 'not-a-list' })).status, 400, 'a burst is a list');
  const state = await control('state');
  t.match(state.json, { instances: [{ id: 'gpu-1', state: 'stopped', busy: true }] });
  const calls = await control('calls');
  t.match(calls.json, [{ path: '/login', status: 200 }, { path: '/', fun: 'manage.up', status: 500 }]);
});

t.test('refuses invalid options with ASC_ERR_EMULATOR_OPTIONS naming the bad field', async (t) => {
  await t.rejects(startEmulator({ delays: { bootMs: -1 } }), { code: 'ASC_ERR_EMULATOR_OPTIONS', message: /delays\.bootMs/ });
});

t.test('callDelays make the master answer a function after its fixed plus per-minion time, others at once', async (t) => {
  const emu = await startEmulator({
    staticMinions: ['m1', 'm2', 'm3', 'm4'],
    callDelays: { 'manage.up': { ms: 100, perMinionMs: 50 }, 'grains.item': { ms: 0 } },
  });
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  const up = await post(emu.url, token, { client: 'runner', fun: 'manage.up', kwarg: { tgt: ['m1', 'm2'], tgt_type: 'list' } });
  t.same(up.body, { return: [['m1', 'm2']] }, 'the answer is the same as without a delay');
  const call = emu.calls.find((c) => c.fun === 'manage.up');
  t.ok(call !== undefined && call.atMs - call.receivedAtMs >= 190, 'held 100 ms + 2 minions x 50 ms before answering');
  await post(emu.url, token, { client: 'local', tgt: '*', fun: 'grains.item', arg: ['os'] });
  const grains = emu.calls.find((c) => c.fun === 'grains.item');
  t.ok(grains !== undefined && grains.atMs >= grains.receivedAtMs, 'a call records when it arrived and when it was answered');
});

t.test('callDelays of the cloud calls scale with the nodes the world holds (salt-cloud lists them for a query and an action)', async (t) => {
  const instances = Array.from({ length: 20 }, (_, i) => ({ id: `gpu-${i + 1}` }));
  const emu = await startEmulator({ instances, callDelays: { 'cloud.action': { ms: 0, perMinionMs: 10 }, 'cloud.query': { ms: 0, perMinionMs: 10 } } });
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  await post(emu.url, token, START('gpu-1'));
  await post(emu.url, token, { client: 'runner', fun: 'cloud.query' });
  for (const fun of ['cloud.action', 'cloud.query']) {
    const call = emu.calls.find((c) => c.fun === fun);
    t.ok(call !== undefined && call.atMs - call.receivedAtMs >= 190, `${fun} held 20 nodes x 10 ms (${call === undefined ? '-' : call.atMs - call.receivedAtMs} ms)`);
  }
});
