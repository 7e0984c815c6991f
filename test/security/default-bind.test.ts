/**
 * default-bind: with no `http:` section the service listens on 127.0.0.1 only (port 9717), so the webhook and the
 * API are not reachable from other machines unless the operator says so.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/emulator/index.ts';
import { TEST_SALT_LOGIN, testEmulatorOptions } from '../support/engine-harness.ts';
import { startServiceProcess, writeConfig } from '../support/service-process.ts';

const DEFAULT_PORT = 9717;

/** reachable says whether a TCP connection to host:port is accepted. */
function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2000);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
  });
}

// the default address can only be tested where it is free: a taken port is a visible skip, never a pass
const taken = await reachable('127.0.0.1', DEFAULT_PORT);

t.test('with the default config the service binds 127.0.0.1 and nothing else', {
  skip: taken ? `port ${DEFAULT_PORT} is taken on this machine: the service cannot start on its default address` : false,
}, async (t) => {
  const emu = await startEmulator(testEmulatorOptions({ instances: [{ id: 'gpu-bind-1' }] }));
  const dir = mkdtempSync(join(tmpdir(), 'asc-bind-'));
  t.teardown(async () => { await emu.close(); rmSync(dir, { recursive: true, force: true }); });
  // no http section at all: listen, tokens and body limit take their defaults
  const configPath = writeConfig(dir, {
    salt: { url: emu.url, ...TEST_SALT_LOGIN },
    store: { path: join(dir, 'state.db') },
    pools: [{ name: 'bind/t1', env: 'bind', instanceType: 't1', max: 1, provider: 'emu-cloud', reserved: ['gpu-bind-1'] }],
  });
  const service = await startServiceProcess(configPath, DEFAULT_PORT);
  t.teardown(() => service.kill());
  t.match(service.output(), new RegExp(`"url":"http://127\\.0\\.0\\.1:${DEFAULT_PORT}"[^\\n]*"msg":"salt-autoscaler listening"`), 'it says it listens on 127.0.0.1');
  t.ok(await reachable('127.0.0.1', DEFAULT_PORT), 'reachable on 127.0.0.1');
  const others = Object.values(networkInterfaces()).flat().filter((a) => a !== undefined && !a.internal)
    .map((a) => a?.address ?? '')
    // link-local IPv6 needs a scope id to connect to at all: probing it would prove nothing
    .filter((address) => !address.toLowerCase().startsWith('fe80:'));
  for (const address of others) {
    t.notOk(await reachable(address, DEFAULT_PORT), `not reachable on ${address}`);
  }
  if (others.length === 0) t.comment('this machine has no non-loopback address to probe');
});
