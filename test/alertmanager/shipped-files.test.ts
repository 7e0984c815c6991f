import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
// the example names the CA file of a master: rules do not need it (checkFiles: false)
import { RULES_HEADER, renderRules } from '../../src/config/render-rules.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const EXAMPLE = join(ROOT, 'examples/config.yaml');
const RULES = join(ROOT, 'alertmanager/rules/salt-autoscaler.rules.yml');
const AM = join(ROOT, 'alertmanager/alertmanager.yml');
const DASHBOARD = join(ROOT, 'alertmanager/grafana/salt-autoscaler.json');
const PROMTOOL = '/usr/bin/promtool';
const AMTOOL = '/usr/bin/amtool';
const env = { SALT_AUTOSCALER_SALT_PASSWORD: 'x' };

function run(bin: string, args: string[]): { code: number; output: string } {
  try {
    return { code: 0, output: execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

t.test('the shipped rule file is renderRules(examples/config.yaml) (regenerate on drift)', async (t) => {
  const expected = renderRules(loadConfig(EXAMPLE, env, { checkFiles: false }));
  t.ok(expected.startsWith(RULES_HEADER));
  t.equal(readFileSync(RULES, 'utf8'), expected,
    'alertmanager/rules/salt-autoscaler.rules.yml drifted: regenerate with `npx salt-autoscaler render-rules --config examples/config.yaml > alertmanager/rules/salt-autoscaler.rules.yml`');
});

t.test('the rules carry the alert contract: names, labels, workload annotation, thresholds', async (t) => {
  const doc = parse(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string; labels: Record<string, string>; annotations: Record<string, string> }[] }[] };
  const scale = doc.groups.find((g) => g.name === 'salt-autoscaler-scale')?.rules ?? [];
  const up = scale.find((r) => r.alert === 'SaltAutoscalerScaleUp' && r.labels['pool'] === 'prod/type1');
  t.match(up, { expr: '(sum(queue_length{env="prod",instance_type="type1"})) >= 1', labels: { env: 'prod', instance_type: 'type1' }, annotations: { workload: '{{ $value }}' } });
  const down = scale.find((r) => r.alert === 'SaltAutoscalerScaleDown' && r.labels['pool'] === 'prod/type3');
  t.match(down, { expr: '(sum(queue_length{env="prod",instance_type="type3"})) <= 0' });
  t.equal(scale.length, 2 * loadConfig(EXAMPLE, env, { checkFiles: false }).pools.length);
  const self = doc.groups.find((g) => g.name === 'salt-autoscaler-self')?.rules.map((r) => r.alert) ?? [];
  t.ok(self.includes('SaltAutoscalerEventStreamDisconnected') && self.includes('SaltAutoscalerActionsFailing') && self.includes('SaltAutoscalerPoolAtMax') && self.includes('SaltAutoscalerInstancesFailing') && self.includes('SaltAutoscalerPoolOverBudget'));
  t.ok(self.includes('SaltAutoscalerStoreNotWritable'), 'the store alert is shipped');
});

t.test('promtool accepts the shipped and a freshly generated rule file', { skip: existsSync(PROMTOOL) ? false : `${PROMTOOL} not installed (apt install prometheus)` }, async (t) => {
  const shipped = run(PROMTOOL, ['check', 'rules', RULES]);
  t.equal(shipped.code, 0, shipped.output);
  t.match(shipped.output, /SUCCESS: 20 rules found/);
  const dir = mkdtempSync(join(tmpdir(), 'asc-rules-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const odd = join(dir, 'odd.rules.yml');
  const config = loadConfig(EXAMPLE, env, { checkFiles: false });
  writeFileSync(odd, renderRules({ ...config, pools: config.pools.map(({ workloadQuery: _q, ...p }) => ({ ...p, env: 'we"ird\\env' })) }));
  const generated = run(PROMTOOL, ['check', 'rules', odd]);
  t.equal(generated.code, 0, generated.output);
  const broken = join(dir, 'broken.rules.yml');
  writeFileSync(broken, RULES_HEADER + 'groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: sum(\n');
  t.not(run(PROMTOOL, ['check', 'rules', broken]).code, 0, 'promtool does reject a broken file');
});

t.test('amtool accepts the shipped alertmanager.yml', { skip: existsSync(AMTOOL) ? false : `${AMTOOL} not installed (apt install prometheus-alertmanager)` }, async (t) => {
  const res = run(AMTOOL, ['check-config', AM]);
  t.equal(res.code, 0, res.output);
  t.match(res.output, /SUCCESS/);
});

t.test('alertmanager.yml routes the scale alerts to the webhook with send_resolved and a bearer token file', async (t) => {
  const am = parse(readFileSync(AM, 'utf8')) as {
    route: { receiver: string; routes: { receiver: string; matchers: string[]; group_by: string[]; group_wait: string; repeat_interval: string }[] };
    receivers: { name: string; webhook_configs?: { url: string; send_resolved: boolean; http_config: { authorization: { credentials_file: string } } }[] }[];
  };
  t.equal(am.route.receiver, 'default');
  const route = am.route.routes.find((r) => r.receiver === 'salt-autoscaler');
  t.match(route, { group_by: ['alertname', 'env', 'instance_type'], group_wait: '5s', repeat_interval: '2m' });
  t.match(route?.matchers[0], /SaltAutoscalerScaleUp/);
  const hook = am.receivers.find((r) => r.name === 'salt-autoscaler')?.webhook_configs?.[0];
  t.match(hook, { url: 'http://127.0.0.1:9717/alertmanager/webhook', send_resolved: true, http_config: { authorization: { credentials_file: /webhook-token/ } } });
});

t.test('the Grafana dashboard is valid JSON over the contract metrics only', async (t) => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  const known = ['event_stream_connected', 'stream_reconnects_total', 'actions_total', 'pool_instances', 'pool_max', 'decisions_total', 'instances_failed_total', 'pool_workload', 'pool_waiting_share', 'pool_wait_window_covered', 'pool_wait_budget', 'start_to_ready_seconds_bucket', 'pool_start_lead_seconds'];
  const used = dash.panels.flatMap((p) => p.targets.flatMap((x) => [...x.expr.matchAll(/salt_autoscaler_([a-z_]+)/g)].map((m) => m[1])));
  t.ok(used.length >= 8);
  t.same(used.filter((m) => !known.includes(m ?? '')), []);
});

t.test('SaltAutoscalerPoolOverBudget, run by promtool: a whole window overspent fires after 1h; a young pool only once it spent a whole window\'s budget', { skip: existsSync(PROMTOOL) ? false : `${PROMTOOL} not installed (apt install prometheus)` }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-rules-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const doc = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[] };
  const rule = doc.groups.flatMap((g) => g.rules).find((r) => r.alert === 'SaltAutoscalerPoolOverBudget');
  if (rule === undefined) throw new Error('no SaltAutoscalerPoolOverBudget rule');
  // per pool: waiting share, the part of its window measured, budget; 3 h of samples a minute
  const pools = {
    whole: [0.003, 1, 0.0025], // a whole window measured, over its budget: fires once it held for 1h
    within: [0.002, 1, 0.0025], // within its budget
    young: [0.01, 0.1, 0.0025], // 1 % of the tenth of a window seen: 0.1 % of a whole window's demand, not yet overspent
    spent: [0.05, 0.1, 0.0025], // 5 % of a tenth: 0.5 % of a whole window's demand, more than its budget already
  } as const;
  const series = Object.entries(pools).flatMap(([pool, [share, covered, budget]]) => [
    { series: `salt_autoscaler_pool_waiting_share{pool="${pool}"}`, values: `${share}x180` },
    { series: `salt_autoscaler_pool_wait_window_covered{pool="${pool}"}`, values: `${covered}x180` },
    { series: `salt_autoscaler_pool_wait_budget{pool="${pool}"}`, values: `${budget}x180` },
  ]);
  const firing = (pool: string, value: string): Record<string, unknown> => ({
    exp_labels: { ...rule.labels, pool },
    exp_annotations: { ...rule.annotations, summary: `pool ${pool} waited ${value} of a whole waitWindow's demand, above its waitBudget` },
  });
  const tests = {
    rule_files: [RULES],
    evaluation_interval: '1m',
    tests: [{
      interval: '1m',
      input_series: series,
      alert_rule_test: [
        { eval_time: '50m', alertname: 'SaltAutoscalerPoolOverBudget', exp_alerts: [] },
        { eval_time: '2h', alertname: 'SaltAutoscalerPoolOverBudget', exp_alerts: [firing('whole', '0.3%'), firing('spent', '0.5%')] },
      ],
    }],
  };
  const file = join(dir, 'over-budget.test.yml');
  writeFileSync(file, JSON.stringify(tests));
  const res = run(PROMTOOL, ['test', 'rules', file]);
  t.equal(res.code, 0, res.output);
  t.match(res.output, /SUCCESS/);
});
