/**
 * commands: the spec of every `salt-autoscaler` command (its flags, positionals, help and example), read by the one
 * parser in command-line.ts. Plain data: loading it reads no config and starts nothing, so `--help` is instant.
 */
import { synopsis, type CommandSpec, type OptionSpec } from './command-line.ts';

/** DEFAULT_CONFIG_PATH is the config file a command reads when `--config` is not given. */
export const DEFAULT_CONFIG_PATH = '/etc/salt-autoscaler/config.yaml';

const CONFIG: OptionSpec = { type: 'string', short: 'c', value: 'FILE', help: `config file (default ${DEFAULT_CONFIG_PATH})` };
const LOG_FORMAT: OptionSpec = { type: 'string', value: 'pretty|json', help: 'log lines as JSON (pino) or as short human-readable lines' };
const URL_OPTION: OptionSpec = { type: 'string', value: 'URL', help: 'the service address (default: from http.listen of the config)' };
const JSON_OUTPUT: OptionSpec = { type: 'boolean', help: 'print the answer as JSON' };

const EXIT_CODES = 'exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid config';
const OPS_NOTE = 'reads only http.listen and http.apiToken (or SALT_AUTOSCALER_API_TOKEN) from the config; the salt password is not needed';

/** COMMANDS lists the commands in the order the usage text shows them. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'serve',
    summary: 'Run the autoscaler: the engine, the HTTP API, the Alertmanager webhook and the status page. SIGHUP reloads the config file; SIGTERM / SIGINT stop it.',
    options: { config: CONFIG, 'log-format': { ...LOG_FORMAT, help: 'log lines as JSON (default, for journald / log shippers) or pretty' } },
    positionals: [],
    examples: ['salt-autoscaler serve --config /etc/salt-autoscaler/config.yaml'],
    notes: [
      'environment: SALT_AUTOSCALER_SALT_PASSWORD, SALT_AUTOSCALER_WEBHOOK_TOKEN, SALT_AUTOSCALER_API_TOKEN (secrets), SALT_AUTOSCALER_LOG_LEVEL',
      'memory and bursts: serve sets V8 flags --semi-space-growth-factor=1 --heap-growing-percent=20 (a daemon\'s GC sizing, no heap cap) and --interrupt-budget=270336 (TurboFan compiles only what stays hot, not all a scale-up wave touches); SALT_AUTOSCALER_HEAP_FLAGS=none keeps V8\'s own, or lists the flags to set instead',
      EXIT_CODES,
    ],
  },
  {
    name: 'check-config',
    summary: 'Validate a config file: print every problem with its path (exit 2), or a summary of the pools (exit 0). The salt password may come from SALT_AUTOSCALER_SALT_PASSWORD.',
    options: { config: { ...CONFIG, help: 'config file (same as FILE)' } },
    positionals: [{ name: 'FILE', required: false, help: `config file (default ${DEFAULT_CONFIG_PATH})` }],
    examples: ['SALT_AUTOSCALER_SALT_PASSWORD=secret salt-autoscaler check-config examples/config.yaml'],
    notes: [EXIT_CODES],
  },
  {
    name: 'events',
    summary: 'Print every salt event the service would see as one JSON line ({kind, tag, minion?, ..., data}), like salt-run state.event; logs go to stderr. Stops on SIGINT / SIGTERM.',
    options: { config: CONFIG, 'log-format': LOG_FORMAT },
    positionals: [],
    examples: ['salt-autoscaler events --config /etc/salt-autoscaler/config.yaml'],
    notes: [EXIT_CODES],
  },
  {
    name: 'render-rules',
    summary: 'Print the Prometheus rule file generated from the pools (scale alerts per pool plus alerts about the service).',
    options: { config: CONFIG },
    positionals: [],
    examples: ['salt-autoscaler render-rules --config /etc/salt-autoscaler/config.yaml > /etc/prometheus/rules/salt-autoscaler.rules.yml'],
    notes: [EXIT_CODES],
  },
  {
    name: 'simulate',
    summary: 'Replay a demand trace (CSV, optionally gzipped; or a pool\'s own history read from Prometheus) through every policy and the exact oracle (the minimum paid instance-minutes with nothing waiting); print, per policy, the waiting share against the budget, its worst over the rolling waitWindow and the hours the over-budget alert would fire, p95 and max waiting, cost / oracle, starts and stops, as a table or the report as JSON.',
    options: {
      trace: { type: 'string', value: 'FILE', help: 'the trace (time,running_gpus,pending_gpus,total_gpus per minute); this or --prometheus' },
      prometheus: { type: 'string', value: 'URL', help: 'read the demand from this Prometheus instead: --query a minute over --since (query_range, step 60s)' },
      query: { type: 'string', value: 'PROMQL', help: 'with --prometheus: the demand, one series in GPUs (default with --config: the pool\'s workloadQuery, in its unit)' },
      since: { type: 'string', value: 'DURATION', help: 'with --prometheus: how far back the history goes (default 30d)' },
      end: { type: 'string', value: 'TIME', help: 'with --prometheus: where the history ends, RFC 3339 or unix seconds (default now)' },
      config: { type: 'string', short: 'c', value: 'FILE', help: 'take min, max, thresholds, interval, cooldowns, step, profile, reserve, waitBudget, waitWindow and waitWindowStrict from this config' },
      pool: { type: 'string', value: 'NAME', help: 'the pool of --config to use (default: the first)' },
      'gpus-per-instance': { type: 'string', value: 'N', help: 'GPUs one instance serves; a job holds at most one instance (default 8)' },
      interval: { type: 'string', value: 'DURATION', help: 'the pool\'s interval; cooldowns and signal age follow it as in the config (default: the config default, 270s)' },
      budget: { type: 'string', value: 'SHARE', help: 'the waiting budget: share of demand GPU-minutes that may wait, e.g. 0.25% or 0.0025 (default: the config\'s, 0.25%)' },
      'window-strict': { type: 'boolean', help: 'the pool plans so that every rolling waitWindow keeps the budget (the config\'s waitWindowStrict; default: the config\'s, off)' },
      hindsight: { type: 'boolean', help: 'add the yardstick: "hold the peak of the last H minutes plus S spare instances" (H 0-360m, S 0-4) tuned on this demand in hindsight, the cheapest within the budget (10-30 more runs)' },
      'start-latency': { type: 'string', value: 'DURATION', help: 'start of a reserved instance to minion start (default 60s)' },
      'create-latency': { type: 'string', value: 'DURATION', help: 'create from the profile to minion start (default 240s)' },
      'deploy-latency': { type: 'string', value: 'DURATION', help: 'minion start to ready: the deploy orchestrate (default 180s)' },
      'stop-latency': { type: 'string', value: 'DURATION', help: 'stop issued to stopped (default 60s)' },
      jitter: { type: 'string', value: 'SHARE', help: 'each start draws its latencies within base x (1 +- SHARE), seeded (default 0)' },
      'failure-share': { type: 'string', value: 'SHARE', help: 'share of starts whose deploy fails: failed, stopped, the pool backs off (default 0)' },
      seed: { type: 'string', value: 'N', help: 'seed of the jitter and failure draws (default 1)' },
      json: { type: 'boolean', help: 'print the SimReport as JSON' },
      svg: { type: 'string', value: 'FILE', help: 'also write the chart (demand, ready and paid GPUs) as SVG' },
      'chart-policy': { type: 'string', value: 'NAME', help: 'the policy the chart shows: seed-threshold, target-tracking or salt-autoscaler (default)' },
    },
    positionals: [],
    examples: [
      'salt-autoscaler simulate --trace test/fixtures/traces/vc3sl.csv.gz --json',
      'salt-autoscaler simulate --trace test/fixtures/traces/vc3sl.csv.gz --budget 0.1% --start-latency 120s --jitter 20% --failure-share 5% --svg chart.svg',
      'salt-autoscaler simulate --prometheus http://127.0.0.1:9090 --query \'sum(training_gpus_demand{env="prod"})\' --since 30d',
      'salt-autoscaler simulate --config /etc/salt-autoscaler/config.yaml --pool prod/type1 --prometheus http://127.0.0.1:9090',
    ],
    notes: ['durations: 60s, 3m, 1h30m or a number of seconds; shares: 0.25% or 0.0025', EXIT_CODES],
  },
  {
    name: 'demo',
    summary: 'Run the real service against the bundled salt-api emulator, fed a scripted training queue, with demo-scaled pool settings. One cycle takes 2.5 minutes: scale-up, ready, a failed deploy and its back-off, drain with idle check, stop. Stops on Ctrl-C.',
    options: {
      port: { type: 'string', value: 'N', help: 'port of the status page and API on 127.0.0.1 (default 9717; 0 = any free port)' },
      'duration-s': { type: 'string', value: 'N', help: 'stop by itself after N seconds (default: run until Ctrl-C)' },
      'log-format': { ...LOG_FORMAT, help: 'pretty (default: one line per decision and instance transition) or json (every log line)' },
    },
    positionals: [],
    examples: ['salt-autoscaler demo --port 9717'],
    notes: [EXIT_CODES],
  },
  {
    name: 'status',
    summary: 'Show the pools (with a budget pool\'s waiting against its waitBudget, OVER as the over-budget alert judges it), the running instances and the last decisions of the running service.',
    options: { config: CONFIG, json: JSON_OUTPUT, limit: { type: 'string', value: 'N', help: 'how many decisions (1-1000, default 10)' }, url: URL_OPTION },
    positionals: [],
    examples: ['salt-autoscaler status --config /etc/salt-autoscaler/config.yaml'],
    notes: [OPS_NOTE, EXIT_CODES],
  },
  {
    name: 'pause',
    summary: 'Pause a pool: it decides nothing until resumed (persisted across restarts). A manual scale still acts on a paused pool.',
    options: { config: CONFIG, json: JSON_OUTPUT, url: URL_OPTION },
    positionals: [{ name: 'POOL', required: true, help: 'the pool, e.g. prod/type1' }],
    examples: ['salt-autoscaler pause prod/type1 --config /etc/salt-autoscaler/config.yaml'],
    notes: [OPS_NOTE, EXIT_CODES],
  },
  {
    name: 'resume',
    summary: 'Resume a paused pool; it is evaluated at once.',
    options: { config: CONFIG, json: JSON_OUTPUT, url: URL_OPTION },
    positionals: [{ name: 'POOL', required: true, help: 'the pool, e.g. prod/type1' }],
    examples: ['salt-autoscaler resume prod/type1 --config /etc/salt-autoscaler/config.yaml'],
    notes: [OPS_NOTE, EXIT_CODES],
  },
  {
    name: 'scale',
    summary: 'Scale a pool by DELTA instances now, through the usual min/max caps, reserve and idle check (no cooldown). It acts on a paused pool too: a manual scale is an explicit order.',
    options: { config: CONFIG, json: JSON_OUTPUT, url: URL_OPTION },
    positionals: [
      { name: 'POOL', required: true, help: 'the pool, e.g. prod/type1' },
      { name: 'DELTA', required: true, help: 'a whole, non-zero number of instances: 2 starts two, -1 drains one' },
    ],
    examples: ['salt-autoscaler scale prod/type1 2 --config /etc/salt-autoscaler/config.yaml', 'salt-autoscaler scale prod/type1 -1 --config /etc/salt-autoscaler/config.yaml'],
    notes: [OPS_NOTE, EXIT_CODES],
  },
];

/** commandSpec returns the spec of a command by name. */
export function commandSpec(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** usage is the top-level usage text (`salt-autoscaler --help`). */
export function usage(): string {
  return [
    'usage: salt-autoscaler <command> [options]',
    '       salt-autoscaler <command> --help     flags and an example of one command',
    '       salt-autoscaler --version',
    '',
    'commands:',
    ...COMMANDS.flatMap((c) => [`  ${synopsis(c).replace('usage: salt-autoscaler ', '')}`, `      ${firstSentence(c.summary)}`]),
    '',
    EXIT_CODES,
    '',
  ].join('\n');
}

function firstSentence(text: string): string {
  const end = text.search(/\.(\s|$)/);
  return end === -1 ? text : text.slice(0, end);
}
