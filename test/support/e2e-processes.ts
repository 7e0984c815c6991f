/**
 * e2e-processes: real Prometheus and Alertmanager processes for the end-to-end suite, on free loopback ports,
 * each with its own config and storage in a temp dir and its output captured for failure reports.
 *
 *   exporter <--scrape 1s-- prometheus (rules from `render-rules`) --alerts--> alertmanager
 *                                                                        --webhook (bearer)--> salt-autoscaler
 *
 * The Alertmanager config is derived from the shipped `alertmanager/alertmanager.yml`: only the webhook URL,
 * the token file and the timings of the salt-autoscaler route change, so the shipped routing is what runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { freePort } from './service-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** SHIPPED_ALERTMANAGER_CONFIG is the example Alertmanager config the suite exercises. */
export const SHIPPED_ALERTMANAGER_CONFIG = join(ROOT, 'alertmanager/alertmanager.yml');

/** PROMETHEUS_BIN and ALERTMANAGER_BIN are the Debian packages' binaries (overridable through env). */
export const PROMETHEUS_BIN = process.env['E2E_PROMETHEUS_BIN'] ?? '/usr/bin/prometheus';
/** ALERTMANAGER_BIN is Debian's `prometheus-alertmanager` (upstream calls it `alertmanager`). */
export const ALERTMANAGER_BIN = process.env['E2E_ALERTMANAGER_BIN'] ?? '/usr/bin/prometheus-alertmanager';

/** missingBinaries lists the binaries of the suite that are not installed. */
export function missingBinaries(): string[] {
  return [PROMETHEUS_BIN, ALERTMANAGER_BIN].filter((bin) => !existsSync(bin));
}

/** ManagedProcess is one child process of the suite. */
export interface ManagedProcess {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** output is everything the process wrote so far (stdout + stderr). */
  output(): string;
  /** stop sends SIGTERM, then SIGKILL after `graceMs`, and resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * startManagedProcess spawns `command args` and waits until GET `readyUrl` answers 200; it throws with the
 * process output when the process exits first or the deadline passes (and kills it then).
 */
export async function startManagedProcess(opts: {
  name: string;
  command: string;
  args: readonly string[];
  url: string;
  readyPath: string;
  cwd: string;
  timeoutMs?: number;
}): Promise<ManagedProcess> {
  const child = spawn(opts.command, [...opts.args], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  // last resort when the test process exits without its teardown: never leave a Prometheus behind
  const killOnExit = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.once('exit', killOnExit);
  child.once('close', () => process.off('exit', killOnExit));
  let spawnError: Error | undefined;
  child.once('error', (err) => { spawnError = err; });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('close', () => resolve());
  });
  const proc: ManagedProcess = {
    name: opts.name,
    url: opts.url,
    child,
    output: () => out,
    async stop(graceMs = 5_000) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
    },
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    if (spawnError !== undefined) throw new Error(`${opts.name}: could not start ${opts.command}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${opts.name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${out}`);
    }
    try {
      const res = await fetch(`${opts.url}${opts.readyPath}`);
      if (res.ok) return proc;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await proc.stop(1_000);
      throw new Error(`${opts.name} did not answer ${opts.readyPath} within ${opts.timeoutMs ?? 20_000}ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** prometheusConfig is a Prometheus config scraping `targets` every second, evaluating `ruleFile`, alerting to `alertmanager`. */
export function prometheusConfig(opts: { targets: readonly string[]; ruleFile: string; alertmanager: string }): string {
  return stringify({
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [opts.ruleFile],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [opts.alertmanager] }] }] },
    scrape_configs: [{ job_name: 'e2e-exporter', static_configs: [{ targets: [...opts.targets] }] }],
  });
}

/** startPrometheus runs a real Prometheus on a free loopback port with `config`, its TSDB in `dir`. */
export async function startPrometheus(dir: string, config: string): Promise<ManagedProcess> {
  mkdirSync(join(dir, 'prometheus-data'), { recursive: true });
  const configPath = join(dir, 'prometheus.yml');
  writeFileSync(configPath, config);
  const port = await freePort();
  return startManagedProcess({
    name: 'prometheus',
    command: PROMETHEUS_BIN,
    args: [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // resend firing alerts every second (default 1m), so a lost notification does not stall the suite
      '--rules.alert.resend-delay=1s',
      '--log.level=info',
    ],
    url: `http://127.0.0.1:${port}`,
    readyPath: '/-/ready',
    cwd: dir,
  });
}

