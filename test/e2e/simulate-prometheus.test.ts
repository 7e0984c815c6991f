/**
 * simulate --prometheus against a real Prometheus holding eight days of a pool's demand, backfilled with
 * `promtool tsdb create-blocks-from openmetrics` (the first eight days of vc3sl, one sample a minute, with a
 * 20-minute scrape gap): the history is read in two query_range calls, the gap takes the minute before's value, and
 * the report is the one `simulate --trace` gives on the same demand written as a trace file. Several series, no
 * series, a negative value and an unreachable server each fail with what is wrong; the CLI exits 1 on them.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { RANGE_CHUNK_MINUTES, fetchDemandRange } from '../../src/prometheus/range.ts';
import { loadTrace } from '../../src/sim/trace.ts';
import { runSimulateCommand } from '../../src/simulate-command.ts';
import { cliArgs } from '../support/cli-process.ts';
import { freePort } from '../support/service-process.ts';
import { PROMETHEUS_BIN, startPrometheus } from '../support/e2e-processes.ts';

const PROMTOOL = '/usr/bin/promtool';
const MINUTE_MS = 60_000;
const DAYS = 8;
const MINUTES = DAYS * 1440;
const GAP = { from: 5000, minutes: 20 };
const missing = [PROMETHEUS_BIN, PROMTOOL].filter((bin) => !existsSync(bin));

t.test('simulate --prometheus replays a pool\'s own history from a real Prometheus', { skip: missing.length > 0 ? `not installed: ${missing.join(', ')} (apt install prometheus)` : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-e2e-simprom-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const demand = (await loadTrace(join(import.meta.dirname, '../fixtures/traces/vc3sl.csv.gz'))).demandGpus.slice(0, MINUTES);
  t.ok(MINUTES > RANGE_CHUNK_MINUTES, 'the history spans more than one query_range call');
  // ends six hours ago, on a minute: inside the default 15-day retention, clear of the head block
  const endMs = Math.floor((Date.now() - 6 * 3_600_000) / MINUTE_MS) * MINUTE_MS;
  const startMs = endMs - (MINUTES - 1) * MINUTE_MS;
  const inGap = (i: number): boolean => i >= GAP.from && i < GAP.from + GAP.minutes;
  const lines = ['# HELP demand_gpus GPUs asked for', '# TYPE demand_gpus gauge'];
  demand.forEach((v, i) => {
    const at = (startMs + i * MINUTE_MS) / 1000;
    if (!inGap(i)) lines.push(`demand_gpus{env="sim"} ${v} ${at}`);
    // a second series for a query that selects both, and one that goes negative once
    lines.push(`demand_gpus{env="other"} 1 ${at}`, `delta_gpus{env="sim"} ${i === 100 ? -2 : 0} ${at}`);
  });
  lines.push('# EOF');
  writeFileSync(join(dir, 'demand.om'), `${lines.join('\n')}\n`);
  mkdirSync(join(dir, 'prometheus-data'));
  execFileSync(PROMTOOL, ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', join(dir, 'demand.om'), join(dir, 'prometheus-data')]);
  const prometheus = await startPrometheus(dir, stringify({ global: { scrape_interval: '1h' } }));
  t.teardown(() => prometheus.stop());

  // the range: the gap's minutes take the value before them (Prometheus looks back 5 minutes, then has no point)
  const range = await fetchDemandRange({ url: prometheus.url, query: 'demand_gpus{env="sim"}', startMs, endMs, timeoutMs: 30_000 });
  const expected = demand.map((v, i) => (inGap(i) ? demand[GAP.from - 1] ?? 0 : v));
  t.equal(range.firstMs, startMs);
  t.equal(range.values.length, MINUTES);
  t.same(range.values, expected, 'every minute of the eight days, the gap carried forward');
  t.ok(range.filled >= GAP.minutes - 6 && range.filled <= GAP.minutes - 4, `the gap's minutes past Prometheus' 5-min lookback are counted (${range.filled})`);
  const later = await fetchDemandRange({ url: prometheus.url, query: 'demand_gpus{env="sim"}', startMs: startMs - 3 * 3_600_000, endMs, timeoutMs: 30_000 });
  t.same([later.firstMs, later.values.length], [startMs, MINUTES], 'minutes before the first sample are left out');

  // the command's report is the trace file's report on the same demand
  const csv = join(dir, 'prometheus.csv');
  writeFileSync(csv, `time,running_gpus,pending_gpus\n${expected.map((v, i) => `${i},${v},0`).join('\n')}\n`);
  const run = async (argv: string[], nowMs?: number): Promise<{ out: string; err: string }> => {
    let out = '';
    let err = '';
    await runSimulateCommand(argv, { write: (c: string) => { out += c; } }, { write: (c: string) => { err += c; } }, nowMs);
    return { out, err };
  };
  const fromPrometheus = await run(['--prometheus', prometheus.url, '--query', 'demand_gpus{env="sim"}', '--since', `${DAYS}d`, '--end', new Date(endMs).toISOString(), '--json']);
  const fromFile = await run(['--trace', csv, '--json']);
  t.same(JSON.parse(fromPrometheus.out), JSON.parse(fromFile.out), 'the same report as simulate --trace on the same minutes');
  const future = await run(['--prometheus', prometheus.url, '--query', 'demand_gpus{env="sim"}', '--since', `${DAYS}d`, '--end', '2099-01-01T00:00:00Z', '--json'], endMs);
  t.same(JSON.parse(future.out), JSON.parse(fromFile.out), 'an --end after now ends at now: no minute to come is made up');
  t.match(fromPrometheus.err, new RegExp(`^simulate: ${MINUTES} minutes of demand_gpus\\{env="sim"\\} from ${prometheus.url}, ${new Date(startMs).toISOString()} on; ${range.filled} minutes without a sample took the minute before's value\\n$`));

  // with --config: the pool's own workloadQuery, in its unit (perInstance 4), over the config's pool
  const config = join(dir, 'config.yaml');
  writeFileSync(config, stringify({
    salt: { url: 'https://salt.example:8000', username: 'autoscaler', password: 'x' },
    prometheus: { url: prometheus.url },
    pools: [{ env: 'sim', instanceType: 'g4', max: 40, perInstance: 4, provider: 'cloud', reserved: Array.from({ length: 40 }, (_, i) => `gpu-${i}`), workloadQuery: 'demand_gpus{env="sim"}' }],
  }));
  const poolHistory = await run(['--config', config, '--prometheus', prometheus.url, '--since', `${DAYS}d`, '--end', String(endMs / 1000), '--json']);
  const poolFile = await run(['--config', config, '--trace', csv, '--gpus-per-instance', '4', '--json']);
  const named = (text: string): unknown => JSON.parse(text.replaceAll('"sim/g4"', '"prometheus"'));
  t.same(named(poolHistory.out), named(poolFile.out), 'the pool\'s query and unit: the report of the same minutes at 4 GPUs an instance');
  t.match(poolHistory.err, `minutes of demand_gpus{env="sim"} from ${prometheus.url}`);

  // what is wrong is said
  const fails = async (query: string, message: RegExp, url = prometheus.url): Promise<void> => {
    await t.rejects(fetchDemandRange({ url, query, startMs, endMs, timeoutMs: 30_000 }), { code: 'ASC_ERR_SIM_PROMETHEUS', message }, `${query} at ${url}`);
  };
  await fails('demand_gpus', /returns 2 series \(.*"env":"(other|sim)".*\) over .*wrap it in sum\(\)/);
  await fails('demand_gpus{env="nowhere"}', /has no sample over/);
  await fails('delta_gpus', /gives -2 at .*a demand is never negative/);
  await fails('sum(', /Prometheus rejected the query \(bad_data\)/);
  await fails('demand_gpus', /could not be reached at http:\/\/127\.0\.0\.1:\d+/, `http://127.0.0.1:${await freePort()}`);
  // through the CLI: exit 1, the code and the reason on stderr, nothing on stdout
  const cli = spawnSync(process.execPath, cliArgs(['simulate', '--prometheus', prometheus.url, '--query', 'demand_gpus', '--end', String(endMs / 1000)]), { encoding: 'utf8', timeout: 60_000 });
  t.equal(cli.status, 1, cli.stderr);
  t.equal(cli.stdout, '');
  t.match(cli.stderr, /ASC_ERR_SIM_PROMETHEUS.*wrap it in sum\(\)|wrap it in sum\(\).*ASC_ERR_SIM_PROMETHEUS/s);
});
