/**
 * service-process: runs salt-autoscaler as a real child process (`salt-autoscaler serve` from the sources, see
 * cli-process.ts), for the crash, fault and end-to-end suites. Output is captured so tests can grep the logs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { cliArgs } from './cli-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * ephemeralLow is the first port the kernel hands out as the local port of an outgoing connection
 * (`net.ipv4.ip_local_port_range`; 32768 when it cannot be read).
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > PROBE_FROM + 1000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** PROBE_FROM / PROBE_TRIES: freePort draws its ports from PROBE_FROM up to the ephemeral range, this many at most. */
const PROBE_FROM = 10_000;
const PROBE_TRIES = 64;
/** EPHEMERAL_LOW: read once, when the tests load this module. */
const EPHEMERAL_LOW = ephemeralLow();

/**
 * bindFree binds a loopback listener on `port` (0: one the kernel picks) and closes it again: the port it got, or
 * undefined when that port is taken.
 */
async function bindFree(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => { resolve(undefined); });
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr !== null ? addr.port : undefined;
      srv.close(() => { resolve(bound); });
    });
  });
}

/**
 * freePort returns a loopback port nothing listens on, drawn below the kernel's ephemeral range: a port the kernel
 * picked (`listen(0)`) is in that range, and between this call and the child's own bind (a Salt master binds its
 * ports seconds later, after the source is unpacked) any outgoing connection on the machine may take it as its local
 * port, and the child fails with "Address already in use". Below the range only another explicit bind can take it.
 * After PROBE_TRIES taken ports it takes one the kernel picks.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < PROBE_TRIES; i += 1) {
    const port = await bindFree(PROBE_FROM + Math.floor(Math.random() * (EPHEMERAL_LOW - PROBE_FROM)));
    if (port !== undefined) return port;
  }
  const any = await bindFree(0);
  if (any === undefined) throw new Error('no free loopback port: the kernel could not bind one');
  return any;
}

/**
 * STARTUP_CEILING_MS bounds the wait for a child started through tsx (a spawned service's first answer or first log
 * line, a CLI command's exit): the child loads the TypeScript sources before it prints anything. That took 7.3 s
 * for one service at load 16 on 2 cores, and more than 20 s (the former ceiling) for one of 5 concurrent copies of
 * serve-reload.test.ts at load 17. A ceiling, not a wait: a child that answers returns at once.
 */
export const STARTUP_CEILING_MS = 60_000;

/**
 * HEARTBEAT_TIMEOUT: the `salt.heartbeatTimeout` of the services the tests run as child processes, where a silent stream
 * is not what the test is about. Generous: on a loaded CI machine (load 30 on 2 cores) a heartbeat's round trip
 * (event.send, then the event back on the stream) can take seconds, and a beat missed there is a reconnect, a moment of
 * /readyz 503 (`failed: ['stream']`) and a reconcile the test did not ask for. A test about silence sets its own.
 */
export const HEARTBEAT_TIMEOUT = '10s';

/** ServiceProcess is one running `salt-autoscaler serve`. */
export interface ServiceProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** output is everything the process wrote (stdout + stderr), so far. */
  output(): string;
  /** tail is the last `lines` lines of the output, for a failure message. */
  tail(lines?: number): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** writeConfig writes a config object as YAML into dir and returns its path. */
export function writeConfig(dir: string, config: unknown, name = 'config.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, stringify(config));
  return path;
}

/** SpawnedService is a `serve` child that may not answer yet (a process on standby for the store lease never binds). */
export interface SpawnedService extends ServiceProcess {
  /** healthy waits until /healthz answers (or the process exits, or timeoutMs passes: STARTUP_CEILING_MS by default). */
  healthy(timeoutMs?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

/** spawnServiceProcess spawns the service and returns at once. */
export function spawnServiceProcess(configPath: string, port: number, env: Record<string, string> = {}): SpawnedService {
  const child = spawn(process.execPath, cliArgs(['serve', '--config', configPath]), {
    cwd: ROOT,
    env: { ...process.env, SALT_AUTOSCALER_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    child,
    exited,
    output: () => out,
    tail: (lines = 40) => out.split('\n').slice(-lines - 1).join('\n'),
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    async healthy(timeoutMs = STARTUP_CEILING_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}:\n${out}`);
        try {
          const res = await fetch(`${url}/healthz`);
          if (res.ok) return;
        } catch { /* not listening yet */ }
        if (Date.now() > deadline) throw new Error(`service did not answer /healthz within ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** startServiceProcess spawns the service and waits until /healthz answers. */
export async function startServiceProcess(configPath: string, port: number, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const service = spawnServiceProcess(configPath, port, env);
  try {
    await service.healthy();
  } catch (err) {
    service.child.kill('SIGKILL');
    throw err;
  }
  return service;
}
