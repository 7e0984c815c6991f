/**
 * schema: THE config schema of salt-autoscaler (zod 4, strict objects: unknown keys are errors).
 *
 * The file is validated in two stages:
 *
 *   YAML --ConfigFileSchema--> sections parsed, durations -> ms, pool entries as patches
 *        --resolvePools------> defaults < matrix.pool (per env x instanceType) < pools[] entry of the same name
 *                              -> every pool completed with its defaults and checked (min <= max, ...)
 *
 * Pool fields are patches first because a pool is assembled from up to three places (`defaults`,
 * `matrix.pool`, a `pools` entry); the defaults of a pool field are applied after the merge (POOL_DEFAULTS).
 * Durations accept `270s`, `5m`, `1h30m`, `500ms` or a number of seconds and come out in ms (`intervalMs`).
 */
import { z } from 'zod';

/** DURATION_PATTERN is one or more `<number><unit>` groups, unit one of ms s m h d (`1h30m`, `270s`). */
const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** parseDurationMs turns `270s`, `5m`, `1h30m`, `500ms` or a number of seconds into ms; undefined when unparsable. */
export function parseDurationMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (!DURATION_PATTERN.test(text)) return undefined;
  let totalMs = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) totalMs += Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 1000);
  return Number.isFinite(totalMs) ? Math.round(totalMs) : undefined;
}

/** formatDuration renders ms the way a user would write it (`270s`, `5m`, `1h`, `500ms`). */
export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** MAX_DURATION_MS is the longest duration any field takes: Node timers cannot wait longer (2^31 - 1 ms, ~24.8 days). */
export const MAX_DURATION_MS = 24 * 86_400_000;

/** DurationBounds bounds one duration field; `why` ends the message of a value out of bounds. */
interface DurationBounds {
  readonly minMs?: number;
  readonly maxMs?: number;
  readonly why?: string;
}

/** duration is a duration field: `270s` | `5m` | `1h` | `500ms` | seconds (number) -> ms, within its bounds (at most MAX_DURATION_MS). */
const duration = (bounds: DurationBounds = {}) =>
  z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      const ms = parseDurationMs(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like 270s, 5m, 1h, 500ms or a number of seconds, got ${JSON.stringify(value).slice(0, 40)}` });
        return z.NEVER;
      }
      const why = bounds.why === undefined ? '' : `: ${bounds.why}`;
      if (bounds.minMs !== undefined && ms < bounds.minMs) {
        ctx.addIssue({ code: 'custom', message: `must be at least ${formatDuration(bounds.minMs)}, got ${formatDuration(ms)}${why}` });
        return z.NEVER;
      }
      const maxMs = Math.min(bounds.maxMs ?? MAX_DURATION_MS, MAX_DURATION_MS);
      if (ms > maxMs) {
        const reason = maxMs === MAX_DURATION_MS && bounds.maxMs === undefined ? ': Node timers cannot wait longer (a longer one fires at once)' : why;
        ctx.addIssue({ code: 'custom', message: `must be at most ${formatDuration(maxMs)}, got ${ms > 1e15 ? `${ms.toExponential(2)} ms` : formatDuration(ms)}${reason}` });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ type: 'duration' });

/** MAX_WAIT_BUDGET is the largest waitBudget accepted (a fraction): more waiting than this is not a budget but an outage. */
export const MAX_WAIT_BUDGET = 0.5;

/**
 * waitShare is a share field: `0.25%` (a percentage) or a fraction (`0.0025`) -> fraction, in [0, MAX_WAIT_BUDGET].
 */
const waitShare = () =>
  z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      const text = typeof value === 'number' ? String(value) : value.trim();
      const m = /^(\d+(?:\.\d+)?(?:e-?\d+)?)(%?)$/.exec(text);
      const fraction = m === null ? Number.NaN : Number(m[1]) / (m[2] === '%' ? 100 : 1);
      if (!Number.isFinite(fraction)) {
        ctx.addIssue({ code: 'custom', message: `expected a share like 0.25% or a fraction like 0.0025, got ${JSON.stringify(value).slice(0, 40)}` });
        return z.NEVER;
      }
      if (fraction > MAX_WAIT_BUDGET) {
        ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_WAIT_BUDGET * 100}%, got ${+(fraction * 100).toPrecision(6)}%: a pool whose demand waits more than that is not on a budget (write 0.25% or 0.0025, not 0.25 for a quarter percent)` });
        return z.NEVER;
      }
      return fraction;
    })
    .meta({ type: 'share' });

/** MAX_BODY_LIMIT_BYTES is the largest http.bodyLimit accepted (64 MiB). */
export const MAX_BODY_LIMIT_BYTES = 64 * 1_048_576;

const SIZE_UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1000, kib: 1024, mb: 1_000_000, mib: 1_048_576 };

