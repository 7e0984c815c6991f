/**
 * ha-salt-recorder: an HTTP proxy in front of the salt-api emulator, one per `serve` process, that records every
 * request *when the service sent it* (the emulator records a call when it answers, after any injected delay, and
 * cannot tell two services apart). The HA tests read it to say which process sent which call, and when.
 *
 *   serve #i --HTTP--> recorder #i (record {atMs, method, path, lowstates}) --HTTP--> emulator
 *                                 <------------- answer piped back as it streams (SSE too) ----
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';

/** RecordedCall is one request a service sent to salt-api, stamped on arrival at the recorder. */
export interface RecordedCall {
  readonly atMs: number;
  readonly method: string;
  readonly path: string;
  /** lowstates: the `fun` and `kwarg` of each lowstate chunk of a `POST /` (empty otherwise). */
  readonly lowstates: readonly { readonly fun?: string; readonly kwarg?: unknown; readonly client?: string; readonly tag?: string }[];
}

/** READ_ONLY_FUNS are the salt functions a follower may call (reconcile): they change nothing in Salt. */
export const READ_ONLY_FUNS: ReadonlySet<string> = new Set(['cloud.query', 'cloud.full_query', 'manage.up', 'grains.item', 'grains.items', 'test.ping']);

/** HEARTBEAT_TAG is the event every process's event stream fires to prove it is alive (followers too): not an action. */
export const HEARTBEAT_TAG = 'salt-autoscaler/heartbeat';

/**
 * actingCalls are the recorded lowstates that change something or only the leader makes (start, stop, create, grain
 * writes, events other than the stream heartbeat, idle checks).
 */
export function actingCalls(calls: readonly RecordedCall[]): { atMs: number; fun: string; kwarg: unknown }[] {
  return calls.flatMap((c) => c.lowstates
    .filter((l) => l.fun !== undefined && !READ_ONLY_FUNS.has(l.fun) && !(l.fun === 'event.send' && l.tag === HEARTBEAT_TAG))
    .map((l) => ({ atMs: c.atMs, fun: l.fun ?? '', kwarg: l.kwarg })));
}

/** startsSent lists the instances of every `cloud.action func=start` a service sent. */
export function startsSent(calls: readonly RecordedCall[]): { atMs: number; instance: string }[] {
  return actingCalls(calls).flatMap((c) => {
    if (c.fun !== 'cloud.action' || typeof c.kwarg !== 'object' || c.kwarg === null) return [];
    const k = c.kwarg as { func?: unknown; instances?: unknown };
    if (k.func !== 'start' || !Array.isArray(k.instances)) return [];
    return k.instances.filter((i): i is string => typeof i === 'string').map((instance) => ({ atMs: c.atMs, instance }));
  });
}

/** SaltRecorder is a running recording proxy. */
export interface SaltRecorder {
  readonly url: string;
  readonly calls: readonly RecordedCall[];
  close(): Promise<void>;
}

function lowstatesOf(raw: string): RecordedCall['lowstates'] {
  try {
    const body = JSON.parse(raw) as unknown;
    const list = Array.isArray(body) ? body : [body];
    return list.flatMap((l: unknown) => {
      if (typeof l !== 'object' || l === null) return [];
      const o = l as Record<string, unknown>;
      return [{
        ...(typeof o['fun'] === 'string' ? { fun: o['fun'] } : {}),
        ...(typeof o['client'] === 'string' ? { client: o['client'] } : {}),
        ...(o['kwarg'] === undefined ? {} : { kwarg: o['kwarg'] }),
        ...(typeof o['tag'] === 'string' ? { tag: o['tag'] } : {}),
      }];
    });
  } catch {
    return [];
  }
}

/** startSaltRecorder proxies to `targetUrl` (the emulator) and records what goes through. */
export async function startSaltRecorder(targetUrl: string): Promise<SaltRecorder> {
  const target = new URL(targetUrl);
  const calls: RecordedCall[] = [];
  const open = new Set<IncomingMessage>();
  const server: Server = createServer((req, res) => {
    const atMs = Date.now();
    const chunks: Buffer[] = [];
    open.add(req);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      calls.push({ atMs, method: req.method ?? 'GET', path, lowstates: req.method === 'POST' && path === '/' ? lowstatesOf(raw.toString('utf8')) : [] });
      const upstream = request({
        host: target.hostname, port: Number(target.port), method: req.method, path: req.url,
        headers: { ...req.headers, host: target.host },
      }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => { res.destroy(); });
      res.on('close', () => { open.delete(req); upstream.destroy(); });
      upstream.end(raw);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise<void>((resolve) => {
      for (const r of open) r.socket.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
