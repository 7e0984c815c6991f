/**
 * event-stream: the salt-api event bus as an async iterable of typed events and gap signals.
 *
 * ```
 *            +------------------------------------------------------------------+
 *            v                                                                  |
 *   idle --token()--> connecting --200 / ws open--> open --(gap connect|reconnect)
 *            ^            |                           |  heartbeat every heartbeatIntervalMs:
 *            |            | 401: invalidate token     |  event.send salt-autoscaler/heartbeat {seq, sent_at}
 *            |            v                           |  - call fails            -> gap heartbeat-failed -+
 *         backoff <-------+                           |  - not back in timeout   -> gap heartbeat-missed -+
 *  (full jitter, 2^n,     ^                           |                                                   |
 *   capped at 30 s)       +---- clean end (token expired), EOF without final chunk / ws 1001 (restart):   |
 *                         |     invalidate the token; network error ------------------------------------- +
 *                         +---- abort (heartbeat gap) <-----------------------------------------------------+
 *   close() from any state -> closed (items() ends)
 *
 *   reads: reading --pauseReads(ms)--> paused --ms passed (a later call extends it, never past maxPauseMs from its
 *          start) | resumeReads() | the connection ends--> reading; a pause asked before the stream has read for as long
 *          as the last pause lasted is refused. While paused nothing is read: TCP holds the events, in order.
 * ```
 * SSE: `GET /events` parsed with eventsource-parser (the stream sends `retry: 400`, then per event a `tag:`
 * line — ignored, the tag is inside the data — and a `data:` line). WS: `/ws/<token>`, send
 * `websocket client ready` (open once salt-api acknowledges it), each frame is `data: {...}\n\n`. Both feed the same frame handler.
 */
import { StringDecoder } from 'node:string_decoder';
import { createParser, type ParseError } from 'eventsource-parser';
import { request } from '../http-request.ts';
import { HEARTBEAT_TAG, type SaltEvent, type SaltEventKind, type StreamGap, type StreamItem } from '../core/salt-event.ts';
import type { EventInterest, EventSource } from '../engine/ports.ts';
import { SaltApiError, trimBody } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SaltClient } from './client.ts';
import { classifyTag, frameTag, mayBeOrchestrate, tryParseEvent, type TagSubject } from './events.ts';

/** Transport is how events are read from salt-api: SSE (`/events`) or websocket (`/ws`). */
export type Transport = 'sse' | 'ws';

/** SaltEventStreamOptions configures a SaltEventStream. Durations in ms. */
export interface SaltEventStreamOptions {
  readonly client: SaltClient;
  readonly transport: Transport;
  readonly logger: Logger;
  /** heartbeatIntervalMs: time between two heartbeats on an open stream (0 disables heartbeats). */
  readonly heartbeatIntervalMs: number;
  /** heartbeatTimeoutMs: a heartbeat not seen on the stream within this is missed (default: heartbeatIntervalMs). */
  readonly heartbeatTimeoutMs?: number | undefined;
  /** connectTimeoutMs: deadline for the stream's response headers / handshake (default 10 s). */
  readonly connectTimeoutMs?: number | undefined;
  /** reconnectBaseMs / reconnectMaxMs: exponential backoff with full jitter (defaults 500 ms, 30 s). */
  readonly reconnectBaseMs?: number | undefined;
  readonly reconnectMaxMs?: number | undefined;
  readonly now?: (() => number) | undefined;
  readonly random?: (() => number) | undefined;
  /**
   * maxPauseMs: the longest a pause of the reads lasts (pauseReads); default 1 s, and never more than a quarter of the
   * heartbeat timeout.
   */
  readonly maxPauseMs?: number | undefined;
  /** fireHeartbeat sends one heartbeat event (default: runner `event.send` through the client). */
  readonly fireHeartbeat?: ((tag: string, data: Readonly<Record<string, unknown>>) => Promise<void>) | undefined;
}