/** byteSize is a size field: a number of bytes or `512KiB`, `1MiB`, `1MB` -> bytes. */
const byteSize = () =>
  z
    .union([z.number().int().positive(), z.string()])
    .transform((value, ctx) => {
      if (typeof value === 'number') return value;
      const m = /^(\d+)\s*(b|kb|kib|mb|mib)?$/i.exec(value.trim());
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `expected a size like 1MiB, 512KiB or a number of bytes, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      const bytes = Number(m[1]) * (SIZE_UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1);
      if (bytes <= 0) {
        ctx.addIssue({ code: 'custom', message: 'must be > 0 bytes' });
        return z.NEVER;
      }
      return bytes;
    })
    .refine((bytes) => bytes <= MAX_BODY_LIMIT_BYTES, {
      message: `must be at most 64MiB: a body is parsed in one go on the event loop, a larger one stalls every request meanwhile`,
    })
    .meta({ type: 'size' });

const httpUrl = () => z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

/** hasCredentials says whether a URL carries `user:password@` (never accepted: it would be logged and printed). */
function hasCredentials(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return false;
  }
}

/** MIN_TOKEN_CHARS is the shortest bearer token accepted. */
export const MIN_TOKEN_CHARS = 8;

/** tokenProblem says what is wrong with a bearer token (undefined when it can be used). */
export function tokenProblem(token: string): string | undefined {
  if (/\s/.test(token)) return 'must not contain whitespace: a bearer token is one word, this one could never match';
  if (token.length < MIN_TOKEN_CHARS) return `must be at least ${MIN_TOKEN_CHARS} characters, got ${token.length}: a shorter token can be guessed`;
  return undefined;
}

/** bearerToken is a token field (webhookToken, apiToken). */
const bearerToken = () => z.string().superRefine((token, ctx) => {
  const problem = tokenProblem(token);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});
const name = () => z.string().min(1, 'must not be empty');

const saltUrl = () => httpUrl()
  .refine((url) => !hasCredentials(url), 'must not carry credentials (user:password@): set salt.username and salt.password (or env SALT_AUTOSCALER_SALT_PASSWORD)');

/** SaltFieldsSchema is `salt:` as written (SaltSchema renames its durations); its fields are checked one by one for cross-field rules. */
export const SaltFieldsSchema = z
  .strictObject({
    url: z.union([saltUrl(), z.array(saltUrl()).min(1, 'must list at least one salt-api')])
      .describe('salt-api base URL, e.g. https://salt:8000 (no user:password@), or a list (one salt-api per master): the first that answers is used, with back-off and failover'),
    username: name().describe('salt-api user (external_auth entry)'),
    password: z.string().min(1).optional().describe('salt-api password; env SALT_AUTOSCALER_SALT_PASSWORD when absent here'),
    eauth: name().default('pam').describe('eauth backend sent to /login'),
    transport: z.enum(['sse', 'ws']).default('sse').describe('event stream: sse (/events) or ws (/ws)'),
    caFile: z.string().min(1).optional().describe('PEM file with the CA that signed salt-api\'s certificate'),
    tlsVerify: z.boolean().default(true).describe('verify salt-api\'s TLS certificate'),
    heartbeatInterval: duration({ minMs: 1000, maxMs: 3_600_000, why: 'the heartbeat is how a silent event stream is noticed; it cannot be switched off' })
      .prefault('30s').describe('how often a heartbeat event is fired through the stream (1s to 1h)'),
    heartbeatTimeout: duration({ minMs: 100, maxMs: 600_000, why: 'a heartbeat needs time to come back; a stream silent longer goes unnoticed' })
      .prefault('10s').describe('a heartbeat not seen back within this marks the stream dead (100ms to 10m)'),
    timeout: duration({ minMs: 1000, maxMs: 600_000, why: 'a salt-api call needs time to answer (0 fails every call: never ready), and a hung one must not block the loop' })
      .prefault('30s').describe('timeout of one salt-api HTTP call (1s to 10m); a create from a profile waits up to its pool\'s provisionTimeout instead'),
  });

/** SaltSchema is `salt:` — how to reach salt-api (rest_cherrypy). */
export const SaltSchema = SaltFieldsSchema
  .transform(({ url, heartbeatInterval, heartbeatTimeout, timeout, ...rest }) => ({
    ...rest,
    /** url: the first salt-api (the one shown); urls: all of them, in the order they are tried. */
    url: typeof url === 'string' ? url : url[0] ?? '',
    urls: typeof url === 'string' ? [url] : url,
    heartbeatIntervalMs: heartbeatInterval,
    heartbeatTimeoutMs: heartbeatTimeout,
    timeoutMs: timeout,
  }));

/** StoreSchema is `store:` — the SQLite state database. */
export const StoreSchema = z
  .strictObject({
    path: name().default('/var/lib/salt-autoscaler/state.db').describe('SQLite file (instances, intents, decisions); keep it on a local disk'),
    leaseTtl: duration()
      .refine((ms) => ms >= 3_000, { message: 'must be at least 3s (the lease is renewed every third of it)' })
      .prefault('15s')
      .describe('single-writer lease on the state file: a second process on the same file waits (standby) until the holder stops, dies, or misses renewals this long'),
  })
  .transform(({ path, leaseTtl }) => ({ path, leaseTtlMs: leaseTtl }));

/** parseListen splits `host:port` / `[v6]:port`; undefined when malformed. */
export function parseListen(listen: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(listen);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

/** HttpSchema is `http:` — the service's own HTTP server (webhook, API, metrics). */
export const HttpSchema = z
  .strictObject({
    listen: z
      .string()
      .refine((v) => parseListen(v) !== undefined, 'expected host:port, e.g. 127.0.0.1:9717 or [::1]:9717')
      .default('127.0.0.1:9717')
      .describe('address the HTTP server listens on'),
    webhookToken: bearerToken().optional().describe('bearer token required on POST /alertmanager/webhook when set (8+ characters, no whitespace); env SALT_AUTOSCALER_WEBHOOK_TOKEN'),
    apiToken: bearerToken().optional().describe('bearer token required on POST /api/* (8+ characters, no whitespace); env SALT_AUTOSCALER_API_TOKEN'),
    webhookBasicAuth: z
      .strictObject({
        username: name().describe('basic auth user'),
        password: z.string().min(1).describe('basic auth password'),
      })
      .optional()
      .describe('basic auth required on the webhook when set (Alertmanager http_config.basic_auth)'),
    bodyLimit: byteSize().prefault('1MiB').describe('largest accepted request body (bytes, or 512KiB / 1MiB; at most 64MiB)'),
  })
  .transform(({ bodyLimit, listen, ...rest }) => {
    const { host, port } = parseListen(listen) ?? { host: '127.0.0.1', port: 9717 };
    return { ...rest, listen, host, port, bodyLimitBytes: bodyLimit };
  });

/** PrometheusSchema is `prometheus:` — the optional PromQL workload source. */
export const PrometheusSchema = z
  .strictObject({
    url: httpUrl().describe('Prometheus base URL, e.g. http://127.0.0.1:9090'),
    timeout: duration({ minMs: 100, maxMs: 600_000, why: 'a query needs time to answer, and a hung one must not hold the signal' }).prefault('10s').describe('timeout of one query (100ms to 10m)'),
  })
  .transform(({ timeout, ...rest }) => ({ ...rest, timeoutMs: timeout }));

/** AlertsSchema is `alerts:` — the alert contract with Alertmanager (names, labels, annotation). */
export const AlertsSchema = z.strictObject({
  scaleUpAlert: name().default('SaltAutoscalerScaleUp').describe('alertname that asks a pool to scale up'),
  scaleDownAlert: name().default('SaltAutoscalerScaleDown').describe('alertname that asks a pool to scale down'),
  envLabel: name().default('env').describe('label carrying the pool\'s env'),
  instanceTypeLabel: name().default('instance_type').describe('label carrying the pool\'s instance type'),
  poolLabel: name().default('pool').describe('label naming the pool directly (wins over env + instance type when present)'),
  workloadAnnotation: name().default('workload').describe('annotation (or label) carrying the workload value'),
});

/** EngineFieldsSchema is `engine:` as written (EngineSchema renames its durations). */
export const EngineFieldsSchema = z
  .strictObject({
    reconcileInterval: duration({ minMs: 1000, maxMs: 86_400_000, why: 'each reconcile makes several salt-api calls (cloud.query, manage.up, grains): shorter floods the master, longer leaves drift uncorrected' })
      .prefault('5m').describe('full reconcile with Salt at least this often (1s to 24h)'),
    evaluateInterval: duration({ minMs: 100, maxMs: 3_600_000, why: 'each evaluation reads every pool and may run idle checks on minions' })
      .prefault('15s').describe('each pool is evaluated at least this often (100ms to 1h)'),
    startConfirmWindow: duration().prefault('60s').describe('a start whose call timed out, or was cut by a crash, may still show up in Salt this long before the instance goes back to the reserve (at least salt.timeout)'),
  });

/** EngineSchema is `engine:` — loop timing. */
export const EngineSchema = EngineFieldsSchema
  .transform(({ reconcileInterval, evaluateInterval, startConfirmWindow }) => ({
    reconcileIntervalMs: reconcileInterval, evaluateIntervalMs: evaluateInterval, startConfirmWindowMs: startConfirmWindow,
  }));

/** LogSchema is `log:`. */
export const LogSchema = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('pino log level'),
});

/** IdleCheckSchema is a pool's `idleCheck:` — the execution function run on a minion before stopping it. */
export const IdleCheckSchema = z.strictObject({
  fun: name().optional().meta({ description: 'execution module function; retcode/return 0 (or true) = idle', default: 'cmd.retcode' }),
  args: z.array(z.unknown()).optional().meta({ description: 'positional arguments (default [] when fun is set)', default: '[\'/usr/local/bin/training-idle\']' }),
});

/**
 * POOL_DEFAULTS are the values of pool fields absent after the merge (durations in ms). `name` defaults to
 * `<env>/<instanceType>`, `upCooldown` / `downCooldown` to `interval`, `signalMaxAge` to 3 x `interval`.
 */
export const POOL_DEFAULTS = {
  min: 0,
  upThreshold: 1,
  downThreshold: 0,
  intervalMs: 270_000,
  step: 1,
  strategy: 'budget',
  perInstance: 1,
  waitBudget: 0.0025,
  waitWindowMs: 7 * 86_400_000,
  waitWindowStrict: false,
  reserved: [] as readonly string[],
  idleCheck: { fun: 'cmd.retcode', args: ['/usr/local/bin/training-idle'] as readonly unknown[] },
  provisionTimeoutMs: 900_000,
  drainTimeoutMs: 600_000,
  scaleIn: 'stop',
  failureBackoff: { baseMs: 60_000, maxMs: 1_800_000 },
  dryRun: false,
  paused: false,
} as const;

const show = (value: unknown): string => JSON.stringify(value);

/** PoolPatchSchema is one pool entry as written (all fields optional: `defaults`, `matrix.pool`, `pools[]`). */
export const PoolPatchSchema = z.strictObject({
  name: name().optional().describe('pool name; default `<env>/<instanceType>`'),
  env: name().optional().describe('env label value of the pool (required)'),
  instanceType: name().optional().describe('instance type label value of the pool (required)'),
  min: z.number().int().nonnegative().optional().meta({ description: 'fewest instances (ready + in flight) kept', default: show(POOL_DEFAULTS.min) }),
  max: z.number().int().nonnegative().optional().describe('most instances (ready + in flight), counting in-flight ones (required)'),
  upThreshold: z.number().refine(Number.isFinite, 'must be finite').optional().meta({ description: 'workload >= this scales up (workload units)', default: show(POOL_DEFAULTS.upThreshold) }),
  downThreshold: z.number().refine(Number.isFinite, 'must be finite').optional().meta({ description: 'workload <= this scales down; must be < upThreshold', default: show(POOL_DEFAULTS.downThreshold) }),
  interval: duration().optional().meta({ description: 'time between two scaling actions of the pool', default: '270s' }),
  upCooldown: duration().optional().meta({ description: 'minimum time after an action before the next scale-up', default: 'interval' }),
  downCooldown: duration().optional().meta({ description: 'minimum time after an action before the next scale-down', default: 'interval' }),
  step: z.number().int().positive().optional().meta({ description: 'instances started or drained per action (threshold strategy)', default: show(POOL_DEFAULTS.step) }),
  strategy: z.enum(['threshold', 'target', 'adaptive', 'budget']).optional().meta({ description: 'budget (spends waitBudget at the lowest cost, pre-warms recurring demand) | threshold (step per action) | target (workload / perInstance) | adaptive (peak of the last 30 min)', default: POOL_DEFAULTS.strategy }),
  perInstance: z.number().positive().refine(Number.isFinite, 'must be finite').optional().meta({ description: 'workload units one instance serves (target, adaptive, budget)', default: show(POOL_DEFAULTS.perInstance) }),
  waitBudget: waitShare().optional().meta({ description: 'share of the pool\'s demand (workload-unit minutes) that may wait for a ready instance, over waitWindow: `0.25%` or a fraction `0.0025`; 0 = never wait (headroom to the recent peak); at most 50% (budget strategy)', default: '0.25%' }),
  waitWindow: duration({ minMs: 3_600_000, maxMs: MAX_DURATION_MS, why: 'the waiting share is measured over this window: shorter than an hour is noise, one bad start spends it all' }).optional().meta({ description: 'rolling window the waiting share is measured over (1h to 24d; budget strategy)', default: '7d' }),
  waitWindowStrict: z.boolean().optional().meta({ description: 'plan so that every rolling waitWindow keeps waitBudget, not only its share on average: the aim is capped by what the windows ending within the next waitWindow can still spend (more spare capacity after a rise that waited; budget strategy)', default: 'false' }),
  provider: name().optional().describe('salt-cloud provider of the pool\'s instances (required)'),
  reserved: z.array(name()).optional().meta({ description: 'minion ids of reserved (stopped) instances', default: '[]' }),
  reservedPattern: name().optional().describe('glob over salt-cloud instance names, e.g. gpu-{env}-{instanceType}-*'),
  profile: name().optional().describe('salt-cloud profile to create instances from when no reserved one is left'),
  workloadQuery: name().optional().describe('PromQL giving the workload; default sum(queue_length{env=..., instance_type=...})'),
  waitingQuery: name().optional().describe('PromQL giving the work queued for an instance now (workload units), e.g. the scheduler\'s pending GPUs: the budget strategy counts it as waiting, which also sees jobs that fit no single instance\'s free slots; without it, waiting is the workload above READY capacity'),
  idleCheck: IdleCheckSchema.optional().meta({ description: 'idle check run on a minion before it is stopped', default: show(POOL_DEFAULTS.idleCheck) }),
  provisionTimeout: duration().optional().meta({ description: 'an instance not ready within this after start is failed', default: '15m' }),
  drainTimeout: duration().optional().meta({ description: 'a draining instance not idle within this goes back to ready', default: '10m' }),
  scaleIn: z.enum(['stop', 'destroy']).optional().meta({ description: 'how instances leave: stop (keep in reserve) | destroy (needs profile)', default: POOL_DEFAULTS.scaleIn }),
  signalMaxAge: duration().optional().meta({ description: 'a workload older than this is stale (hold)', default: '3 x interval' }),
  failureBackoff: z
    .strictObject({
      base: duration().optional().meta({ description: 'back-off after the first failed instance', default: '1m' }),
      max: duration().optional().meta({ description: 'longest back-off', default: '30m' }),
    })
    .optional()
    .describe('exponential back-off of the pool after instances fail to become ready'),
  dryRun: z.boolean().optional().meta({ description: 'decide and log, act on nothing', default: 'false' }),
  paused: z.boolean().optional().meta({ description: 'start paused (no decisions acted on until resumed)', default: 'false' }),
});

/** PoolPatch is one parsed pool entry before the merge (durations already in ms). */
export type PoolPatch = z.output<typeof PoolPatchSchema>;

/** MatrixSchema is `matrix:` — one pool per env x instanceType from a template. */
export const MatrixSchema = z.strictObject({
  envs: z.array(name()).min(1).describe('envs of the matrix'),
  instanceTypes: z.array(name()).min(1).describe('instance types of the matrix'),
  pool: PoolPatchSchema.prefault({}).describe('pool template; strings may use {env} and {instanceType}'),
});

/** EtcdSchema is `ha.etcd:` — the etcd cluster the autoscaler processes elect their leader on and share state in. */
export const EtcdSchema = z
  .strictObject({
    endpoints: z
      .array(httpUrl().refine((url) => !hasCredentials(url), 'must not carry credentials (user:password@): set ha.etcd.username and ha.etcd.password (or env SALT_AUTOSCALER_ETCD_PASSWORD)'))
      .min(1, 'must list at least one etcd member')
      .describe('etcd members\' client URLs, e.g. [https://etcd1:2379, https://etcd2:2379]; tried in order, failing over'),
    prefix: z.string().regex(/^\/[^\s]*[^/\s]$|^\/$/, 'expected a key prefix starting with / and not ending with /, e.g. /salt-autoscaler').default('/salt-autoscaler')
      .describe('key prefix: one autoscaler cluster per prefix (election under <prefix>/leader/, state under <prefix>/intents/ and <prefix>/pools/)'),
    leaseTtl: duration({ minMs: 2_000, maxMs: 300_000, why: 'the leader renews every third of it; shorter flaps on a slow network, longer leaves a dead leader\'s pools unattended' })
      .refine((ms) => ms % 1000 === 0, { message: 'must be whole seconds: etcd leases count in seconds' })
      .prefault('10s')
      .describe('leader lease: a follower takes over within this of the leader\'s death (2s to 5m, whole seconds)'),
    timeout: duration({ minMs: 100, maxMs: 60_000, why: 'a call to one member must fail over to the next well within the lease' })
      .prefault('2s').describe('timeout of one etcd call on one member (100ms to 1m)'),
    tls: z
      .strictObject({
        caFile: z.string().min(1).optional().describe('PEM file with the CA that signed the members\' certificates'),
        certFile: z.string().min(1).optional().describe('client certificate (PEM) when etcd asks for one (--client-cert-auth)'),
        keyFile: z.string().min(1).optional().describe('private key (PEM) of certFile'),
      })
      .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), { message: 'certFile and keyFile go together', path: ['keyFile'] })
      .optional()
      .describe('TLS towards etcd (https endpoints)'),
    username: name().optional().describe('etcd user (when etcd auth is enabled)'),
    password: z.string().min(1).optional().describe('etcd password; env SALT_AUTOSCALER_ETCD_PASSWORD when absent here'),
  })
  .transform(({ leaseTtl, timeout, ...rest }) => ({ ...rest, leaseTtlMs: leaseTtl, timeoutMs: timeout }));

/** HaSchema is `ha:` — run as a highly available pair (or more); absent = one process, SQLite alone. */
export const HaSchema = z.strictObject({
  etcd: EtcdSchema.describe('leader election, fencing and shared state on etcd (3.4+)'),
});

/** ConfigFileSchema is the whole file as written (before pools are merged and completed). */
export const ConfigFileSchema = z.strictObject({
  salt: SaltSchema.describe('salt-api connection'),
  store: StoreSchema.prefault({}).describe('state database'),
  http: HttpSchema.prefault({}).describe('HTTP server'),
  prometheus: PrometheusSchema.optional().describe('optional PromQL workload source'),
  alerts: AlertsSchema.prefault({}).describe('alert contract with Alertmanager'),
  engine: EngineSchema.prefault({}).describe('loop timing'),
  log: LogSchema.prefault({}).describe('logging'),
  ha: HaSchema.optional().describe('high availability: several processes, one leader elected on etcd (absent: one process, SQLite alone)'),
  defaults: PoolPatchSchema.optional().describe('pool field defaults for every pool'),
  matrix: MatrixSchema.optional().describe('pools generated per env x instanceType'),
  pools: z.array(PoolPatchSchema).optional().describe('pools; an entry named like a matrix pool merges over it'),
});

/** ConfigFile is the parsed file before pool resolution. */
export type ConfigFile = z.output<typeof ConfigFileSchema>;

/** PoolConfig is one complete pool (durations in ms). */
export interface PoolConfig {
  readonly name: string;
  readonly env: string;
  readonly instanceType: string;
  readonly min: number;
  readonly max: number;
  readonly upThreshold: number;
  readonly downThreshold: number;
  readonly intervalMs: number;
  readonly upCooldownMs: number;
  readonly downCooldownMs: number;
  readonly step: number;
  readonly strategy: 'threshold' | 'target' | 'adaptive' | 'budget';
  readonly perInstance: number;
  /** waitBudget: a fraction (0.0025 = 0.25%); waitWindowMs: the window it is measured over. */
  readonly waitBudget: number;
  readonly waitWindowMs: number;
  /** waitWindowStrict: every rolling window keeps the budget (the aim capped by the windows still to close). */
  readonly waitWindowStrict: boolean;
  readonly provider: string;
  readonly reserved: readonly string[];
  readonly reservedPattern?: string;
  readonly profile?: string;
  readonly workloadQuery?: string;
  readonly waitingQuery?: string;
  readonly idleCheck: { readonly fun: string; readonly args: readonly unknown[] };
  readonly provisionTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly scaleIn: 'stop' | 'destroy';
  readonly signalMaxAgeMs: number;
  readonly failureBackoff: { readonly baseMs: number; readonly maxMs: number };
  readonly dryRun: boolean;
  readonly paused: boolean;
}

/** Config is the validated, completed, frozen configuration. Secrets are resolved (file first, then env). */
export interface Config {
  readonly salt: Omit<ConfigFile['salt'], 'password'> & { readonly password: string };
  readonly store: ConfigFile['store'];
  readonly http: ConfigFile['http'];
  readonly prometheus?: ConfigFile['prometheus'];
  readonly alerts: ConfigFile['alerts'];
  readonly engine: ConfigFile['engine'];
  readonly log: ConfigFile['log'];
  /** ha: absent = one process; present = leader election on etcd (password resolved from env when not in the file). */
  readonly ha?: ConfigFile['ha'];
  readonly pools: readonly PoolConfig[];
}

/** ConfigProblem is one validation problem with its dotted path (`pools[1].max`). */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** defaultWorkloadQuery is the workload of a pool without workloadQuery: its queue_length summed over env and type. */
export function defaultWorkloadQuery(pool: Pick<PoolConfig, 'env' | 'instanceType'>): string {
  const q = (s: string) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`;
  return `sum(queue_length{env=${q(pool.env)},instance_type=${q(pool.instanceType)}})`;
}

/** SECRET_ENV maps each secret to the env variable used when the file does not set it. */
export const SECRET_ENV = {
  saltPassword: 'SALT_AUTOSCALER_SALT_PASSWORD',
  webhookToken: 'SALT_AUTOSCALER_WEBHOOK_TOKEN',
  apiToken: 'SALT_AUTOSCALER_API_TOKEN',
  etcdPassword: 'SALT_AUTOSCALER_ETCD_PASSWORD',
} as const;

function substitute(value: unknown, env: string, instanceType: string): unknown {
  if (typeof value === 'string') return value.replaceAll('{env}', env).replaceAll('{instanceType}', instanceType);
  if (Array.isArray(value)) return value.map((v) => substitute(v, env, instanceType));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, env, instanceType)]));
  }
  return value;
}

