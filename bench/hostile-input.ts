/**
 * bench/hostile-input: what hostile webhook bodies cost the receiver. `npx tsx bench/hostile-input.ts [--flood N] [--key-kib K]`.
 *
 * ```
 *  undici (loopback) --POST /alertmanager/webhook--> real fastify app + alertmanagerWebhook (bearer token, 1 MiB body limit)
 *    1. the 1 MB hostile body: 340,000 empty alerts (valid token) -> time to the 4xx, RSS growth, worst event-loop delay
 *    2. the flood: N notifications, each with a unique K KiB groupKey and one resolved alert of a real pool
 *       -> RSS and retained heap before and after (after a full GC), the alert book's size
 * ```
 * Real: config (parseConfig), the fastify app, the webhook plugin with its AlertBook, pino at info to /dev/null.
 * Targets: the hostile body answered in < 100 ms (median of 5); after the flood the retained heap flat (< +10 MiB)
 * and RSS < +100 MiB (freed request buffers stay in the allocator's arenas: RSS is not a retained-memory figure).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Fastify from 'fastify';
import { pino } from 'pino';
import { request } from 'undici';
import { AlertBook } from '../src/alertmanager/alert-book.ts';
import { alertmanagerWebhook, WEBHOOK_PATH } from '../src/alertmanager/webhook.ts';
import { parseConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';

/** HostileInputBench is the outcome of one run. */
export interface HostileInputBench {
  readonly name: 'hostile-input';
  /** hostileStatus: the answer to the 1 MB body (a 4xx). */
  readonly hostileStatus: number;
  readonly hostileReason: string;
  readonly hostileBodyBytes: number;
  /** hostileMs / hostileMaxMs: median and worst of 5 rounds, request sent -> whole answer received. */
  readonly hostileMs: number;
  readonly hostileMaxMs: number;
  /** hostileRssGrowthMiB: RSS after 4 hostile bodies in parallel minus RSS before (no GC in between). */
  readonly hostileRssGrowthMiB: number;
  /** hostileLoopDelayMaxMs: the longest event-loop stall while the hostile bodies were handled. */
  readonly hostileLoopDelayMaxMs: number;
  readonly floodNotifications: number;
  readonly floodKeyKiB: number;
  readonly floodSeconds: number;
  readonly rssBeforeFloodMiB: number;
  readonly rssAfterFloodMiB: number;
  readonly heapBeforeFloodMiB: number;
  readonly heapAfterFloodMiB: number;
  readonly bookGroups: number;
  readonly bookEntries: number;
  /** targetMet: a 4xx, hostileMs < 100, and after the flood heap < +10 MiB and RSS < +100 MiB. */
  readonly targetMet: boolean;
}

const TOKEN = 'bench-hostile-token';
const MiB = 1_048_576;

const gc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  const fn: unknown = runInNewContext('gc');
  return typeof fn === 'function' ? () => { (fn as () => void)(); } : () => {};
})();

const round1 = (n: number): number => Math.round(n * 10) / 10;
const rssMiB = (): number => round1(process.memoryUsage.rss() / MiB);
const heapMiB = (): number => round1(process.memoryUsage().heapUsed / MiB);

/** hostileBody is the adversarial run's 1 MB body: a valid envelope around 340,000 empty alerts. */
export function hostileBody(alerts = 340_000): string {
  return `{"version":"4","groupKey":"g","status":"firing","receiver":"r","alerts":[${new Array(alerts).fill('{}').join(',')}]}`;
}

/** floodBody is one flood notification: a unique groupKey of `keyKiB` KiB and one resolved alert of pool prod/type1. */
export function floodBody(i: number, keyKiB: number): string {
  return JSON.stringify({
    version: '4', groupKey: `${i}:${'k'.repeat(keyKiB * 1024)}`, status: 'resolved', receiver: 'r', truncatedAlerts: 0,
    alerts: [{
      status: 'resolved', labels: { alertname: 'SaltAutoscalerScaleUp', env: 'prod', instance_type: 'type1' },
      startsAt: '2026-11-28T07:00:00Z', endsAt: '2026-11-28T07:05:00Z', fingerprint: `fp-${i}`,
    }],
  });
}

