/**
 * ha-cluster: the service-level HA rig. A real 3-member etcd, the salt-api emulator as Salt, and N `serve` child
 * processes (each with its own state file, HTTP port and salt-api recorder), all on one etcd prefix.
 *
 *   etcd m0 m1 m2 <--(optional delay proxies)-- serve #0 .. #N-1 --recorder #i--> emulator (one Salt world)
 *                                                   ^ webhook (the same notification to every process, as
 *                                                     Alertmanager does with one receiver per autoscaler)
 *
 * What the tests read: GET /api/leader and /metrics of each process, the recorders (who sent which call, when),
 * the emulator's answered calls (countStarts) and bus events (stops), the processes' logs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_USER, startEmulator, type Emulator } from '../../src/emulator/index.ts';
import { notification, scaleAlert } from '../faults/scenario.ts';
import { startEtcdCluster, waitFor, type EtcdCluster } from './etcd-cluster.ts';
import { startDelayProxy, type DelayProxy } from './etcd-proxy.ts';
import { startSaltRecorder, type SaltRecorder } from './ha-salt-recorder.ts';
import { freePort, spawnServiceProcess, writeConfig, type SpawnedService, HEARTBEAT_TIMEOUT } from './service-process.ts';

/** LEASE_TTL_MS is the services' `ha.etcd.leaseTtl` in the HA tests. */
export const LEASE_TTL_MS = 3_000;
/** HA_POOL is the one pool of the rig (env `f`, type `t1`: the fault scenarios' alert shapes). */
export const HA_POOL = 'f/t1';

/** LeaderJson is the body of GET /api/leader. */
export interface LeaderJson {
  readonly leader?: string | null;
  readonly self: string;
  readonly isLeader: boolean;
  readonly since?: string | null;
  readonly leaseRemainingMs?: number | null;
}

/** HaService is one `serve` process of the rig (restartable on the same config). */
export interface HaService {
  readonly index: number;
  readonly url: string;
  readonly recorder: SaltRecorder;
  /** proc: the running process, undefined after kill(). */
  readonly proc: SpawnedService | undefined;
  /** output: every log line of every incarnation so far. */
  output(): string;
  /** leader: GET /api/leader (undefined when it does not answer within 500 ms). */
  leader(): Promise<LeaderJson | undefined>;
  /** metric: the value of one unlabelled metric from /metrics (undefined when it does not answer). */
  metric(name: string): Promise<number | undefined>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  freeze(): void;
  thaw(): void;
  restart(): Promise<void>;
}

/** HaRigOptions shape a rig. */
export interface HaRigOptions {
  readonly services?: number;
  readonly instances?: number;
  readonly max?: number;
  /** running: instance numbers already running and ready when the rig starts. */
  readonly running?: readonly number[];
  /** busy: instance numbers whose idle check says busy. */
  readonly busy?: readonly number[];
  /** etcdProxy: the services reach each member through a delay proxy (rig.proxies). */
  readonly etcdProxy?: boolean;
  /** saltFailover: each process lists its own salt-api first and the others' after it (`salt.url` as a list). */
  readonly saltFailover?: boolean;
  /** delays of the emulated world. */
  readonly delays?: { startMs?: number; bootMs?: number; deployMs?: number; stopMs?: number };
}

