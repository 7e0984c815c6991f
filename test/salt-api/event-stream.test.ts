// SaltEventStream against real HTTP / websocket servers of our own that replay recorded salt-api bytes:
// SSE framing, token expiry (clean end), salt-api restart (EOF without the final chunk, ws close 1001),
// a refused token on connect, heartbeats that come back, go missing or fail, malformed frames, close().
import t, { type Test } from 'tap';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import type { StreamItem } from '../../src/core/salt-event.ts';
import { SaltClient } from '../../src/salt-api/client.ts';
import { SaltEventStream, type Transport } from '../../src/salt-api/event-stream.ts';
import { createLogger } from '../../src/log.ts';
import { fixture, fixtureReply, loginReply, lowFun, startFixtureServer, until, type FixtureServer, type Seen } from './fixture-server.ts';

const logger = createLogger({ level: 'silent' });

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => { unhandled.push(reason); });

/** rawHead is a recorded SSE response head, ready to write on a socket. */
function rawHead(name: string): string {
  return `${fixture(`${name}.headers`).trimEnd()}\r\n\r\n`;
}

/** sseChunk frames one SSE text as an HTTP/1.1 chunk. */
function sseChunk(text: string): string {
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
}

interface Harness {
  readonly server: FixtureServer;
  readonly client: SaltClient;
  readonly stream: SaltEventStream;
  readonly items: StreamItem[];
  readonly tokens: string[];
  /** sockets: the open /events sockets, newest last. */
  readonly sockets: Duplex[];
  readonly wsClients: WsSocket[];
  done: Promise<void>;
  /** refuse: how many next /events or /ws connects answer 401 whatever the token. */
  refuse: number;
}

interface HarnessOpts {
  readonly transport?: Transport;
  /** events answers GET /events (n = 1 for the first connection) by writing on the raw socket. */
  readonly events?: (socket: Duplex, n: number, seen: Seen, h: Harness) => void;
  /** ws handles an accepted websocket (after `websocket client ready`). */
  readonly ws?: (ws: WsSocket, n: number, h: Harness) => void;
  /** lowstate answers POST / (heartbeats); default `{"return": [true]}`. */
  readonly lowstate?: (seen: Seen, h: Harness) => { status: number; body: string };
  readonly heartbeatIntervalMs?: number;
  readonly heartbeatTimeoutMs?: number;
  readonly maxPauseMs?: number;
}

