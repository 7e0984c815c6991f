/**
 * fixture-server: a tiny real HTTP server (port 0) that answers with recorded salt-api fixture bytes,
 * chosen per request by a handler. Used by the salt adapter tests (not a test file itself).
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/** FIXTURES is the directory of the recorded salt-api wire fixtures. */
export const FIXTURES = fileURLToPath(new URL('../fixtures/salt-api/', import.meta.url));

/** fixture reads one fixture file as text. */
export function fixture(file: string): string {
  return readFileSync(FIXTURES + file, 'utf8');
}

/** Reply is one canned answer. */
export interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** fixtureReply is the recorded status, content type and body of `<name>.headers` / `<name>.body`. */
export function fixtureReply(name: string): Reply {
  const headers = fixture(`${name}.headers`);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? '0');
  const contentType = /^Content-Type: (.*)$/im.exec(headers)?.[1]?.trim() ?? 'application/json';
  return { status, contentType, body: fixture(`${name}.body`) };
}

/** loginReply answers /login with a token of the given lifetime (seconds). */
export function loginReply(token: string, lifetimeS = 43200): Reply {
  const start = 1795849188.16;
  return {
    status: 200, contentType: 'application/json',
    body: JSON.stringify({ return: [{ token, expire: start + lifetimeS, start, user: 'lab', eauth: 'sharedsecret', perms: ['.*'] }] }),
  };
}

/** Seen is one request the server received. */
export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly token: string | undefined;
  readonly body: unknown;
  readonly rawBody: string;
}

/** Handler answers one request: a Reply, or takes over the raw response itself (`'handled'`). */
export type Handler = (seen: Seen, req: IncomingMessage, res: ServerResponse) => Reply | 'handled' | Promise<Reply | 'handled'>;

/** FixtureServer is a started server. */
export interface FixtureServer {
  readonly url: string;
  readonly seen: Seen[];
  readonly server: Server;
  close(): Promise<void>;
}

/** startFixtureServer starts a server on 127.0.0.1:0 that answers with `handler`. */
export async function startFixtureServer(handler: Handler): Promise<FixtureServer> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try { body = rawBody === '' ? undefined : JSON.parse(rawBody); } catch { body = rawBody; }
      const tokenHeader = req.headers['x-auth-token'];
      const s: Seen = { method: req.method ?? '', path: req.url ?? '', token: typeof tokenHeader === 'string' ? tokenHeader : undefined, body, rawBody };
      seen.push(s);
      Promise.resolve(handler(s, req, res)).then((reply) => {
        if (reply === 'handled') return;
        res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': Buffer.byteLength(reply.body) });
        res.end(reply.body);
      }, (err: unknown) => {
        res.writeHead(599);
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    server,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** lowFun is the `fun` of the first lowstate chunk of a `POST /` body. */
export function lowFun(body: unknown): string | undefined {
  const chunk = Array.isArray(body) ? body[0] : body;
  if (typeof chunk !== 'object' || chunk === null) return undefined;
  const fun = (chunk as Record<string, unknown>)['fun'];
  return typeof fun === 'string' ? fun : undefined;
}

/** until waits for a condition, polling, with a deadline (no fixed sleeps). */
export async function until(cond: () => boolean, deadlineMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