/** StreamStats are the stream's counters, for metrics. */
export interface StreamStats {
  readonly events: number;
  readonly malformed: number;
  /** skipped: per kind, the frames whose body was not parsed because the engine does not read them (setInterest). */
  readonly skipped: Readonly<Partial<Record<SaltEventKind, number>>>;
  readonly reconnects: number;
  readonly gaps: number;
  readonly lastEventMs: number | undefined;
  readonly heartbeatsSent: number;
  readonly heartbeatsMissed: number;
  readonly heartbeatsFailed: number;
  /** heartbeatRttMs: time from sending the last heartbeat that came back to seeing it on the stream. */
  readonly heartbeatRttMs: number | undefined;
  /** pauses / pausedMs: the pauses of the reads (pauseReads) and their total time, the one going on included. */
  readonly pauses: number;
  readonly pausedMs: number;
}

type Outcome = 'refused' | 'ended' | 'restart' | 'aborted';

interface PendingBeat {
  readonly seq: number;
  readonly sentAt: number;
  readonly sentMs: number;
  timer: NodeJS.Timeout;
  /** pausedMs: the stream's paused time so far when the timer was last armed (paused time does not count against a beat). */
  pausedMs: number;
}

/** Pause is a pause of the reads: since when, until when, the timer that ends it, and what the reading loop waits on. */
interface Pause {
  readonly sinceMs: number;
  untilMs: number;
  timer: NodeJS.Timeout | undefined;
  readonly resumed: Promise<void>;
  readonly resume: () => void;
}

/** MAX_PAUSE_MS is the default cap of one pause of the reads (SaltEventStreamOptions.maxPauseMs). */
export const MAX_PAUSE_MS = 1_000;

