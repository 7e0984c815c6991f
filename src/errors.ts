/**
 * errors: the one error registry of salt-autoscaler.
 *
 * Every failure we raise is an AutoscalerError subclass with a stable `code` (`ASC_ERR_<AREA>_<WHAT>`)
 * and an optional `cause`. Codes are listed in docs/errors.md; test/errors.test.ts keeps both in sync.
 * Retired codes are never reused. Messages never carry secrets.
 */

/** ERROR_CODES lists every code with a one-line meaning (docs/errors.md mirrors this list). */
export const ERROR_CODES = {
  ASC_ERR_CONFIG_INVALID: 'the config file failed validation (each problem printed with its path)',
  ASC_ERR_CONFIG_READ: 'the config file could not be read or is not valid YAML',
  ASC_ERR_SALT_AUTH: 'salt-api refused the credentials or the token (HTTP 401)',
  ASC_ERR_SALT_HTTP: 'salt-api answered with an unexpected HTTP status',
  ASC_ERR_SALT_TIMEOUT: 'a salt-api call did not answer within its timeout, or salt-api answered 504: its own wait for a runner\'s return ran out and the runner goes on in the master (what it did is learnt from Salt later)',
  ASC_ERR_SALT_NETWORK: 'salt-api could not be reached (connection refused, reset, TLS failure)',
  ASC_ERR_SALT_RESPONSE: 'salt-api answered with a body that does not match the expected shape (HTML, truncated JSON)',
  ASC_ERR_SALT_CLIENT_DISABLED: 'salt-api refused a client not enabled in netapi_enable_clients (HTTP 400)',
  ASC_ERR_SALT_RUNNER: 'a runner or execution function raised an error inside Salt (HTTP 500 or error return)',
  ASC_ERR_SALT_STREAM: 'the salt-api event stream failed (closed, refused, malformed handshake)',
  ASC_ERR_STORE_OPEN: 'the SQLite state database could not be opened or is corrupt',
  ASC_ERR_STORE_MIGRATE: 'the SQLite state database has an unknown or newer schema version',
  ASC_ERR_STORE_WRITE: 'a write to the SQLite state database failed (disk full, read-only, I/O error): nothing is sent to salt-api until a probe write succeeds again',
  ASC_ERR_STORE_REPLACED: 'the SQLite state database file was deleted or replaced under the running service: it stops acting and exits 1',
  ASC_ERR_STORE_CORRUPT: 'the SQLite state database failed its integrity check (PRAGMA quick_check) while the service ran: it stops acting and exits 1',
  ASC_ERR_ACTION_FAILED: 'a scaling action (start, create, stop, destroy, drain) failed',
  ASC_ERR_ETCD_UNAVAILABLE: 'no etcd endpoint answered (connection refused or reset, or every member said no leader / unavailable)',
  ASC_ERR_ETCD_TIMEOUT: 'an etcd call did not answer within its timeout on any endpoint (its outcome is unknown)',
  ASC_ERR_ETCD_AUTH: 'etcd refused the user, the password or the auth token, or denied the permission (user/password in ha.etcd)',
  ASC_ERR_ETCD_RESPONSE: 'etcd answered with an unexpected HTTP status or a body that does not match the gateway\'s shape',
  ASC_ERR_ETCD_TLS: 'a TLS file of ha.etcd.tls (caFile, certFile, keyFile) could not be read',
  ASC_ERR_ETCD_NOT_LEADER: 'a write to the shared state in etcd was refused because this process no longer leads (its election key is gone or not its own): nothing is sent',
  ASC_ERR_ENGINE_NOT_RECONCILED: 'a manual scale was not decided because the startup reconcile has not established Salt\'s state yet (answered 503 with Retry-After): deciding on the previous run\'s state could start what is running or hold at a max that is not reached',
  ASC_ERR_LEASE_NOT_HELD: 'an action was not sent because this process does not hold the store lease (standby, or lease lost or expired)',
  ASC_ERR_WEBHOOK_INVALID: 'an Alertmanager webhook payload failed validation',
  ASC_ERR_HTTP_AUTH: 'an HTTP API call carried no or a wrong bearer token, or the token it needs is not configured',
  ASC_ERR_HTTP_INVALID: 'an HTTP API call failed validation (path, query or body)',
  ASC_ERR_HTTP_NOT_FOUND: 'an HTTP API call named an unknown pool or route',
  ASC_ERR_PROMETHEUS_QUERY: 'a PromQL workload query failed or returned an unusable result',
  ASC_ERR_CORE_INVARIANT: 'a broken invariant inside the pure core (a bug, never an expected outcome)',
  ASC_ERR_SIM_TRACE: 'a simulator trace file could not be read or has a malformed header or row',
  ASC_ERR_SIM_ARGS: 'the simulate command got unknown or missing arguments, or an unusable pool config',
  ASC_ERR_SIM_PROMETHEUS: 'simulate --prometheus could not read the demand history: Prometheus unreachable or refusing the query, several series, a negative value, or no sample in the range',
  ASC_ERR_CLI_USAGE: 'a command got an unknown flag, a flag without its value, or missing or extra arguments (exit code 2)',
  ASC_ERR_EMULATOR_OPTIONS: 'the salt-api emulator got invalid options or an invalid world file',
} as const;

