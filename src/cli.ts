/**
 * cli: `salt-autoscaler <command>` — serve | check-config | events | render-rules | simulate | demo, and the
 * operator's status | pause | resume | scale over the running service's HTTP API.
 * Exit codes: 0 ok, 1 runtime failure, 2 invalid config or usage.
 */
import { parseArgs } from 'node:util';
import { ConfigError, AutoscalerError } from './errors.ts';
import { loadConfig, formatProblems } from './config/load.ts';

const USAGE = `usage: salt-autoscaler <command> [options]

commands:
  serve --config FILE          run the autoscaler (HTTP API, webhook, status page); SIGHUP reloads FILE
  check-config FILE            validate a config file; prints every problem with its path (exit 2)
  events --config FILE         print every salt event as one JSON line (like salt-run state.event)
  render-rules --config FILE   print the Prometheus rule file generated from the pools
  simulate --trace FILE [--config FILE] [--json] [--svg FILE]
                               replay a demand trace through the policies, with the oracle
  demo [--port N]              run the service against the salt-api emulator with a synthetic queue
  status --config FILE [--json] [--limit N] [--url URL]
                               pools, running instances and the last decisions of the running service
  pause POOL --config FILE     hold a pool (persisted); resume POOL undoes it
  resume POOL --config FILE
  scale POOL DELTA --config FILE
                               scale a pool by DELTA instances (e.g. 2 or -1) through the usual caps
`;

const DEFAULT_CONFIG = '/etc/salt-autoscaler/config.yaml';

function configPath(args: readonly string[]): string {
  const { values, positionals } = parseArgs({ args: [...args], options: { config: { type: 'string', short: 'c' } }, allowPositionals: true, strict: false });
  const v = values['config'];
  return typeof v === 'string' ? v : (positionals[0] ?? DEFAULT_CONFIG);
}

/** configFlag is `--config FILE` only (the ops commands take a pool as their first positional). */
function configFlag(args: readonly string[]): string {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string', short: 'c' } }, allowPositionals: true, strict: false });
  const v = values['config'];
  return typeof v === 'string' ? v : DEFAULT_CONFIG;
}

function reportConfigError(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`${formatProblems(err)}\n`);
    return 2;
  }
  throw err;
}

/** main runs one CLI command and resolves to its exit code (it never exits the process itself). */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        const path = configPath(rest);
        let config;
        try { config = loadConfig(path); } catch (err) { return reportConfigError(err); }
        const { runServe } = await import('./serve-command.ts');
        return await runServe(path, config, process.stderr);
      }
      case 'check-config': {
        const { runCheckConfig } = await import('./config/check-config.ts');
        return runCheckConfig(configPath(rest), process.stdout, process.stderr);
      }
      case 'render-rules': {
        const { runRenderRules } = await import('./config/render-rules.ts');
        return runRenderRules(configPath(rest), process.stdout, process.stderr);
      }
      case 'events': {
        let config;
        try { config = loadConfig(configPath(rest)); } catch (err) { return reportConfigError(err); }
        const { runEventsCommand } = await import('./salt/events-command.ts');
        const ac = new AbortController();
        process.once('SIGINT', () => ac.abort());
        process.once('SIGTERM', () => ac.abort());
        await runEventsCommand({
          url: config.salt.url,
          username: config.salt.username,
          password: config.salt.password,
          eauth: config.salt.eauth,
          transport: config.salt.transport,
          caFile: config.salt.caFile,
          tlsVerify: config.salt.tlsVerify,
          heartbeatIntervalMs: config.salt.heartbeatIntervalMs,
          timeoutMs: config.salt.timeoutMs,
        }, process.stdout, ac.signal);
        return 0;
      }
      case 'status':
      case 'pause':
      case 'resume':
      case 'scale': {
        // the ops commands read the address and apiToken only: an operator's shell need not hold the salt password
        // that the service gets from its EnvironmentFile
        const env = { ...process.env, SALT_AUTOSCALER_SALT_PASSWORD: process.env['SALT_AUTOSCALER_SALT_PASSWORD'] ?? 'unused-by-ops-commands' };
        let config;
        try { config = loadConfig(configFlag(rest), env); } catch (err) { return reportConfigError(err); }
        const { runOpsCommand } = await import('./ops-command.ts');
        return await runOpsCommand(command, rest, config, process.stdout, process.stderr);
      }
      case 'simulate': {
        const { runSimulateCommand } = await import('./sim/command.ts');
        return await runSimulateCommand(rest, process.stdout);
      }
      case 'demo': {
        const { runDemo } = await import('./demo.ts');
        return await runDemo(rest);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`salt-autoscaler: unknown command '${command}'\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) return reportConfigError(err);
    const code = err instanceof AutoscalerError ? ` [${err.code}]` : '';
    process.stderr.write(`salt-autoscaler ${command ?? ''}: ${err instanceof Error ? err.message : String(err)}${code}\n`);
    return 1;
  }
}