/** SaltEventStream reads salt-api events (SSE or websocket), reconnects, heartbeats and yields typed items. */
export class SaltEventStream implements EventSource {
  readonly #o: SaltEventStreamOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #fire: (tag: string, data: Readonly<Record<string, unknown>>) => Promise<void>;
  readonly #queue: StreamItem[] = [];
  #head = 0;
  #wake: (() => void) | undefined;
  #closed = false;
  #started = false;
  #loop: Promise<void> | undefined;
  #conn: AbortController | undefined;
  #connected = false;
  #attempt = 0;
  #seq = 0;
  #pending: PendingBeat | undefined;
  #beatTimer: NodeJS.Timeout | undefined;
  #sleep: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  readonly #frames: EventFrames;
  #pause: Pause | undefined;
  /** #pausedMs: the time of the pauses that ended; #readSinceMs / #lastPauseMs: when reading resumed, and the pause before. */
  #pausedMs = 0;
  #readSinceMs = Number.NEGATIVE_INFINITY;
  #lastPauseMs = 0;
  /** #wsHeld: websocket frames that came after ws.pause() (ws emits what it had buffered), yielded first on resume. */
  #wsHeld: string[] = [];
  #wsConn: { pause(): void; resume(): void } | undefined;
  #pauses = 0;
  #stats = {
    reconnects: 0, gaps: 0, lastEventMs: undefined as number | undefined,
    heartbeatsSent: 0, heartbeatsMissed: 0, heartbeatsFailed: 0, heartbeatRttMs: undefined as number | undefined,
  };

  constructor(opts: SaltEventStreamOptions) {
    this.#o = opts;
    this.#log = opts.logger.child({ component: 'salt-events', transport: opts.transport });
    this.#now = opts.now ?? Date.now;
    this.#frames = new EventFrames(this.#log);
    this.#random = opts.random ?? Math.random;
    this.#fire = opts.fireHeartbeat ?? (async (tag, data) => {
      const ret = await opts.client.runner('event.send', { tag, data });
      if (ret !== true) {
        throw new SaltApiError('ASC_ERR_SALT_RUNNER', `event.send ${tag} returned ${trimBody(JSON.stringify(ret) ?? 'nothing', 80)}, expected true`, { endpoint: '/', status: 200 });
      }
    });
  }

  /** connected is true while a stream is open and its last heartbeat came back in time. */
  get connected(): boolean {
    return this.#connected;
  }

  /** stats is a snapshot of the counters. */
  get stats(): StreamStats {
    const f = this.#frames;
    return { ...this.#stats, events: f.events, malformed: f.malformed, skipped: { ...f.skipped }, pauses: this.#pauses, pausedMs: this.#pausedSoFar() };
  }

  /**
   * pauseReads stops reading the stream for `ms` from now, or extends the pause going on to now + `ms`. Bounded: a pause
   * ends at the latest maxPauseMs (default 1 s, at most a quarter of the heartbeat timeout) after it began, and a new one
   * is refused (false) until the stream has read for as long as the last one lasted; also refused while no stream is
   * open. Nothing is lost or reordered: salt-api's bytes wait in TCP (a websocket's frames already buffered, in order,
   * here), and the heartbeat watchdog does not count the paused time.
   */
  pauseReads(ms: number): boolean {
    const now = this.#now();
    const cap = this.#maxPauseMs();
    const pause = this.#pause;
    if (pause !== undefined) {
      pause.untilMs = Math.min(pause.sinceMs + cap, Math.max(pause.untilMs, now + ms));
      this.#armPause(pause, now);
      return true;
    }
    if (!this.#connected || this.#closed || ms <= 0 || cap <= 0 || now - this.#readSinceMs < this.#lastPauseMs) return false;
    let resume: () => void = () => undefined;
    const resumed = new Promise<void>((r) => { resume = r; });
    const started: Pause = { sinceMs: now, untilMs: now + Math.min(ms, cap), timer: undefined, resumed, resume };
    this.#pause = started;
    this.#pauses += 1;
    this.#armPause(started, now);
    this.#wsConn?.pause();
    this.#log.debug({ forMs: started.untilMs - now }, 'salt event stream reads paused');
    return true;
  }

  /** resumeReads ends the pause going on (if any): what waited is read, in order. */
  resumeReads(): void {
    const pause = this.#pause;
    if (pause === undefined) return;
    if (pause.timer !== undefined) clearTimeout(pause.timer);
    this.#pause = undefined;
    const now = this.#now();
    this.#lastPauseMs = Math.max(0, now - pause.sinceMs);
    this.#pausedMs += this.#lastPauseMs;
    this.#readSinceMs = now;
    this.#log.debug({ pausedMs: this.#lastPauseMs }, 'salt event stream read again');
    const held = this.#wsHeld;
    this.#wsHeld = [];
    for (const text of held) this.#wsMessage(text);
    this.#wsConn?.resume();
    pause.resume();
  }

  #armPause(pause: Pause, now: number): void {
    if (pause.timer !== undefined) clearTimeout(pause.timer);
    pause.timer = setTimeout(() => { if (this.#pause === pause) this.resumeReads(); }, Math.max(0, pause.untilMs - now));
  }

  #maxPauseMs(): number {
    const cap = this.#o.maxPauseMs ?? MAX_PAUSE_MS;
    const timeoutMs = this.#o.heartbeatTimeoutMs ?? this.#o.heartbeatIntervalMs;
    return this.#o.heartbeatIntervalMs > 0 ? Math.min(cap, timeoutMs / 4) : cap;
  }

  /** pausedSoFar: the time the reads were paused, the pause going on included. */
  #pausedSoFar(): number {
    return this.#pausedMs + (this.#pause === undefined ? 0 : Math.max(0, this.#now() - this.#pause.sinceMs));
  }

  /** setInterest: from now on, frames whose tag says the engine does not read them are counted, not parsed. */
  setInterest(interest: EventInterest): void {
    this.#frames.interest = interest;
  }

  /** items starts the stream (once) and yields events and gaps until close(); leaving the loop closes the stream. */
  async *items(): AsyncIterable<StreamItem> {
    if (!this.#started) {
      this.#started = true;
      this.#loop = this.#run().catch((err: unknown) => { this.#log.error({ err }, 'salt event stream loop failed'); });
    }
    try {
      for (;;) {
        if (this.#head < this.#queue.length) {
          const item = this.#queue[this.#head] as StreamItem;
          this.#head += 1;
          if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
            this.#queue.splice(0, this.#head);
            this.#head = 0;
          }
          yield item;
          continue;
        }
        if (this.#closed) return;
        await new Promise<void>((resolve) => { this.#wake = resolve; });
      }
    } finally {
      await this.close();
    }
  }

  /** close ends the stream: aborts the connection, stops timers, and lets items() finish. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#connected = false;
      this.#stopBeats();
      this.resumeReads();
      this.#conn?.abort();
      if (this.#sleep !== undefined) {
        clearTimeout(this.#sleep.timer);
        this.#sleep.resolve();
      }
      this.#notify();
    }
    await this.#loop;
  }

  #push(item: StreamItem): void {
    this.#queue.push(item);
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #gap(reason: StreamGap['reason']): void {
    this.#stats.gaps += 1;
    this.#push({ kind: 'gap', reason, atMs: this.#now() });
  }

  async #run(): Promise<void> {
    let opened = 0;
    while (!this.#closed) {
      let token: string | undefined;
      let outcome: Outcome | 'failed';
      const conn = new AbortController();
      this.#conn = conn;
      conn.signal.addEventListener('abort', () => { this.resumeReads(); }, { once: true }); // a pause ends with its connection
      const onOpen = (): void => {
        if (conn.signal.aborted) return;
        this.#connected = true;
        opened += 1;
        if (opened > 1) this.#stats.reconnects += 1;
        this.#log.info({ reconnects: this.#stats.reconnects }, opened > 1 ? 'salt event stream reconnected' : 'salt event stream connected');
        this.#gap(opened > 1 ? 'reconnect' : 'connect');
        this.#scheduleBeat(conn);
      };
      try {
        token = await this.#o.client.token();
        outcome = this.#o.transport === 'sse' ? await this.#sse(token, conn, onOpen) : await this.#ws(token, conn, onOpen);
      } catch (err) {
        outcome = conn.signal.aborted ? 'aborted' : 'failed';
        if (!this.#closed && outcome === 'failed') this.#log.warn({ err, attempt: this.#attempt }, 'salt event stream failed');
      }
      this.#connected = false;
      this.#stopBeats();
      conn.abort();
      if (this.#closed) break;
      if (token !== undefined && (outcome === 'refused' || outcome === 'ended' || outcome === 'restart' || outcome === 'failed')) {
        // a refused or expired token, or a restarted salt-api (which forgets every token): log in again
        this.#o.client.invalidate(token);
      }
      this.#log.info({ outcome }, 'salt event stream ended');
      if (outcome !== 'aborted') {
        await this.#backoff(this.#attempt);
        this.#attempt += 1;
      }
    }
  }

  /** #backoff waits `random * min(max, base * 2^attempt)` (full jitter); attempt 0 retries at once. */
  async #backoff(attempt: number): Promise<void> {
    if (attempt === 0 || this.#closed) return;
    const base = this.#o.reconnectBaseMs ?? 500;
    const cap = this.#o.reconnectMaxMs ?? 30_000;
    const delayMs = Math.floor(this.#random() * Math.min(cap, base * 2 ** (attempt - 1)));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.#sleep = undefined; resolve(); }, delayMs);
      this.#sleep = { timer, resolve };
    });
  }

  #frame(text: string): void {
    const event = this.#frames.read(text);
    if (event === undefined) return;
    // a skipped frame proves the stream alive as well as a parsed one
    this.#stats.lastEventMs = this.#now();
    this.#attempt = 0;
    if (event === SKIPPED) return;
    const pending = this.#pending;
    if (event.kind === 'heartbeat' && pending !== undefined && event.seq === pending.seq && event.data['sent_at'] === pending.sentAt) {
      clearTimeout(pending.timer);
      this.#pending = undefined;
      this.#stats.heartbeatRttMs = this.#now() - pending.sentMs;
      const conn = this.#conn;
      if (conn !== undefined) this.#scheduleBeat(conn);
    }
    this.#push(event);
  }

  async #sse(token: string, conn: AbortController, onOpen: () => void): Promise<Outcome> {
    const res = await request(`${this.#o.client.baseUrl}/events`, {
      method: 'GET',
      dispatcher: this.#o.client.dispatcher,
      headers: { accept: 'text/event-stream', 'x-auth-token': token },
      signal: conn.signal,
      headersTimeout: this.#o.connectTimeoutMs ?? 10_000,
      bodyTimeout: 0,
    });
    if (res.statusCode === 401) {
      await res.body.dump();
      this.#log.info('salt-api refused the stream token (401), logging in again');
      return 'refused';
    }
    if (res.statusCode !== 200) {
      const body = await res.body.text();
      throw new SaltApiError('ASC_ERR_SALT_STREAM', `salt-api answered ${res.statusCode} to GET /events, expected 200`, { endpoint: '/events', status: res.statusCode, body });
    }
    onOpen();
    const reader = sseReader((data) => { this.#frame(data); }, this.#log);
    try {
      for await (const chunk of res.body) {
        // paused: the chunk in hand waits unread, and the body is not pulled, so undici stops reading the socket
        if (this.#pause !== undefined) await this.#pause.resumed;
        if (conn.signal.aborted) break; // (a connection that ended while paused: its unread bytes go with it)
        reader.feed(chunk as Uint8Array);
      }
    } catch (err) {
      if (conn.signal.aborted) return 'aborted';
      // EOF without the final chunk: salt-api was stopped or restarted
      this.#log.info({ err: errText(err) }, 'salt-api closed the event stream abruptly');
      return 'restart';
    }
    return conn.signal.aborted ? 'aborted' : 'ended';
  }

  async #ws(token: string, conn: AbortController, onOpen: () => void): Promise<Outcome> {
    // loaded only for `transport: ws`: the module costs ~15 MiB of RSS to a service that streams over SSE
    const { default: WebSocket } = await import('ws');
    const base = this.#o.client.baseUrl.replace(/^http/, 'ws');
    const { tls } = this.#o.client;
    return new Promise<Outcome>((resolve, reject) => {
      let settled = false;
      const ws = new WebSocket(`${base}/ws/${encodeURIComponent(token)}`, {
        ...(tls.ca === undefined ? {} : { ca: tls.ca }),
        rejectUnauthorized: tls.rejectUnauthorized,
        handshakeTimeout: this.#o.connectTimeoutMs ?? 10_000,
      });
      const done = (outcome: Outcome | Error): void => {
        if (settled) return;
        settled = true;
        this.#wsConn = undefined;
        this.#wsHeld = [];
        conn.signal.removeEventListener('abort', onAbort);
        if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const onAbort = (): void => { done('aborted'); };
      conn.signal.addEventListener('abort', onAbort);
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        if (res.statusCode === 401) {
          this.#log.info('salt-api refused the websocket token (401), logging in again');
          done('refused');
        } else {
          done(new SaltApiError('ASC_ERR_SALT_STREAM', `salt-api answered ${res.statusCode ?? 0} to the /ws upgrade, expected 101`, { endpoint: '/ws', status: res.statusCode ?? 0 }));
        }
      });
      // salt-api subscribes to the bus only once it got `websocket client ready`; its answer
      // (`server received message`) is the moment the stream is open and a gap can be reconciled.
      let acked = false;
      const ack = (): void => {
        if (acked) return;
        acked = true;
        onOpen();
      };
      ws.on('open', () => { ws.send('websocket client ready'); });
      ws.on('message', (raw, isBinary) => {
        if (isBinary) return;
        const text = raw.toString();
        if (!acked) {
          ack();
          this.#wsConn = ws;
        }
        if (this.#pause !== undefined) this.#wsHeld.push(text);
        else this.#wsMessage(text);
      });
      ws.on('close', (code) => {
        if (code === 1001) this.#log.info('salt-api is shutting down (ws 1001)');
        done(conn.signal.aborted ? 'aborted' : code === 1001 ? 'restart' : 'ended');
      });
      ws.on('error', (err) => {
        done(conn.signal.aborted ? 'aborted' : new SaltApiError('ASC_ERR_SALT_STREAM', `salt-api websocket failed (${errText(err)})`, { endpoint: '/ws', status: 0 }, { cause: err }));
      });
    });
  }

  #wsMessage(text: string): void {
    const data = wsFrameData(text);
    if (data !== undefined) this.#frame(data);
    else if (text !== 'server received message') this.#frames.malformedFrame(text);
  }

  #scheduleBeat(conn: AbortController): void {
    const intervalMs = this.#o.heartbeatIntervalMs;
    if (intervalMs <= 0 || this.#closed || conn.signal.aborted) return;
    if (this.#beatTimer !== undefined) clearTimeout(this.#beatTimer);
    this.#beatTimer = setTimeout(() => { this.#beat(conn); }, intervalMs);
  }

  #beat(conn: AbortController): void {
    this.#beatTimer = undefined;
    if (this.#closed || conn.signal.aborted || this.#pending !== undefined) return;
    this.#seq += 1;
    const seq = this.#seq;
    const sentMs = this.#now();
    const sentAt = sentMs / 1000;
    const timeoutMs = this.#o.heartbeatTimeoutMs ?? this.#o.heartbeatIntervalMs;
    const timer = setTimeout(() => { this.#beatDue(conn, seq); }, timeoutMs);
    this.#pending = { seq, sentAt, sentMs, timer, pausedMs: this.#pausedSoFar() };
    this.#stats.heartbeatsSent += 1;
    this.#fire(HEARTBEAT_TAG, { seq, sent_at: sentAt }).then(
      () => undefined,
      (err: unknown) => {
        this.#log.warn({ err, seq }, 'heartbeat call failed');
        this.#beatLost(conn, seq, 'heartbeat-failed');
      },
    );
  }

  /** beatDue: the beat's time is up, unless the reads were paused meanwhile: the paused time is added to its wait. */
  #beatDue(conn: AbortController, seq: number): void {
    const pending = this.#pending;
    if (pending === undefined || pending.seq !== seq) return;
    const pausedMs = this.#pausedSoFar();
    const owedMs = pausedMs - pending.pausedMs;
    if (owedMs > 0 && !this.#closed && !conn.signal.aborted) {
      pending.pausedMs = pausedMs;
      pending.timer = setTimeout(() => { this.#beatDue(conn, seq); }, Math.ceil(owedMs));
      return;
    }
    this.#beatLost(conn, seq, 'heartbeat-missed');
  }

  #beatLost(conn: AbortController, seq: number, reason: 'heartbeat-missed' | 'heartbeat-failed'): void {
    const pending = this.#pending;
    if (pending === undefined || pending.seq !== seq || this.#closed || conn.signal.aborted) return;
    clearTimeout(pending.timer);
    this.#pending = undefined;
    if (reason === 'heartbeat-missed') this.#stats.heartbeatsMissed += 1;
    else this.#stats.heartbeatsFailed += 1;
    this.#log.warn({ seq, reason }, 'heartbeat lost, reconnecting the event stream');
    this.#connected = false;
    this.#gap(reason);
    conn.abort();
  }

  #stopBeats(): void {
    if (this.#beatTimer !== undefined) clearTimeout(this.#beatTimer);
    this.#beatTimer = undefined;
    if (this.#pending !== undefined) clearTimeout(this.#pending.timer);
    this.#pending = undefined;
  }
}

/** knownMinion is the minion an event is about as far as its tag and a look at its text say (EventInterest). */
function knownMinion(subject: TagSubject, text: string): string | undefined {
  if (subject.kind === 'run-new' || subject.kind === 'run-ret') return mayBeOrchestrate(text) ? undefined : '';
  return subject.kind === 'auth' || subject.kind === 'key' ? undefined : subject.minion;
}

/** SKIPPED is what EventFrames.read returns for a frame counted as skipped. */
export const SKIPPED = 'skipped';

/**
 * EventFrames turns the JSON text of each frame into a typed event: a frame whose tag (read from the text's end,
 * frameTag; for a run event, whether its text can be an orchestrate's) says the interest does not read it is counted
 * in `skipped` by kind and not parsed; heartbeats are
 * always parsed (the stream reads them); a malformed frame is counted, logged at debug and skipped.
 */
export class EventFrames {
  /** interest: undefined = every frame is parsed (`salt-autoscaler events`, or before the engine consumes). */
  interest: EventInterest | undefined;
  events = 0;
  malformed = 0;
  readonly skipped: Partial<Record<SaltEventKind, number>> = {};
  readonly #log: Logger | undefined;

  constructor(log?: Logger) {
    this.#log = log;
  }

  /** read returns the frame's typed event, SKIPPED when the interest does not read it, undefined when it is malformed. */
  read(text: string): SaltEvent | typeof SKIPPED | undefined {
    const interest = this.interest;
    const tag = interest === undefined ? undefined : frameTag(text);
    const subject = tag === undefined ? undefined : classifyTag(tag);
    if (subject !== undefined && subject.kind !== 'heartbeat' && interest?.(subject.kind, knownMinion(subject, text)) === false) {
      this.skipped[subject.kind] = (this.skipped[subject.kind] ?? 0) + 1;
      return SKIPPED;
    }
    const event = tryParseEvent(text, subject);
    if (event === undefined) {
      this.malformedFrame(text);
      return undefined;
    }
    this.events += 1;
    return event;
  }

  /** malformedFrame counts and logs a frame that is no event. */
  malformedFrame(text: string): void {
    this.malformed += 1;
    this.#log?.debug({ sample: trimBody(text, 120) }, 'malformed salt event frame skipped');
  }
}

/** SseReader turns SSE body bytes into the `data` text of each event (salt-api's `tag:` lines are skipped). */
export interface SseReader {
  /** feed takes the next body chunk; a byte chunk is changed in place (its `tag:` lines become comments). */
  feed(chunk: Uint8Array | string): void;
}

/**
 * sseReader builds the SSE decoding path of the stream: a streaming UTF-8 decoder, then eventsource-parser.
 *
 * salt-api sends a `tag:` line before each `data:` line. `tag` is no SSE field, so the parser ignores it
 * (the tag is repeated inside the data) but reports each one by constructing a ParseError, which costs
 * more than the event's JSON.parse (bench/ingest.ts). We turn those lines into SSE comments, which the parser
 * skips for free: in the bytes, in place (`tag:` -> `:ag:`, one byte, no copy of the chunk); a string chunk
 * is rewritten as a string. A `tag:` line split across two chunks is not rewritten: the parser reports it
 * (one ParseError, ignored), the same events come out.
 */
export function sseReader(onData: (data: string) => void, log?: Logger): SseReader {
  const parser = createParser({
    onEvent: (message) => { onData(message.data); },
    onError: (err: ParseError) => {
      if (err.type !== 'unknown-field' || err.field !== 'tag') log?.debug({ type: err.type, field: err.field }, 'odd SSE line ignored');
    },
  });
  const decoder = new StringDecoder('utf8');
  let atLineStart = true;
  return {
    feed(chunk) {
      if (typeof chunk === 'string') {
        const text = chunk.replaceAll('\ntag:', '\n:');
        parser.feed(atLineStart && text.startsWith('tag:') ? `:${text.slice(4)}` : text);
        atLineStart = chunk.endsWith('\n');
        return;
      }
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (atLineStart && bytes.subarray(0, TAG_FIELD.length).equals(TAG_FIELD)) bytes[0] = COLON;
      for (let at = bytes.indexOf(TAG_LINE); at !== -1; at = bytes.indexOf(TAG_LINE, at + TAG_LINE.length)) bytes[at + 1] = COLON;
      parser.feed(decoder.write(bytes));
      atLineStart = bytes.length > 0 ? bytes[bytes.length - 1] === LF : atLineStart;
    },
  };
}

const TAG_FIELD = Buffer.from('tag:');
const TAG_LINE = Buffer.from('\ntag:');
const COLON = 0x3a;
const LF = 0x0a;

/** wsFrameData returns the JSON text of a salt-api websocket frame (`data: {...}\n\n`), or undefined for anything else. */
export function wsFrameData(text: string): string | undefined {
  return text.startsWith('data: ') ? text.slice(6) : undefined;
}

function errText(err: unknown): string {
  if (err instanceof Error) return 'code' in err && typeof err.code === 'string' ? err.code : err.message;
  return String(err);
}
