import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { commandHelp } from '../src/command-line.ts';
import { commandSpec } from '../src/commands.ts';
import { parseSimulateArgs, runSimulateCommand } from '../src/simulate-command.ts';
import type { SimReport } from '../src/sim/simulate.ts';

const CSV = ['time,running_gpus,pending_gpus,total_gpus', ...[8, 8, 20, 20, 20, 20, 20, 20, 0, 0].map((d, n) => `m${n},${d},0,24`)].join('\n');

function sink(): { write(text: string): boolean; text(): string } {
  let all = '';
  return { write: (text: string) => { all += text; return true; }, text: () => all };
}

t.test('prints the SimReport as JSON for a gzip trace and writes the SVG chart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'tiny.csv.gz'), gzipSync(CSV));
  const out = sink();
  const code = await runSimulateCommand(['--trace', join(dir, 'tiny.csv.gz'), '--json', `--svg=${join(dir, 'chart.svg')}`], out);
  t.equal(code, 0);
  const report = JSON.parse(out.text()) as SimReport;
  t.equal(report.trace, 'tiny');
  t.equal(report.demandGpuMinutes, 136);
  t.same(report.policies.map((p) => p.name), ['oracle', 'static-max', 'seed-threshold', 'target-tracking', 'salt-autoscaler']);
  const svg = await readFile(join(dir, 'chart.svg'), 'utf8');
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.equal(svg.match(/<polyline /g)?.length, 3, 'demand, ready and paid lines');
  t.match(svg, 'tiny, salt-autoscaler: cost 0.929 x oracle, waiting 35.294% (budget 0.250%)');
});

t.test('prints a table with one row per policy for a plain trace', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'tiny.csv'), CSV);
  const out = sink();
  t.equal(await runSimulateCommand(['--trace', join(dir, 'tiny.csv')], out), 0);
  const lines = out.text().trim().split('\n');
  t.match(lines[0], 'trace tiny: 10 minutes, 8 GPUs/instance, demand 136 GPU-minutes, waiting budget 0.25% over 7d');
  t.match(lines[1], /^policy\s+instance-min\s+cost\/oracle\s+waiting GPU-min\s+waiting %\s+budget\s+worst 7d %\s+alert h\s+p95 wait\s+max wait\s+max GPUs\s+starts\s+stops\s+failed$/);
  // 10 minutes: shorter than the 7-day window (its worst is the whole share) and than the alert's hour (no alert)
  t.match(lines[6], /^salt-autoscaler\s+26\s+0\.929\s+48\s+35\.294\s+OVER\s+35\.294\s+0\.0\s+4m\s+4m\s+12\s+2\s+0\s+0$/);
});

/** withConfig writes the tiny trace and a config of one pool (its YAML flow mapping) into a directory the test removes. */
async function withConfig(t: Test, pool: string): Promise<{ trace: string; config: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'sim-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'tiny.csv'), CSV);
  await writeFile(join(dir, 'config.yaml'), ['salt: {url: "http://127.0.0.1:8000", username: u, password: p}', 'pools:', `  - ${pool}`].join('\n'));
  return { trace: join(dir, 'tiny.csv'), config: join(dir, 'config.yaml') };
}

t.test('takes the pool bounds from the config file', async (t) => {
  const { trace, config } = await withConfig(t, '{env: prod, instanceType: type1, provider: p, max: 2, min: 0, interval: 60s, reserved: [gpu-1, gpu-2]}');
  const out = sink();
  t.equal(await runSimulateCommand(['--trace', trace, '--config', config, '--json'], out), 0);
  const staticMax = (JSON.parse(out.text()) as SimReport).policies.find((p) => p.name === 'static-max');
  t.equal(staticMax?.instanceMinutes, 20, 'max 2 from the config, 10 minutes');
  t.equal(staticMax?.unmetGpuMinutes, 6 * 4, '20 GPUs of demand on 16 for 6 minutes');
});

t.test("takes the pool's waiting budget and window from the config file; --budget wins", async (t) => {
  const { trace, config } = await withConfig(t, '{env: prod, instanceType: type1, provider: p, max: 3, reserved: [gpu-1, gpu-2, gpu-3], waitBudget: 40%, waitWindow: 2h}');
  const run = async (...flags: string[]): Promise<SimReport> => {
    const out = sink();
    t.equal(await runSimulateCommand(['--trace', trace, '--config', config, '--json', ...flags], out), 0);
    return JSON.parse(out.text()) as SimReport;
  };
  const fromConfig = await run();
  t.equal(fromConfig.waitBudget, 0.4, "the config's budget is the one judged");
  t.equal(fromConfig.waitWindowMs, 2 * 3_600_000, "and its window the one the worst share is read over");
  t.equal(fromConfig.policies.find((p) => p.name === 'salt-autoscaler')?.withinBudget, true, '35 % waiting is within the config\'s 40 %');
  t.equal((await run('--budget', '1%')).waitBudget, 0.01, '--budget wins over the config');
  const table = sink();
  t.equal(await runSimulateCommand(['--trace', trace, '--config', config], table), 0);
  t.match(table.text(), 'waiting budget 40% over 2h');
  t.match(table.text(), /worst 2h %/);
  t.notMatch(table.text(), 'every window kept', 'the plain budget unless the pool keeps every window');
});