/** ErrorCode is one key of ERROR_CODES. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** AutoscalerError is the base of every error salt-autoscaler raises: a stable code, a message, a cause. */
export class AutoscalerError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AutoscalerError';
    this.code = code;
  }
}

/** ConfigError carries every problem found in a config file, each with its dotted path. */
export class ConfigError extends AutoscalerError {
  readonly problems: readonly { path: string; message: string }[];
  constructor(code: 'ASC_ERR_CONFIG_INVALID' | 'ASC_ERR_CONFIG_READ', message: string, problems: readonly { path: string; message: string }[] = [], options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** SaltApiError is a failed salt-api call: which endpoint, the HTTP status (0 = no answer) and a trimmed body. */
export class SaltApiError extends AutoscalerError {
  readonly endpoint: string;
  readonly status: number;
  readonly body: string;
  constructor(
    code: 'ASC_ERR_SALT_AUTH' | 'ASC_ERR_SALT_HTTP' | 'ASC_ERR_SALT_TIMEOUT' | 'ASC_ERR_SALT_NETWORK' | 'ASC_ERR_SALT_RESPONSE' | 'ASC_ERR_SALT_CLIENT_DISABLED' | 'ASC_ERR_SALT_RUNNER' | 'ASC_ERR_SALT_STREAM',
    message: string,
    detail: { endpoint: string; status: number; body?: string },
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'SaltApiError';
    this.endpoint = detail.endpoint;
    this.status = detail.status;
    this.body = trimBody(detail.body ?? '');
  }
}

/**
 * OUTCOME_UNKNOWN_CODES: the codes of a salt-api call that ended without Salt's answer (our timeout, salt-api's 504, a
 * lost connection): Salt may have carried it out, and only a later read of Salt tells.
 */
const OUTCOME_UNKNOWN_CODES: ReadonlySet<string> = new Set<ErrorCode>(['ASC_ERR_SALT_TIMEOUT', 'ASC_ERR_SALT_NETWORK']);

/**
 * outcomeUnknown: a call that failed with `err` may still have been carried out by Salt (OUTCOME_UNKNOWN_CODES); any
 * other failure is Salt's own answer, or happened before the call left. Read by `code`, so an error from any port counts.
 */
export function outcomeUnknown(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && OUTCOME_UNKNOWN_CODES.has(String(err.code));
}

/** trimBody shortens a wire body for an error message or a log line (never logs whole pages). */
export function trimBody(body: string, max = 200): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max)}…(${flat.length} chars)`;
}

/** EtcdError is a failed etcd call: which gateway path, the endpoint tried last, the HTTP status (0 = no answer) and a trimmed body. */
export class EtcdError extends AutoscalerError {
  readonly path: string;
  readonly endpoint: string;
  readonly status: number;
  readonly body: string;
  constructor(
    code: 'ASC_ERR_ETCD_UNAVAILABLE' | 'ASC_ERR_ETCD_TIMEOUT' | 'ASC_ERR_ETCD_AUTH' | 'ASC_ERR_ETCD_RESPONSE' | 'ASC_ERR_ETCD_TLS' | 'ASC_ERR_ETCD_NOT_LEADER',
    message: string,
    detail: { path: string; endpoint: string; status: number; body?: string },
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'EtcdError';
    this.path = detail.path;
    this.endpoint = detail.endpoint;
    this.status = detail.status;
    this.body = trimBody(detail.body ?? '');
  }
}

/**
 * NotReconciledError: a manual scale asked before any reconcile succeeded; `retryAfterMs` is when asking again may
 * find Salt's state established (the HTTP API answers 503 with Retry-After).
 */
export class NotReconciledError extends AutoscalerError {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number) {
    super('ASC_ERR_ENGINE_NOT_RECONCILED', message);
    this.name = 'NotReconciledError';
    this.retryAfterMs = retryAfterMs;
  }
}
