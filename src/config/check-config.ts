/**
 * check-config: the `check-config F` command. Prints every problem with its path and returns 2, or a
 * short summary of what the file configures (and a warning per legal but dangerous setting) and returns 0.
 * Nothing secret is printed: tokens and passwords only as "set" / "not set".
 */
import { ConfigError } from '../errors.ts';
import { redactUrl } from '../log.ts';
import { formatProblems, loadConfig, type Env } from './load.ts';
import { formatDuration } from './schema.ts';
import { configWarnings, formatWarnings } from './warnings.ts';

/** Output is where a command writes (process.stdout / process.stderr or a test buffer). */
export interface Output {
  write(text: string): unknown;
}

/** runCheckConfig validates the config at `path`: 0 and a summary on `out` when valid, 2 and every problem on `err` when not. */
export function runCheckConfig(path: string, out: Output, err: Output, env: Env = process.env): number {
  try {
    const config = loadConfig(path, env);
    const lines = [
      `config ${path}: ok`,
      `salt: ${config.salt.urls.map(redactUrl).join(', ')} as ${config.salt.username} (eauth ${config.salt.eauth}, ${config.salt.transport})`,
      `http: ${config.http.listen} (webhook token ${config.http.webhookToken === undefined ? 'not set' : 'set'}, api token ${config.http.apiToken === undefined ? 'not set' : 'set'})`,
      `prometheus: ${config.prometheus === undefined ? 'not configured (alerts only)' : redactUrl(config.prometheus.url)}`,
      `pools: ${config.pools.length}`,
      ...config.pools.map((p) => {
        const sources = [
          p.reserved.length > 0 ? `${p.reserved.length} reserved` : '',
          p.reservedPattern === undefined ? '' : `pattern ${p.reservedPattern}`,
          p.profile === undefined ? '' : `profile ${p.profile}`,
        ].filter((s) => s !== '').join(', ');
        const flags = [p.dryRun ? 'dry-run' : '', p.paused ? 'paused' : ''].filter((s) => s !== '').join(' ');
        return `  ${p.name}: min ${p.min} max ${p.max}, up >= ${p.upThreshold}, down <= ${p.downThreshold}, every ${formatDuration(p.intervalMs)}, ${p.strategy}, ${sources}${flags === '' ? '' : ` [${flags}]`}`;
      }),
    ];
    out.write(`${lines.join('\n')}\n`);
    const warnings = configWarnings(config);
    if (warnings.length > 0) err.write(`${formatWarnings(warnings)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      err.write(`${formatProblems(e)}\n`);
      err.write(`config ${path}: ${e.problems.length || 1} problem(s) (${e.code})\n`);
      return 2;
    }
    throw e;
  }
}
