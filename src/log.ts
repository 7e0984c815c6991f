/**
 * log: the pino factory. One root logger; components take `logger.child({component})`.
 * Every secret path is redacted: tokens, passwords, auth headers; every `url` field loses its query values.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { TurnBatchedDestination } from './log-batch.ts';
import { prettyDestination, type LogFormat } from './log-pretty.ts';

/** SECRET_KEYS are the field names that hold a secret wherever they appear in a logged object. */
const SECRET_KEYS = ['password', 'token', 'webhookToken', 'apiToken', 'authorization', 'cookie', '["x-auth-token"]', '["set-cookie"]'];

/**
 * SECRET_HOLDERS are the objects a log line may carry that hold secrets under SECRET_KEYS: an error (pino's `err`
 * serializer keeps its own fields), request and answer headers, and the config blocks with credentials (`salt`,
 * `http` and its basic auth, `etcd`).
 */
const SECRET_HOLDERS = ['', 'err.', 'headers.', 'req.headers.', 'res.headers.', 'err.headers.', 'salt.', 'http.', 'http.webhookBasicAuth.', 'webhookBasicAuth.', 'etcd.', 'ha.etcd.'];

/**
 * REDACT_PATHS are censored in every log line: every SECRET_KEYS field at the top of the logged object and in every
 * SECRET_HOLDERS object. The paths are explicit: a wildcard path (`*.password`, `*.*.password`) makes pino walk every
 * key of every logged object, ~7 us a line, five times the cost of the line itself (docs/benchmarks.md). A new
 * field that carries a secret in a log line gets its path here, and test/log.test.ts checks every path.
 */
export const REDACT_PATHS: readonly string[] = SECRET_HOLDERS.flatMap((holder) =>
  SECRET_KEYS.map((key) => (holder === '' || !key.startsWith('[') ? `${holder}${key}` : `${holder.slice(0, -1)}${key}`)));

/** MAX_LOGGED_URL_CHARS bounds a logged URL (a path can be as long as the HTTP header limit). */
const MAX_LOGGED_URL_CHARS = 512;

/**
 * redactUrl is a URL fit for a log line: every query value replaced by `[redacted]` (a token may travel as
 * `?token=…`), credentials in an absolute URL (`user:password@`) replaced, and the whole cut at 512 characters.
 */
export function redactUrl(url: string): string {
  const noCredentials = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1[redacted]@');
  const q = noCredentials.indexOf('?');
  const path = q < 0 ? noCredentials : noCredentials.slice(0, q);
  const query = q < 0 ? '' : `?${noCredentials.slice(q + 1).split('&').map((part) => {
    const eq = part.indexOf('=');
    return eq < 0 ? part : `${part.slice(0, eq)}=[redacted]`;
  }).join('&')}`;
  const line = path + query;
  return line.length <= MAX_LOGGED_URL_CHARS ? line : `${line.slice(0, MAX_LOGGED_URL_CHARS)}…(${line.length} chars)`;
}

/**
 * createLogger builds the root logger; `destination` lets tests capture the output. `format: 'pretty'` writes short
 * human-readable lines to `destination` (or stdout) instead of JSON. Without a destination the JSON lines go to stdout
 * through pino's own stream, a loop turn's lines together (log-batch.ts).
 */
export function createLogger(opts: { level?: string; destination?: DestinationStream; format?: LogFormat } = {}): Logger {
  const options = {
    level: opts.level ?? process.env['SALT_AUTOSCALER_LOG_LEVEL'] ?? 'info',
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    // a `url` field is logged without its query values or credentials, whoever logs it (request lines, salt-api)
    serializers: { url: (url: unknown) => (typeof url === 'string' ? redactUrl(url) : url) },
    base: { service: 'salt-autoscaler' },
  };
  if (opts.format === 'pretty') return pino(options, prettyDestination({ out: opts.destination ?? process.stdout }));
  if (opts.destination !== undefined) return pino(options, opts.destination);
  // pino's default stream (sonic-boom on fd 1, async writes, flushed at exit), fed once per loop turn
  return pino(options, new TurnBatchedDestination(pino.destination({ dest: 1, sync: false })));
}

export type { Logger };
