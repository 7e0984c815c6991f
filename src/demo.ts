/**
 * demo: `npm run demo` — the real service against the salt-api emulator as a simulated Salt cloud, fed by a scripted
 * training queue through the real Alertmanager webhook, with the status page at http://127.0.0.1:9717/.
 *
 * ```
 *  scripted queue ──(Alertmanager webhook v4, every 5 s)──► salt-autoscaler ──salt-api──► emulator (Salt + cloud)
 *        ▲                                                        │                          │
 *        └── instances serving work are marked busy ◄─────────────┴──── ready events ◄───────┘
 * ```
 *
 * One cycle lasts CYCLE_S (150 s) and shows every part of the lifecycle, with pool settings scaled down so that it
 * fits (the status page says so):
 *
 * ```
 *  prod/type1  queue 0 ─8s─► 5 ─────60s─► 2 ──90s─► 0 ─────────150s
 *              scaleUp 3 ─► starting ─► booted ─► deploying ─► ready ... peak window 30 s ... drain 2 idle (1 busy) ─► stop ... drain 1 ─► stop
 *  dev/type2   queue 0 ─8s─► 1 ──────────75s─► 0 ───────────────150s
 *              scaleUp 1 ─► deploy fails (emulator fault) ─► failed, stopped ─► back-off 20 s ─► start again ─► ready ... drain ─► stop
 * ```
 * Exit codes: 0 after Ctrl-C / SIGTERM / --duration-s, 1 when it cannot run, 2 on bad flags or a port in use. The
 * temporary state directory is removed on every one of these paths.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringValue, UsageError, type ParsedCommandLine } from './command-line.ts';
import { parseConfig } from './config/load.ts';
import type { PoolSpec } from './core/types.ts';
import { startEmulator, type Emulator } from './emulator/index.ts';
import { startService, type Service } from './main.ts';
import { createLogger, type Logger } from './log.ts';
import { prettyDestination, type LogFormat, type LogRecord } from './log-pretty.ts';

/** CYCLE_S is the length of one scripted demo cycle in seconds; the script repeats after it. */
export const CYCLE_S = 150;

/** DEMO_PEAK_WINDOW_MS is the adaptive strategy's peak window in the demo (30 s instead of 30 min). */
export const DEMO_PEAK_WINDOW_MS = 30_000;

/** DemoPool is one pool of the demo world with its scripted queue (steps from second `fromS` of each cycle). */
export interface DemoPool {
  readonly name: string;
  readonly env: string;
  readonly instanceType: string;
  readonly reserved: readonly string[];
  readonly perInstance: number;
  readonly script: readonly { readonly fromS: number; readonly queue: number }[];
  /** failFirstDeploy: this instance's first deploy of each cycle fails (emulator fault), to show the back-off. */
  readonly failFirstDeploy?: string;
}

/** DEMO_POOLS are the two pools of the demo. */
export const DEMO_POOLS: readonly DemoPool[] = [
  {
    name: 'prod/type1', env: 'prod', instanceType: 'type1', perInstance: 2,
    reserved: ['gpu-prod-type1-1', 'gpu-prod-type1-2', 'gpu-prod-type1-3'],
    script: [{ fromS: 0, queue: 0 }, { fromS: 8, queue: 5 }, { fromS: 60, queue: 2 }, { fromS: 90, queue: 0 }],
  },
  {
    name: 'dev/type2', env: 'dev', instanceType: 'type2', perInstance: 1,
    reserved: ['gpu-dev-type2-1', 'gpu-dev-type2-2'],
    script: [{ fromS: 0, queue: 0 }, { fromS: 8, queue: 1 }, { fromS: 75, queue: 0 }],
    failFirstDeploy: 'gpu-dev-type2-1',
  },
];

/** DEMO_NOTICE is what the status page says about the demo's settings. */
export const DEMO_NOTICE = `Demo: pool settings are scaled down so that one cycle (scale-up, ready, a failed deploy and its back-off, `
  + `drain with idle check, stop) takes about ${CYCLE_S / 60} minutes: adaptive peak window ${DEMO_PEAK_WINDOW_MS / 1000} s (default 30 min), `
  + 'interval 10 s (example config 270 s), evaluation every 5 s (default 15 s), failure back-off from 20 s (default 1 min); '
  + 'the emulated VMs start in 2 s, boot in 4 s and deploy in 6 s. The queue is scripted and repeats.';

/** queueAt is the scripted queue length of a pool at second t of the demo (the script repeats every CYCLE_S). */
export function queueAt(pool: DemoPool, tS: number): number {
  const inCycle = ((tS % CYCLE_S) + CYCLE_S) % CYCLE_S;
  let queue = 0;
  for (const step of pool.script) if (inCycle >= step.fromS) queue = step.queue;
  return queue;
}

