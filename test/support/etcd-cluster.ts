/**
 * etcd-cluster: starts real etcd members (`/usr/bin/etcd`) on loopback free ports in a temp dir, for the etcd adapter
 * tests, and breaks them on demand: kill -9, SIGSTOP / SIGCONT, restart (same data dir, same ports).
 *
 *   startEtcdCluster(3) --spawn 3 members (initial-cluster, fast raft timers)--> wait until every member says healthy
 *   member.kill() / .stop() / .cont() / .restart()                             cluster.close(): kill all, rm the dir
 *
 * Raft runs with a 50 ms heartbeat and a 500 ms election timeout so a lost leader is replaced within a second (the
 * tests measure our leases, not etcd's defaults). `etcdAvailable()` says whether the binary is there: tests skip
 * visibly without it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort } from './service-process.ts';

/** ETCD_BIN is the etcd server binary the tests run (env ETCD_BIN overrides). */
export const ETCD_BIN = process.env['ETCD_BIN'] ?? '/usr/bin/etcd';

/** etcdAvailable is undefined when etcd can run here, else the reason to skip. */
export function etcdAvailable(): string | undefined {
  if (!existsSync(ETCD_BIN)) return `etcd is not installed (${ETCD_BIN} missing; Debian package etcd-server)`;
  const v = spawnSync(ETCD_BIN, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0) return `${ETCD_BIN} --version failed: ${v.stderr.trim()}`;
  return undefined;
}

/** EtcdMember is one running (or stopped) member of a test cluster. */
export interface EtcdMember {
  readonly name: string;
  /** clientUrl: `http://127.0.0.1:<port>`, the gateway and gRPC port. */
  readonly clientUrl: string;
  readonly running: boolean;
  /** output is the member's log so far (stderr), for a failing test's diagnosis. */
  output(): string;
  /** kill sends SIGKILL and waits for the exit. */
  kill(): Promise<void>;
  /** stop freezes the member (SIGSTOP); cont resumes it. */
  stop(): void;
  cont(): void;
  /** restart starts the member again on its data dir and ports (after kill). */
  restart(): Promise<void>;
}

/** EtcdCluster is a set of members sharing one initial cluster. */
export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** endpoints are the members' client URLs. */
  readonly endpoints: readonly string[];
  /** healthy waits until `/health` of each running member answers `{"health":"true"}`. */
  healthy(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

interface MemberSpec {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

/** startEtcdCluster starts `size` members and waits until all are healthy. */
export async function startEtcdCluster(size = 3, opts: { readonly extraArgs?: readonly string[] } = {}): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'asc-etcd-'));
  const specs: MemberSpec[] = [];
  for (let i = 0; i < size; i++) specs.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort() });
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');
  const token = `asc-${process.pid}-${Date.now()}`;
  const members = specs.map((spec) => member(spec, dir, initialCluster, token, opts.extraArgs ?? []));
  await Promise.all(members.map((m) => m.restart()));
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    healthy: async (timeoutMs = 15_000) => {
      await Promise.all(members.filter((m) => m.running).map((m) => waitHealthy(m, timeoutMs)));
    },
    close: async () => {
      await Promise.all(members.map(async (m) => { m.cont(); await m.kill(); }));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.healthy();
  } catch (err) {
    const logs = members.map((m) => `--- ${m.name}\n${m.output().slice(-2000)}`).join('\n');
    await cluster.close();
    throw new Error(`etcd cluster did not become healthy: ${(err as Error).message}\n${logs}`, { cause: err });
  }
  return cluster;
}

function member(spec: MemberSpec, dir: string, initialCluster: string, token: string, extraArgs: readonly string[]): EtcdMember {
  const clientUrl = `http://127.0.0.1:${spec.clientPort}`;
  const peerUrl = `http://127.0.0.1:${spec.peerPort}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';
  let started = false;
  const self: EtcdMember = {
    name: spec.name,
    clientUrl,
    get running() { return child !== undefined; },
    output: () => log,
    kill: async () => {
      if (child === undefined) return;
      child.kill('SIGKILL');
      await exited;
    },
    stop: () => { child?.kill('SIGSTOP'); },
    cont: () => { child?.kill('SIGCONT'); },
    restart: async () => {
      if (child !== undefined) return;
      const args = [
        '--name', spec.name,
        '--data-dir', join(dir, spec.name),
        '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', initialCluster, '--initial-cluster-token', token,
        '--initial-cluster-state', started ? 'existing' : 'new',
        '--heartbeat-interval', '50', '--election-timeout', '500',
        '--log-level', 'warn', '--logger', 'zap',
        ...extraArgs,
      ];
      started = true;
      const c = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin' } });
      c.stderr?.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-20_000); });
      child = c;
      exited = new Promise((resolve) => { c.once('exit', () => { if (child === c) child = undefined; resolve(); }); });
    },
  };
  return self;
}

async function waitHealthy(m: EtcdMember, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await request(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
      const text = await res.body.text();
      if (res.statusCode === 200 && /"health":\s*"true"/.test(text)) return;
      last = `${res.statusCode} ${text}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (!m.running) throw new Error(`${m.name} exited: ${m.output().slice(-500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${m.name} not healthy within ${timeoutMs} ms (last: ${last})`);
}

/** waitFor polls `check` every `everyMs` until it is true, or throws after `timeoutMs` naming `what`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 25): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
