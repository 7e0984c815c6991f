// The salt adapter against the salt-api emulator (src/emulator): reconnect + gap after a cut, re-login after a
// 401 in the middle of a stream and of a call, renewal before expiry, malformed frames skipped, a heartbeat gap
// while the master restarts, the cloud actions end to end, and no unhandled rejection in any of it.
import t, { type Test } from 'tap';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.ts';
import type { StreamItem } from '../../src/core/salt-event.ts';
import { SaltClient } from '../../src/salt-api/client.ts';
import { SaltApiActions } from '../../src/salt-api/actions.ts';
import { SaltEventStream, type Transport } from '../../src/salt-api/event-stream.ts';
import { createLogger } from '../../src/log.ts';
import { until } from './fixture-server.ts';

const logger = createLogger({ level: 'silent' });
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => { unhandled.push(reason); });

interface Setup {
  readonly emu: Emulator;
  readonly client: SaltClient;
  readonly actions: SaltApiActions;
  readonly stream: SaltEventStream;
  readonly items: StreamItem[];
}

async function setup(tt: Test, o: { transport?: Transport; emulator?: EmulatorOptions; heartbeatIntervalMs?: number; heartbeatTimeoutMs?: number; now?: () => number } = {}): Promise<Setup> {
  const emu = await startEmulator(o.emulator ?? {});
  const client = new SaltClient({ url: emu.url, username: 'autoscaler', password: 'secret', eauth: 'pam', tlsVerify: true, timeoutMs: 2000, logger, now: o.now });
  const stream = new SaltEventStream({
    client, transport: o.transport ?? 'sse', logger, heartbeatIntervalMs: o.heartbeatIntervalMs ?? 0,
    heartbeatTimeoutMs: o.heartbeatTimeoutMs, reconnectBaseMs: 20, reconnectMaxMs: 200,
  });
  const items: StreamItem[] = [];
  const done = (async () => { for await (const i of stream.items()) items.push(i); })();
  tt.teardown(async () => {
    await stream.close();
    await done;
    await client.close();
    await emu.close();
  });
  return { emu, client, actions: new SaltApiActions(client, logger), stream, items };
}

const has = (items: readonly StreamItem[], pred: (i: StreamItem) => boolean): boolean => items.some(pred);
const gap = (reason: string) => (i: StreamItem): boolean => i.kind === 'gap' && i.reason === reason;
const tagged = (tag: string) => (i: StreamItem): boolean => i.kind !== 'gap' && i.tag === tag;

for (const transport of ['sse', 'ws'] as const) {
  t.test(`${transport}: a cut stream reconnects, emits a reconnect gap and keeps delivering`, async (tt) => {
    const s = await setup(tt, { transport });
    await until(() => has(s.items, gap('connect')), 5000, 'connect');
    s.emu.fire('test/before', { n: 1 });
    await until(() => has(s.items, tagged('test/before')), 5000, 'first event');
    s.emu.faults.cutStreams({ midFrame: true });
    await until(() => has(s.items, gap('reconnect')), 5000, 'reconnect gap');
    s.emu.fire('test/after', { n: 2 });
    await until(() => has(s.items, tagged('test/after')), 5000, 'event after the cut');
    tt.equal(s.stream.stats.reconnects, 1);
    tt.ok(s.stream.connected);
  });

  t.test(`${transport}: a salt-api restart kills every token: log in again and reconnect`, async (tt) => {
    const s = await setup(tt, { transport });
    await until(() => has(s.items, gap('connect')), 5000, 'connect');
    const before = s.client.logins;
    s.emu.faults.restartApi();
    await until(() => has(s.items, gap('reconnect')), 5000, 'reconnect gap');
    tt.ok(s.client.logins > before, 'logged in again');
    s.emu.fire('test/after-restart', {});
    await until(() => has(s.items, tagged('test/after-restart')), 5000, 'event after restart');
  });

  t.test(`${transport}: malformed frames are counted and skipped`, async (tt) => {
    const s = await setup(tt, { transport });
    await until(() => has(s.items, gap('connect')), 5000, 'connect');
    s.emu.faults.malformedNext(2);
    s.emu.fire('test/m1', {});
    s.emu.fire('test/m2', {});
    s.emu.fire('test/m3', {});
    await until(() => has(s.items, tagged('test/m3')), 5000, 'the good frame');
    tt.equal(s.stream.stats.malformed, 2);
    tt.notOk(has(s.items, tagged('test/m1')) || has(s.items, tagged('test/m2')));
  });
}

