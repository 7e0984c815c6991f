/**
 * listen: parses the `http.listen` setting (`host:port`, `:port`, `port`, `[v6]:port`) into what
 * `fastify.listen` takes. The default host is loopback: the service is never exposed unless told to.
 */
import { ConfigError } from '../errors.ts';

/** DEFAULT_LISTEN_HOST is used when `http.listen` names only a port. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';

/** ListenAddress is a host and a TCP port (0 = any free port). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** parseListen turns `127.0.0.1:9717`, `:9717`, `9717` or `[::1]:9717` into {host, port}; throws ConfigError otherwise. */
export function parseListen(listen: string): ListenAddress {
  const text = listen.trim();
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:\s[\]]*):)?(\d{1,5})$/.exec(text);
  const port = match?.[2] === undefined ? Number.NaN : Number(match[2]);
  if (match === null || !Number.isInteger(port) || port > 65535) {
    const message = `http.listen must be "host:port", ":port" or "port" with a port 0-65535, got ${JSON.stringify(listen)}`;
    throw new ConfigError('ASC_ERR_CONFIG_INVALID', message, [{ path: 'http.listen', message }]);
  }
  const rawHost = match[1] ?? '';
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  return { host: host === '' ? DEFAULT_LISTEN_HOST : host, port };
}
