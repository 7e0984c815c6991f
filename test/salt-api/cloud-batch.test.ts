// cloud-batch: a start asked while none is in flight goes out at once, alone; the starts and stops asked while a call
// of their func is in flight go out at the end of the turn as one `cloud.action` per func (at most the batch cap
// each), and every caller is settled from its own entry in Salt's answer; against the salt-api emulator. In each test
// the first start (or stop) of a turn is the lone call in flight: its answer comes over HTTP, after the turn.
// The rule itself, with a fake send: cloud-batch-group-commit.test.ts.
import t, { type Test } from 'tap';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.ts';
import { SaltApiActions } from '../../src/salt-api/actions.ts';
import { CloudActionBatcher, outcomesOf } from '../../src/salt-api/cloud-batch.ts';
import { SaltClient } from '../../src/salt-api/client.ts';
import { createLogger } from '../../src/log.ts';

const logger = createLogger({ level: 'silent' });

async function setup(tt: Test, o: { emulator?: EmulatorOptions; batchMax?: number; timeoutMs?: number } = {}): Promise<{ emu: Emulator; actions: SaltApiActions }> {
  const emu = await startEmulator(o.emulator ?? { instances: ['gpu-1', 'gpu-2', 'gpu-3', 'gpu-4', 'gpu-5'].map((id) => ({ id })), delays: { startMs: 5, stopMs: 5 } });
  const client = new SaltClient({ url: emu.url, username: 'autoscaler', password: 'secret', eauth: 'pam', tlsVerify: true, timeoutMs: o.timeoutMs ?? 2000, logger });
  tt.teardown(async () => { await client.close(); await emu.close(); });
  return { emu, actions: new SaltApiActions(client, logger, o.batchMax === undefined ? {} : { cloudActionBatchMax: o.batchMax }) };
}

/** actionCalls: the `cloud.action` calls the emulator answered, as `func: ids`. */
function actionCalls(emu: Emulator): string[] {
  return emu.calls.filter((c) => c.fun === 'cloud.action').map((c) => {
    const kwarg = c.kwarg as { func: string; instances: string[] };
    return `${kwarg.func}: ${kwarg.instances.join(',')}`;
  });
}

/** settled: what each promise came to, `ok` or its error's code. */
async function settled(ps: readonly Promise<unknown>[]): Promise<string[]> {
  return (await Promise.allSettled(ps)).map((r) => (r.status === 'fulfilled' ? 'ok' : String((r.reason as { code?: string }).code)));
}

t.test('two starts asked while a start is in flight go out as one cloud.action with both instances, and both start', async (t) => {
  const { emu, actions } = await setup(t);
  t.same(await settled([actions.start('gpu-3'), actions.start('gpu-1'), actions.start('gpu-2')]), ['ok', 'ok', 'ok']);
  t.same(actionCalls(emu).sort(), ['start: gpu-1,gpu-2', 'start: gpu-3']);
  t.equal(actions.cloudActionCalls, 2);
  t.equal(emu.world.instance('gpu-1')?.state, 'running');
  t.equal(emu.world.instance('gpu-2')?.state, 'running');
});

t.test('a start asked after the previous one answered is a call of its own (nothing waits for a batch)', async (t) => {
  const { emu, actions } = await setup(t);
  await actions.start('gpu-1');
  await actions.start('gpu-2');
  t.same(actionCalls(emu), ['start: gpu-1', 'start: gpu-2']);
});