t.test('sse: an expired token ends the stream after one more event; the stream logs in again', async (tt) => {
  const s = await setup(tt);
  await until(() => has(s.items, gap('connect')), 5000, 'connect');
  s.emu.faults.expireTokens();
  s.emu.fire('test/last-before-end', {});
  await until(() => has(s.items, gap('reconnect')), 5000, 'reconnect gap');
  tt.ok(has(s.items, tagged('test/last-before-end')), 'the event after expiry still arrived');
  tt.equal(s.client.logins, 2);
});

t.test('a 401 in the middle of a call: log in again once, retry once, succeed', async (tt) => {
  const s = await setup(tt, { emulator: { staticMinions: ['m1'] } });
  await s.client.login();
  s.emu.faults.failNext(1, 401, { fun: 'manage.up' });
  tt.same(await s.actions.minionsUp(), ['m1']);
  tt.equal(s.client.logins, 2);
});

t.test('the token is renewed before it expires', async (tt) => {
  let nowMs = 0;
  const s = await setup(tt, { emulator: { tokenExpireS: 60 }, now: () => nowMs });
  await s.client.login();
  nowMs = 53_000;
  await s.client.runner('manage.up');
  tt.equal(s.client.logins, 1, 'valid at 53 s of 60 s');
  nowMs = 55_000;
  await s.client.runner('manage.up');
  tt.equal(s.client.logins, 2, 'renewed 10% (6 s) before expiry');
});

t.test('heartbeats: a master restart makes a heartbeat go missing -> heartbeat gap and reconnect', async (tt) => {
  const s = await setup(tt, { heartbeatIntervalMs: 20, heartbeatTimeoutMs: 200 });
  await until(() => s.items.filter((i) => i.kind === 'heartbeat').length >= 2, 5000, 'two heartbeats back');
  tt.ok(s.stream.stats.heartbeatRttMs !== undefined);
  s.emu.faults.masterRestart(500);
  await until(() => has(s.items, (i) => i.kind === 'gap' && i.reason.startsWith('heartbeat-')), 5000, 'heartbeat gap');
  const lost = s.items.find((i) => i.kind === 'gap' && i.reason.startsWith('heartbeat-'));
  tt.equal(lost?.kind === 'gap' ? lost.reason : undefined, 'heartbeat-missed');
  await until(() => has(s.items, gap('reconnect')), 5000, 'reconnect');
});

t.test('actions: start a reserved instance, see it boot and become ready, drain, idle check, stop', async (tt) => {
  const s = await setup(tt, { emulator: { instances: [{ id: 'gpu-1', state: 'stopped' }] } });
  await until(() => has(s.items, gap('connect')), 5000, 'connect');
  tt.same((await s.actions.cloudInstances()).map((i) => `${i.id}=${i.state}`), ['gpu-1=stopped']);
  await s.actions.start('gpu-1');
  await until(() => has(s.items, (i) => i.kind === 'instance-ready' && i.minion === 'gpu-1'), 5000, 'ready event');
  tt.ok(has(s.items, (i) => i.kind === 'minion-start' && i.minion === 'gpu-1'));
  tt.ok(has(s.items, (i) => i.kind === 'run-new' && i.orchestrateMinion === 'gpu-1'));
  const grains = await s.actions.readyGrains(['gpu-1', 'nope']);
  tt.match(grains.get('gpu-1'), { ready: true, draining: false });
  tt.notOk(grains.has('nope'));
  await s.actions.setDraining('gpu-1', true);
  tt.match((await s.actions.readyGrains(['gpu-1'])).get('gpu-1'), { ready: true, draining: true });
  tt.equal(await s.actions.idleCheck('gpu-1', 'cmd.retcode', ['true']), 'idle');
  tt.ok((await s.actions.minionsUp()).includes('gpu-1'));
  await s.actions.stop('gpu-1');
  tt.equal(await s.actions.idleCheck('gpu-1', 'cmd.retcode', ['true']), 'unreachable');
  let code: string | undefined;
  try { await s.actions.start('gpu-404'); } catch (err) { code = (err as { code?: string }).code; }
  tt.equal(code, 'ASC_ERR_ACTION_FAILED', 'an unknown instance is not actioned');
});

t.test('no unhandled rejection in any emulator fault case', async (tt) => {
  tt.same(unhandled, []);
});
