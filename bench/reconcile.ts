/**
 * bench/reconcile: one reconcile of 10,000 instances over 1,000 pools against the salt-api emulator answering at
 * a real master's speed (REAL_MASTER_CALL_DELAYS), with salt-api's real answer shapes, through the real client,
 * actions, event stream and engine. `npx tsx bench/reconcile.ts [--rounds N]`.
 *
 * ```
 *  emulator child (10,000 instances: 30 % running, booted and ready; the rest stopped in the reserve)
 *     <--cloud.query / manage.up / grains.item-- SaltApiActions <-- Engine.reconcile('bench')   <-- wall time
 *     --SSE /events (the job-returns of those calls)--> SaltEventStream --> Engine.handle
 *  this process: monitorEventLoopDelay while each reconcile runs (p99, max)
 * ```
 * The startup reconcile (Engine.start, which also loads an empty store and adopts every instance) is reported on
 * its own; then `rounds` reconciles of the settled fleet, each timed with the salt-api calls it made (counted by
 * the emulator) and the event-loop delay during it. Figures are medians over the rounds. `npm run bench` runs it in a
 * process of its own (benchReconcileChild), as a service's loop would be: not one the benches before it filled.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseConfig } from '../src/config/load.ts';
import { REAL_MASTER_CALL_DELAYS, type CallDelays } from '../src/emulator/index.ts';
import { startEmulatorProcess } from './emulator-process.ts';
import { DEFAULT_FLEET, FLEET_PROVIDER, fleetConfig, fleetInstanceIds, type FleetShape } from './fleet.ts';
import { streamingEngine } from './streaming-engine.ts';
import { formatMachine, machineLoad, type MachineLoad } from './machine.ts';
import { waitUntil } from './webhook-latency.ts';

const execFileAsync = promisify(execFile);

/** ReconcileRound is one timed reconcile. */
export interface ReconcileRound {
  readonly wallMs: number;
  /** saltCalls: salt-api requests the emulator answered during it (each lowstate chunk counted). */
  readonly saltCalls: number;
  readonly calls: Readonly<Record<string, number>>;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** idleLoopDelayP99Ms: the same monitor for 1 s just before, the engine at rest: what the host's timers give. */
  readonly idleLoopDelayP99Ms: number;
}

/** ReconcileBench is the outcome of one run. */
export interface ReconcileBench {
  readonly name: 'reconcile';
  readonly pools: number;
  readonly instances: number;
  readonly running: number;
  readonly callDelays: CallDelays;
  /** startupMs: Engine.start() (store load, first reconcile, adoption of every instance) until it resolved. */
  readonly startupMs: number;
  readonly rounds: readonly ReconcileRound[];
  /** wallMs / saltCalls / loopDelayP99Ms: medians over the rounds; loopDelayMaxMs: worst of the rounds. */
  readonly wallMs: number;
  readonly saltCalls: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** idleLoopDelayP99Ms: median over the rounds of the loop delay p99 at rest (no reconcile running), for reference. */
  readonly idleLoopDelayP99Ms: number;
  /** targetMet: wall < 10 s and loop delay p99 < 20 ms. */
  readonly targetMet: boolean;
  readonly machine: MachineLoad;
}