function merge(base: PoolPatch, over: PoolPatch): PoolPatch {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    if (k === 'failureBackoff' || k === 'idleCheck') out[k] = { ...(out[k] as object | undefined), ...(v as object) };
    else out[k] = v;
  }
  return out as PoolPatch;
}

/**
 * BrokenPaths are the paths of values that failed the schema (dropped before the cross-field checks). A check that
 * reads one is skipped: its problem is already reported, and the default standing in for it would mislead.
 */
export type BrokenPaths = ReadonlySet<string>;

/** brokenUnder says whether `path` or anything under it failed the schema. */
export function brokenUnder(broken: BrokenPaths, path: string): boolean {
  if (broken.has(path)) return true;
  for (const b of broken) if (b.startsWith(`${path}.`) || b.startsWith(`${path}[`)) return true;
  return false;
}

/** PoolSources are the places a pool is assembled from (`defaults`, `matrix.pool`, `pools[i]`). */
type PoolSources = readonly string[];

/**
 * resolvePools merges defaults, matrix and pools[] into complete pools, reporting every problem with its path.
 * `broken` lists values that failed the schema: checks reading them are skipped.
 */
export function resolvePools(file: Pick<ConfigFile, 'defaults' | 'matrix' | 'pools'>, problems: ConfigProblem[], broken: BrokenPaths = new Set()): PoolConfig[] {
  const defaults = file.defaults ?? {};
  const entries: { patch: PoolPatch; path: string; sources: PoolSources }[] = [];
  const byName = new Map<string, number>();
  if (file.matrix) {
    for (const env of file.matrix.envs) {
      for (const instanceType of file.matrix.instanceTypes) {
        const template = substitute(file.matrix.pool, env, instanceType) as PoolPatch;
        const patch = merge(merge(defaults, template), { env, instanceType });
        const poolName = patch.name ?? `${env}/${instanceType}`;
        if (byName.has(poolName)) {
          problems.push({ path: 'matrix', message: `generates pool ${poolName} twice (duplicate env or instance type, or a name template without {env}/{instanceType})` });
          continue;
        }
        byName.set(poolName, entries.length);
        entries.push({ patch: { ...patch, name: poolName }, path: `matrix[${poolName}]`, sources: ['defaults', 'matrix.pool'] });
      }
    }
  }
  (file.pools ?? []).forEach((entry, i) => {
    const path = `pools[${i}]`;
    if (broken.has(path)) return;
    const guessName = entry.name ?? (entry.env !== undefined && entry.instanceType !== undefined ? `${entry.env}/${entry.instanceType}` : undefined);
    const matrixIndex = guessName === undefined ? undefined : byName.get(guessName);
    const existing = matrixIndex === undefined ? undefined : entries[matrixIndex];
    if (existing && existing.path.startsWith('matrix[')) {
      existing.patch = merge(existing.patch, entry);
      existing.path = path;
      existing.sources = [...existing.sources, path];
      return;
    }
    if (existing) {
      problems.push({ path: `${path}.name`, message: `duplicate pool name ${guessName ?? ''} (also ${existing.path})` });
      return;
    }
    if (guessName !== undefined) byName.set(guessName, entries.length);
    entries.push({ patch: merge(defaults, entry), path, sources: ['defaults', path] });
  });
  if (entries.length === 0 && !brokenUnder(broken, 'pools') && !brokenUnder(broken, 'matrix')) {
    problems.push({ path: 'pools', message: 'at least one pool is required (in pools or matrix)' });
  }
  const pools: PoolConfig[] = [];
  const paths: string[] = [];
  for (const { patch, path, sources } of entries) {
    const ok = (...keys: (keyof PoolPatch)[]): boolean => keys.every((key) => sources.every((source) => !brokenUnder(broken, `${source}.${key}`)));
    const pool = completePool(patch, path, problems, ok);
    if (pool) {
      pools.push(pool);
      paths.push(path);
    }
  }
  crossPoolProblems(pools, paths, problems);
  return pools;
}