/** benchHostileInput runs both phases against one in-process app. */
export async function benchHostileInput(opts: { readonly flood?: number; readonly keyKiB?: number } = {}): Promise<HostileInputBench> {
  const flood = opts.flood ?? 10_000;
  const keyKiB = opts.keyKiB ?? 100;
  const config = parseConfig({
    salt: { url: 'http://127.0.0.1:1', username: 'u', password: 'p' },
    http: { webhookToken: TOKEN, bodyLimit: '2MiB' },
    pools: [{ env: 'prod', instanceType: 'type1', max: 5, provider: 'c', reserved: ['gpu-prod-1'] }],
  }, {});
  const logger = createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: true }) });
  const book = new AlertBook(config.alerts, config.pools);
  const app = Fastify();
  await app.register(alertmanagerWebhook, { config, onSignal: () => undefined, now: () => Date.now(), logger, book });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const post = async (body: string): Promise<{ status: number; text: string }> => {
    const res = await request(`${base}${WEBHOOK_PATH}`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } });
    return { status: res.statusCode, text: await res.body.text() };
  };
  try {
    const body = hostileBody();
    await post(floodBody(-1, 1)); // warm-up
    gc();
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const times: number[] = [];
    let first = { status: 0, text: '' };
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      first = await post(body);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const hostileMs = times[Math.floor(times.length / 2)] ?? 0;
    const hostileMaxMs = times.at(-1) ?? 0;
    const rssBefore = process.memoryUsage.rss();
    await Promise.all([post(body), post(body), post(body), post(body)]);
    const hostileRssGrowthMiB = round1((process.memoryUsage.rss() - rssBefore) / MiB);
    loop.disable();
    gc();
    const rssBeforeFloodMiB = rssMiB();
    const heapBeforeFloodMiB = heapMiB();
    const t0 = performance.now();
    const concurrency = 4;
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < flood) {
        const i = next++;
        const res = await post(floodBody(i, keyKiB));
        if (res.status !== 200) throw new Error(`flood notification ${i} answered ${res.status}: ${res.text.slice(0, 200)}`);
      }
    }));
    const floodSeconds = round1((performance.now() - t0) / 1000);
    gc();
    const rssAfterFloodMiB = rssMiB();
    const heapAfterFloodMiB = heapMiB();
    const size = book.size();
    const reason = (JSON.parse(first.text) as { reason?: string }).reason ?? '';
    return {
      name: 'hostile-input',
      hostileStatus: first.status,
      hostileReason: reason,
      hostileBodyBytes: Buffer.byteLength(body),
      hostileMs: round1(hostileMs),
      hostileMaxMs: round1(hostileMaxMs),
      hostileRssGrowthMiB,
      hostileLoopDelayMaxMs: round1(loop.max / 1e6),
      floodNotifications: flood,
      floodKeyKiB: keyKiB,
      floodSeconds,
      rssBeforeFloodMiB,
      rssAfterFloodMiB,
      heapBeforeFloodMiB,
      heapAfterFloodMiB,
      bookGroups: size.groups,
      bookEntries: size.entries,
      targetMet: first.status >= 400 && first.status < 500 && hostileMs < 100
        && heapAfterFloodMiB - heapBeforeFloodMiB < 10 && rssAfterFloodMiB - rssBeforeFloodMiB < 100,
    };
  } finally {
    await app.close();
  }
}

/** formatHostileInput renders a run for the terminal. */
export function formatHostileInput(r: HostileInputBench): string {
  return [
    `hostile 1 MB body (${r.hostileBodyBytes} bytes): ${r.hostileStatus} in ${r.hostileMs} ms (median of 5, worst ${r.hostileMaxMs}), RSS +${r.hostileRssGrowthMiB} MiB for 4 in parallel, loop stall max ${r.hostileLoopDelayMaxMs} ms`,
    `  reason: ${r.hostileReason}`,
    `flood ${r.floodNotifications} x ${r.floodKeyKiB} KiB group keys in ${r.floodSeconds} s: RSS ${r.rssBeforeFloodMiB} -> ${r.rssAfterFloodMiB} MiB, heap ${r.heapBeforeFloodMiB} -> ${r.heapAfterFloodMiB} MiB, book ${r.bookGroups} groups / ${r.bookEntries} entries`,
  ].join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { flood: { type: 'string' }, 'key-kib': { type: 'string' } }, strict: true });
  const r = await benchHostileInput({
    ...(values.flood === undefined ? {} : { flood: Number(values.flood) }),
    ...(values['key-kib'] === undefined ? {} : { keyKiB: Number(values['key-kib']) }),
  });
  process.stdout.write(`${formatHostileInput(r)}\n`);
}