/** ReconcileOptions sizes the run. */
export interface ReconcileOptions {
  readonly shape?: FleetShape;
  readonly rounds?: number;
  /** runningShare: the share of instances running (booted, deployed, ready) in the emulator's world. */
  readonly runningShare?: number;
  readonly callDelays?: CallDelays;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

const r1 = (x: number): number => Math.round(x * 10) / 10;

/** saltCallsSoFar counts the salt-api requests the emulator answered, by function (control and stream requests left out). */
async function saltCallsSoFar(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/_emulator/calls`);
  const calls: unknown = await res.json();
  const out = new Map<string, number>();
  if (!Array.isArray(calls)) return out;
  for (const c of calls as { path?: string; fun?: string }[]) {
    if (c.path === undefined || c.path.startsWith('/_emulator') || c.path === '/events' || c.path.startsWith('/ws')) continue;
    const key = c.fun ?? c.path;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

/** benchReconcile runs the engine in-process against an emulator child answering at a real master's speed. */
export async function benchReconcile(opts: ReconcileOptions = {}): Promise<ReconcileBench> {
  const shape = opts.shape ?? DEFAULT_FLEET;
  const roundsWanted = opts.rounds ?? 3;
  const callDelays = opts.callDelays ?? REAL_MASTER_CALL_DELAYS;
  const runningShare = opts.runningShare ?? 0.3;
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'asc-bench-reconcile-'));
  const ids = fleetInstanceIds(shape);
  const runningEvery = Math.max(1, Math.round(1 / runningShare));
  const instances = ids.map((id, i) => ({ id, provider: FLEET_PROVIDER, state: i % runningEvery === 0 ? 'running' as const : 'stopped' as const }));
  const running = instances.filter((i) => i.state === 'running').length;
  const emu = await startEmulatorProcess(dir, { instances, callDelays: { ...callDelays } });
  const config = parseConfig(fleetConfig({ shape, saltUrl: emu.url, storePath: join(dir, 'state.db'), heartbeatInterval: '30s' }), {});
  const { engine, stream, close } = streamingEngine(config, { timeoutMs: 120_000 });
  const rounds: ReconcileRound[] = [];
  let startupMs: number;
  try {
    const t0 = performance.now();
    await engine.start();
    startupMs = performance.now() - t0;
    await waitUntil(() => stream.connected, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // let the startup's evaluations and events settle
    for (let r = 0; r < roundsWanted; r += 1) {
      const before = await saltCallsSoFar(emu.url);
      const idle = monitorEventLoopDelay({ resolution: 10 });
      idle.enable();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      idle.disable();
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const began = performance.now();
      await engine.reconcile('bench');
      const wallMs = performance.now() - began;
      // the correction pass ends the reconcile and the pools' evaluations follow it: let the monitor's timer fire
      // once after them, or the interval they stall is never recorded
      await new Promise((resolve) => setTimeout(resolve, 50));
      loop.disable();
      const after = await saltCallsSoFar(emu.url);
      const calls: Record<string, number> = {};
      for (const [k, n] of after) if (n - (before.get(k) ?? 0) > 0) calls[k] = n - (before.get(k) ?? 0);
      rounds.push({
        wallMs: Math.round(wallMs),
        saltCalls: Object.values(calls).reduce((a, b) => a + b, 0),
        calls,
        loopDelayP99Ms: r1(loop.percentile(99) / 1e6),
        loopDelayMaxMs: r1(loop.max / 1e6),
        idleLoopDelayP99Ms: r1(idle.percentile(99) / 1e6),
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await close();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const wallMs = median(rounds.map((r) => r.wallMs));
  const loopDelayP99Ms = median(rounds.map((r) => r.loopDelayP99Ms));
  return {
    name: 'reconcile',
    pools: shape.pools,
    instances: ids.length,
    running,
    callDelays,
    startupMs: Math.round(startupMs),
    rounds,
    wallMs,
    saltCalls: median(rounds.map((r) => r.saltCalls)),
    loopDelayP99Ms,
    loopDelayMaxMs: Math.max(...rounds.map((r) => r.loopDelayMaxMs)),
    idleLoopDelayP99Ms: median(rounds.map((r) => r.idleLoopDelayP99Ms)),
    targetMet: wallMs < 10_000 && loopDelayP99Ms < 20,
    machine: machineLoad(),
  };
}

/** formatReconcile renders the result as a few lines. */
export function formatReconcile(r: ReconcileBench): string {
  return [
    `reconcile: ${r.instances} instances (${r.running} running) over ${r.pools} pools; emulator call delays ${JSON.stringify(r.callDelays)}`,
    `  startup (store load + first reconcile + adoption): ${r.startupMs} ms`,
    ...r.rounds.map((x, i) => `  round ${i + 1}: ${x.wallMs} ms, ${x.saltCalls} salt-api calls ${JSON.stringify(x.calls)}, loop delay p99 ${x.loopDelayP99Ms} ms, max ${x.loopDelayMaxMs} ms (at rest just before: p99 ${x.idleLoopDelayP99Ms} ms)`),
    `  median: ${r.wallMs} ms, ${r.saltCalls} calls, loop delay p99 ${r.loopDelayP99Ms} ms (worst max ${r.loopDelayMaxMs} ms; at rest ${r.idleLoopDelayP99Ms} ms)`,
    `  machine: ${formatMachine(r.machine)}`,
  ].join('\n');
}

/**
 * benchReconcileChild runs this bench in a process of its own, as `npm run bench` does: the engine's loop is then a
 * service's, not one that also holds what the benches before it left in the heap.
 */
export async function benchReconcileChild(opts: { readonly rounds: number; readonly callDelays?: CallDelays }): Promise<ReconcileBench> {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--rounds', String(opts.rounds), '--json'];
  if (opts.callDelays !== undefined) args.push('--delays', JSON.stringify(opts.callDelays));
  const { stdout } = await execFileAsync(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as ReconcileBench;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, delays: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const result = await benchReconcile({
    ...(values.rounds === undefined ? {} : { rounds: Number(values.rounds) }),
    ...(values.delays === undefined ? {} : { callDelays: JSON.parse(values.delays) as CallDelays }),
  });
  process.stdout.write(values.json === true ? `${JSON.stringify(result)}\n` : `${formatReconcile(result)}\n`);
}
