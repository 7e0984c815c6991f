/**
 * emulator-process: the salt-api emulator as a child process (src/emulator/main.ts), so its own memory (the bus
 * keeps every event it ever published) stays out of the process a bench measures; and a fixed-rate event firer
 * that drives it through its control API (`POST /_emulator/fire-many`, the same bus.publish as `emu.fire`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import type { EmulatorOptions } from '../src/emulator/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** EmulatorProcess is one running emulator child. */
export interface EmulatorProcess {
  readonly url: string;
  readonly child: ChildProcess;
  close(): Promise<void>;
}

/** startEmulatorProcess writes the world file into `dir`, spawns the emulator and waits for its `{url}` line. */
export async function startEmulatorProcess(dir: string, world: EmulatorOptions): Promise<EmulatorProcess> {
  const worldPath = join(dir, 'world.yaml');
  writeFileSync(worldPath, stringify(world));
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/emulator/main.ts'), '--port', '0', '--host', '127.0.0.1', '--world', worldPath], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not start within 30 s: ${err}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) return;
      clearTimeout(timer);
      const parsed: unknown = JSON.parse(line);
      const value = typeof parsed === 'object' && parsed !== null && 'url' in parsed ? parsed.url : undefined;
      if (typeof value === 'string') resolve(value);
      else reject(new Error(`emulator printed no url: ${line}`));
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`emulator exited with ${code}: ${err}`)); });
  });
  return {
    url,
    child,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // a starved machine can leave the child's close hanging: it must not outlive the bench
      const kill = setTimeout(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); }, 5_000);
      await exited;
      clearTimeout(kill);
    },
  };
}

/** BusEventSpec is one event to put on the emulator's bus. */
export interface BusEventSpec {
  readonly tag: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** FireStats says how a fixed-rate firing went. */
export interface FireStats {
  readonly fired: number;
  readonly failed: number;
  /** lateMs: how far the scheduler fell behind its schedule at worst (open loop: it never waits for answers). */
  readonly maxLagMs: number;
}

/**
 * fireAtRate puts `ratePerS` events per second on the bus for `durationMs`, open loop: every 10 ms tick sends
 * what the schedule says is due, without waiting for earlier answers. `next(i)` gives the i-th event. A tick's
 * events go in one `POST /_emulator/fire-many` (published on the bus one by one, in order): one HTTP request per
 * event cost the emulator a third of its CPU, which the service under test shares on a small machine.
 */
export async function fireAtRate(url: string, ratePerS: number, durationMs: number, next: (i: number) => BusEventSpec): Promise<FireStats> {
  const http = new Pool(url, { connections: 8, pipelining: 1 });
  let fired = 0;
  let failed = 0;
  let maxLagMs = 0;
  const inFlight = new Set<Promise<void>>();
  const begin = performance.now();
  const total = Math.round((ratePerS * durationMs) / 1000);
  try {
    while (fired < total) {
      const elapsed = performance.now() - begin;
      const due = Math.min(total, Math.floor((elapsed * ratePerS) / 1000) + 1);
      maxLagMs = Math.max(maxLagMs, elapsed - ((fired * 1000) / ratePerS));
      const batch: BusEventSpec[] = [];
      while (fired < due) {
        batch.push(next(fired));
        fired += 1;
      }
      if (batch.length > 0) {
        const p: Promise<void> = http.request({
          path: '/_emulator/fire-many', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch),
        }).then(async (res) => {
          await res.body.dump();
          if (res.statusCode !== 200) failed += batch.length;
        }, () => { failed += batch.length; }).finally(() => { inFlight.delete(p); });
        inFlight.add(p);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all([...inFlight]);
  } finally {
    await http.close();
  }
  return { fired, failed, maxLagMs: Math.round(maxLagMs) };
}

/**
 * busNoise is a steady-state mix of Salt bus traffic: job new/returns and auth about the fleet's minions, and
 * salt-cloud starts and minion starts of the master's OTHER machines (`other-<n>`, no pool's): a cloud or minion
 * start of a stopped fleet instance is a VM started outside the autoscaler, which the lifecycle follows (it moves
 * the instance on its way), so noise about the fleet itself would move all 10,000 instances within a minute.
 */
export function busNoise(ids: readonly string[]): (i: number) => BusEventSpec {
  return (i) => {
    const fleetId = ids[i % ids.length] ?? 'unknown';
    const id = i % 5 >= 3 ? `other-${i % 1000}` : fleetId;
    const jid = `2026${String(i).padStart(16, '0')}`;
    switch (i % 5) {
      case 0:
        return { tag: `salt/job/${jid}/new`, data: { jid, fun: 'test.ping', minions: [id], arg: [], tgt: id, tgt_type: 'glob', user: 'root' } };
      case 1:
        return { tag: `salt/job/${jid}/ret/${id}`, data: { jid, id, fun: 'test.ping', fun_args: [], return: true, retcode: 0, success: true, cmd: '_return' } };
      case 2:
        return { tag: 'salt/auth', data: { id, act: 'accept', result: true, pub: '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqh...\n-----END PUBLIC KEY-----' } };
      case 3:
        return { tag: `salt/cloud/${id}/starting`, data: { name: id, event: 'starting instance', profile: null, provider: 'emu-cloud:emu' } };
      default:
        return { tag: `salt/minion/${id}/start`, data: { id, cmd: '_minion_event', data: `Minion ${id} started at Sat Nov 28 08:00:00 2026`, pretag: null, tag: `salt/minion/${id}/start` } };
    }
  };
}
