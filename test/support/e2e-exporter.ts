/**
 * e2e-exporter: a tiny Prometheus exporter (node:http) for the end-to-end suite. It serves one gauge,
 * `queue_length{env=..., instance_type=...} N`, whose value the test sets, and remembers when it was last
 * set and when Prometheus last scraped it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** QueueExporter is one running exporter; `set` changes the queue length served from the next scrape on. */
export interface QueueExporter {
  /** target is `127.0.0.1:<port>`, what a Prometheus static_config lists. */
  readonly target: string;
  /** scrapes counts the GET /metrics answered so far. */
  readonly scrapes: number;
  /** set changes the served value and returns the epoch ms of the change. */
  set(queueLength: number): number;
  close(): Promise<void>;
}

/** startQueueExporter serves `queue_length{env, instance_type}` on a free loopback port, starting at `initial`. */
export async function startQueueExporter(labels: { env: string; instanceType: string }, initial = 0): Promise<QueueExporter> {
  let value = initial;
  let scrapes = 0;
  const escape = (v: string): string => v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    scrapes += 1;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end([
      '# HELP queue_length Queued training tasks (set by the e2e test).',
      '# TYPE queue_length gauge',
      `queue_length{env="${escape(labels.env)}",instance_type="${escape(labels.instanceType)}"} ${value}`,
      '',
    ].join('\n'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    get scrapes() { return scrapes; },
    set(queueLength: number): number {
      value = queueLength;
      return Date.now();
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