async function harness(tt: Test, o: HarnessOpts): Promise<Harness> {
  const tokens: string[] = [];
  const sockets: Duplex[] = [];
  const wsClients: WsSocket[] = [];
  let eventsCount = 0;
  let wsCount = 0;
  // eslint-disable-next-line prefer-const
  let h: Harness;
  const server = await startFixtureServer((seen, req) => {
    if (seen.path === '/login') {
      const token = (tokens.length + 1).toString(16).padStart(40, '0');
      tokens.push(token);
      return loginReply(token);
    }
    if (seen.path === '/events') {
      eventsCount += 1;
      if (seen.token !== tokens.at(-1) || h.refuse > 0) {
        h.refuse -= 1;
        return fixtureReply('auth_08_bogus_token_events');
      }
      sockets.push(req.socket);
      o.events?.(req.socket, eventsCount, seen, h);
      return 'handled';
    }
    if (seen.path === '/' && seen.method === 'POST') {
      const r = o.lowstate?.(seen, h) ?? { status: 200, body: '{"return": [true]}' };
      return { status: r.status, contentType: 'application/json', body: r.body };
    }
    return { status: 404, contentType: 'text/plain', body: 'no' };
  });
  const wss = new WebSocketServer({ noServer: true });
  server.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const token = (req.url ?? '').replace(/^\/ws\//, '');
    if (token !== tokens.at(-1) || h.refuse > 0) {
      h.refuse -= 1;
      socket.end(`${fixture('auth_14_ws_bogus_token.headers').trimEnd()}\r\n\r\n${fixture('auth_14_ws_bogus_token.body')}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      wsClients.push(ws);
      wsCount += 1;
      const n = wsCount;
      ws.on('message', (m) => {
        ws.send('server received message');
        if (m.toString() === 'websocket client ready') o.ws?.(ws, n, h);
      });
    });
  });
  const client = new SaltClient({ url: server.url, username: 'autoscaler', password: 'secret', eauth: 'pam', tlsVerify: true, timeoutMs: 2000, logger });
  const stream = new SaltEventStream({
    client, transport: o.transport ?? 'sse', logger, heartbeatIntervalMs: o.heartbeatIntervalMs ?? 0,
    heartbeatTimeoutMs: o.heartbeatTimeoutMs, reconnectBaseMs: 20, reconnectMaxMs: 200, maxPauseMs: o.maxPauseMs,
  });
  const items: StreamItem[] = [];
  h = { server, client, stream, items, tokens, sockets, wsClients, done: Promise.resolve(), refuse: 0 };
  h.done = (async () => { for await (const item of stream.items()) items.push(item); })();
  tt.teardown(async () => {
    await stream.close();
    await h.done;
    for (const ws of wsClients) ws.terminate();
    wss.close();
    await client.close();
    await server.close();
  });
  return h;
}

const kinds = (items: readonly StreamItem[]): string[] => items.map((i) => (i.kind === 'gap' ? `gap:${i.reason}` : i.kind));

t.test('replays the recorded SSE bytes (retry line, tag and data lines in separate chunks) into typed events', async (tt) => {
  const h = await harness(tt, {
    events: (socket) => { socket.write(rawHead('sse_01_minion_start') + fixture('sse_01_minion_start.raw')); },
  });
  await until(() => h.items.length >= 17, 5000, '16 events + gap');
  tt.same(kinds(h.items.slice(0, 5)), ['gap:connect', 'auth', 'other', 'other', 'minion-start']);
  tt.equal(h.stream.stats.events, 16);
  tt.ok(h.stream.connected, 'connected while the stream is open');
  tt.equal(h.stream.stats.reconnects, 0);
});

t.test('an expired token ends the SSE response cleanly: log in again, reconnect, emit a reconnect gap', async (tt) => {
  const h = await harness(tt, {
    events: (socket, n) => {
      if (n === 1) socket.write(rawHead('sse_09_token_expires_midstream') + fixture('sse_09_token_expires_midstream.raw'));
      else socket.write(rawHead('sse_01_minion_start') + sseChunk('retry: 400\n'));
    },
  });
  await until(() => kinds(h.items).includes('gap:reconnect'), 5000, 'reconnect gap');
  tt.same(kinds(h.items), ['gap:connect', 'run-new', 'other', 'run-ret', 'run-new', 'gap:reconnect']);
  tt.equal(h.tokens.length, 2, 'logged in again after the clean end');
  tt.equal(h.stream.stats.reconnects, 1);
});

t.test('salt-api restart: EOF without the final chunk -> new login (old tokens are dead) and a reconnect gap', async (tt) => {
  const h = await harness(tt, {
    events: (socket, n) => {
      socket.write(rawHead('sse_07_api_restart') + (n === 1 ? fixture('sse_07_api_restart.raw') : sseChunk('retry: 400\n')));
      if (n === 1) setTimeout(() => socket.destroy(), 20);
    },
  });
  await until(() => kinds(h.items).includes('gap:reconnect'), 5000, 'reconnect gap');
  tt.same(kinds(h.items), ['gap:connect', 'other', 'job-new', 'auth', 'auth', 'job-ret', 'gap:reconnect']);
  tt.equal(h.tokens.length, 2);
});

t.test('a refused token on connect (401 HTML) logs in again and connects', async (tt) => {
  const h = await harness(tt, {
    events: (socket) => { socket.write(rawHead('sse_01_minion_start') + sseChunk('retry: 400\n')); },
  });
  await until(() => h.items.length >= 1, 5000, 'connect gap');
  h.refuse = 1;
  h.sockets.at(-1)?.destroy();
  await until(() => kinds(h.items).includes('gap:reconnect'), 5000, 'reconnect gap');
  const eventsCalls = h.server.seen.filter((s) => s.path === '/events');
  tt.equal(eventsCalls.length, 3, 'connect, refused, connect again');
  tt.equal(h.server.seen.filter((s) => s.path === '/login').length, 3, 'a login after the refusal (and after the EOF)');
});

t.test('websocket: frames `data: {...}\\n\\n` become the same typed events; close 1001 reconnects with a new login', async (tt) => {
  const frames = fixture('ws_07_api_restart.frames.jsonl').split('\n').filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { dir: string; opcode: number; text?: string })
    .filter((f) => f.dir === 'server->client' && f.opcode === 1 && f.text?.startsWith('data: '));
  const h = await harness(tt, {
    transport: 'ws',
    ws: (ws, n) => {
      if (n > 1) return;
      for (const f of frames) ws.send(f.text ?? '');
      ws.send('{"not": "a data frame"}');
      ws.close(1001, 'Server is shutting down');
    },
  });
  await until(() => kinds(h.items).includes('gap:reconnect'), 5000, 'reconnect gap');
  tt.same(kinds(h.items), ['gap:connect', 'other', 'job-new', 'auth', 'auth', 'job-ret', 'gap:reconnect']);
  tt.equal(h.stream.stats.malformed, 1, 'a non-data frame is counted, not yielded');
  tt.equal(h.tokens.length, 2, 'a 1001 close means salt-api restarted: log in again');
});

t.test('websocket: a 401 on the upgrade logs in again', async (tt) => {
  const h = await harness(tt, { transport: 'ws' });
  await until(() => h.items.length >= 1, 5000, 'connect');
  h.refuse = 1;
  h.wsClients.at(-1)?.terminate();
  await until(() => kinds(h.items).includes('gap:reconnect'), 5000, 'reconnect gap');
  tt.equal(h.tokens.length, 3, 'a login after the drop, and one after the refused upgrade');
});

t.test('heartbeats that come back keep the stream; RTT is measured', async (tt) => {
  const h = await harness(tt, {
    heartbeatIntervalMs: 20, heartbeatTimeoutMs: 10_000, // generous: a loaded machine must not turn a slow beat into a miss
    events: (socket) => { socket.write(rawHead('sse_01_minion_start') + sseChunk('retry: 400\n')); },
    lowstate: (seen, hh) => {
      const chunk = (seen.body as [{ tag: string; data: Record<string, unknown> }])[0];
      const frame = JSON.stringify({ data: { ...chunk.data, _stamp: '2026-11-28T07:00:00.000000' }, tag: chunk.tag });
      hh.sockets.at(-1)?.write(sseChunk(`tag: ${chunk.tag}\n`) + sseChunk(`data: ${frame}\n\n`));
      return { status: 200, body: '{"return": [true]}' };
    },
  });
  await until(() => h.items.filter((i) => i.kind === 'heartbeat').length >= 3, 5000, '3 heartbeats');
  tt.equal(h.stream.stats.heartbeatsMissed, 0);
  tt.equal(h.stream.stats.reconnects, 0);
  tt.ok(h.stream.stats.heartbeatRttMs !== undefined && h.stream.stats.heartbeatRttMs >= 0, 'rtt measured');
  const sent = h.server.seen.filter((s) => lowFun(s.body) === 'event.send');
  tt.match(sent[0]?.body, [{ client: 'runner', fun: 'event.send', tag: 'salt-autoscaler/heartbeat', data: { seq: 1, sent_at: Number } }]);
});

t.test('a heartbeat that never shows up on the stream is a heartbeat-missed gap, then a reconnect', async (tt) => {
  const h = await harness(tt, {
    heartbeatIntervalMs: 10, heartbeatTimeoutMs: 50,
    events: (socket) => { socket.write(rawHead('sse_01_minion_start') + sseChunk('retry: 400\n')); },
  });
  await until(() => kinds(h.items).includes('gap:reconnect'), 5000, 'reconnect gap');
  tt.same(kinds(h.items).slice(0, 3), ['gap:connect', 'gap:heartbeat-missed', 'gap:reconnect']);
  tt.equal(h.tokens.length, 1, 'the token was fine: no new login');
});

t.test('a heartbeat call that fails (500) is a heartbeat-failed gap, then a reconnect', async (tt) => {
  const h = await harness(tt, {
    heartbeatIntervalMs: 10, heartbeatTimeoutMs: 10_000, // generous: the 500, however late, comes before a miss
    events: (socket) => { socket.write(rawHead('sse_01_minion_start') + sseChunk('retry: 400\n')); },
    lowstate: () => ({ status: 500, body: fixture('req_15_runner_sync_error.body') }),
  });
  await until(() => kinds(h.items).includes('gap:reconnect'), 5000, 'reconnect gap');
  tt.same(kinds(h.items).slice(0, 3), ['gap:connect', 'gap:heartbeat-failed', 'gap:reconnect']);
  tt.ok(h.stream.stats.heartbeatsFailed >= 1);
});

t.test('malformed frames are counted and skipped; the next good frame still arrives', async (tt) => {
  const h = await harness(tt, {
    events: (socket) => {
      socket.write(rawHead('sse_01_minion_start') + sseChunk('retry: 400\n')
        + sseChunk('tag: x\n') + sseChunk('data: {"data": {"a": 1}, "tag": \n\n')
        + sseChunk('data: <html>oops</html>\n\n')
        + sseChunk('tag: salt/minion/m1/start\n') + sseChunk('data: {"data": {"id": "m1"}, "tag": "salt/minion/m1/start"}\n\n'));
    },
  });
  await until(() => h.items.length >= 2, 5000, 'good frame');
  tt.same(kinds(h.items), ['gap:connect', 'minion-start']);
  tt.equal(h.stream.stats.malformed, 2);
});

t.test('reconnects back off with full jitter when salt-api is unreachable, and close() ends items()', async (tt) => {
  const server = await startFixtureServer(() => ({ status: 200, contentType: 'application/json', body: '{}' }));
  const url = server.url;
  await server.close();
  const client = new SaltClient({ url, username: 'u', password: 'secret', eauth: 'pam', tlsVerify: true, timeoutMs: 500, logger });
  // five backoffs of (almost) nothing, then one of a minute: close() comes while the stream sleeps in it
  const delays: number[] = [];
  const stream = new SaltEventStream({
    client, transport: 'sse', logger, heartbeatIntervalMs: 0, reconnectBaseMs: 60_000, reconnectMaxMs: 60_000,
    random: () => { delays.push(1); return delays.length > 5 ? 1 : 1e-9; },
  });
  const items: StreamItem[] = [];
  const done = (async () => { for await (const i of stream.items()) items.push(i); })();
  await until(() => delays.length >= 6, 20_000, 'five short backoffs and a long one');
  const closed = Promise.all([stream.close(), done]).then(() => 'closed' as const);
  const ceiling = new Promise<'still waiting'>((r) => { setTimeout(() => r('still waiting'), 30_000).unref(); });
  tt.equal(await Promise.race([closed, ceiling]), 'closed', 'close() ends items() without waiting out the minute of backoff');
  tt.same(items, [], 'nothing yielded while unreachable');
  tt.equal(stream.connected, false);
  await client.close();
});

/** startFrames are n minion start events (m1..mn), each as salt-api frames it: a `tag:` line, then the `data:` line. */
function startFrames(n: number, from = 1): string {
  let out = '';
  for (let k = from; k < from + n; k += 1) {
    const tag = `salt/minion/m${k}/start`;
    out += sseChunk(`tag: ${tag}\n`) + sseChunk(`data: ${JSON.stringify({ data: { id: `m${k}`, _stamp: '2026-11-28T07:00:00.000000' }, tag })}\n\n`);
  }
  return out;
}

const minionsOf = (items: readonly StreamItem[]): string[] => items.flatMap((i) => (i.kind === 'minion-start' ? [i.minion] : []));

for (const transport of ['sse', 'ws'] as const) {
  t.test(`${transport}: paused reads yield nothing until the pause ends (at its cap); then every event, in order`, async (tt) => {
    const h = await harness(tt, {
      transport, maxPauseMs: 400,
      events: (socket) => { socket.write(rawHead('sse_01_minion_start') + sseChunk('retry: 400\n')); },
    });
    await until(() => h.items.length >= 1, 5000, 'connect gap');
    const pausedAt = Date.now();
    tt.equal(h.stream.pauseReads(60_000), true, 'a pause is taken while the stream is open');
    const write = (from: number, n: number): void => {
      if (transport === 'sse') h.sockets.at(-1)?.write(startFrames(n, from));
      else for (let k = from; k < from + n; k += 1) h.wsClients.at(-1)?.send(`data: ${JSON.stringify({ data: { id: `m${k}` }, tag: `salt/minion/m${k}/start` })}\n\n`);
    };
    write(1, 100);
    await until(() => minionsOf(h.items).length >= 1, 5000, 'the first event');
    const firstAfterMs = Date.now() - pausedAt;
    tt.ok(firstAfterMs >= 380, `nothing was yielded before the pause's cap (first event after ${firstAfterMs} ms)`);
    write(101, 100);
    await until(() => minionsOf(h.items).length >= 200, 5000, 'every event');
    tt.same(minionsOf(h.items), Array.from({ length: 200 }, (_, k) => `m${k + 1}`), 'every event, in the order salt-api sent it');
    tt.equal(h.stream.stats.pauses, 1);
    tt.ok(h.stream.stats.pausedMs >= 380 && h.stream.stats.pausedMs < 1000, `paused for the cap (${h.stream.stats.pausedMs} ms)`);
  });
}

t.test('a pause is refused until the stream has read as long as the last one lasted; resumeReads ends one at once', async (tt) => {
  const h = await harness(tt, {
    maxPauseMs: 300,
    events: (socket) => { socket.write(rawHead('sse_01_minion_start') + sseChunk('retry: 400\n')); },
  });
  tt.equal(h.stream.pauseReads(100), false, 'refused before the stream is open');
  await until(() => h.items.length >= 1, 5000, 'connect gap');
  tt.equal(h.stream.pauseReads(250), true);
  tt.equal(h.stream.pauseReads(250), true, 'extending the pause going on');
  await until(() => h.stream.stats.pausedMs >= 150, 5000, 'paused a while');
  h.stream.resumeReads();
  const lasted = h.stream.stats.pausedMs;
  tt.equal(h.stream.pauseReads(100), false, 'refused right after a pause');
  h.sockets.at(-1)?.write(startFrames(3));
  await until(() => minionsOf(h.items).length >= 3, 5000, 'the events, read at once');
  const readFrom = Date.now();
  await until(() => h.stream.pauseReads(100), 5000, 'a pause taken again');
  tt.ok(Date.now() - readFrom >= lasted - 50, 'only after reading about as long as the last pause lasted');
  tt.equal(h.stream.stats.pauses, 2);
});

t.test('a heartbeat whose echo waits in a pause is not missed: the paused time does not count against it', async (tt) => {
  // the beat is due back within 2 s; its echo is written 1.72 s after the call, into a pause from 1.70 s that lasts its
  // cap (a quarter of the timeout, 500 ms), so it is read ~2.2 s after the beat was sent: late but for the pause
  let beats = 0;
  const h = await harness(tt, {
    heartbeatIntervalMs: 50, heartbeatTimeoutMs: 2_000,
    events: (socket) => { socket.write(rawHead('sse_01_minion_start') + sseChunk('retry: 400\n')); },
    lowstate: (seen, hh) => {
      beats += 1;
      const chunk = (seen.body as [{ tag: string; data: Record<string, unknown> }])[0];
      const frame = JSON.stringify({ data: { ...chunk.data, _stamp: '2026-11-28T07:00:00.000000' }, tag: chunk.tag });
      const echo = (): void => { hh.sockets.at(-1)?.write(sseChunk(`tag: ${chunk.tag}\n`) + sseChunk(`data: ${frame}\n\n`)); };
      if (beats > 1) echo();
      else {
        setTimeout(() => { hh.stream.pauseReads(60_000); }, 1_700);
        setTimeout(echo, 1_720);
      }
      return { status: 200, body: '{"return": [true]}' };
    },
  });
  await until(() => h.items.filter((i) => i.kind === 'heartbeat').length >= 2, 10_000, 'the late beat and the next');
  tt.equal(h.stream.stats.pauses, 1, 'the pause was taken');
  tt.ok((h.stream.stats.heartbeatRttMs ?? 0) < 2_000, 'the next beat came back at once');
  tt.equal(h.stream.stats.heartbeatsMissed, 0, 'no beat missed');
  tt.same(kinds(h.items).filter((k) => k.startsWith('gap')), ['gap:connect'], 'no gap, no reconnect');
});

t.test('a connection that ends while paused ends its pause: the reconnect does not wait for the cap', async (tt) => {
  // beats come back (echoed on the stream) until the reads are paused; the first beat sent during the pause fails,
  // after events were written on the stream (they wait unread in the pause when the connection is dropped)
  const h = await harness(tt, {
    heartbeatIntervalMs: 10, heartbeatTimeoutMs: 30_000, maxPauseMs: 5_000,
    events: (socket) => { socket.write(rawHead('sse_01_minion_start') + sseChunk('retry: 400\n')); },
    lowstate: (seen, hh) => {
      if (hh.tokens.length === 1 && hh.stream.stats.pauses === 1) {
        hh.sockets.at(-1)?.write(startFrames(3));
        return { status: 500, body: fixture('req_15_runner_sync_error.body') };
      }
      const chunk = (seen.body as [{ tag: string; data: Record<string, unknown> }])[0];
      const frame = JSON.stringify({ data: { ...chunk.data, _stamp: '2026-11-28T07:00:00.000000' }, tag: chunk.tag });
      hh.sockets.at(-1)?.write(sseChunk(`tag: ${chunk.tag}\n`) + sseChunk(`data: ${frame}\n\n`));
      return { status: 200, body: '{"return": [true]}' };
    },
  });
  await until(() => h.items.length >= 1, 5000, 'connect gap');
  const pausedAt = Date.now();
  tt.equal(h.stream.pauseReads(60_000), true);
  await until(() => kinds(h.items).includes('gap:reconnect'), 10_000, 'reconnect gap');
  const tookMs = Date.now() - pausedAt;
  tt.ok(tookMs < 4_000, `reconnected ${tookMs} ms after the pause began, before its 5 s cap`);
  tt.same(kinds(h.items).filter((k) => k.startsWith('gap')).slice(0, 3), ['gap:connect', 'gap:heartbeat-failed', 'gap:reconnect']);
});

t.test('no unhandled rejection in any of the fault cases above', async (tt) => {
  tt.same(unhandled, []);
});
