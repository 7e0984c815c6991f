// acl-coverage: every Salt call the service makes is granted by the ACL it ships (salt/master.d/salt-autoscaler.conf),
// driven through SaltApiActions and the event stream against the emulator enforcing that file as salt-api does; and
// a copy of the file missing a grant makes exactly the call that needs it fail with the service's typed error.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_USER, SHIPPED_MASTER_CONF, startEmulator, type Emulator } from '../../src/emulator/index.ts';
import { POOL_DEFAULTS } from '../../src/config/schema.ts';
import type { StreamItem } from '../../src/core/salt-event.ts';
import { SaltClient } from '../../src/salt-api/client.ts';
import { SaltApiActions } from '../../src/salt-api/actions.ts';
import { SaltEventStream } from '../../src/salt-api/event-stream.ts';
import { createLogger } from '../../src/log.ts';
import { waitFor } from '../support/engine-harness.ts';

const logger = createLogger({ level: 'silent' });
const SHIPPED = readFileSync(SHIPPED_MASTER_CONF, 'utf8');
const RESERVED = 'gpu-prod-type1-1';
const RUNNING = 'gpu-dev-type2-1';
const CREATED = 'gpu-dev-type2-9';
const PROFILE = 'gpu-dev-type2';
const { fun: IDLE_FUN, args: IDLE_ARGS } = POOL_DEFAULTS.idleCheck;

interface World {
  readonly emu: Emulator;
  readonly actions: SaltApiActions;
  readonly items: StreamItem[];
}

/** world starts the emulator with `conf` as its master config, and the service's client, actions and SSE stream as the product's user. */
async function world(t: Test, conf: string): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'asc-acl-'));
  const path = join(dir, 'salt-autoscaler.conf');
  writeFileSync(path, conf);
  const emu = await startEmulator({
    masterConf: path,
    instances: [{ id: RESERVED }, { id: RUNNING, state: 'running' }],
    profiles: { [PROFILE]: { provider: 'emu-cloud' } },
  });
  const client = new SaltClient({ url: emu.url, ...DEFAULT_USER, tlsVerify: true, timeoutMs: 5000, logger });
  const stream = new SaltEventStream({ client, transport: 'sse', logger, heartbeatIntervalMs: 0, reconnectBaseMs: 20, reconnectMaxMs: 200 });
  const items: StreamItem[] = [];
  const done = (async () => { for await (const i of stream.items()) items.push(i); })();
  t.teardown(async () => {
    await stream.close();
    await done;
    await client.close();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { emu, actions: new SaltApiActions(client, logger), items };
}

/** without removes `text` from the shipped file, failing when it is not there (so a changed file cannot pass silently). */
function without(text: string, replacement = ''): string {
  if (!SHIPPED.includes(text)) throw new Error(`the shipped master.d snippet no longer contains ${JSON.stringify(text)}`);
  return SHIPPED.replace(text, () => replacement);
}

t.test('the shipped ACL grants every call the service makes, each on its first try', async (t) => {
  const { emu, actions, items } = await world(t, SHIPPED);
  await waitFor('the event stream', () => items.some((i) => i.kind === 'gap' && i.reason === 'connect'), 20_000);

  const cloud = await actions.cloudInstances();
  t.same(cloud.map((i) => i.id).sort(), [RUNNING, RESERVED].sort(), 'cloudInstances');
  await actions.start(RESERVED);
  await waitFor('the started instance ready', async () => (await actions.readyGrains([RESERVED])).get(RESERVED)?.ready === true, 20_000);
  t.same([...await actions.minionsUp([RESERVED, RUNNING])].sort(), [RESERVED, RUNNING].sort(), 'minionsUp');
  const grains = await actions.readyGrains([RESERVED, RUNNING]);
  t.equal(grains.get(RUNNING)?.ready, true, 'readyGrains');
  await actions.setDraining(RUNNING, true);
  t.equal((await actions.readyGrains([RUNNING])).get(RUNNING)?.draining, true, 'setDraining');
  t.equal(await actions.idleCheck(RUNNING, IDLE_FUN, IDLE_ARGS), 'idle', 'idleCheck with the default idle check');
  await actions.setDraining(RUNNING, false);
  await actions.fireEvent('salt-autoscaler/heartbeat', { seq: 1 });
  await waitFor('the heartbeat on the stream', () => items.some((i) => i.kind === 'heartbeat'), 20_000);
  await actions.stop(RESERVED);
  await actions.create(CREATED, PROFILE);
  await actions.destroy(CREATED);

  const refused = emu.calls.filter((c) => c.status !== 200);
  t.same(refused, [], 'no call was refused (a refusal would have been hidden by the client\'s re-login and retry)');
  t.same(new Set(emu.calls.filter((c) => c.path === '/login').map((c) => c.status)), new Set([200]), 'logged in as the product\'s user');
});

const MISSING: { what: string; conf: () => string; call: (a: SaltApiActions) => Promise<unknown>; still: (a: SaltApiActions) => Promise<unknown> }[] = [
  {
    what: 'grains.setval$ dropped: draining fails',
    conf: () => without("        - 'grains.setval$':\n            args:\n              - 'salt_autoscaler$'\n"),
    call: (a) => a.setDraining(RUNNING, true),
    still: (a) => a.readyGrains([RUNNING]),
  },
  {
    what: 'cloud.action$ dropped: start fails',
    conf: () => without("        - 'cloud.action$'\n"),
    call: (a) => a.start(RESERVED),
    still: (a) => a.cloudInstances(),
  },
  {
    what: 'cloud.action$ dropped: stop fails',
    conf: () => without("        - 'cloud.action$'\n"),
    call: (a) => a.stop(RUNNING),
    still: (a) => a.create(CREATED, PROFILE),
  },
  {
    what: 'the idle check path changed: the idle check fails',
    conf: () => without("'/usr/local/bin/training-idle$'", "'/opt/other/idle-check$'"),
    call: (a) => a.idleCheck(RUNNING, IDLE_FUN, IDLE_ARGS),
    still: (a) => a.minionsUp([RUNNING]),
  },
];

for (const row of MISSING) {
  t.test(`a copy of the ACL with ${row.what} with ASC_ERR_SALT_AUTH, the other calls still work`, async (t) => {
    const { emu, actions } = await world(t, row.conf());
    await t.resolves(row.still(actions), 'a call the copy still grants');
    await t.rejects(row.call(actions), { code: 'ASC_ERR_SALT_AUTH', name: 'SaltApiError', status: 401 });
    t.ok(emu.calls.some((c) => c.path === '/' && c.status === 401), 'salt-api refused it');
  });
}
