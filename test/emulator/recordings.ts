/**
 * recordings: replaying a recorded salt-api exchange (test/fixtures/salt-api/<name>.request) against the emulator
 * byte for byte, and comparing its answer with the recorded one (status, header names and values, HTML error
 * pages byte for byte, JSON bodies by shape).
 */
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { openRaw, parseChunked, type RawStream } from './raw-client.ts';

const FIXTURES = new URL('../fixtures/salt-api/', import.meta.url);

/** readFixture reads one fixture file. */
export const readFixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

/** Recorded is a recorded request: method, path, headers (in order) and body. */
export interface Recorded { method: string; path: string; headers: [string, string][]; body: string }

/** readRequest parses `<name>.request`. */
export function readRequest(name: string): Recorded {
  const text = readFixture(`${name}.request`).toString('utf8');
  const [head = '', ...rest] = text.split(/\r?\n\r?\n/);
  const [start = '', ...lines] = head.split(/\r?\n/);
  const [method = 'GET', path = '/'] = start.split(' ');
  const headers = lines.filter((l) => l.includes(':')).map((l): [string, string] => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
  return { method, path, headers, body: rest.join('\n\n').replace(/\r?\n$/, '') };
}

/** readResponse parses `<name>.headers` and `<name>.body`. */
export function readResponse(name: string): { status: number; headers: Map<string, string>; body: Buffer } {
  const lines = readFixture(`${name}.headers`).toString('latin1').split('\r\n').filter((l) => l !== '');
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) headers.set(l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim());
  return { status: Number(lines[0]?.split(' ')[1]), headers, body: readFixture(`${name}.body`) };
}

/** shape reduces a JSON value to its structure: object keys (recursively), array element shape, scalar type. */
export function shape(v: unknown, depth: number): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) return depth <= 0 ? 'array' : ['array', v.length === 0 ? 'empty' : shape(v[0], depth - 1)];
  if (typeof v === 'object') {
    if (depth <= 0) return 'object';
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) out[k] = shape((v as Record<string, unknown>)[k], depth - 1);
    return out;
  }
  return typeof v;
}

/** sendRecorded sends the recorded request (with `headers` instead of its own, minus Host and Content-Length) and waits for the answer. */
export async function sendRecorded(url: string, req: Recorded, headers: readonly [string, string][]): Promise<RawStream> {
  const kept = headers.filter(([k]) => !['host', 'content-length'].includes(k.toLowerCase()));
  const body = req.body;
  const head = [`${req.method} ${req.path} HTTP/1.1`, `Host: ${new URL(url).host}`, ...kept.map(([k, v]) => `${k}: ${v}`), ...(body === '' ? [] : [`Content-Length: ${Buffer.byteLength(body)}`]), 'Connection: close'];
  const raw = await openRaw(url, `${head.join('\r\n')}\r\n\r\n${body}`);
  await raw.waitFor(() => raw.closed());
  return raw;
}

const COMPARED_VALUES = ['content-type', 'allow', 'server', 'access-control-allow-origin', 'access-control-expose-headers', 'access-control-allow-credentials', 'cache-control', 'vary', 'transfer-encoding'];
/** Node adds these hop-by-hop headers to every HTTP/1.1 answer; CherryPy did not (clients ignore them). */
const NODE_HOP_HEADERS = new Set(['connection', 'keep-alive']);

/** compareAnswer checks the emulator's answer against the recorded `name`: status, headers, and body (HTML exactly, JSON by shape to `depth`). */
export function compareAnswer(t: Test, raw: RawStream, name: string, depth = 12): void {
  const rec = readResponse(name);
  t.equal(raw.status(), rec.status, 'status');
  const ours = new Map(raw.headers().map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const names = (m: Map<string, string>): string[] => [...m.keys()].filter((k) => !NODE_HOP_HEADERS.has(k)).sort();
  t.same(names(ours), names(rec.headers), 'header names');
  for (const h of COMPARED_VALUES) if (rec.headers.has(h)) t.equal(ours.get(h), rec.headers.get(h), `${h} value`);
  const chunked = ours.get('transfer-encoding') === 'chunked';
  const ourBody = chunked ? parseChunked(raw.body()).chunks.join('') : raw.body().toString('utf8');
  const recBody = chunked ? parseChunked(rec.body).chunks.join('') : rec.body.toString('utf8');
  if ((rec.headers.get('content-type') ?? '').startsWith('text/html')) {
    t.equal(ourBody, recBody, 'HTML error page, byte for byte');
  } else {
    t.same(shape(JSON.parse(ourBody), depth), shape(JSON.parse(recBody), depth), 'JSON shape');
    t.match(ourBody, /^\{"[^"]+": /, 'Python json separators');
  }
}
