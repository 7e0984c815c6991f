/**
 * log: the pino factory. One root logger; components take `logger.child({component})`.
 * Every secret path is redacted: tokens, passwords, auth headers.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { prettyDestination, type LogFormat } from './log-pretty.ts';

/** REDACT_PATHS are censored in every log line, at any depth we know of. */
export const REDACT_PATHS = [
  'password', '*.password', '*.*.password',
  'token', '*.token', '*.*.token',
  'webhookToken', '*.webhookToken', 'apiToken', '*.apiToken',
  'headers.authorization', '*.headers.authorization', 'headers["x-auth-token"]', '*.headers["x-auth-token"]',
  'req.headers.authorization', 'req.headers["x-auth-token"]', 'req.headers.cookie',
  'authorization', 'cookie', '["x-auth-token"]',
];

/**
 * createLogger builds the root logger; `destination` lets tests capture the output. `format: 'pretty'` writes short
 * human-readable lines to `destination` (or stdout) instead of JSON.
 */
export function createLogger(opts: { level?: string; destination?: DestinationStream; format?: LogFormat } = {}): Logger {
  const options = {
    level: opts.level ?? process.env['SALT_AUTOSCALER_LOG_LEVEL'] ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'salt-autoscaler' },
  };
  if (opts.format === 'pretty') return pino(options, prettyDestination({ out: opts.destination ?? process.stdout }));
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

export type { Logger };