t.test("--window-strict, or the config pool's waitWindowStrict, plans the shipped pool to keep every window", async (t) => {
  const { trace, config } = await withConfig(t, '{env: prod, instanceType: type1, provider: p, max: 3, reserved: [gpu-1, gpu-2, gpu-3], waitWindowStrict: true}');
  const report = async (...flags: string[]): Promise<SimReport> => {
    const out = sink();
    t.equal(await runSimulateCommand(['--trace', trace, '--json', ...flags], out), 0);
    return JSON.parse(out.text()) as SimReport;
  };
  t.equal((await report()).waitWindowStrict, false);
  t.equal((await report('--window-strict')).waitWindowStrict, true, 'the flag');
  t.equal((await report('--config', config)).waitWindowStrict, true, 'the config pool');
  const table = sink();
  t.equal(await runSimulateCommand(['--trace', trace, '--window-strict'], table), 0);
  t.match(table.text(), 'waiting budget 0.25% over 7d, every window kept (waitWindowStrict)');
});

t.test('--hindsight adds the family tuned on the demand in hindsight, or says that no member keeps the budget', async (t) => {
  const { trace } = await withConfig(t, '{env: prod, instanceType: type1, provider: p, max: 3}');
  const json = async (...flags: string[]): Promise<SimReport> => {
    const out = sink();
    t.equal(await runSimulateCommand(['--trace', trace, '--json', ...flags], out), 0);
    return JSON.parse(out.text()) as SimReport;
  };
  t.notOk('hindsight' in await json(), 'not without the flag');
  const loose = await json('--hindsight', '--budget', '50%');
  const row = loose.policies.at(-1);
  t.same(loose.hindsight, { holdMinutes: 0, spare: 0 }, 'at 50 % holding nothing is cheapest');
  t.equal(row?.name, 'hindsight 0m+0');
  t.ok((row?.unmetShare ?? 1) <= 0.5);
  t.equal((await json('--hindsight')).hindsight, null, 'at 0.25 % the first rise waits its lead under every member');
  const table = sink();
  t.equal(await runSimulateCommand(['--trace', trace, '--hindsight', '--budget', '50%'], table), 0);
  t.match(table.text(), /\nhindsight 0m\+0 +\d+ +[\d.]+ /);
  t.match(table.text(), 'hindsight Hm+S: the cheapest member of "hold the peak of the last H minutes plus S spare instances" (H 0-360m, S 0-4) within the budget');
  const none = sink();
  t.equal(await runSimulateCommand(['--trace', trace, '--hindsight'], none), 0);
  t.match(none.text(), 'hindsight: no member of "hold the peak of the last H minutes plus S spare instances" (H 0-360m, S 0-4) keeps the budget on this demand');
});

t.test('takes latencies, jitter, failures, interval and budget from the command line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'tiny.csv'), CSV);
  const run = async (...flags: string[]): Promise<SimReport> => {
    const out = sink();
    t.equal(await runSimulateCommand(['--trace', join(dir, 'tiny.csv'), '--json', ...flags], out), 0);
    return JSON.parse(out.text()) as SimReport;
  };
  const policy = (report: SimReport, name: string) => report.policies.find((p) => p.name === name);
  const wide = await run('--budget', '40%');
  t.equal(wide.waitBudget, 0.4);
  t.equal(policy(wide, 'salt-autoscaler')?.withinBudget, true, '35 % waiting is within a 40 % budget');
  const slow = await run('--start-latency', '2m', '--deploy-latency', '180s');
  t.equal(policy(slow, 'oracle')?.instanceMinutes, 20 + 2 * 5, 'the oracle pays the 5-minute lead');
  t.equal(policy(slow, 'salt-autoscaler')?.unmetGpuMinutes, 12 * 5, 'the jobs wait the 5-minute lead');
  const failing = await run('--failure-share', '100%', '--jitter', '0.3', '--seed', '4');
  t.equal(policy(failing, 'salt-autoscaler')?.failedStarts, 2);
  const fast = await run('--interval', '60s');
  // the seed drains its two instances at minutes 8 and 9, when a 270 s cooldown after its start at minute 7 forbids it
  t.equal(policy(fast, 'seed-threshold')?.stops, 2, 'one action per minute instead of per 270 s');
  t.equal(policy(await run(), 'seed-threshold')?.stops, 0);
});

t.test('documents every flag in simulate --help', async (t) => {
  const spec = commandSpec('simulate');
  if (spec === undefined) throw new Error('no simulate command');
  const help = commandHelp(spec);
  for (const flag of ['--start-latency', '--deploy-latency', '--create-latency', '--stop-latency', '--jitter', '--failure-share', '--interval', '--budget', '--gpus-per-instance', '--seed', '--svg', '--chart-policy', '--prometheus', '--query', '--since', '--end', '--window-strict', '--hindsight']) {
    t.match(help, flag, flag);
  }
});

