/**
 * http-answerer: a tiny real HTTP server on a loopback port that answers one path with the test's handler (404
 * elsewhere) and keeps the query parameters of every call: for the answers a real server (Prometheus) does not give
 * on demand (error pages, bodies of another shape, silence).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Handler answers one call; `params` are its query parameters. */
export type Handler = (req: IncomingMessage, res: ServerResponse, params: URLSearchParams) => void;

/** answerer starts the server (closed at the test's teardown); `url` is its origin with no trailing slash. */
export async function answerer(t: { teardown(fn: () => unknown): void }, path: string, handler: Handler): Promise<{ url: string; calls: URLSearchParams[] }> {
  const calls: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== path) {
      res.writeHead(404).end('404 page not found\n');
      return;
    }
    calls.push(u.searchParams);
    handler(req, res, u.searchParams);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}