/** HaRig is a running rig. */
export interface HaRig {
  readonly etcd: EtcdCluster;
  readonly emu: Emulator;
  readonly ids: readonly string[];
  readonly services: readonly HaService[];
  readonly proxies: readonly DelayProxy[];
  /** setWorkload sends the pool's workload to every running process; frozen ones get it when they wake. */
  setWorkload(workload: number): Promise<void>;
  /** leaders: the /api/leader of every process that answers. */
  leaders(): Promise<{ index: number; view: LeaderJson }[]>;
  /** waitLeader waits until exactly one answering process says isLeader and every answering one names it. */
  waitLeader(timeoutMs?: number, among?: readonly number[]): Promise<HaService>;
  /** readyInWorld counts pool instances running and ready in the emulator. */
  readyInWorld(): number;
  /** waitReady waits until `n` instances are ready in the emulator and none is on its way. */
  waitReady(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

let rigSeq = 0;

/** startHaRig starts etcd, the emulator and the services, and waits until every service answers /healthz. */
export async function startHaRig(opts: HaRigOptions = {}): Promise<HaRig> {
  rigSeq += 1;
  const tag = `h${process.pid % 1000}${rigSeq}`;
  const n = opts.instances ?? 4;
  const ids = Array.from({ length: n }, (_, i) => `gpu-dev-${tag}-${i + 1}`);
  const running = new Set((opts.running ?? []).map((i) => ids[i - 1] ?? ''));
  const etcd = await startEtcdCluster(3);
  const proxies = opts.etcdProxy === true ? await Promise.all(etcd.endpoints.map((e) => startDelayProxy(e))) : [];
  const emu = await startEmulator({
    instances: ids.map((id) => (running.has(id) ? { id, state: 'running' as const } : { id })),
    busy: (opts.busy ?? []).map((i) => ids[i - 1] ?? ''),
    delays: { startMs: 150, bootMs: 250, deployMs: 250, stopMs: 150, ...opts.delays },
  });
  const dir = mkdtempSync(join(tmpdir(), 'asc-ha-'));
  const endpoints = proxies.length > 0 ? proxies.map((p) => p.url) : etcd.endpoints;
  const services: HaService[] = [];
  const count = opts.services ?? 2;
  const recorders: SaltRecorder[] = [];
  for (let i = 0; i < count; i++) recorders.push(await startSaltRecorder(emu.url));
  for (let i = 0; i < count; i++) {
    const recorder = recorders[i];
    if (recorder === undefined) throw new Error('recorder');
    const port = await freePort();
    const saltUrl = opts.saltFailover === true ? [recorder.url, ...recorders.filter((r) => r !== recorder).map((r) => r.url)] : recorder.url;
    const configPath = writeConfig(dir, {
      salt: { url: saltUrl, username: DEFAULT_USER.username, password: DEFAULT_USER.password, eauth: DEFAULT_USER.eauth, heartbeatInterval: '1s', heartbeatTimeout: HEARTBEAT_TIMEOUT, timeout: '5s' },
      store: { path: join(dir, `state-${i}.db`) },
      http: { listen: `127.0.0.1:${port}`, apiToken: 'ha-api-token' },
      engine: { evaluateInterval: '1s', reconcileInterval: '3s', startConfirmWindow: '5s' },
      log: { level: 'debug' },
      ha: { etcd: { endpoints, prefix: `/asc-${tag}`, leaseTtl: `${LEASE_TTL_MS / 1000}s`, timeout: '1s' } },
      pools: [{
        name: HA_POOL, env: 'f', instanceType: 't1', min: 0, max: opts.max ?? 3, strategy: 'target', perInstance: 1, upThreshold: 1, downThreshold: 0,
        interval: '1s', signalMaxAge: '10m', provisionTimeout: '30s', drainTimeout: '30s', provider: 'emu-cloud', reserved: ids,
      }],
    }, `config-${i}.yaml`);
    services.push(haService(i, configPath, port, recorder));
  }
  let alertSeq = 0;
  const rig: HaRig = {
    etcd, emu, ids, services, proxies,
    async setWorkload(workload) {
      alertSeq += 1;
      const startsAt = new Date(Date.UTC(2026, 0, 1, 0, 0, alertSeq)).toISOString();
      const body = JSON.stringify(notification([scaleAlert(workload > 0 ? 'up' : 'down', workload, startsAt)]));
      await Promise.all(services.filter((s) => s.proc !== undefined).map(async (s) => {
        try {
          const res = await fetch(`${s.url}/alertmanager/webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(30_000) });
          await res.arrayBuffer();
        } catch { /* a process killed meanwhile */ }
      }));
    },
    async leaders() {
      const views = await Promise.all(services.map(async (s) => ({ index: s.index, view: await s.leader() })));
      return views.flatMap((v) => (v.view === undefined ? [] : [{ index: v.index, view: v.view }]));
    },
    async waitLeader(timeoutMs = 15_000, among) {
      let found: HaService | undefined;
      await waitFor('exactly one leader, named by every process', async () => {
        const views = (await rig.leaders()).filter((v) => among === undefined || among.includes(v.index));
        const leading = views.filter((v) => v.view.isLeader);
        const first = leading[0];
        if (leading.length !== 1 || first === undefined) return false;
        if (!views.every((v) => v.view.leader === first.view.self)) return false;
        found = services[first.index];
        return true;
      }, timeoutMs, 50);
      if (found === undefined) throw new Error('no leader');
      return found;
    },
    readyInWorld: () => ids.filter((id) => { const v = emu.world.instance(id); return v?.phase === 'ready' && v.state === 'running'; }).length,
    async waitReady(count, timeoutMs = 20_000) {
      await waitFor(`${count} instances ready in the emulator`, () => {
        const views = ids.flatMap((id) => emu.world.instance(id) ?? []);
        return rig.readyInWorld() === count && views.every((v) => v.phase === 'ready' || v.phase === 'stopped');
      }, timeoutMs, 50);
    },
    async close() {
      await Promise.all(services.map(async (s) => { s.thaw(); await s.kill('SIGTERM'); }));
      await Promise.all(services.map((s) => s.recorder.close()));
      await Promise.all(proxies.map((p) => p.close()));
      await emu.close();
      await etcd.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const s of services) await s.restart();
  } catch (err) {
    await rig.close();
    throw err;
  }
  return rig;
}

function haService(index: number, configPath: string, port: number, recorder: SaltRecorder): HaService {
  let proc: SpawnedService | undefined;
  const outputs: string[] = [];
  const url = `http://127.0.0.1:${port}`;
  const get = async (path: string): Promise<Response | undefined> => {
    if (proc === undefined) return undefined;
    try {
      const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(500) });
      return res.ok ? res : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    index, url, recorder,
    get proc() { return proc; },
    output: () => [...outputs, proc?.output() ?? ''].join('\n'),
    async leader() {
      const res = await get('/api/leader');
      return res === undefined ? undefined : (await res.json()) as LeaderJson;
    },
    async metric(name) {
      const res = await get('/metrics');
      if (res === undefined) return undefined;
      const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    },
    async kill(signal = 'SIGKILL') {
      const p = proc;
      if (p === undefined) return;
      proc = undefined;
      await p.kill(signal);
      outputs.push(p.output());
    },
    freeze() { proc?.child.kill('SIGSTOP'); },
    thaw() { proc?.child.kill('SIGCONT'); },
    async restart() {
      if (proc !== undefined) return;
      const p = spawnServiceProcess(configPath, port);
      proc = p;
      try {
        await p.healthy(30_000);
      } catch (err) {
        proc = undefined;
        outputs.push(p.output());
        p.child.kill('SIGKILL');
        throw err;
      }
    },
  };
}
