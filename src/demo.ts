/**
 * demo: `npm run demo` — the real service against the salt-api emulator as a simulated Salt cloud, fed by a
 * synthetic training queue through the real Alertmanager webhook, with the status page at http://127.0.0.1:9717/.
 *
 * ```
 *  synthetic queue ──(Alertmanager webhook v4, every 5 s)──► salt-autoscaler ──salt-api──► emulator (Salt + cloud)
 *        ▲                                                        │                          │
 *        └── instances serving work are marked busy ◄─────────────┴──── ready events ◄───────┘
 * ```
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from './config/load.ts';
import { startEmulator } from './emulator/index.ts';
import { startService } from './main.ts';
import { createLogger } from './log.ts';

/** DemoPool is one pool of the demo world with its synthetic queue shape. */
interface DemoPool {
  readonly name: string;
  readonly env: string;
  readonly instanceType: string;
  readonly reserved: readonly string[];
  readonly periodS: number;
  readonly peak: number;
  readonly perInstance: number;
}

const POOLS: readonly DemoPool[] = [
  { name: 'prod/type1', env: 'prod', instanceType: 'type1', reserved: ['gpu-prod-type1-1', 'gpu-prod-type1-2', 'gpu-prod-type1-3', 'gpu-prod-type1-4'], periodS: 240, peak: 7, perInstance: 2 },
  { name: 'dev/type2', env: 'dev', instanceType: 'type2', reserved: ['gpu-dev-type2-1', 'gpu-dev-type2-2'], periodS: 180, peak: 3, perInstance: 1 },
];

/** queueAt is the synthetic queue length of a pool at second t: a smooth wave with quiet valleys. */
export function queueAt(pool: DemoPool, tS: number): number {
  const phase = Math.sin((2 * Math.PI * tS) / pool.periodS);
  return Math.max(0, Math.round(pool.peak * phase));
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

/** runDemo starts the emulator and the service and feeds the queue until SIGINT/SIGTERM. */
export async function runDemo(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: { port: { type: 'string' }, 'duration-s': { type: 'string' } }, strict: true });
  const port = Number(values.port ?? 9717);
  const durationS = values['duration-s'] === undefined ? undefined : Number(values['duration-s']);
  const dir = mkdtempSync(join(tmpdir(), 'salt-autoscaler-demo-'));
  const emu = await startEmulator({
    instances: POOLS.flatMap((p) => p.reserved.map((id) => ({ id, provider: 'demo-cloud' }))),
    delays: { startMs: 2_000, bootMs: 4_000, deployMs: 6_000, stopMs: 2_000, createMs: 8_000 },
  });
  const config = parseConfig({
    salt: { url: emu.url, username: 'autoscaler', password: 'secret', eauth: 'pam', heartbeatInterval: '10s', heartbeatTimeout: '5s' },
    store: { path: join(dir, 'state.db') },
    http: { listen: `127.0.0.1:${port}`, apiToken: 'demo-token' },
    engine: { evaluateInterval: '5s', reconcileInterval: '1m' },
    pools: POOLS.map((p) => ({
      name: p.name, env: p.env, instanceType: p.instanceType, min: 0, max: p.reserved.length,
      upThreshold: 1, downThreshold: 0, interval: '20s', strategy: 'adaptive', perInstance: p.perInstance,
      provider: 'demo-cloud', reserved: [...p.reserved], provisionTimeout: '2m',
    })),
  }, {});
  const logger = createLogger({ level: process.env['SALT_AUTOSCALER_LOG_LEVEL'] ?? 'info' });
  const service = await startService(config, { logger });
  // no abort signal is passed, so startService only returns once it holds the lease of this fresh state file
  if (service === undefined) return 1;
  process.stdout.write(`\nsalt-autoscaler demo: status page ${service.url}/  (API token for POST /api/*: demo-token)\n`
    + `salt-api emulator at ${emu.url}; press Ctrl-C to stop\n\n`);
  const began = Date.now();
  const feed = async (): Promise<void> => {
    const tS = (Date.now() - began) / 1000;
    for (const pool of POOLS) {
      const queue = queueAt(pool, tS);
      // the instances serving work are busy, so the idle check keeps them; the rest are idle
      const ready = service.engine.instances().filter((i) => i.pool === pool.name && i.state === 'ready');
      const busy = Math.min(ready.length, Math.ceil(queue / pool.perInstance));
      ready.forEach((inst, n) => emu.world.setBusy(inst.id, n < busy));
      try {
        await fetch(`${service.url}/alertmanager/webhook`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(alertPayload(pool, queue, Date.now())),
        });
      } catch (err) {
        logger.warn({ err }, 'demo: webhook post failed');
      }
    }
  };
  await feed();
  const timer = setInterval(() => { void feed(); }, 5_000);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
    if (durationS !== undefined) setTimeout(resolve, durationS * 1000).unref();
  });
  clearInterval(timer);
  await service.stop();
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
  return 0;
}