/** alertPayload builds the Alertmanager v4 notification for one pool's current queue (both scale alerts). */
export function alertPayload(pool: DemoPool, queue: number, nowMs: number): unknown {
  const labels = (alertname: string): Record<string, string> => ({ alertname, env: pool.env, instance_type: pool.instanceType, pool: pool.name });
  const alert = (alertname: string, firing: boolean): unknown => ({
    status: firing ? 'firing' : 'resolved',
    labels: labels(alertname),
    annotations: { workload: String(queue) },
    startsAt: new Date(nowMs - 60_000).toISOString(),
    endsAt: firing ? new Date(nowMs + 60_000).toISOString() : new Date(nowMs).toISOString(),
    generatorURL: 'http://demo/graph',
    fingerprint: `${pool.name}-${alertname}`.replace(/[^a-z0-9]/gi, ''),
  });
  return {
    version: '4',
    groupKey: `{}:{pool="${pool.name}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'salt-autoscaler',
    groupLabels: { pool: pool.name },
    commonLabels: { env: pool.env, instance_type: pool.instanceType, pool: pool.name },
    commonAnnotations: {},
    externalURL: 'http://demo',
    alerts: [alert('SaltAutoscalerScaleUp', queue >= 1), alert('SaltAutoscalerScaleDown', queue <= 0)],
  };
}

/** DemoArgs are the demo's parsed flags. */
export interface DemoArgs {
  readonly port: number;
  readonly durationS?: number;
  readonly format: LogFormat;
}

/** parseDemoArgs checks `--port` and `--duration-s`; throws UsageError (exit 2) on a value it cannot use. */
export function parseDemoArgs(parsed: ParsedCommandLine): Omit<DemoArgs, 'format'> {
  const portText = stringValue(parsed, 'port') ?? '9717';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`demo: --port expects a port number 0-65535, got '${portText}'`);
  const durationText = stringValue(parsed, 'duration-s');
  if (durationText === undefined) return { port };
  const durationS = Number(durationText);
  if (!/^\d+(\.\d+)?$/.test(durationText) || durationS <= 0) throw new UsageError(`demo: --duration-s expects a positive number of seconds, got '${durationText}'`);
  return { port, durationS };
}

/** portFree resolves when nothing listens on 127.0.0.1:port; it rejects with a UsageError naming the port otherwise. */
async function portFree(port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(new UsageError(`demo: port ${port} on 127.0.0.1 is in use (${err.code ?? err.message}): stop what listens there or pass --port N (0 = any free port)`));
    });
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/** demoLogger builds the demo's logger: every JSON line (json), or one short line per decision and transition (pretty). */
function demoLogger(format: LogFormat, banner: () => string): Logger {
  const level = process.env['SALT_AUTOSCALER_LOG_LEVEL'] ?? 'info';
  if (format === 'json') return createLogger({ level });
  let bannerDue = false;
  const keep = (record: LogRecord): boolean => {
    const msg = record['msg'];
    if (msg === 'decision') bannerDue = record['action'] === 'scaleUp' || record['action'] === 'scaleDown';
    return msg === 'decision' || msg === 'instance state' || (typeof msg === 'string' && msg.startsWith('demo:')) || Number(record['level']) >= 40;
  };
  const out = {
    write(chunk: string): void {
      process.stdout.write(chunk);
      if (bannerDue) {
        bannerDue = false;
        process.stdout.write(`          ${banner()}\n`);
      }
    },
  };
  return createLogger({ level, destination: prettyDestination({ out, keep }) });
}

/** runDemo starts the emulator and the service and feeds the scripted queue until SIGINT / SIGTERM / --duration-s. */
export async function runDemo(args: DemoArgs): Promise<number> {
  // signals are taken first: a Ctrl-C during the startup also ends in the cleanup below
  let stopNow: () => void = () => {};
  let stopRequested = false;
  const stopped = new Promise<void>((resolve) => { stopNow = () => { stopRequested = true; resolve(); }; });
  const onSignal = (): void => stopNow();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let dir: string | undefined;
  const removeDir = (): void => { if (dir !== undefined) rmSync(dir, { recursive: true, force: true }); };
  // a crash that skips the finally below still leaves no directory behind
  process.once('exit', removeDir);
  let emu: Emulator | undefined;
  let service: Service | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await portFree(args.port);
    dir = mkdtempSync(join(tmpdir(), 'salt-autoscaler-demo-'));
    emu = await startEmulator({
      instances: DEMO_POOLS.flatMap((p) => p.reserved.map((id) => ({ id, provider: 'demo-cloud' }))),
      // a Salt second of 100 ms: salt-api's 300 s rest_timeout lasts 30 s, longer than a start call of several instances
      delays: { startMs: 2_000, bootMs: 4_000, deployMs: 6_000, stopMs: 2_000, createMs: 8_000, saltSecondMs: 100 },
    });
    const config = parseConfig({
      salt: { url: emu.url, username: 'salt-autoscaler', password: 'secret', eauth: 'pam', heartbeatInterval: '10s', heartbeatTimeout: '5s' },
      store: { path: join(dir, 'state.db') },
      http: { listen: `127.0.0.1:${args.port}`, apiToken: 'demo-token' },
      engine: { evaluateInterval: '5s', reconcileInterval: '1m' },
      pools: DEMO_POOLS.map((p) => ({
        name: p.name, env: p.env, instanceType: p.instanceType, min: 0, max: p.reserved.length,
        upThreshold: 1, downThreshold: 0, interval: '10s', strategy: 'adaptive', perInstance: p.perInstance,
        provider: 'demo-cloud', reserved: [...p.reserved], provisionTimeout: '2m', failureBackoff: { base: '20s', max: '1m' },
      })),
    }, {});
    let url = `http://127.0.0.1:${args.port}`;
    const banner = (): string => `status page ${url}/  (Ctrl-C stops the demo)`;
    const logger = demoLogger(args.format, banner);
    const tunePool = (spec: PoolSpec): PoolSpec =>
      (spec.strategy.kind === 'adaptive' ? { ...spec, strategy: { ...spec.strategy, peakWindowMs: DEMO_PEAK_WINDOW_MS } } : spec);
    if (stopRequested) return 0;
    // no abort signal is passed, so startService only returns once it holds the lease of this fresh state file
    service = await startService(config, { logger, tunePool, notice: DEMO_NOTICE });
    if (service === undefined) return 1;
    const running = service;
    url = running.url;
    // the banner goes where a person looks: stdout with pretty lines, stderr when stdout carries JSON lines
    const screen = args.format === 'json' ? process.stderr : process.stdout;
    screen.write(`\nsalt-autoscaler demo: ${banner()}\n`
      + `  API token for POST /api/*: demo-token; salt-api emulator at ${emu.url}\n`
      + `  one cycle takes ${CYCLE_S} s with demo-scaled settings (peak window ${DEMO_PEAK_WINDOW_MS / 1000} s, interval 10 s): see the status page\n\n`);
    const world = emu.world;
    const began = Date.now();
    const events = emu.events;
    let cycle = -1;
    let armedAt: number | undefined;
    const feed = async (): Promise<void> => {
      const tS = (Date.now() - began) / 1000;
      const thisCycle = Math.floor(tS / CYCLE_S);
      for (const pool of DEMO_POOLS) {
        if (pool.failFirstDeploy !== undefined) {
          const id = pool.failFirstDeploy;
          if (thisCycle !== cycle) {
            world.setFailDeploy(id, true);
            armedAt = events.length;
            logger.info({ pool: pool.name, minion: id }, `demo: the next deploy of ${id} fails (emulator fault), to show the failure back-off`);
          } else if (armedAt !== undefined && events.slice(armedAt).some((e) => e.tag === `salt-autoscaler/instance/${id}/failed`)) {
            armedAt = undefined;
            world.setFailDeploy(id, false);
            logger.info({ pool: pool.name, minion: id }, `demo: ${id} deploys fine again; the pool retries after its back-off`);
          }
        }
        const queue = queueAt(pool, tS);
        // the instances serving work are busy, so the idle check keeps them; the rest are idle
        const ready = running.engine.instances().filter((i) => i.pool === pool.name && i.state === 'ready');
        const busy = Math.min(ready.length, Math.ceil(queue / pool.perInstance));
        ready.forEach((inst, n) => world.setBusy(inst.id, n < busy));
        try {
          await fetch(`${running.url}/alertmanager/webhook`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(alertPayload(pool, queue, Date.now())),
          });
        } catch (err) {
          // a post cut off by Ctrl-C is no news
          if (!stopRequested) logger.warn({ err }, 'demo: webhook post failed');
        }
      }
      cycle = thisCycle;
    };
    await feed();
    // feed logs its own failed posts; the interval does not wait for one feed to end before the next
    timer = setInterval(() => { void feed(); }, 5_000);
    const duration = args.durationS === undefined ? undefined : setTimeout(stopNow, args.durationS * 1000);
    await stopped;
    if (duration !== undefined) clearTimeout(duration);
    return 0;
  } finally {
    if (timer !== undefined) clearInterval(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await service?.stop();
    await emu?.close();
    removeDir();
    process.off('exit', removeDir);
  }
}
