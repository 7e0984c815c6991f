/**
 * load: reads the YAML config, validates it with THE schema, resolves secrets from env, freezes it.
 *
 *   file --readFileSync--> text --yaml--> raw --parseConfig--> Config (deep-frozen)
 *     unreadable / YAML syntax error      -> ConfigError ASC_ERR_CONFIG_READ (with line numbers)
 *     any schema or cross-field problem   -> ConfigError ASC_ERR_CONFIG_INVALID with ALL problems
 *     (loadConfig) a named file unreadable -> one more problem (salt.caFile)
 *
 * Every problem in one run: the schema's problems, then the cross-field ones. For the cross-field checks the
 * document is salvaged section by section: a value that failed the schema is dropped (recorded as broken), and a
 * check that reads a broken value is skipped (its problem is already reported).
 *
 * Secret precedence: a value written in the file wins; when the file does not set it, the env variable
 * (SALT_AUTOSCALER_SALT_PASSWORD, SALT_AUTOSCALER_WEBHOOK_TOKEN, SALT_AUTOSCALER_API_TOKEN, SALT_AUTOSCALER_ETCD_PASSWORD)
 * is used.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import type { PoolSpec, Strategy } from '../core/types.ts';
import { isRecord } from '../json-object.ts';
import {
  ConfigFileSchema, EngineFieldsSchema, SaltFieldsSchema, SECRET_ENV, formatDuration, resolvePools, tokenProblem,
  type Config, type ConfigFile, type ConfigProblem, type PoolConfig,
} from './schema.ts';

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

/**
 * dropAt removes the value at `path` from `root` (a clone) so the rest can parse: an object key is deleted, an object
 * in an array is emptied (keeping the indexes of the others), anything else takes its container with it. Returns the
 * path dropped, or undefined when that would be `root` itself.
 */
function dropAt(root: unknown, path: readonly PropertyKey[]): readonly PropertyKey[] | undefined {
  if (path.length === 0) return undefined;
  const parentPath = path.slice(0, -1);
  const key = path[path.length - 1] as PropertyKey;
  let parent: unknown = root;
  for (const k of parentPath) parent = isRecord(parent) || Array.isArray(parent) ? (parent as Record<PropertyKey, unknown>)[k] : undefined;
  if (Array.isArray(parent) && typeof key === 'number') {
    const element: unknown = parent[key];
    if (isRecord(element) && Object.keys(element).length > 0) {
      parent[key] = {};
      return path;
    }
    return dropAt(root, parentPath);
  }
  if (isRecord(parent) && Object.hasOwn(parent, key)) {
    delete (parent as Record<PropertyKey, unknown>)[key]; // a zod path key may be a symbol
    return path;
  }
  return dropAt(root, parentPath);
}

/** salvage parses `raw` with `schema`, dropping what fails until the rest parses; `broken` gets the dropped paths under `prefix`. */
function salvage<S extends z.ZodType>(schema: S, raw: unknown, prefix: string, broken: Set<string>): z.output<S> | undefined {
  const value: unknown = raw === undefined ? undefined : structuredClone(raw);
  for (let round = 0; round < 1000; round++) {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) {
      const unknownKeys = issue.code === 'unrecognized_keys';
      for (const path of unknownKeys ? issue.keys.map((k) => [...issue.path, k]) : [issue.path]) {
        const dropped = dropAt(value, path);
        if (dropped === undefined) {
          broken.add(prefix);
          return undefined;
        }
        // an unknown key is reported, but breaks no value a cross-field check could read
        if (!unknownKeys) broken.add(formatPath([prefix, ...dropped]));
      }
    }
  }
  broken.add(prefix);
  return undefined;
}

