/**
 * bench/real-master: how long a real Salt master takes to answer the three calls of a reconcile (`cloud.query`,
 * `manage.up`, `grains.item`) and a `cloud.action`, through salt-api and the product's own client, at several
 * fleet sizes: the measurement behind the emulator's REAL_MASTER_CALL_DELAYS.
 * `npx tsx bench/real-master.ts [--sizes 100,1000,5000] [--minions 3] [--rounds 5] [--salt 3006.10]`
 *
 * ```
 *  SaltLab (test/support/real-salt.ts: a real master + salt-api from ../shared/salt, the localproc salt-cloud driver)
 *     reserve of N stopped instances (the driver lists them: cloud.query covers N nodes)
 *     M of them started (real salt-minion processes: manage.up and grains.item have M minions to answer)
 *  SaltApiActions over SaltClient (what the service runs) --time each call--> median, min, max per call and size
 *  fit per call: ms + perNodeMs x N (least squares over the sizes), printed next to REAL_MASTER_CALL_DELAYS
 * ```
 * What it cannot measure: the cloud provider's own listing time (the localproc driver reads local directories, a
 * real provider pages through an HTTP API) and return handling for thousands of live minions (this host runs a
 * handful). The report says both. Needs root and a Salt source (the real-Salt suite's rules); without them it says
 * why and exits 0 with `skipped`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { SaltClient } from '../src/salt-api/client.ts';
import { SaltApiActions } from '../src/salt-api/actions.ts';
import { createLogger } from '../src/log.ts';
import { REAL_MASTER_CALL_DELAYS, type CallDelays } from '../src/emulator/index.ts';
import { SHARED_SECRET, SaltLab, findSaltSources } from '../test/support/real-salt.ts';
import { formatMachine, machineLoad, type MachineLoad } from './machine.ts';

/** CallTiming is one call's wall times at one fleet size, in ms. */
export interface CallTiming {
  readonly call: string;
  readonly nodes: number;
  readonly minions: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

/** CallFit is `ms + perNodeMs x nodes` fitted over the sizes. */
export interface CallFit {
  readonly call: string;
  readonly ms: number;
  readonly perNodeMs: number;
}

/** RealMasterBench is the outcome of one run. */
export interface RealMasterBench {
  readonly skipped?: string;
  readonly salt?: string;
  readonly timings: readonly CallTiming[];
  readonly fits: readonly CallFit[];
  readonly machine: MachineLoad;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** fitLine is the least-squares `a + b x` through the points (b = 0 with one distinct x). */
export function fitLine(points: readonly (readonly [number, number])[]): { a: number; b: number } {
  const n = points.length;
  if (n === 0) return { a: 0, b: 0 };
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const b = sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
  return { a: my - b * mx, b };
}

async function timeCall(rounds: number, run: () => Promise<unknown>): Promise<number[]> {
  await run(); // warm: the first runner call of a master loads its modules
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await run();
    out.push(performance.now() - t0);
  }
  return out;
}

/** runRealMaster runs the bench; `log` gets progress lines. */
export async function runRealMaster(opts: { sizes: readonly number[]; minions: number; rounds: number; salt?: string; log: (line: string) => void }): Promise<RealMasterBench> {
  const found = findSaltSources();
  const source = found.sources.find((s) => opts.salt === undefined || s.label.includes(opts.salt));
  if (source === undefined) return { skipped: `no real Salt: ${found.skip ?? `no source matching ${opts.salt ?? ''}`}`, timings: [], fits: [], machine: machineLoad() };
  if (process.getuid?.() !== 0) return { skipped: 'not root (the lab\'s minions need their own mount namespace)', timings: [], fits: [], machine: machineLoad() };
  const timings: CallTiming[] = [];
  let salt = '';
  for (const nodes of opts.sizes) {
    // named inside the shipped ACL's target (gpu-prod-*): grains.item is refused outside it
    const names = Array.from({ length: nodes }, (_, i) => `gpu-prod-bench-${String(i + 1).padStart(5, '0')}`);
    const lab = await SaltLab.start(source, { reserved: names });
    salt = lab.saltVersion;
    try {
      const client = new SaltClient({ url: lab.apiUrl, username: 'salt-autoscaler', password: SHARED_SECRET, eauth: 'sharedsecret', tlsVerify: true, timeoutMs: 300_000, logger: createLogger({ level: 'silent' }) });
      const actions = new SaltApiActions(client, createLogger({ level: 'silent' }));
      await actions.cloudInstances(); // the driver writes its reserve on the first listing
      const up = names.slice(0, opts.minions);
      for (const name of up) await lab.cloudByHand('start', name);
      await lab.waitFor(async () => (await actions.minionsUp(up)).length === up.length, 180_000, `${up.length} minions up`);
      const stoppedOne = names[names.length - 1] ?? '';
      const calls: [string, () => Promise<unknown>][] = [
        ['cloud.query', () => actions.cloudInstances()],
        // what a reconcile asks: the running instances (the reserve's stopped ones are not asked)
        ['manage.up', () => actions.minionsUp(up)],
        ['grains.item', () => actions.readyGrains(up)],
        // a stop of a stopped instance: the whole salt-cloud path without changing the lab
        ['cloud.action', () => actions.stop(stoppedOne)],
      ];
      for (const [call, run] of calls) {
        const ms = await timeCall(opts.rounds, run);
        const row: CallTiming = { call, nodes, minions: up.length, medianMs: Math.round(median(ms)), minMs: Math.round(Math.min(...ms)), maxMs: Math.round(Math.max(...ms)) };
        timings.push(row);
        opts.log(`${lab.saltVersion}: ${call} with ${nodes} nodes, ${up.length} minions: median ${row.medianMs} ms (${row.minMs}..${row.maxMs}) over ${opts.rounds}`);
      }
    } finally {
      await lab.close();
    }
  }
  const fits = [...new Set(timings.map((t) => t.call))].map((call): CallFit => {
    const { a, b } = fitLine(timings.filter((t) => t.call === call).map((t) => [t.nodes, t.medianMs] as const));
    return { call, ms: Math.round(a), perNodeMs: Math.round(b * 1000) / 1000 };
  });
  return { salt, timings, fits, machine: machineLoad() };
}

/** ModelCheck compares REAL_MASTER_CALL_DELAYS with one measured call: the model's time over the median. */
export interface ModelCheck {
  readonly call: string;
  readonly nodes: number;
  readonly measuredMs: number;
  readonly modelMs: number;
  readonly ratio: number;
}

/**
 * checkModel puts the emulator's model next to each measurement: `cloud.query` and `cloud.action` scale with the nodes, the
 * minion calls with the minions asked (the lab's live ones). `ok` when the model is within 0.7x-1.5x of every
 * median: neither much faster than a real master (the reconcile bench would flatter us) nor far slower.
 */
export function checkModel(timings: readonly CallTiming[], model: CallDelays = REAL_MASTER_CALL_DELAYS): { checks: ModelCheck[]; ok: boolean } {
  const checks = timings.map((t): ModelCheck => {
    const delay = model[t.call] ?? model['*'] ?? { ms: 0 };
    const scale = t.call === 'cloud.query' || t.call === 'cloud.action' ? t.nodes : t.minions;
    const modelMs = delay.ms + (delay.perMinionMs ?? 0) * scale;
    return { call: t.call, nodes: t.nodes, measuredMs: t.medianMs, modelMs: Math.round(modelMs), ratio: Math.round((modelMs / Math.max(1, t.medianMs)) * 100) / 100 };
  });
  return { checks, ok: checks.length > 0 && checks.every((c) => c.ratio >= 0.7 && c.ratio <= 1.5) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    sizes: { type: 'string', default: '100,1000,5000' }, minions: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' }, salt: { type: 'string' },
  }, strict: true });
  const r = await runRealMaster({
    sizes: values.sizes.split(',').map(Number), minions: Number(values.minions), rounds: Number(values.rounds),
    ...(values.salt === undefined ? {} : { salt: values.salt }), log: (l) => console.log(l),
  });
  if (r.skipped !== undefined) {
    console.log(`real-master: skipped: ${r.skipped}`);
    return;
  }
  console.log(`\n${r.salt} on ${formatMachine(r.machine)}`);
  console.log('| call | fitted fixed ms | fitted ms per node | REAL_MASTER_CALL_DELAYS |');
  console.log('|---|---|---|---|');
  for (const f of r.fits) {
    const model = REAL_MASTER_CALL_DELAYS[f.call] ?? REAL_MASTER_CALL_DELAYS['*'];
    console.log(`| ${f.call} | ${f.ms} | ${f.perNodeMs} | ${model?.ms ?? '-'} + ${model?.perMinionMs ?? 0}/node |`);
  }
  const { checks, ok } = checkModel(r.timings);
  console.log(`model / measured: ${checks.map((c) => `${c.call}@${c.nodes} ${c.ratio}x`).join(', ')}: ${ok ? 'within 0.7-1.5x' : 'OUTSIDE 0.7-1.5x'}`);
  const dir = join(fileURLToPath(new URL('.', import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'real-master.json'), JSON.stringify(r, null, 2) + '\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => { console.error(err); process.exit(1); });
}
