/**
 * engine-harness: an in-process engine wired to REAL adapters (SaltClient, SaltApiActions, SaltEventStream,
 * SqliteStore in a temp dir) against the salt-api emulator, for the engine's integration tests.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig, type Config } from '../../src/config/load.ts';
import { Engine, type EngineOptions } from '../../src/engine/engine.ts';
import type { ActGate } from '../../src/engine/ports.ts';
import { managedPool } from '../../src/main.ts';
import { DEFAULT_USER, SHIPPED_MASTER_CONF, startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { SaltApiActions } from '../../src/salt-api/actions.ts';
import { SaltClient } from '../../src/salt-api/client.ts';
import { SaltEventStream } from '../../src/salt-api/event-stream.ts';
import { openStore, type SqliteStore } from '../../src/store/sqlite-store.ts';

/** Harness is one running engine with its emulator; close() tears everything down. */
export interface Harness {
  readonly emu: Emulator;
  readonly engine: Engine;
  readonly store: SqliteStore;
  readonly config: Config;
  readonly dir: string;
  readonly logs: string[];
  readonly stream: SaltEventStream;
  close(): Promise<void>;
}

/**
 * waitFor polls a condition until it holds or the deadline passes (then it throws with the label and, when given,
 * `evidence()`: what the failure needs to be understood, such as a child process's log tail). The default deadline is
 * generous: it costs nothing while the condition comes, and a loaded CI machine stretches every step before it.
 */
export async function waitFor(label: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000, evidence?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${label}${evidence === undefined ? '' : `\n${evidence()}`}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** capturingLogger returns a pino logger whose lines land in `lines`. */
export function capturingLogger(lines: string[], level = 'debug'): Logger {
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb(); } });
  return createLogger({ level, destination: sink });
}

/**
 * HEARTBEAT_TIMEOUT: how long a heartbeat may take to come back before the stream counts it missed, reconnects and
 * reconciles. Generous: a round trip (event.send, then the event on the stream) on a loaded 2-core CI machine can take
 * longer than half a second, and a missed beat there is a reconnect and a reconcile the test did not ask for. A silent
 * stream (masterRestart) is still found, a few seconds later.
 */
const HEARTBEAT_TIMEOUT = '5s';

/** SHIPPED_TARGET is the compound target of the shipped ACL: the minions of the example pools. */
const SHIPPED_TARGET = "'gpu-prod-* or gpu-dev-*':";

let testMasterConf: string | undefined;

/**
 * testMasterConfPath is the master.d snippet the engine tests' emulator enforces: the shipped
 * salt/master.d/salt-autoscaler.conf with its one change, the ACL's target widened from the example pools' minions
 * to the test fleets' (`gpu-*`), as an operator keeps it in step with their pools. Every function and argument the
 * engine calls is checked against the shipped grants; written once per test process.
 */
export function testMasterConfPath(): string {
  if (testMasterConf !== undefined) return testMasterConf;
  const shipped = readFileSync(SHIPPED_MASTER_CONF, 'utf8');
  if (!shipped.includes(SHIPPED_TARGET)) throw new Error(`the shipped master.d snippet no longer targets ${SHIPPED_TARGET}`);
  const dir = mkdtempSync(join(tmpdir(), 'asc-master-d-'));
  testMasterConf = join(dir, 'salt-autoscaler.conf');
  writeFileSync(testMasterConf, shipped.replace(SHIPPED_TARGET, () => "'gpu-*':"));
  process.once('exit', () => { rmSync(dir, { recursive: true, force: true }); });
  return testMasterConf;
}

/**
 * testEmulatorOptions: the emulator as the engine tests use it, with the product's salt-api user alone, bound by
 * the shipped ACL (testMasterConfPath): a call the ACL does not grant fails the test as it would fail on a master.
 */
export function testEmulatorOptions(opts: EmulatorOptions = {}): EmulatorOptions {
  return { masterConf: testMasterConfPath(), users: [DEFAULT_USER], ...opts };
}