t.test('starts and stops of one turn: the first of each func alone, then one call per func', async (t) => {
  const { emu, actions } = await setup(t, { emulator: { instances: [{ id: 'gpu-1' }, { id: 'gpu-2' }, { id: 'gpu-3' }, ...['gpu-4', 'gpu-5', 'gpu-6'].map((id) => ({ id, state: 'running' as const }))], delays: { startMs: 5, stopMs: 5 } } });
  const asked = [actions.start('gpu-1'), actions.stop('gpu-4'), actions.start('gpu-2'), actions.stop('gpu-5'), actions.start('gpu-3'), actions.stop('gpu-6')];
  t.same(await settled(asked), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  t.same(actionCalls(emu).sort(), ['start: gpu-1', 'start: gpu-2,gpu-3', 'stop: gpu-4', 'stop: gpu-5,gpu-6']);
  t.same(['gpu-3', 'gpu-6'].map((id) => emu.world.instance(id)?.state), ['running', 'stopped']);
});

t.test('an instance Salt does not find fails, the other one in the same call starts', async (t) => {
  const { emu, actions } = await setup(t);
  const results = await Promise.allSettled([actions.start('gpu-3'), actions.start('gpu-1'), actions.start('gpu-404')]);
  t.same(actionCalls(emu).sort(), ['start: gpu-1,gpu-404', 'start: gpu-3']);
  t.equal(results[1]?.status, 'fulfilled');
  t.match(results[2], { status: 'rejected', reason: { code: 'ASC_ERR_ACTION_FAILED', message: /did not start gpu-404: it listed it under "Not Actioned\/Not Running" and "Not Found"/ } });
  t.equal(emu.world.instance('gpu-1')?.state, 'running');
});

t.test('an instance whose driver answers an error fails, the other one in the same call starts', async (t) => {
  const { emu, actions } = await setup(t);
  emu.faults.failStart('gpu-2');
  const results = await Promise.allSettled([actions.start('gpu-3'), actions.start('gpu-1'), actions.start('gpu-2')]);
  t.same(actionCalls(emu).sort(), ['start: gpu-1,gpu-2', 'start: gpu-3']);
  t.equal(results[1]?.status, 'fulfilled');
  t.match(results[2], { status: 'rejected', reason: { code: 'ASC_ERR_ACTION_FAILED', message: /did not start gpu-2: it answered \{"Error":"Failed to start gpu-2/ } });
  t.equal(emu.world.instance('gpu-2')?.state, 'stopped');
});

t.test('a call that fails fails every instance in it with the call\'s error', async (t) => {
  const { emu, actions } = await setup(t);
  emu.faults.failNext(2, 500, { fun: 'cloud.action' }); // the lone start in flight and the batch both answer 500
  t.same(await settled([actions.start('gpu-3'), actions.start('gpu-1'), actions.start('gpu-2')]), ['ASC_ERR_SALT_RUNNER', 'ASC_ERR_SALT_RUNNER', 'ASC_ERR_SALT_RUNNER']);
  t.same(actionCalls(emu).sort(), ['start: gpu-1,gpu-2', 'start: gpu-3']);
});

t.test('a call that times out leaves every instance in it with the timeout (the start may have happened)', async (t) => {
  // the timeout bounds the login too: 2 s leaves a loaded machine room for it, and the held calls outlast it by far
  const { emu, actions } = await setup(t, { timeoutMs: 2_000 });
  emu.faults.delayNext(2, 30_000, { fun: 'cloud.action' }); // the lone start in flight and the batch both answer late
  t.same(await settled([actions.start('gpu-3'), actions.start('gpu-1'), actions.start('gpu-2')]), ['ASC_ERR_SALT_TIMEOUT', 'ASC_ERR_SALT_TIMEOUT', 'ASC_ERR_SALT_TIMEOUT']);
  t.equal(actions.cloudActionCalls, 2, 'gpu-1 and gpu-2 shared the call that timed out');
});

t.test('the batch cap: five starts queued behind one in flight with a cap of two go out as 2 + 2 + 1', async (t) => {
  const { emu, actions } = await setup(t, { batchMax: 2, emulator: { instances: ['gpu-1', 'gpu-2', 'gpu-3', 'gpu-4', 'gpu-5', 'gpu-6'].map((id) => ({ id })), delays: { startMs: 5, stopMs: 5 } } });
  const ids = ['gpu-6', 'gpu-1', 'gpu-2', 'gpu-3', 'gpu-4', 'gpu-5'];
  t.same(await settled(ids.map((id) => actions.start(id))), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  t.same(actionCalls(emu).sort(), ['start: gpu-1,gpu-2', 'start: gpu-3,gpu-4', 'start: gpu-5', 'start: gpu-6']);
  t.same(ids.map((id) => emu.world.instance(id)?.state), ids.map(() => 'running'));
});

t.test('the same instance queued twice in one turn is one name in the call, and both callers settle from it', async (t) => {
  const { emu, actions } = await setup(t);
  t.same(await settled([actions.start('gpu-3'), actions.start('gpu-1'), actions.start('gpu-1')]), ['ok', 'ok', 'ok']);
  t.same(actionCalls(emu).sort(), ['start: gpu-1', 'start: gpu-3']);
});

t.test('a batch cap below one is refused', async (t) => {
  t.throws(() => new CloudActionBatcher(async () => ({}), 0), RangeError);
});

// outcomesOf on the shapes Salt's Map.do_action builds (salt/cloud/__init__.py, 3006.10 and 3007.0)
t.test('outcomesOf reads each instance from its own entry of the answer', async (t) => {
  const ids = ['a', 'b', 'c'];
  const read = (ret: unknown): string[] => outcomesOf('start', ids, ret).map((o) => (o.ok ? `${o.id} ok` : `${o.id} ${o.error.message}`));
  t.same(read({ lab: { localproc: { a: { state: 'running', changed: true }, b: { state: 'running', changed: true }, c: { changed: false } } } }), ['a ok', 'b ok', 'c ok'], 'all found');
  t.same(read({ lab: { localproc: { a: { state: 'running' } } }, other: { ec2: { c: { state: 'running' } } }, 'Not Actioned/Not Running': ['b'], 'Not Found': ['b'] }),
    ['a ok', 'b salt-cloud did not start b: it listed it under "Not Actioned/Not Running" and "Not Found"', 'c ok'], 'two providers, one name not found');
  t.same(read({ 'Not Actioned/Not Running': ['a', 'b', 'c'], 'Not Found': ['a', 'b', 'c'] }).map((s) => s.endsWith('"Not Found"')), [true, true, true], 'none found');
  t.same(read({ lab: { localproc: { a: { state: 'running' } } }, 'Invalid Actions': { 'nodrv.start': ['b'] }, 'Not Found': ['c'], 'Not Actioned/Not Running': ['b', 'c'] }),
    ['a ok', 'b salt-cloud did not start b: it listed it under "Invalid Actions" and "Not Actioned/Not Running"', 'c salt-cloud did not start c: it listed it under "Not Found" and "Not Actioned/Not Running"'], 'a driver without the action');
  t.same(read({ lab: { localproc: { a: { Error: 'quota' }, b: true } } }).slice(0, 2),
    ['a salt-cloud did not start a: it answered {"Error":"quota"}', 'b salt-cloud did not start b: it answered true'], 'an error node, a node that is no object');
  t.same(read('Exception occurred in runner cloud.action: Traceback ...').map((s) => s.includes('it answered "Exception occurred')), [true, true, true], 'a runner exception fails every name');
  t.same(read({}).map((s) => s.endsWith('it answered {}')), [true, true, true], 'an empty answer');
});
