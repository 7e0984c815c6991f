/**
 * serve-command: `salt-autoscaler serve` — run the service until SIGTERM/SIGINT, reload on SIGHUP.
 *
 *   start ──► running ──SIGHUP──► load + validate the file again ──valid──► stop, start with it ──► running
 *                │                                 └──invalid──► print every problem with its path, keep running
 *                ├──SIGTERM / SIGINT──► stop, exit 0
 *                └──store lease lost, state file deleted, replaced or corrupt──► print the code, stop, exit 1
 *
 * A reload is a clean stop and start inside the process (the store lease is released and taken again, the startup
 * reconcile runs); an invalid file never takes a running service down.
 */
import { formatProblems, loadConfig, type Config } from './config/load.ts';
import { ConfigError } from './errors.ts';
import type { Logger } from './log.ts';
import { startService, type Service } from './main.ts';

interface Out { write(chunk: string): unknown }

/**
 * runServe serves `config` (already loaded from `path`) and resolves to the process exit code. `logger` builds the
 * root logger of each start (default: JSON at the config's level).
 */
export async function runServe(path: string, config: Config, err: Out, logger?: (config: Config) => Logger): Promise<number> {
  const start = (c: Config, signal: AbortSignal): Promise<Service | undefined> =>
    startService(c, logger === undefined ? { signal } : { signal, logger: logger(c) });
  // signals are taken before the start: a process on standby for the store lease stops on them too
  const ac = new AbortController();
  const signalled = new Promise<'signal'>((resolve) => {
    const stop = (): void => { ac.abort(); resolve('signal'); };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  let reloads = 0;
  let wake: (() => void) | undefined;
  const onHup = (): void => { reloads += 1; wake?.(); };
  process.on('SIGHUP', onHup);
  try {
    let service: Service | undefined = await start(config, ac.signal);
    while (service !== undefined) {
      const current: Service = service;
      const reload = new Promise<'reload'>((resolve) => {
        wake = () => resolve('reload');
        if (reloads > 0) resolve('reload');
      });
      const why = await Promise.race([signalled, current.lost, reload]);
      if (why !== 'reload') {
        if (why !== 'signal') err.write(`salt-autoscaler: ${why.code}: ${why.message}; exiting\n`);
        await current.stop();
        return why === 'signal' ? 0 : 1;
      }
      reloads = 0;
      let next: Config;
      try {
        next = loadConfig(path);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        err.write(`salt-autoscaler: SIGHUP: ${path} is invalid; still running the previous config\n${formatProblems(e)}\n`);
        continue;
      }
      err.write(`salt-autoscaler: SIGHUP: reloading ${path}\n`);
      await current.stop();
      service = await start(next, ac.signal);
    }
    return 0;
  } finally {
    process.off('SIGHUP', onHup);
  }
}
