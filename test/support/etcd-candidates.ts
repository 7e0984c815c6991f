/**
 * etcd-candidates: helpers for the leadership tests: in-process candidates with a quiet logger, candidates in child
 * processes (test/support/etcd-candidate.ts) whose JSON lines can be awaited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EtcdClient } from '../../src/etcd/client.ts';
import { EtcdLeadership } from '../../src/etcd/leadership.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** quietLogger drops every line (the tests assert behaviour, not logs). */
export const quietLogger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

/** Candidate is one in-process EtcdLeadership with its client and the reasons it was told it lost. */
export interface Candidate {
  readonly leadership: EtcdLeadership;
  readonly client: EtcdClient;
  readonly lost: string[];
  close(): Promise<void>;
}

/** candidate builds an in-process EtcdLeadership on `endpoints`. */
export function candidate(endpoints: readonly string[], prefix: string, ttlMs: number, timeoutMs = 2_000): Candidate {
  const client = new EtcdClient({ endpoints, logger: quietLogger, timeoutMs });
  const leadership = new EtcdLeadership({ client, prefix, ttlMs, logger: quietLogger });
  const lost: string[] = [];
  leadership.onLost((why) => { lost.push(why); });
  return {
    leadership, client, lost,
    close: async () => { await leadership.release(); await client.close(); },
  };
}

/** ChildCandidate is an EtcdLeadership in a child process. */
export interface ChildCandidate {
  readonly child: ChildProcess;
  /** lines are the JSON events printed so far. */
  readonly lines: Record<string, unknown>[];
  /** next waits for the first event (from `fromIndex`) named `event`. */
  next(event: string, timeoutMs: number, fromIndex?: number): Promise<Record<string, unknown>>;
  send(line: string): void;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** childCandidate spawns test/support/etcd-candidate.ts (node --import=tsx) and waits until it is ready. */
export async function childCandidate(endpoints: readonly string[], prefix: string, ttlMs: number): Promise<ChildCandidate> {
  const child = spawn(process.execPath, ['--import=tsx', 'test/support/etcd-candidate.ts'], {
    cwd: ROOT,
    env: { ...process.env, ETCD_ENDPOINTS: endpoints.join(','), ETCD_PREFIX: prefix, ETCD_TTL_MS: String(ttlMs) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
  });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = async (event: string, timeoutMs: number, fromIndex = 0): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = lines.slice(fromIndex).find((l) => l['event'] === event);
      if (found !== undefined) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`child candidate did not say ${event} within ${timeoutMs} ms (said ${JSON.stringify(lines)}; stderr ${err.slice(-500)})`);
  };
  await next('ready', 20_000);
  return {
    child, lines, next,
    send: (line) => { child.stdin?.write(`${line}\n`); },
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill(signal);
      await exited;
    },
  };
}
