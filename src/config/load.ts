/**
 * load: reads the YAML config, validates it with THE schema, resolves secrets from env, freezes it.
 *
 *   file --readFileSync--> text --yaml--> raw --parseConfig--> Config (deep-frozen)
 *     unreadable / YAML syntax error      -> ConfigError ASC_ERR_CONFIG_READ (with line numbers)
 *     any schema or cross-field problem   -> ConfigError ASC_ERR_CONFIG_INVALID with ALL problems
 *
 * Secret precedence: a value written in the file wins; when the file does not set it, the env variable
 * (SALT_AUTOSCALER_SALT_PASSWORD, SALT_AUTOSCALER_WEBHOOK_TOKEN, SALT_AUTOSCALER_API_TOKEN) is used.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import type { PoolSpec, Strategy } from '../core/types.ts';
import { ConfigFileSchema, SECRET_ENV, resolvePools, type Config, type ConfigProblem, type PoolConfig } from './schema.ts';

/** Env is the part of process.env the loader reads (secrets). */
export type Env = Readonly<Record<string, string | undefined>>;

/** formatPath renders a zod path as `pools[1].idleCheck.args[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

function issuesToProblems(issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: formatPath([...issue.path, key]), message: 'unknown key' });
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      problems.push({ path: formatPath(issue.path), message: 'expected a duration like 270s, 5m, 1h, 500ms or a number of seconds' });
    } else {
      problems.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function invalid(problems: readonly ConfigProblem[]): ConfigError {
  return new ConfigError('ASC_ERR_CONFIG_INVALID', `config: ${problems.length} problem(s): ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, problems);
}

/** parseConfig validates an already-parsed document (YAML or JSON), resolves env secrets, returns it frozen; throws ConfigError. */
export function parseConfig(raw: unknown, env: Env = process.env): Config {
  const parsed = ConfigFileSchema.safeParse(raw ?? {});
  if (!parsed.success) throw invalid(issuesToProblems(parsed.error.issues));
  const file = parsed.data;
  const problems: ConfigProblem[] = [];
  const pools = resolvePools(file, problems);
  const password = file.salt.password ?? nonEmpty(env[SECRET_ENV.saltPassword]);
  if (password === undefined) {
    problems.push({ path: 'salt.password', message: `is required: set it in the file or in env ${SECRET_ENV.saltPassword}` });
  }
  if (problems.length > 0 || password === undefined) throw invalid(problems);
  const webhookToken = file.http.webhookToken ?? nonEmpty(env[SECRET_ENV.webhookToken]);
  const apiToken = file.http.apiToken ?? nonEmpty(env[SECRET_ENV.apiToken]);
  const config: Config = {
    salt: { ...file.salt, password },
    store: file.store,
    http: {
      ...file.http,
      ...(webhookToken === undefined ? {} : { webhookToken }),
      ...(apiToken === undefined ? {} : { apiToken }),
    },
    ...(file.prometheus === undefined ? {} : { prometheus: file.prometheus }),
    alerts: file.alerts,
    engine: file.engine,
    log: file.log,
    pools,
  };
  return deepFreeze(config);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** parseConfigText parses YAML text then validates it; YAML syntax errors -> ASC_ERR_CONFIG_READ with line numbers. */
export function parseConfigText(text: string, env: Env = process.env, source = 'config'): Config {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const before = text.slice(0, e.pos[0]);
      const line = before.split('\n').length;
      const col = e.pos[0] - before.lastIndexOf('\n');
      return { path: `line ${line}:${col}`, message: e.message.split('\n')[0] ?? e.code };
    });
    throw new ConfigError('ASC_ERR_CONFIG_READ', `${source}: not valid YAML: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, problems);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    throw new ConfigError('ASC_ERR_CONFIG_READ', `${source}: YAML could not be converted (${(cause as Error).message})`, [{ path: '(yaml)', message: (cause as Error).message }], { cause });
  }
  return parseConfig(raw, env);
}

/** loadConfig reads and validates the YAML config at `path`; throws ConfigError (READ or INVALID) with every problem. */
export function loadConfig(path: string, env: Env = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError('ASC_ERR_CONFIG_READ', `config ${path} could not be read (${reason})`, [{ path: '(file)', message: `${path} could not be read (${reason})` }], { cause });
  }
  return parseConfigText(text, env, path);
}

/** formatProblems renders one line per problem: `config: pools[1].max: must be >= min (0)`. */
export function formatProblems(err: ConfigError): string {
  if (err.problems.length === 0) return `config: ${err.message}`;
  return err.problems.map((p) => `config: ${p.path}: ${p.message}`).join('\n');
}

/** toPoolSpec turns a pool of the config into the core's PoolSpec. */
export function toPoolSpec(pool: PoolConfig): PoolSpec {
  const strategy: Strategy =
    pool.strategy === 'threshold' ? { kind: 'threshold' } : { kind: pool.strategy, perInstance: pool.perInstance };
  return {
    name: pool.name,
    env: pool.env,
    instanceType: pool.instanceType,
    min: pool.min,
    max: pool.max,
    upThreshold: pool.upThreshold,
    downThreshold: pool.downThreshold,
    intervalMs: pool.intervalMs,
    upCooldownMs: pool.upCooldownMs,
    downCooldownMs: pool.downCooldownMs,
    step: pool.step,
    strategy,
    provisionTimeoutMs: pool.provisionTimeoutMs,
    drainTimeoutMs: pool.drainTimeoutMs,
    scaleIn: pool.scaleIn,
    canCreate: pool.profile !== undefined,
    signalMaxAgeMs: pool.signalMaxAgeMs,
    failureBackoffBaseMs: pool.failureBackoff.baseMs,
    failureBackoffMaxMs: pool.failureBackoff.maxMs,
    dryRun: pool.dryRun,
    paused: pool.paused,
  };
}

export type { Config, PoolConfig, ConfigProblem };
