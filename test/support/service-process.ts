/**
 * service-process: runs salt-autoscaler as a real child process (`bin/salt-autoscaler.js serve`), for the crash,
 * fault and end-to-end suites. Output is captured so tests can grep the logs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** freePort asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** ServiceProcess is one running `salt-autoscaler serve`. */
export interface ServiceProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** output is everything the process wrote (stdout + stderr), so far. */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** writeConfig writes a config object as YAML into dir and returns its path. */
export function writeConfig(dir: string, config: unknown, name = 'config.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, stringify(config));
  return path;
}

/** startService spawns the service and waits until /healthz answers. */
export async function startServiceProcess(configPath: string, port: number, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/salt-autoscaler.js'), 'serve', '--config', configPath], {
    cwd: ROOT,
    env: { ...process.env, SALT_AUTOSCALER_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}:\n${out}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`service did not answer /healthz:\n${out}`); }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    child,
    output: () => out,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