/**
 * crossPoolProblems checks what no single pool can: an instance reserved by two pools (the second would never get
 * it), and two pools with the same env and instance type (alerts and workload queries could not tell them apart).
 */
function crossPoolProblems(pools: readonly PoolConfig[], paths: readonly string[], problems: ConfigProblem[]): void {
  const reservedBy = new Map<string, number>();
  const byLabels = new Map<string, number>();
  pools.forEach((pool, i) => {
    const path = paths[i] ?? pool.name;
    for (const id of pool.reserved) {
      const other = reservedBy.get(id);
      if (other === undefined) reservedBy.set(id, i);
      else problems.push({ path: `${path}.reserved`, message: `${id} is also reserved by pool ${pools[other]?.name ?? ''} (${paths[other] ?? ''}): an instance belongs to one pool, the second would never get it` });
    }
    const labels = `${pool.env}\u0000${pool.instanceType}`;
    const other = byLabels.get(labels);
    if (other === undefined) byLabels.set(labels, i);
    else {
      problems.push({
        path: `${path}.instanceType`,
        message: `pool ${pool.name} has the same env (${pool.env}) and instanceType (${pool.instanceType}) as pool ${pools[other]?.name ?? ''} (${paths[other] ?? ''}): alerts and workload queries find a pool by these two, they could not tell them apart`,
      });
    }
  });
}

