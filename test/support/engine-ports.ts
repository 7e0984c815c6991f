/**
 * engine-ports: fakes of every port the engine uses, for its port-level behaviour tests: a fake clock that tests
 * advance, a fake cloud + minions (one in-memory "Salt") that boots and deploys on that clock and puts its events on
 * a fake event source, and a silent logger. The store is the real SQLite store in memory.
 *
 *   engine ──start(id)──► FakeSalt: running ──bootMs──► minion-start event ──deployMs──► ready grain + ready event
 *   engine ──stop(id)───► FakeSalt: stopped ──stopEventMs──► salt/cloud/<id>/stopped event
 */
import { Engine, type EngineOptions, type ManagedPool } from '../../src/engine/engine.ts';
import type { CloudInstance, Clock, EngineLogger, EventSource, IdleResult, Intent, ReadyGrain, ReplicaBatch, ReplicaSnapshot, SaltActions, StateReplica, Timer } from '../../src/engine/ports.ts';
import type { StreamItem } from '../../src/core/salt-event.ts';
import type { PoolSpec } from '../../src/core/types.ts';
import { openStore, type SqliteStore } from '../../src/store/sqlite-store.ts';
import { createLogger } from '../../src/log.ts';

/** settle lets every promise and immediate that is ready run (the engine's async steps between timer firings). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i += 1) await new Promise<void>((resolve) => { setImmediate(resolve); });
}

interface FakeTimer { atMs: number; fn: () => void; everyMs?: number; cancelled: boolean; seq: number }

/** FakeClock is time the test moves: timers fire in order of due time as advance() passes them. */
export class FakeClock implements Clock {
  #nowMs: number;
  #seq = 0;
  readonly #timers: FakeTimer[] = [];

