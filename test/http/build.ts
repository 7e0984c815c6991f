/**
 * build: builds the app under test over a FakeEngine, with its log lines captured.
 */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppOptions } from '../../src/http/app.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics, exposition, type Metrics } from '../../src/prometheus/metrics.ts';
import { FakeEngine } from './fake-engine.ts';

/** TestApp is an app, its engine, its metrics and every log line it wrote. */
export interface TestApp {
  readonly app: FastifyInstance;
  readonly engine: FakeEngine;
  readonly metrics: Metrics;
  readonly logLines: string[];
}

/** buildTestApp builds the app; the caller closes it (t.teardown). */
export function buildTestApp(overrides: Partial<Omit<AppOptions, 'logger' | 'engine' | 'metrics'>> & { engine?: FakeEngine } = {}): TestApp {
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logLines.push(chunk.toString('utf8'));
      callback();
    },
  });
  const engine = overrides.engine ?? new FakeEngine();
  const metrics = createMetrics({ defaultMetrics: false });
  const app = buildApp({
    config: { bodyLimit: 65_536 },
    now: () => Date.parse('2026-11-28T08:00:00Z'),
    ...overrides,
    engine,
    metrics: exposition(metrics),
    logger: createLogger({ level: 'debug', destination }),
  });
  return { app, engine, metrics, logLines };
}