/** fieldOf parses one field of a section on its own (undefined when absent or invalid: its problem is reported already). */
function fieldOf<S extends z.ZodType>(schema: S, section: unknown, key: string): z.output<S> | undefined {
  const raw = isRecord(section) ? section[key] : undefined;
  const parsed = schema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** ConfigCheck is every problem of a document, and the config when there is none. */
export interface ConfigCheck {
  readonly config?: Config;
  readonly problems: readonly ConfigProblem[];
}

/** crossFieldProblems checks the rules across fields and sections on what of `raw` passed the schema. */
function crossFieldProblems(raw: unknown, env: Env): { problems: ConfigProblem[]; pools: PoolConfig[] } {
  const doc = isRecord(raw) ? raw : {};
  const broken = new Set<string>();
  const shape = ConfigFileSchema.shape;
  const poolFile: Pick<ConfigFile, 'defaults' | 'matrix' | 'pools'> = {
    defaults: salvage(shape.defaults, doc['defaults'], 'defaults', broken),
    matrix: salvage(shape.matrix, doc['matrix'], 'matrix', broken),
    pools: salvage(shape.pools, doc['pools'], 'pools', broken),
  };
  const problems: ConfigProblem[] = [];
  const pools = resolvePools(poolFile, problems, broken);
  const salt = doc['salt'];
  const password = fieldOf(SaltFieldsSchema.shape.password, salt, 'password');
  const passwordWritten = isRecord(salt) && salt['password'] !== undefined;
  if (password === undefined && !passwordWritten && nonEmpty(env[SECRET_ENV.saltPassword]) === undefined) {
    problems.push({ path: 'salt.password', message: `is required: set it in the file or in env ${SECRET_ENV.saltPassword}` });
  }
  const timeoutMs = fieldOf(SaltFieldsSchema.shape.timeout, salt, 'timeout');
  const windowMs = fieldOf(EngineFieldsSchema.shape.startConfirmWindow, doc['engine'], 'startConfirmWindow');
  if (timeoutMs !== undefined && windowMs !== undefined && windowMs < timeoutMs) {
    problems.push({
      path: 'engine.startConfirmWindow',
      message: `must be at least salt.timeout (${formatDuration(timeoutMs)}), got ${formatDuration(windowMs)}: a start call may take that long to reach Salt, a shorter window gives the instance back to the reserve while its start is under way`,
    });
  }
  const etcd = isRecord(doc['ha']) ? doc['ha']['etcd'] : undefined;
  if (isRecord(etcd) && etcd['username'] !== undefined && etcd['password'] === undefined && nonEmpty(env[SECRET_ENV.etcdPassword]) === undefined) {
    problems.push({ path: 'ha.etcd.password', message: `is required with ha.etcd.username: set it in the file or in env ${SECRET_ENV.etcdPassword}` });
  }
  if (isRecord(etcd) && etcd['username'] === undefined && etcd['password'] !== undefined) {
    problems.push({ path: 'ha.etcd.username', message: 'is required with ha.etcd.password: etcd authenticates a user' });
  }
  const http = doc['http'];
  for (const [key, envName] of [['webhookToken', SECRET_ENV.webhookToken], ['apiToken', SECRET_ENV.apiToken]] as const) {
    const fromEnv = nonEmpty(env[envName]);
    const written = isRecord(http) && http[key] !== undefined;
    const problem = written || fromEnv === undefined ? undefined : tokenProblem(fromEnv);
    if (problem !== undefined) problems.push({ path: `http.${key}`, message: `(from env ${envName}) ${problem}` });
  }
  return { problems, pools };
}

/** checkConfig validates an already-parsed document: every schema and cross-field problem, and the frozen config when there is none. */
export function checkConfig(raw: unknown, env: Env = process.env): ConfigCheck {
  const parsed = ConfigFileSchema.safeParse(raw ?? {});
  const cross = crossFieldProblems(raw ?? {}, env);
  const problems = [...(parsed.success ? [] : issuesToProblems(parsed.error.issues)), ...cross.problems];
  if (!parsed.success || problems.length > 0) return { problems };
  const file = parsed.data;
  const password = file.salt.password ?? nonEmpty(env[SECRET_ENV.saltPassword]) ?? '';
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
    ...(file.ha === undefined ? {} : { ha: withEtcdPassword(file.ha, env) }),
    pools: cross.pools,
  };
  return { config: deepFreeze(config), problems: [] };
}

/** withEtcdPassword fills ha.etcd.password from env SALT_AUTOSCALER_ETCD_PASSWORD when the file does not set it. */
function withEtcdPassword(ha: NonNullable<ConfigFile['ha']>, env: Env): NonNullable<ConfigFile['ha']> {
  const password = ha.etcd.password ?? nonEmpty(env[SECRET_ENV.etcdPassword]);
  return password === undefined ? ha : { ...ha, etcd: { ...ha.etcd, password } };
}

/** parseConfig validates an already-parsed document (YAML or JSON), resolves env secrets, returns it frozen; throws ConfigError with every problem. */
export function parseConfig(raw: unknown, env: Env = process.env): Config {
  const { config, problems } = checkConfig(raw, env);
  if (config === undefined) throw invalid(problems);
  return config;
}

/** fileProblems checks that the files the config names can be read (salt.caFile), as serve will read them. */
export function fileProblems(raw: unknown): ConfigProblem[] {
  const caFile = fieldOf(SaltFieldsSchema.shape.caFile, isRecord(raw) ? raw['salt'] : undefined, 'caFile');
  if (caFile === undefined) return [];
  try {
    accessSync(caFile, constants.R_OK);
    if (!statSync(caFile).isFile()) return [{ path: 'salt.caFile', message: `${caFile} is not a file: serve reads the salt-api CA from it` }];
    return [];
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    return [{ path: 'salt.caFile', message: `${caFile} cannot be read (${reason}): serve reads the salt-api CA from it and would fail` }];
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** parseConfigText parses YAML text then validates it; YAML syntax errors -> ASC_ERR_CONFIG_READ with line numbers. */
export function parseConfigText(text: string, env: Env = process.env, source = 'config'): Config {
  return parseConfig(readDocument(text, source), env);
}

/** readDocument parses YAML text into plain data; YAML syntax errors -> ASC_ERR_CONFIG_READ with line numbers. */
function readDocument(text: string, source: string): unknown {
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
  return raw;
}

/**
 * loadConfig reads and validates the YAML config at `path`, and checks that the files it names can be read; throws
 * ConfigError (READ or INVALID) with every problem.
 */
export function loadConfig(path: string, env: Env = process.env, opts: { readonly checkFiles?: boolean } = {}): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError('ASC_ERR_CONFIG_READ', `config ${path} could not be read (${reason})`, [{ path: '(file)', message: `${path} could not be read (${reason})` }], { cause });
  }
  const raw = readDocument(text, path);
  const { config, problems } = checkConfig(raw, env);
  const all = [...problems, ...(opts.checkFiles === false ? [] : fileProblems(raw))];
  if (config === undefined || all.length > 0) throw invalid(all);
  return config;
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
    waitBudget: pool.waitBudget,
    waitWindowMs: pool.waitWindowMs,
    ...(pool.waitWindowStrict ? { waitWindowStrict: true } : {}),
  };
}

export type { Config, PoolConfig, ConfigProblem };
