/**
 * events-command: `salt-autoscaler events --config FILE` prints every stream item as one JSON line:
 * `{kind, tag, minion?, jid?, ..., data}` (gap lines: `{kind: "gap", tag: "", reason, atMs, data: {}}`).
 * Logs go to stderr so stdout stays one JSON object per line.
 */
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import type { StreamItem } from '../core/salt-event.ts';
import { createLogger, type Logger } from '../log.ts';
import { SaltClient } from './client.ts';
import { SaltEventStream, type Transport } from './event-stream.ts';

/** EventsCommandOptions is the salt part of the config the events command needs (durations in ms). */
export interface EventsCommandOptions {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly eauth: string;
  readonly transport: Transport;
  readonly caFile?: string | undefined;
  readonly tlsVerify: boolean;
  readonly heartbeatIntervalMs: number;
  /** heartbeatTimeoutMs: a heartbeat not back on the stream within this is a gap (default: heartbeatIntervalMs). */
  readonly heartbeatTimeoutMs?: number | undefined;
  readonly timeoutMs: number;
  readonly logger?: Logger | undefined;
}

/** eventLine renders one stream item as the events command's JSON object (key order: kind, tag, ids, rest, data). */
export function eventLine(item: StreamItem): Record<string, unknown> {
  if (item.kind === 'gap') return { kind: 'gap', tag: '', reason: item.reason, atMs: item.atMs, data: {} };
  const { kind, tag, data, ...rest } = item;
  const ids: Record<string, unknown> = {};
  if ('minion' in rest) ids['minion'] = rest.minion;
  if ('jid' in rest) ids['jid'] = rest.jid;
  return { kind, tag, ...ids, ...rest, data };
}

/** runEventsCommand streams salt events to `out` as JSON lines until `signal` aborts; resolves when closed. */
export async function runEventsCommand(config: EventsCommandOptions, out: Writable, signal: AbortSignal): Promise<void> {
  const logger = config.logger ?? createLogger({ destination: process.stderr });
  const client = new SaltClient({
    url: config.url, username: config.username, password: config.password, eauth: config.eauth,
    caFile: config.caFile, tlsVerify: config.tlsVerify, timeoutMs: config.timeoutMs, logger,
  });
  const stream = new SaltEventStream({
    client, transport: config.transport, logger, heartbeatIntervalMs: config.heartbeatIntervalMs,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs, connectTimeoutMs: config.timeoutMs,
  });
  const onAbort = (): void => { void stream.close(); };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const item of stream.items()) {
      if (!out.write(`${JSON.stringify(eventLine(item))}\n`)) await once(out, 'drain', { signal }).catch(() => undefined);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    await stream.close();
    await client.close();
  }
}
