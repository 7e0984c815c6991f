/**
 * cli: `salt-autoscaler <command>` — serve | check-config | events | render-rules | simulate | demo, and the
 * operator's status | pause | resume | scale over the running service's HTTP API; `--version`, `<command> --help`.
 *
 *   argv ──► --version / --help / no command ──► print, exit 0 (2 without a command)
 *        └─► command spec (commands.ts) ──► one parser (command-line.ts) ──► --help: print, exit 0, read nothing
 *                                                     │                     └─► run the command (lazy import)
 *                                                     └─ UsageError ──► exit 2
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid config.
 */
import { readFileSync } from 'node:fs';
import { commandHelp, parseCommandLine, stringValue, UsageError, type ParsedCommandLine } from './command-line.ts';
import { commandSpec, DEFAULT_CONFIG_PATH, usage } from './commands.ts';
import { ConfigError, AutoscalerError } from './errors.ts';
import { loadConfig, formatProblems, type Config } from './config/load.ts';
import { LOG_FORMATS, type LogFormat } from './log-pretty.ts';

/** version is the package's version, read from its package.json (one level above src/ and dist/). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return String(pkg.version);
}

function reportConfigError(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`${formatProblems(err)}\n`);
    return 2;
  }
  throw err;
}

/** logFormat reads `--log-format` (default `fallback`); throws UsageError on anything else. */
export function logFormat(command: string, parsed: ParsedCommandLine, fallback: LogFormat): LogFormat {
  const value = stringValue(parsed, 'log-format') ?? fallback;
  if (!(LOG_FORMATS as readonly string[]).includes(value)) {
    throw new UsageError(`${command}: --log-format must be ${LOG_FORMATS.join(' or ')}, got '${value}'`);
  }
  return value as LogFormat;
}

/** configOf is `--config FILE`, else the first positional where the command takes one (check-config), else the default. */
function configOf(parsed: ParsedCommandLine): string {
  return stringValue(parsed, 'config') ?? parsed.positionals[0] ?? DEFAULT_CONFIG_PATH;
}

async function run(command: string, parsed: ParsedCommandLine, rest: readonly string[]): Promise<number> {
  switch (command) {
    case 'serve': {
      const format = logFormat(command, parsed, 'json');
      const path = configOf(parsed);
      let config: Config;
      try { config = loadConfig(path); } catch (err) { return reportConfigError(err); }
      const { runServe } = await import('./serve-command.ts');
      const { createLogger } = await import('./log.ts');
      return await runServe(path, config, process.stderr, (c) => createLogger({ level: process.env['SALT_AUTOSCALER_LOG_LEVEL'] ?? c.log.level, format }));
    }
    case 'check-config': {
      const { runCheckConfig } = await import('./config/check-config.ts');
      return runCheckConfig(configOf(parsed), process.stdout, process.stderr);
    }
    case 'render-rules': {
      const { runRenderRules } = await import('./config/render-rules.ts');
      return runRenderRules(configOf(parsed), process.stdout, process.stderr);
    }
    case 'events': {
      const format = logFormat(command, parsed, 'json');
      let config: Config;
      try { config = loadConfig(configOf(parsed)); } catch (err) { return reportConfigError(err); }
      const { runEventsCommand } = await import('./salt-api/events-command.ts');
      const { createLogger } = await import('./log.ts');
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
        logger: createLogger({ level: process.env['SALT_AUTOSCALER_LOG_LEVEL'] ?? config.log.level, destination: process.stderr, format }),
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
      let config: Config;
      try { config = loadConfig(stringValue(parsed, 'config') ?? DEFAULT_CONFIG_PATH, env); } catch (err) { return reportConfigError(err); }
      const { runOpsCommand } = await import('./ops-command.ts');
      return await runOpsCommand(command, rest, config, process.stdout, process.stderr);
    }
    case 'simulate': {
      const { runSimulateCommand } = await import('./simulate-command.ts');
      return await runSimulateCommand(rest, process.stdout);
    }
    case 'demo': {
      const format = logFormat(command, parsed, 'pretty');
      const { runDemo, parseDemoArgs } = await import('./demo.ts');
      return await runDemo({ ...parseDemoArgs(parsed), format });
    }
    default:
      throw new Error(`no runner for command ${command}`);
  }
}

/** main runs one CLI command and resolves to its exit code (it never exits the process itself). */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    const about = command === 'help' && rest[0] !== undefined ? commandSpec(rest[0]) : undefined;
    process.stdout.write(about === undefined ? usage() : commandHelp(about));
    return command === undefined ? 2 : 0;
  }
  const spec = commandSpec(command);
  if (spec === undefined) {
    process.stderr.write(`salt-autoscaler: unknown command '${command}'\n${usage()}`);
    return 2;
  }
  try {
    const parsed = parseCommandLine(spec, rest, command === 'simulate' ? 'ASC_ERR_SIM_ARGS' : 'ASC_ERR_CLI_USAGE');
    if (parsed.help) {
      process.stdout.write(commandHelp(spec));
      return 0;
    }
    return await run(command, parsed, rest);
  } catch (err) {
    if (err instanceof ConfigError) return reportConfigError(err);
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\nrun 'salt-autoscaler ${command} --help' for the flags and an example\n`);
      return 2;
    }
    const code = err instanceof AutoscalerError ? ` [${err.code}]` : '';
    process.stderr.write(`salt-autoscaler ${command}: ${err instanceof Error ? err.message : String(err)}${code}\n`);
    return 1;
  }
}
