/**
 * warnings: settings that are legal but dangerous. check-config prints them (and still exits 0); serve logs them
 * at warn when it starts. Each says what the setting does and why it is risky.
 */
import { formatDuration, type Config, type ConfigProblem } from './schema.ts';

/** SHORT_PROVISION_TIMEOUT_MS: a provisionTimeout below this fails instances that are only slow to boot and deploy. */
export const SHORT_PROVISION_TIMEOUT_MS = 120_000;

/** isLoopback says whether `host` only takes connections from this machine. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** configWarnings lists the dangerous settings of a valid config, each with its path (pools by name: `pools[prod/type1]`). */
export function configWarnings(config: Config): ConfigProblem[] {
  const warnings: ConfigProblem[] = [];
  if (!config.salt.tlsVerify) {
    warnings.push({ path: 'salt.tlsVerify', message: 'is false: salt-api\'s certificate is not checked, anyone on the path can pose as salt-api (only for a self-signed lab)' });
  }
  if (config.http.webhookToken === undefined && config.http.webhookBasicAuth === undefined && !isLoopback(config.http.host)) {
    warnings.push({ path: 'http.webhookToken', message: `is not set and the service listens on ${config.http.listen}: anyone who reaches it can send scale alerts` });
  }
  for (const pool of config.pools) {
    const path = `pools[${pool.name}]`;
    if (pool.dryRun) warnings.push({ path: `${path}.dryRun`, message: 'is true: the pool decides and logs, but starts and stops nothing' });
    if (pool.provisionTimeoutMs < SHORT_PROVISION_TIMEOUT_MS) {
      warnings.push({
        path: `${path}.provisionTimeout`,
        message: `is ${formatDuration(pool.provisionTimeoutMs)}: an instance not ready by then is failed and stopped; booting and deploying a VM usually takes longer than ${formatDuration(SHORT_PROVISION_TIMEOUT_MS)}`,
      });
    }
  }
  return warnings;
}

/** formatWarnings renders one line per warning: `warning: salt.tlsVerify: is false: ...`. */
export function formatWarnings(warnings: readonly ConfigProblem[]): string {
  return warnings.map((w) => `warning: ${w.path}: ${w.message}`).join('\n');
}