/** TEST_SALT_LOGIN is the config's salt-api login of DEFAULT_USER. */
export const TEST_SALT_LOGIN = { username: DEFAULT_USER.username, password: DEFAULT_USER.password, eauth: DEFAULT_USER.eauth } as const;

/** startHarness starts an emulator and an engine over it with one pool `test/t1` (overridable). */
export async function startHarness(opts: {
  emulator?: EmulatorOptions;
  pool?: Record<string, unknown>;
  /** morePools: pools after `test/t1`, as the config writes them. */
  morePools?: readonly Record<string, unknown>[];
  engine?: Record<string, unknown>;
  dir?: string;
  emu?: Emulator;
  heartbeat?: string;
  gate?: ActGate;
  /** salt: overrides of the config's salt section (e.g. a timeout within a short startConfirmWindow). */
  salt?: Record<string, unknown>;
  /** store: the engine's store-watch settings (check intervals, onStoreLost). */
  store?: Pick<EngineOptions, 'storeCheckIntervalMs' | 'integrityCheckIntervalMs' | 'onStoreLost' | 'observer'>;
} = {}): Promise<Harness> {
  const emu = opts.emu ?? await startEmulator(testEmulatorOptions({
    instances: [{ id: 'gpu-t1-1' }, { id: 'gpu-t1-2' }, { id: 'gpu-t1-3' }],
    ...opts.emulator,
  }));
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'asc-engine-'));
  const config = parseConfig({
    salt: { url: emu.url, ...TEST_SALT_LOGIN, heartbeatInterval: opts.heartbeat ?? '1s', heartbeatTimeout: HEARTBEAT_TIMEOUT, timeout: '5s', ...opts.salt },
    store: { path: join(dir, 'state.db') },
    engine: { reconcileInterval: '1h', evaluateInterval: '1s', ...opts.engine },
    pools: [{
      name: 'test/t1', env: 'test', instanceType: 't1', min: 0, max: 3, upThreshold: 1, downThreshold: 0,
      interval: '1s', strategy: 'threshold', provider: 'emu-cloud', reserved: ['gpu-t1-1', 'gpu-t1-2', 'gpu-t1-3'],
      ...opts.pool,
    }, ...(opts.morePools ?? [])],
  }, {});
  const logs: string[] = [];
  const logger = capturingLogger(logs);
  const store = openStore(config.store.path, { logger });
  const client = new SaltClient({
    url: config.salt.url, username: config.salt.username, password: config.salt.password, eauth: config.salt.eauth,
    tlsVerify: true, timeoutMs: config.salt.timeoutMs, logger,
  });
  const stream = new SaltEventStream({
    client, transport: config.salt.transport, logger, heartbeatIntervalMs: config.salt.heartbeatIntervalMs,
    heartbeatTimeoutMs: config.salt.heartbeatTimeoutMs, reconnectBaseMs: 50, reconnectMaxMs: 500,
  });
  const saltActions = new SaltApiActions(client, logger);
  const engine = new Engine({
    pools: config.pools.map(managedPool),
    cloud: saltActions,
    minions: saltActions,
    store,
    clock: { now: () => Date.now() },
    logger,
    events: stream,
    reconcileIntervalMs: config.engine.reconcileIntervalMs,
    evaluateIntervalMs: config.engine.evaluateIntervalMs,
    startConfirmWindowMs: config.engine.startConfirmWindowMs,
    tickIntervalMs: 100,
    ...(opts.gate === undefined ? {} : { gate: opts.gate }),
    ...opts.store,
  });
  await engine.start();
  return {
    emu, engine, store, config, dir, logs, stream,
    async close() {
      await engine.stop();
      await client.close();
      store.close();
      if (opts.emu === undefined) await emu.close();
      if (opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** stateOf is the engine's state of one instance. */
export function stateOf(h: Harness, id: string): string | undefined {
  return h.engine.instances().find((i) => i.id === id)?.state;
}

/** startCalls counts the real starts of an instance: the `salt/cloud/<id>/starting` events a start emits. */
export function startCalls(emu: Emulator, id: string): number {
  return emu.events.filter((e) => e.tag === `salt/cloud/${id}/starting`).length;
}
