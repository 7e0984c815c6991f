/**
 * etcd-proxy: a TCP proxy on loopback that delays every chunk by `delayMs` in each direction (order kept), for
 * "network-slow etcd". The delay can change while connections are open; `blackhole` drops every chunk (a partition
 * that keeps connections open); `close()` drops every connection.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** DelayProxy forwards `url` to a target with a settable delay. */
export interface DelayProxy {
  /** url: `http://127.0.0.1:<port>` to use as an etcd endpoint. */
  readonly url: string;
  delayMs: number;
  /** blackhole: while true, chunks in both directions are dropped. */
  blackhole: boolean;
  close(): Promise<void>;
}

/** startDelayProxy proxies to `targetUrl` (`http://host:port`) with `delayMs` each way. */
export async function startDelayProxy(targetUrl: string, delayMs = 0): Promise<DelayProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  const state = { delayMs, blackhole: false };
  const pipeDelayed = (from: Socket, to: Socket): void => {
    let lastAtMs = 0;
    from.on('data', (chunk: Buffer) => {
      if (state.blackhole) return;
      const atMs = Math.max(lastAtMs, Date.now() + state.delayMs);
      lastAtMs = atMs;
      setTimeout(() => { if (!to.destroyed) to.write(chunk); }, atMs - Date.now());
    });
    from.on('close', () => { setTimeout(() => { to.destroy(); }, Math.max(0, lastAtMs - Date.now())); });
    from.on('error', () => { to.destroy(); });
  };
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    get delayMs() { return state.delayMs; },
    set delayMs(ms: number) { state.delayMs = ms; },
    get blackhole() { return state.blackhole; },
    set blackhole(on: boolean) { state.blackhole = on; },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
