/**
 * streaming-engine: the service's salt-api side built in the bench's own process, wired as main.ts wires it:
 * SaltClient + SaltApiActions + SaltEventStream + Engine + SQLite store, pino writing to /dev/null at info.
 */
import { pino } from 'pino';
import type { Config } from '../src/config/schema.ts';
import { Engine } from '../src/engine/engine.ts';
import { createLogger } from '../src/log.ts';
import { managedPool, metricsObserver } from '../src/main.ts';
import { createMetrics } from '../src/prometheus/metrics.ts';
import { SaltApiActions } from '../src/salt-api/actions.ts';
import { SaltClient } from '../src/salt-api/client.ts';
import { SaltEventStream } from '../src/salt-api/event-stream.ts';
import { openStore } from '../src/store/sqlite-store.ts';

/** StreamingEngine is the engine with its real adapters; `close()` stops and closes all of them. */
export interface StreamingEngine {
  readonly engine: Engine;
  readonly stream: SaltEventStream;
  close(): Promise<void>;
}

/** streamingEngine builds the engine of `config`; `timeoutMs` overrides salt.timeout (a slow master's long calls). */
export function streamingEngine(config: Config, opts: { timeoutMs?: number } = {}): StreamingEngine {
  const logger = createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: true }) });
  const store = openStore(config.store.path, { logger });
  const client = new SaltClient({
    url: config.salt.url, username: config.salt.username, password: config.salt.password, eauth: config.salt.eauth,
    tlsVerify: true, timeoutMs: opts.timeoutMs ?? config.salt.timeoutMs, logger,
  });
  const stream = new SaltEventStream({
    client, transport: config.salt.transport, logger, heartbeatIntervalMs: config.salt.heartbeatIntervalMs, heartbeatTimeoutMs: config.salt.heartbeatTimeoutMs,
  });
  const clock = { now: () => Date.now() };
  const saltActions = new SaltApiActions(client, logger);
  const engine = new Engine({
    pools: config.pools.map(managedPool),
    cloud: saltActions,
    minions: saltActions,
    store,
    clock,
    logger,
    observer: metricsObserver(createMetrics(), clock),
    events: stream,
    reconcileIntervalMs: config.engine.reconcileIntervalMs,
    evaluateIntervalMs: config.engine.evaluateIntervalMs,
  });
  return {
    engine,
    stream,
    async close() {
      await engine.stop();
      await client.close();
      store.close();
    },
  };
}