const RouteSchema = z.looseObject({
  receiver: z.string().optional(),
  group_wait: z.string().optional(),
  group_interval: z.string().optional(),
  repeat_interval: z.string().optional(),
  get routes() { return z.array(RouteSchema).optional(); },
});
type Route = z.infer<typeof RouteSchema>;

const AlertmanagerFileSchema = z.looseObject({
  route: RouteSchema,
  receivers: z.array(z.looseObject({
    name: z.string(),
    webhook_configs: z.array(z.looseObject({
      url: z.string(),
      http_config: z.looseObject({
        authorization: z.looseObject({ type: z.string().optional(), credentials_file: z.string().optional(), credentials: z.string().optional() }),
      }).optional(),
    })).optional(),
  })),
});

/** AlertmanagerTimings are the route timings the suite puts on the salt-autoscaler route (Go durations). */
export interface AlertmanagerTimings {
  readonly groupWait: string;
  readonly groupInterval: string;
  readonly repeatInterval: string;
}

function findRoute(route: Route, receiver: string): Route | undefined {
  if (route.receiver === receiver) return route;
  for (const child of route.routes ?? []) {
    const found = findRoute(child, receiver);
    if (found) return found;
  }
  return undefined;
}

/**
 * alertmanagerConfigFromShipped loads the shipped alertmanager.yml and points its `salt-autoscaler` receiver
 * at `webhookUrl` with the token in `tokenFile` (credentials_file, as shipped), with the given route timings.
 * It throws when the shipped file no longer has that receiver and route (the suite would test nothing).
 */
export function alertmanagerConfigFromShipped(opts: { webhookUrl: string; tokenFile: string; timings: AlertmanagerTimings; receiver?: string }): string {
  const receiverName = opts.receiver ?? 'salt-autoscaler';
  const doc = AlertmanagerFileSchema.parse(parse(readFileSync(SHIPPED_ALERTMANAGER_CONFIG, 'utf8')));
  const route = findRoute(doc.route, receiverName);
  if (route === undefined || route === doc.route) throw new Error(`${SHIPPED_ALERTMANAGER_CONFIG}: no sub-route to receiver ${receiverName}`);
  route.group_wait = opts.timings.groupWait;
  route.group_interval = opts.timings.groupInterval;
  route.repeat_interval = opts.timings.repeatInterval;
  const receiver = doc.receivers.find((r) => r.name === receiverName);
  const webhook = receiver?.webhook_configs?.[0];
  if (webhook === undefined || receiver?.webhook_configs?.length !== 1) {
    throw new Error(`${SHIPPED_ALERTMANAGER_CONFIG}: receiver ${receiverName} must have exactly one webhook_config`);
  }
  webhook.url = opts.webhookUrl;
  const auth = webhook.http_config?.authorization;
  if (auth === undefined) throw new Error(`${SHIPPED_ALERTMANAGER_CONFIG}: the ${receiverName} webhook has no http_config.authorization`);
  delete auth.credentials;
  auth.credentials_file = opts.tokenFile;
  return stringify(doc);
}

/** startAlertmanager runs a real Alertmanager (no HA gossip) on a free loopback port with `config`, its storage in `dir`. */
export async function startAlertmanager(dir: string, config: string): Promise<ManagedProcess> {
  mkdirSync(join(dir, 'alertmanager-data'), { recursive: true });
  const configPath = join(dir, 'alertmanager.yml');
  writeFileSync(configPath, config);
  const port = await freePort();
  return startManagedProcess({
    name: 'alertmanager',
    command: ALERTMANAGER_BIN,
    args: [
      `--config.file=${configPath}`,
      `--storage.path=${join(dir, 'alertmanager-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=debug',
    ],
    url: `http://127.0.0.1:${port}`,
    readyPath: '/-/ready',
    cwd: dir,
  });
}
