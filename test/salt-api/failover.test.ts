/**
 * failover: `salt.url` as a list (one salt-api per master). The client uses the first that answers, backs off from one
 * it could not reach, logs in on the one it moves to, says which one it uses, comes back when the first answers again,
 * and never sends a call that may have reached a salt-api to another one.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { createServer } from 'node:net';
import { SaltClient } from '../../src/salt-api/client.ts';
import { createLogger } from '../../src/log.ts';
import { PERMISSIVE_USER, startEmulator, type Emulator } from '../../src/emulator/index.ts';

function captureLogger(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const destination = new Writable({ write(chunk: Buffer, _enc, cb) { raw.push(chunk.toString()); cb(); } });
  return { logger: createLogger({ level: 'debug', destination }), lines: () => raw.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** deadUrl is a loopback URL nothing listens on (the port was free a moment ago). */
async function deadUrl(): Promise<string> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(`http://127.0.0.1:${port}`));
    });
  });
}

const pings = (emu: Emulator): number => emu.calls.filter((c) => c.fun === 'test.ping').length;

t.test('with the first salt-api down, calls go to the second (logged in there), and it says which one it uses', async (t) => {
  const second = await startEmulator({ staticMinions: ['m1'] });
  t.teardown(() => second.close());
  const first = await deadUrl();
  let nowMs = 1_000_000;
  const { logger, lines } = captureLogger();
  const client = new SaltClient({ url: [first, second.url], ...PERMISSIVE_USER, tlsVerify: true, timeoutMs: 2000, logger, now: () => nowMs });
  t.teardown(() => client.close());
  await client.local('m1', 'test.ping');
  t.equal(pings(second), 1, 'the call reached the second salt-api');
  t.equal(client.baseUrl, second.url, 'the second is in use (the event stream connects there too)');
  t.ok(second.calls.some((c) => c.path === '/login' && c.status === 200), 'it logged in on the second');
  const log = lines();
  t.ok(log.some((l) => l['msg'] === 'salt-api could not be reached: trying the next one' && l['url'] === first && l['backoffMs'] === 1000), 'the unreachable one is logged with its back-off');
  t.ok(log.some((l) => l['msg'] === 'salt-api: using another salt-api' && l['url'] === second.url && l['from'] === first), 'the switch is logged with both URLs');
  // in back-off, the dead one is not tried again: the next calls go straight to the second
  const before = log.length;
  await client.local('m1', 'test.ping');
  t.equal(pings(second), 2);
  t.notOk(lines().slice(before).some((l) => l['msg'] === 'salt-api could not be reached: trying the next one'), 'no attempt on the first while it backs off');
  // after the back-off it is tried again, fails again, and backs off twice as long
  nowMs += 1_001;
  await client.local('m1', 'test.ping');
  t.ok(lines().some((l) => l['url'] === first && l['backoffMs'] === 2000), 'the back-off doubles');
  t.equal(pings(second), 3);
});

t.test('when the first salt-api answers again the client goes back to it once its back-off is over', async (t) => {
  const first = await startEmulator({ staticMinions: ['m1'] });
  const second = await startEmulator({ staticMinions: ['m1'] });
  t.teardown(async () => { await first.close(); await second.close(); });
  // the first one's port, refused for now: a proxy that is closed, then opened on that port
  const port = Number(new URL(first.url).port);
  await first.close();
  let nowMs = 0;
  const client = new SaltClient({ url: [`http://127.0.0.1:${port}`, second.url], ...PERMISSIVE_USER, tlsVerify: true, timeoutMs: 2000, logger: captureLogger().logger, now: () => nowMs });
  t.teardown(() => client.close());
  await client.local('m1', 'test.ping');
  t.equal(pings(second), 1, 'down: the second one answered');
  const back = await startEmulator({ staticMinions: ['m1'], port });
  t.teardown(() => back.close());
  nowMs += 1_001;
  await client.local('m1', 'test.ping');
  t.equal(pings(back), 1, 'up again and out of back-off: the call went to the first');
  t.equal(client.baseUrl, `http://127.0.0.1:${port}`);
  t.equal(pings(second), 1, 'and not to the second');
});

t.test('a call that may have reached a salt-api (timeout, 5xx) is not sent to the other one', async (t) => {
  const first = await startEmulator({ staticMinions: ['m1'] });
  const second = await startEmulator({ staticMinions: ['m1'] });
  t.teardown(async () => { await first.close(); await second.close(); });
  const client = new SaltClient({ url: [first.url, second.url], ...PERMISSIVE_USER, tlsVerify: true, timeoutMs: 1000, logger: captureLogger().logger });
  t.teardown(() => client.close());
  first.faults.delayNext(1, 1_500, { fun: 'test.ping' });
  await t.rejects(client.local('m1', 'test.ping'), { code: 'ASC_ERR_SALT_TIMEOUT' });
  first.faults.failNext(1, 500, { fun: 'test.ping' });
  await t.rejects(client.local('m1', 'test.ping'), { code: 'ASC_ERR_SALT_RUNNER' });
  t.equal(pings(second), 0, 'the second salt-api got neither call');
  t.equal(client.baseUrl, first.url, 'the first stays in use');
});

t.test('with every salt-api down the call fails with the network error of the last one', async (t) => {
  const client = new SaltClient({ url: [await deadUrl(), await deadUrl()], ...PERMISSIVE_USER, tlsVerify: true, timeoutMs: 1000, logger: captureLogger().logger });
  t.teardown(() => client.close());
  await t.rejects(client.local('m1', 'test.ping'), { code: 'ASC_ERR_SALT_NETWORK' });
});
