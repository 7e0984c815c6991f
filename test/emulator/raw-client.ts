/**
 * raw-client: test helpers that talk to the emulator at the byte level (node:net), so tests can see the HTTP
 * chunk boundaries of the SSE stream, a missing terminating chunk, or a connection cut mid-frame.
 */
import net from 'node:net';

/** parseChunked splits an HTTP/1.1 chunked body into chunk payloads; `terminated` is true after `0\r\n\r\n`. */
export function parseChunked(body: Buffer): { chunks: string[]; terminated: boolean; partial: boolean } {
  const chunks: string[] = [];
  let pos = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', pos);
    if (lineEnd < 0) return { chunks, terminated: false, partial: pos < body.length };
    const size = Number.parseInt(body.subarray(pos, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return { chunks, terminated: false, partial: true };
    if (size === 0) return { chunks, terminated: body.length >= lineEnd + 4, partial: false };
    const start = lineEnd + 2;
    if (body.length < start + size + 2) return { chunks, terminated: false, partial: true };
    chunks.push(body.subarray(start, start + size).toString('utf8'));
    pos = start + size + 2;
  }
}

/** RawStream is an open raw HTTP connection: its status, headers and the chunks received so far. */
export interface RawStream {
  readonly status: () => number;
  readonly headers: () => string[];
  readonly body: () => Buffer;
  readonly chunks: () => string[];
  readonly terminated: () => boolean;
  readonly partial: () => boolean;
  readonly closed: () => boolean;
  waitFor(pred: () => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

/**
 * waitUntil polls `pred` every few ms until it holds, failing after `timeoutMs` (a deadline, not a sleep; generous by
 * default, as a loaded CI machine stretches what takes milliseconds here).
 */
export async function waitUntil(pred: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** openRaw sends `request` (a full HTTP request head + body) and collects the answer as it arrives. */
export async function openRaw(url: string, request: string): Promise<RawStream> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let buf = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); });
  socket.on('close', () => { closed = true; });
  socket.on('error', () => { closed = true; });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(request);
  const headEnd = (): number => buf.indexOf('\r\n\r\n');
  const lines = (): string[] => (headEnd() < 0 ? [] : buf.subarray(0, headEnd()).toString('latin1').split('\r\n'));
  const body = (): Buffer => (headEnd() < 0 ? Buffer.alloc(0) : buf.subarray(headEnd() + 4));
  return {
    status: () => Number(lines()[0]?.split(' ')[1] ?? 0),
    headers: () => lines().slice(1),
    body,
    chunks: () => parseChunked(body()).chunks,
    terminated: () => parseChunked(body()).terminated,
    partial: () => parseChunked(body()).partial,
    closed: () => closed,
    waitFor: (pred, timeoutMs) => waitUntil(pred, timeoutMs),
    close: () => { socket.destroy(); },
  };
}

/** openSse opens `GET /events` with the token in `X-Auth-Token`, as the recordings did. */
export function openSse(url: string, token: string): Promise<RawStream> {
  const { host } = new URL(url);
  return openRaw(url, `GET /events HTTP/1.1\r\nHost: ${host}\r\nAccept: text/event-stream\r\nX-Auth-Token: ${token}\r\n\r\n`);
}

/** sseEvents decodes the `tag` / `data` chunk pairs after `retry: 400\n` into `{tag, data}` objects. */
export function sseEvents(chunks: readonly string[]): { tag: string; data: Record<string, unknown> }[] {
  const out: { tag: string; data: Record<string, unknown> }[] = [];
  for (let i = 1; i + 1 < chunks.length; i += 2) {
    const tag = (chunks[i] ?? '').replace(/^tag: /, '').replace(/\n$/, '');
    const json = (chunks[i + 1] ?? '').replace(/^data: /, '');
    try {
      const parsed = JSON.parse(json) as { data: Record<string, unknown> };
      out.push({ tag, data: parsed.data });
    } catch {
      out.push({ tag, data: { __malformed: json } });
    }
  }
  return out;
}

/** login posts the default credentials and returns the session token. */
export async function login(url: string, creds = { username: 'autoscaler', password: 'secret', eauth: 'pam' }): Promise<string> {
  const res = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(creds) });
  const token = res.headers.get('x-auth-token');
  await res.text();
  if (res.status !== 200 || token === null) throw new Error(`login failed: ${res.status}`);
  return token;
}

/** post sends lowstate to `POST /` and returns status and parsed body (text when not JSON). */
export async function post(url: string, token: string, lowstate: unknown): Promise<{ status: number; body: unknown; text: string }> {
  const res = await fetch(`${url}/`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', 'x-auth-token': token }, body: JSON.stringify(lowstate),
  });
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* HTML error page */ }
  return { status: res.status, body, text };
}

/** normalizeTag replaces jids with `J` and the given minion id with `<id>`, to compare tag sequences. */
export function normalizeTag(tag: string, id: string): string {
  return tag.replace(/\d{20}/g, 'J').split(id).join('<id>');
}