t.test('rejects unknown or incomplete arguments with ASC_ERR_SIM_ARGS', async (t) => {
  t.throws(() => parseSimulateArgs(['--bogus']), { code: 'ASC_ERR_SIM_ARGS', message: /unknown option '--bogus'/ });
  t.throws(() => parseSimulateArgs(['--json']), { code: 'ASC_ERR_SIM_ARGS', message: /--trace FILE is required/ });
  t.throws(() => parseSimulateArgs(['--trace']), { code: 'ASC_ERR_SIM_ARGS', message: /--trace needs a value/ });
  t.throws(() => parseSimulateArgs(['--trace', 'x', '--gpus-per-instance', '0']), { code: 'ASC_ERR_SIM_ARGS' });
  t.throws(() => parseSimulateArgs(['--trace', 'x', '--budget', '120%']), { code: 'ASC_ERR_SIM_ARGS', message: /--budget expects a share/ });
  t.throws(() => parseSimulateArgs(['--trace', 'x', '--start-latency', 'soon']), { code: 'ASC_ERR_SIM_ARGS', message: /--start-latency expects a duration/ });
  t.throws(() => parseSimulateArgs(['--trace', 'x', '--interval', '0s']), { code: 'ASC_ERR_SIM_ARGS', message: /--interval/ });
  t.throws(() => parseSimulateArgs(['--trace', 'x', '--chart-policy', 'salt-autoscalr']),
    { code: 'ASC_ERR_SIM_ARGS', message: "--chart-policy expects one of seed-threshold, target-tracking, salt-autoscaler, got 'salt-autoscalr'" }, 'a chart of a policy the run does not have');
  t.equal(parseSimulateArgs(['--trace', 'x', '--chart-policy', 'target-tracking']).chartPolicy, 'target-tracking');
  t.same(parseSimulateArgs(['--trace=a.csv', '--gpus-per-instance', '4']), { trace: 'a.csv', json: false, options: { gpusPerInstance: 4 } });
  t.same(parseSimulateArgs(['--trace=a.csv', '--budget', '0.1%', '--jitter', '0.2', '--start-latency', '2m', '--interval', '60']).options,
    { startLatencyMs: 120_000, latencyJitter: 0.2, waitBudget: 0.001 });
});

t.test('--prometheus: the demand from a pool\'s history instead of a trace file, never both', async (t) => {
  const URL_ = 'http://127.0.0.1:9090';
  t.same(parseSimulateArgs(['--prometheus', URL_, '--query', 'sum(demand)']), { prometheus: { url: URL_, sinceMs: 30 * 86_400_000, query: 'sum(demand)' }, json: false, options: {} });
  t.same(parseSimulateArgs(['--prometheus', URL_, '--config', 'c.yaml', '--since', '7d', '--end', '2026-12-01T00:00:00Z']).prometheus,
    { url: URL_, sinceMs: 7 * 86_400_000, endMs: Date.parse('2026-12-01T00:00:00Z') }, 'with --config the query is the pool\'s');
  t.equal(parseSimulateArgs(['--prometheus', URL_, '--query', 'q', '--end', '1764547200']).prometheus?.endMs, 1_764_547_200_000, 'unix seconds');
  t.equal(parseSimulateArgs(['--prometheus', URL_, '--query', 'q', '--end', '2026-12-01T01:00:00+01:00']).prometheus?.endMs, Date.parse('2026-12-01T00:00:00Z'), 'a zone offset');
  t.throws(() => parseSimulateArgs(['--trace', 'a.csv', '--prometheus', URL_, '--query', 'q']), { code: 'ASC_ERR_SIM_ARGS', message: /two sources of the demand: give one/ });
  t.throws(() => parseSimulateArgs(['--prometheus', URL_]), { code: 'ASC_ERR_SIM_ARGS', message: /--prometheus needs --query PROMQL .*or --config/ });
  t.throws(() => parseSimulateArgs(['--trace', 'a.csv', '--since', '7d']), { code: 'ASC_ERR_SIM_ARGS', message: /--query, --since and --end go with --prometheus/ });
  t.throws(() => parseSimulateArgs(['--trace', 'a.csv', '--query', 'q']), { code: 'ASC_ERR_SIM_ARGS', message: /go with --prometheus/ });
  t.throws(() => parseSimulateArgs(['--prometheus', 'localhost:9090', '--query', 'q']), { code: 'ASC_ERR_SIM_ARGS', message: /--prometheus expects an http\(s\) URL/ });
  t.throws(() => parseSimulateArgs(['--prometheus', URL_, '--query', 'q', '--since', '0s']), { code: 'ASC_ERR_SIM_ARGS', message: /--since expects/ });
  for (const end of ['yesterday', '2026-12-01', '2026-12-01T00:00:00', '2026-13-01T00:00:00Z']) {
    t.throws(() => parseSimulateArgs(['--prometheus', URL_, '--query', 'q', '--end', end]), { code: 'ASC_ERR_SIM_ARGS', message: /--end expects a time/ }, end);
  }
});