  constructor(startMs = 1_700_000_000_000) { this.#nowMs = startMs; }

  now(): number { return this.#nowMs; }

  after(ms: number, fn: () => void): Timer { return this.#add(ms, fn); }

  every(ms: number, fn: () => void): Timer { return this.#add(ms, fn, Math.max(1, ms)); }

  yieldTurn(): Promise<void> { return new Promise<void>((resolve) => { setImmediate(resolve); }); }

  /** liveTimers counts the timers set and neither fired (once) nor cancelled. */
  liveTimers(): number { return this.#timers.filter((t) => !t.cancelled).length; }

  #add(ms: number, fn: () => void, everyMs?: number): Timer {
    const timer: FakeTimer = { atMs: this.#nowMs + Math.max(0, ms), fn, cancelled: false, seq: (this.#seq += 1), ...(everyMs === undefined ? {} : { everyMs }) };
    this.#timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** advance moves time by ms, firing each due timer at its own time and letting the engine's work settle after each. */
  async advance(ms: number): Promise<void> {
    const target = this.#nowMs + ms;
    await settle();
    for (;;) {
      const live = this.#timers.filter((t) => !t.cancelled && t.atMs <= target).sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
      const next = live[0];
      if (next === undefined) break;
      this.#nowMs = Math.max(this.#nowMs, next.atMs);
      if (next.everyMs === undefined) next.cancelled = true;
      else next.atMs += next.everyMs;
      next.fn();
      await settle();
    }
    this.#nowMs = target;
    for (let i = this.#timers.length - 1; i >= 0; i -= 1) if (this.#timers[i]?.cancelled === true) this.#timers.splice(i, 1);
    await settle();
  }
}

/** FakeEvents is an event source the fake Salt pushes into. */
export class FakeEvents implements EventSource {
  readonly #queue: StreamItem[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  connected = true;

  push(item: StreamItem): void {
    this.#queue.push(item);
    this.#wake?.();
  }

  async *items(): AsyncIterable<StreamItem> {
    for (;;) {
      const item = this.#queue.shift();
      if (item !== undefined) { yield item; continue; }
      if (this.#closed) return;
      await new Promise<void>((resolve) => { this.#wake = resolve; });
      this.#wake = undefined;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
  }
}

/** FakeVm is one VM of the fake cloud. */
export interface FakeVm {
  state: 'stopped' | 'running';
  up: boolean;
  ready: boolean;
  busy: boolean;
  draining: boolean;
}

/** Call is one call the engine made, with the fake clock's time. */
export interface Call { readonly fn: string; readonly id: string; readonly atMs: number; readonly busy?: boolean }

/** FakeSaltOptions shapes the fake master. */
export interface FakeSaltOptions {
  readonly bootMs?: number;
  readonly deployMs?: number;
  readonly stopEventMs?: number;
  /** failStarts: instance ids whose start call answers an error (the VM does not start). */
  readonly failStarts?: ReadonlySet<string>;
  /** deployFails: instance ids whose deploy fails (a failed event instead of ready). */
  readonly deployFails?: ReadonlySet<string>;
}

/** FakeSalt is the cloud target and the minions in memory, on the fake clock. */
export class FakeSalt implements SaltActions {
  readonly vms = new Map<string, FakeVm>();
  readonly calls: Call[] = [];
  /** duplicateStarts counts starts of a VM that was already running (one need, two starts). */
  duplicateStarts = 0;
  /** hold: while set, cloud start calls do not answer until release() (a call in flight when the process dies). */
  hold = false;
  readonly #held: (() => void)[] = [];
  readonly #clock: FakeClock;
  /** #streams: where the fake master puts its events (every process has its own stream). */
  #streams: FakeEvents[] = [];
  readonly #opts: FakeSaltOptions;

  constructor(clock: FakeClock, events: FakeEvents, ids: readonly string[], opts: FakeSaltOptions = {}) {
    this.#clock = clock;
    this.#streams = [events];
    this.#opts = opts;
    for (const id of ids) this.vms.set(id, { state: 'stopped', up: false, ready: false, busy: false, draining: false });
  }

  /** subscribe adds a process's stream; a closed one stops receiving. */
  subscribe(events: FakeEvents): void {
    if (!this.#streams.includes(events)) this.#streams.push(events);
  }

  #push(item: StreamItem): void {
    for (const s of this.#streams) s.push(item);
  }

  /** release lets held start calls answer. */
  release(): void { for (const r of this.#held.splice(0)) r(); }

  #vm(id: string): FakeVm {
    const vm = this.vms.get(id);
    if (vm === undefined) throw new Error(`no such vm ${id}`);
    return vm;
  }

  #record(fn: string, id: string): void {
    const busy = this.vms.get(id)?.busy;
    this.calls.push({ fn, id, atMs: this.#clock.now(), ...(busy === undefined ? {} : { busy }) });
  }

  /** boot runs a started VM's life: minion start after bootMs, then ready (or failed) after deployMs. */
  #boot(id: string): void {
    const vm = this.#vm(id);
    vm.state = 'running';
    const bootMs = this.#opts.bootMs ?? 30_000;
    const deployMs = this.#opts.deployMs ?? 60_000;
    this.#clock.after(bootMs, () => {
      if (vm.state !== 'running') return;
      vm.up = true;
      this.#push({ kind: 'minion-start', tag: `salt/minion/${id}/start`, minion: id, data: {} });
    });
    this.#clock.after(bootMs + deployMs, () => {
      if (vm.state !== 'running' || !vm.up) return;
      if (this.#opts.deployFails?.has(id) === true) {
        this.#push({ kind: 'instance-failed', tag: `salt-autoscaler/instance/${id}/failed`, minion: id, data: {} });
        return;
      }
      vm.ready = true;
      this.#push({ kind: 'instance-ready', tag: `salt-autoscaler/instance/${id}/ready`, minion: id, data: {} });
    });
  }

  async start(id: string): Promise<void> {
    this.#record('start', id);
    if (this.#opts.failStarts?.has(id) === true) throw Object.assign(new Error(`start of ${id} refused`), { code: 'ASC_ERR_SALT_ACTION' });
    const vm = this.#vm(id);
    if (vm.state === 'stopped') this.#boot(id);
    else this.duplicateStarts += 1;
    if (this.hold) await new Promise<void>((resolve) => { this.#held.push(resolve); });
  }

  async create(id: string, _profile: string): Promise<void> {
    this.#record('create', id);
    this.vms.set(id, { state: 'stopped', up: false, ready: false, busy: false, draining: false });
    this.#boot(id);
  }

  async stop(id: string): Promise<void> {
    this.#record('stop', id);
    const vm = this.#vm(id);
    Object.assign(vm, { state: 'stopped', up: false, ready: false, draining: false });
    this.#clock.after(this.#opts.stopEventMs ?? 1_000, () => {
      this.#push({ kind: 'cloud', what: 'stopped', tag: `salt/cloud/${id}/stopped`, minion: id, data: {} });
    });
  }

  async destroy(id: string): Promise<void> {
    this.#record('destroy', id);
    this.vms.delete(id);
  }

  async cloudInstances(): Promise<readonly CloudInstance[]> {
    return [...this.vms].map(([id, vm]) => ({ id, state: vm.state, provider: 'fake' }));
  }

  async idleCheck(id: string): Promise<IdleResult> {
    this.#record('idle', id);
    const vm = this.vms.get(id);
    if (vm === undefined || !vm.up) return 'unreachable';
    return vm.busy ? 'busy' : 'idle';
  }

  async readyGrains(ids: readonly string[]): Promise<ReadonlyMap<string, ReadyGrain>> {
    const out = new Map<string, ReadyGrain>();
    for (const id of ids) {
      const vm = this.vms.get(id);
      if (vm?.up === true) out.set(id, { ready: vm.ready, draining: vm.draining });
    }
    return out;
  }

  async minionsUp(ids?: readonly string[]): Promise<readonly string[]> {
    return [...this.vms].filter(([id, vm]) => vm.up && (ids === undefined || ids.includes(id))).map(([id]) => id);
  }

  async setDraining(id: string, draining: boolean): Promise<void> {
    this.#record(draining ? 'drain' : 'undrain', id);
    const vm = this.vms.get(id);
    if (vm !== undefined) vm.draining = draining;
  }

  async fireEvent(): Promise<void> {}

  /** count is how many calls of `fn` were made (for `id` when given). */
  count(fn: string, id?: string): number {
    return this.calls.filter((c) => c.fn === fn && (id === undefined || c.id === id)).length;
  }
}

/**
 * SharedStore is the fake of the HA coordination store (etcd): one leader at a time, open intents and pool state,
 * every write fenced on "this writer is the leader". `replicaFor(name)` is one process's view of it.
 */
export class SharedStore {
  leader: string | undefined;
  readonly intents = new Map<number, Intent>();
  readonly pools = new Map<string, Readonly<Record<string, unknown>>>();
  commits = 0;
  refused = 0;
  #seq = 0;

  replicaFor(name: string): StateReplica {
    return {
      commit: async (batch: ReplicaBatch): Promise<readonly Intent[]> => {
        if (this.leader !== name) { this.refused += 1; throw new Error(`${name} does not lead`); }
        this.commits += 1;
        const opened = (batch.open ?? []).map((n) => ({ id: (this.#seq += 1), kind: n.kind, instance: n.instance, pool: n.pool, createdMs: n.nowMs, status: 'open' as const }));
        for (const i of opened) this.intents.set(i.id, i);
        for (const id of batch.finish ?? []) this.intents.delete(id);
        for (const [pool, value] of Object.entries(batch.pools ?? {})) {
          if (value === undefined) this.pools.delete(pool);
          else this.pools.set(pool, value);
        }
        return opened;
      },
      load: async (): Promise<ReplicaSnapshot> => ({ intents: [...this.intents.values()], pools: new Map(this.pools) }),
    };
  }

  gateFor(name: string): { mayAct(): boolean } {
    return { mayAct: () => this.leader === name };
  }
}

/** silentLogger drops every line (the port tests assert behaviour, not logs). */
export const silentLogger: EngineLogger = createLogger({ level: 'silent' });

/** poolSpec is a pool of the port tests: 8 workload units per instance, adaptive over 10 min, short cooldowns. */
export function poolSpec(over: Partial<PoolSpec> = {}): PoolSpec {
  return {
    name: 'gpu', env: 'prod', instanceType: 'type1', min: 0, max: 4, upThreshold: 1, downThreshold: 0, intervalMs: 60_000,
    upCooldownMs: 60_000, downCooldownMs: 60_000, step: 4, strategy: { kind: 'adaptive', perInstance: 8, peakWindowMs: 10 * 60_000 },
    provisionTimeoutMs: 10 * 60_000, drainTimeoutMs: 5 * 60_000, scaleIn: 'stop', canCreate: false, signalMaxAgeMs: 60 * 60_000,
    failureBackoffBaseMs: 60_000, failureBackoffMaxMs: 10 * 60_000, dryRun: false, paused: false,
    ...over,
  };
}

/** World is one engine on fake ports, with its store kept so a second engine can take over after a "crash". */
export interface World {
  readonly clock: FakeClock;
  readonly events: FakeEvents;
  readonly salt: FakeSalt;
  readonly store: SqliteStore;
  readonly engine: Engine;
  readonly pool: ManagedPool;
  /** signal sets the pool's workload as a pulled signal (a PromQL value as of now). */
  signal(workload: number): void;
}

/** WorldOptions shapes a world: the pool, the fake master, the engine's intervals. */
export interface WorldOptions {
  readonly spec?: Partial<PoolSpec>;
  readonly reserved?: number;
  readonly salt?: FakeSaltOptions;
  readonly engine?: Partial<EngineOptions>;
  /** reuse: the clock, salt and store of a previous world (the same fleet after a crash). */
  readonly reuse?: Pick<World, 'clock' | 'salt' | 'store'>;
  /** peer: the clock and salt of another process on the same fleet (it keeps its own store). */
  readonly peer?: Pick<World, 'clock' | 'salt'>;
  /** shared: HA on a fake coordination store, as the process named `name`. */
  readonly shared?: { readonly store: SharedStore; readonly name: string };
}

/** startWorld builds and starts an engine on fake ports (reconciled, loops running). */
export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const reserved = Array.from({ length: opts.reserved ?? 4 }, (_, i) => `gpu-prod-type1-${String(i + 1).padStart(2, '0')}`);
  const clock = opts.reuse?.clock ?? opts.peer?.clock ?? new FakeClock();
  const events = new FakeEvents();
  const salt = opts.reuse?.salt ?? opts.peer?.salt ?? new FakeSalt(clock, events, reserved, opts.salt);
  salt.subscribe(events); // a new process subscribes its own stream
  const store = opts.reuse?.store ?? openStore(':memory:', { logger: createLogger({ level: 'silent' }), nowMs: () => clock.now() });
  const pool: ManagedPool = { spec: poolSpec(opts.spec), reserved, idleCheck: { fun: 'cmd.retcode', args: ['busy-check'] } };
  let workload: number | undefined;
  const engine = new Engine({
    pools: [pool], cloud: salt, minions: salt, store, clock, logger: silentLogger, events,
    workloadSource: async () => (workload === undefined ? undefined : { value: workload, atMs: clock.now(), source: 'test' }),
    ...(opts.shared === undefined ? {} : { gate: opts.shared.store.gateFor(opts.shared.name), replica: opts.shared.store.replicaFor(opts.shared.name) }),
    reconcileIntervalMs: 5 * 60_000, evaluateIntervalMs: 30_000, tickIntervalMs: 5_000, startConfirmWindowMs: 60_000,
    storeCheckIntervalMs: 3_600_000, integrityCheckIntervalMs: 3_600_000,
    ...opts.engine,
  });
  await engine.start();
  if (opts.shared !== undefined && opts.shared.store.leader === opts.shared.name) await engine.takeOver(); // the elected one takes over
  await settle();
  return {
    clock, events, salt, store, engine, pool,
    signal: (w) => { workload = w; engine.evaluateSoon(pool.spec.name); },
  };
}

/** states counts the pool's instances by state. */
export function states(world: World): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of world.engine.instances()) out[i.state] = (out[i.state] ?? 0) + 1;
  return out;
}
