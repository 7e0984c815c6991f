/**
 * http-request: undici's `Agent` and `request`, loaded from the two parts of undici that the service's HTTP calls use,
 * not from undici's package entry.
 *
 * `import … from 'undici'` runs undici's index.js, which also loads fetch, WebSocket, EventSource, the cache and mock
 * agents, and through them Node's own bundled undici (undici's cookies read `globalThis.Headers`), zlib, crypto,
 * worker_threads and fs/promises. `serve` uses none of them, and loading them kept ~8 MiB resident (the node binary's
 * pages of their sources, and their compiled code and objects in the heap: docs/benchmarks.md, memory).
 *
 *   request(url, {dispatcher?, method, headers, body, signal, …}) ──► dispatcher.request({origin, path, …})
 *      (dispatcher: the caller's Agent, else undici's global one, as undici's own `request` does)
 *
 * The types are undici's own (`import type` loads nothing). The paths are those of the pinned undici version
 * (package.json); test/http-request.test.ts runs a request through them against a real server.
 */
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

const load = createRequire(import.meta.url);

/** Agent is undici's Agent (undici/lib/dispatcher/agent.js): a pool of connections per origin. */
export const Agent = load('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;

type ApiRequest = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
const apiRequest = load('undici/lib/api/api-request.js') as ApiRequest;
const { getGlobalDispatcher } = load('undici/lib/global.js') as { getGlobalDispatcher(): Dispatcher };

/** RequestOptions is undici's `request` options: a method is always given, the dispatcher defaults to undici's global one. */
export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & {
  readonly method: Dispatcher.HttpMethod;
  readonly dispatcher?: Dispatcher;
};

/** request sends one HTTP request to `url` through `opts.dispatcher` (else undici's global dispatcher), as undici's `request` does. */
export function request(url: string | URL, opts: RequestOptions): Promise<Dispatcher.ResponseData> {
  const target = typeof url === 'string' ? new URL(url) : url;
  const { dispatcher = getGlobalDispatcher(), ...rest } = opts;
  return apiRequest.call(dispatcher, { ...rest, origin: target.origin, path: `${target.pathname}${target.search}` });
}
