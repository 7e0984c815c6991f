/**
 * log-pretty: `--log-format pretty` — a pino destination, in-process, that turns each JSON log line into one short
 * line for a terminal. Redaction has already happened: pino redacts before it writes to any destination.
 *
 *   pino (redacted JSON line) ──► prettyDestination.write ──► keep? ──► formatLine ──► out (a terminal)
 *
 * `decision` and `instance state` lines get their own compact shape (they are what a person watches); every other
 * line is `time LEVEL component message key=value …`. No dependency: pino-pretty would pull in a dozen packages.
 */
import type { DestinationStream } from 'pino';

/** LogFormat is how log lines are written: `json` (pino's own, the default of `serve`) or `pretty`. */
export type LogFormat = 'json' | 'pretty';

/** LOG_FORMATS lists the accepted `--log-format` values. */
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/** LogRecord is one parsed pino line. */
export type LogRecord = Readonly<Record<string, unknown>>;

const LEVELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'msg', 'service', 'component', 'pid', 'hostname']);

function clock(ms: unknown): string {
  // local time: the terminal's reader compares it with the clock on the wall
  return new Date(typeof ms === 'number' ? ms : Date.now()).toTimeString().slice(0, 8);
}

function text(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'object' && value !== null && 'message' in value) return JSON.stringify(String((value as { message: unknown }).message));
  return JSON.stringify(value) ?? String(value);
}

/** formatLine renders one log record as one line (no newline). */
export function formatLine(record: LogRecord): string {
  const at = clock(record['time']);
  const level = LEVELS[Number(record['level'])] ?? 'LOG';
  const msg = String(record['msg'] ?? '');
  const pool = typeof record['pool'] === 'string' ? record['pool'] : '';
  if (msg === 'decision') {
    const dry = record['dryRun'] === true ? ' (dry run)' : '';
    return `${at}  ${pool}  ${String(record['action'])}${dry}: ${String(record['reason'] ?? '')}`;
  }
  if (msg === 'instance state') {
    return `${at}  ${pool}  ${String(record['minion'])} ${String(record['from'])} -> ${String(record['to'])}: ${String(record['reason'] ?? '')}`;
  }
  const component = typeof record['component'] === 'string' ? ` [${record['component']}]` : '';
  const fields = Object.entries(record).filter(([key]) => !HIDDEN.has(key)).map(([key, value]) => `${key}=${text(value)}`);
  return [`${at}  ${level}${component} ${msg}`, ...fields].join(' ');
}

/** PrettyOptions: where lines go and which records to show (default: all of them). */
export interface PrettyOptions {
  readonly out: { write(chunk: string): unknown };
  readonly keep?: (record: LogRecord) => boolean;
}

/** prettyDestination is a pino destination that writes formatLine() of each record it keeps; a line that is not JSON passes through. */
export function prettyDestination(opts: PrettyOptions): DestinationStream {
  return {
    write(chunk: string): void {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        let record: unknown;
        try {
          record = JSON.parse(line);
        } catch {
          opts.out.write(`${line}\n`);
          continue;
        }
        if (typeof record !== 'object' || record === null) continue;
        const r = record as LogRecord;
        if (opts.keep !== undefined && !opts.keep(r)) continue;
        opts.out.write(`${formatLine(r)}\n`);
      }
    },
  };
}
