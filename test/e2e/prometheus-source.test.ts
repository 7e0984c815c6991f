import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { defaultWorkloadQuery } from '../../src/config/schema.ts';
import { querySource } from '../../src/main.ts';
import { PrometheusSource } from '../../src/prometheus/source.ts';
import { capturingLogger, waitFor } from '../support/engine-harness.ts';
import { startQueueExporter } from '../support/e2e-exporter.ts';
import { startPrometheus } from '../support/e2e-processes.ts';
import { stringify } from 'yaml';

t.test('the PromQL workload source reads a pool\'s workloadQuery from a real Prometheus; no series is stale, not zero', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-e2e-prom-'));
  const exporter = await startQueueExporter({ env: 'e2e', instanceType: 't1' }, 0);
  const ruleFile = join(dir, 'empty.rules.yml');
  writeFileSync(ruleFile, stringify({ groups: [] }));
  const prometheus = await startPrometheus(dir, stringify({
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [ruleFile],
    scrape_configs: [{ job_name: 'e2e-exporter', static_configs: [{ targets: [exporter.target] }] }],
  }));
  t.teardown(async () => { await prometheus.stop(); await exporter.close(); rmSync(dir, { recursive: true, force: true }); });

  const config = parseConfig({
    salt: { url: 'http://127.0.0.1:1', username: 'u', password: 'p' },
    prometheus: { url: prometheus.url, timeout: '5s' },
    pools: [
      { env: 'e2e', instanceType: 't1', max: 2, provider: 'c', reserved: ['a'], workloadQuery: 'sum(queue_length{env="e2e",instance_type="t1"})',
        waitingQuery: '2 * sum(queue_length{env="e2e",instance_type="t1"})' },
      { env: 'e2e', instanceType: 'none', max: 2, provider: 'c', reserved: ['b'], workloadQuery: 'queue_length{env="nowhere"}' },
    ],
  }, {});
  const prom = config.prometheus;
  if (prom === undefined) throw new Error('prometheus section missing');
  const source = new PrometheusSource({ url: prom.url, timeoutMs: prom.timeoutMs, logger: capturingLogger([]) });
  // each pool's workloadQuery, or the default query
  const [pool, empty] = config.pools.map((p) => ({ name: p.name, query: p.workloadQuery ?? defaultWorkloadQuery(p) }));
  if (pool === undefined || empty === undefined) throw new Error('pools missing');

  // what main.ts gives the engine: a source per query kind, reading each pool's own query (none: no value)
  const queued = querySource(source, config.pools, (p) => p.waitingQuery);
  if (queued === undefined) throw new Error('a pool has a waitingQuery: there is a queued source');
  t.equal(querySource(source, config.pools, () => undefined), undefined, 'no pool with a query: no source, the engine waits for none');

  exporter.set(3);
  await waitFor('Prometheus scraped queue_length 3', async () => (await source.workload(pool))?.value === 3, 30_000);
  t.equal((await queued(pool.name))?.value, 6, 'the queued source reads the pool\'s waitingQuery');
  t.equal(await queued(empty.name), undefined, 'a pool without a waitingQuery gives no queued value');
  exporter.set(0);
  await waitFor('and then 0', async () => (await source.workload(pool))?.value === 0, 30_000);
  const w = await source.workload(pool);
  t.equal(w?.value, 0, 'an empty queue is a real zero');
  t.equal(w?.source, 'prometheus');
  t.equal(await source.workload(empty), undefined, 'a query with no series is a stale signal, never zero');
  t.ok((source.failures['empty'] ?? 0) >= 1, 'and it is counted');
});