function completePool(p: PoolPatch, path: string, problems: ConfigProblem[], ok: (...keys: (keyof PoolPatch)[]) => boolean): PoolConfig | undefined {
  const before = problems.length;
  const need = (key: keyof PoolPatch, what: string) => {
    if (p[key] === undefined && ok(key)) problems.push({ path: `${path}.${key}`, message: `is required (${what})` });
  };
  need('env', 'the env label value');
  need('instanceType', 'the instance type label value');
  need('max', 'most instances of the pool');
  need('provider', 'the salt-cloud provider');
  const min = p.min ?? POOL_DEFAULTS.min;
  const upThreshold = p.upThreshold ?? POOL_DEFAULTS.upThreshold;
  const downThreshold = p.downThreshold ?? POOL_DEFAULTS.downThreshold;
  const intervalMs = p.interval ?? POOL_DEFAULTS.intervalMs;
  const scaleIn = p.scaleIn ?? POOL_DEFAULTS.scaleIn;
  const reserved = p.reserved ?? POOL_DEFAULTS.reserved;
  const baseMs = p.failureBackoff?.base ?? POOL_DEFAULTS.failureBackoff.baseMs;
  const maxMs = p.failureBackoff?.max ?? POOL_DEFAULTS.failureBackoff.maxMs;
  if (p.max !== undefined && p.max < min && ok('max', 'min')) problems.push({ path: `${path}.max`, message: `must be >= min (${min})` });
  if (!(downThreshold < upThreshold) && ok('downThreshold', 'upThreshold')) problems.push({ path: `${path}.downThreshold`, message: `must be < upThreshold (${upThreshold})` });
  if (intervalMs <= 0 && ok('interval')) problems.push({ path: `${path}.interval`, message: 'must be > 0' });
  if (reserved.length === 0 && p.reservedPattern === undefined && p.profile === undefined && ok('reserved', 'reservedPattern', 'profile')) {
    problems.push({ path: `${path}.reserved`, message: 'the pool has no instances: set reserved, reservedPattern or profile' });
  }
  if (new Set(reserved).size !== reserved.length) problems.push({ path: `${path}.reserved`, message: 'lists a minion id twice' });
  if (scaleIn === 'destroy' && p.profile === undefined && ok('scaleIn', 'profile')) {
    problems.push({ path: `${path}.scaleIn`, message: 'destroy requires a profile (destroyed instances must be re-creatable)' });
  }
  if (baseMs > maxMs && ok('failureBackoff')) problems.push({ path: `${path}.failureBackoff.base`, message: `must be <= failureBackoff.max (${formatDuration(maxMs)})` });
  if (!ok('env', 'instanceType', 'max', 'provider', 'min', 'upThreshold', 'downThreshold', 'interval', 'reserved', 'reservedPattern', 'profile', 'scaleIn', 'failureBackoff')) return undefined;
  if (problems.length > before || p.env === undefined || p.instanceType === undefined || p.max === undefined || p.provider === undefined) return undefined;
  return {
    name: p.name ?? `${p.env}/${p.instanceType}`,
    env: p.env,
    instanceType: p.instanceType,
    min,
    max: p.max,
    upThreshold,
    downThreshold,
    intervalMs,
    upCooldownMs: p.upCooldown ?? intervalMs,
    downCooldownMs: p.downCooldown ?? intervalMs,
    step: p.step ?? POOL_DEFAULTS.step,
    strategy: p.strategy ?? POOL_DEFAULTS.strategy,
    perInstance: p.perInstance ?? POOL_DEFAULTS.perInstance,
    waitBudget: p.waitBudget ?? POOL_DEFAULTS.waitBudget,
    waitWindowMs: p.waitWindow ?? POOL_DEFAULTS.waitWindowMs,
    waitWindowStrict: p.waitWindowStrict ?? POOL_DEFAULTS.waitWindowStrict,
    provider: p.provider,
    reserved,
    ...(p.reservedPattern === undefined ? {} : { reservedPattern: p.reservedPattern }),
    ...(p.profile === undefined ? {} : { profile: p.profile }),
    ...(p.workloadQuery === undefined ? {} : { workloadQuery: p.workloadQuery }),
    ...(p.waitingQuery === undefined ? {} : { waitingQuery: p.waitingQuery }),
    idleCheck: {
      fun: p.idleCheck?.fun ?? POOL_DEFAULTS.idleCheck.fun,
      args: p.idleCheck?.args ?? (p.idleCheck?.fun === undefined ? POOL_DEFAULTS.idleCheck.args : []),
    },
    provisionTimeoutMs: p.provisionTimeout ?? POOL_DEFAULTS.provisionTimeoutMs,
    drainTimeoutMs: p.drainTimeout ?? POOL_DEFAULTS.drainTimeoutMs,
    scaleIn,
    signalMaxAgeMs: p.signalMaxAge ?? 3 * intervalMs,
    failureBackoff: { baseMs, maxMs },
    dryRun: p.dryRun ?? POOL_DEFAULTS.dryRun,
    paused: p.paused ?? POOL_DEFAULTS.paused,
  };
}
