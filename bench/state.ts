/**
 * bench/state: what 10,000 instances cost in the lifecycle + SQLite store. Per round, in a fresh temp dir:
 * build 10,000 instances and drive each to ready through `step` (4 inputs each), persist them with their
 * transitions in one batch, measure heap/RSS held (after a GC), then run one reconcile pass (an `observed`
 * input per instance: 90 % consistent, 5 % stopped in the cloud, 5 % absent) and persist the moved ones in one
 * batch; also reopen + loadInstances, and the cost of single (non-batched) fsynced saves and intents.
 * Reports medians over the rounds. `npx tsx bench/state.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { newInstance, step, type LifecycleInput, type StepContext } from '../src/core/lifecycle.ts';
import type { Instance } from '../src/core/types.ts';
import { createLogger } from '../src/log.ts';
import { openStore, type InstanceSave } from '../src/store/sqlite-store.ts';

/** StateBench is the outcome of one run: medians over `rounds` (times in ms, memory in MB). */
export interface StateBench {
  readonly name: 'state';
  readonly instances: number;
  readonly rounds: number;
  /** lifecycleToReadyMs: 4 step() calls per instance, all instances. */
  readonly lifecycleToReadyMs: number;
  /** persistAllMs: one saveInstances batch of every instance with its 4 transitions. */
  readonly persistAllMs: number;
  /** heldHeapMB / heldRssMB: growth after building and persisting, with the instances in memory and the store open. */
  readonly heldHeapMB: number;
  readonly heldRssMB: number;
  /** reconcileStepMs: one observed input through step() per instance. */
  readonly reconcileStepMs: number;
  readonly reconcileMoved: number;
  /** reconcilePersistMs: one saveInstances batch of the moved instances. */
  readonly reconcilePersistMs: number;
  /** reopenLoadMs: openStore on the existing file + loadInstances. */
  readonly reopenLoadMs: number;
  /** singleSaveMs / openIntentMs: one fsynced saveInstance (with a transition) / openIntent, outside a batch. */
  readonly singleSaveMs: number;
  readonly openIntentMs: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function collector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  return typeof gc === 'function' ? () => { gc(); gc(); } : () => {};
}

const MB = 1024 * 1024;
const T0 = 1_800_000_000_000;
const CTX: StepContext = { nowMs: T0, provisionTimeoutMs: 900_000 };

interface Round {
  lifecycleToReadyMs: number; persistAllMs: number; heldHeapMB: number; heldRssMB: number;
  reconcileStepMs: number; reconcileMoved: number; reconcilePersistMs: number; reopenLoadMs: number;
  singleSaveMs: number; openIntentMs: number;
}

function round(count: number, gc: () => void): Round {
  const dir = mkdtempSync(join(tmpdir(), 'asc-bench-state-'));
  const logger = createLogger({ level: 'silent' });
  try {
    const path = join(dir, 'state.db');
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const rss0 = process.memoryUsage().rss;
    const store = openStore(path, { logger });

    let started = performance.now();
    const saves: InstanceSave[] = [];
    const instances: Instance[] = [];
    for (let i = 0; i < count; i++) {
      const id = `gpu-${String(i).padStart(5, '0')}`;
      let inst = newInstance(id, `prod/type${i % 8}`, T0);
      const inputs: LifecycleInput[] = [
        { kind: 'start-issued' },
        { kind: 'minion-start', tag: `salt/minion/${id}/start`, data: {}, minion: id },
        { kind: 'run-new', tag: `salt/run/J${i}/new`, data: {}, jid: `J${i}`, orchestrateMinion: id },
        { kind: 'instance-ready', tag: `salt-autoscaler/instance/${id}/ready`, data: {}, minion: id },
      ];
      for (const [k, input] of inputs.entries()) {
        const r = step(inst, input, { ...CTX, nowMs: T0 + k * 1000 });
        if (r.kind === 'moved') saves.push({ instance: r.instance, transition: r.transition });
        inst = r.instance;
      }
      instances.push(inst);
    }
    const lifecycleToReadyMs = performance.now() - started;

    started = performance.now();
    store.saveInstances(saves);
    const persistAllMs = performance.now() - started;
    saves.length = 0;
    gc();
    const heldHeapMB = (process.memoryUsage().heapUsed - heap0) / MB;
    const heldRssMB = (process.memoryUsage().rss - rss0) / MB;

    const nowMs = T0 + 3_600_000;
    started = performance.now();
    const moved: InstanceSave[] = [];
    for (let i = 0; i < instances.length; i++) {
      const inst = instances[i]!;
      const input: LifecycleInput = i % 20 === 0
        ? { kind: 'observed', cloudState: 'stopped', minionUp: false }
        : i % 20 === 1
          ? { kind: 'observed', cloudState: 'absent', minionUp: false }
          : { kind: 'observed', cloudState: 'running', minionUp: true, grain: { ready: true, deployedAtMs: T0 + 3000 } };
      const r = step(inst, input, { ...CTX, nowMs });
      if (r.kind === 'moved') {
        moved.push({ instance: r.instance, transition: r.transition });
        instances[i] = r.instance;
      }
    }
    const reconcileStepMs = performance.now() - started;
    started = performance.now();
    store.saveInstances(moved);
    const reconcilePersistMs = performance.now() - started;

    const singles = 50;
    started = performance.now();
    for (let i = 0; i < singles; i++) {
      const inst = instances[i]!;
      store.saveInstance({ ...inst, sinceMs: nowMs + i, reason: `single ${i}` }, { from: inst.state, to: inst.state, atMs: nowMs + i, reason: 'bench' });
    }
    const singleSaveMs = (performance.now() - started) / singles;
    started = performance.now();
    for (let i = 0; i < singles; i++) store.openIntent('start', instances[i]!.id, instances[i]!.pool, nowMs + i);
    const openIntentMs = (performance.now() - started) / singles;
    store.close();

    started = performance.now();
    const reopened = openStore(path, { logger });
    const loaded = reopened.loadInstances();
    const reopenLoadMs = performance.now() - started;
    reopened.close();
    if (loaded.length !== count) throw new Error(`loaded ${loaded.length} instances, expected ${count}`);

    return {
      lifecycleToReadyMs, persistAllMs, heldHeapMB, heldRssMB, reconcileStepMs, reconcileMoved: moved.length,
      reconcilePersistMs, reopenLoadMs, singleSaveMs, openIntentMs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** benchState runs the rounds (default 5, 10,000 instances) and returns the medians. */
export async function benchState(opts: { instances?: number; rounds?: number } = {}): Promise<StateBench> {
  const count = opts.instances ?? 10_000;
  const rounds = opts.rounds ?? 5;
  const gc = collector();
  round(Math.min(count, 1000), gc); // warm-up: JIT, SQLite page cache code paths
  const results: Round[] = [];
  for (let i = 0; i < rounds; i++) results.push(round(count, gc));
  const m = (key: keyof Round): number => median(results.map((r) => r[key]));
  return {
    name: 'state', instances: count, rounds,
    lifecycleToReadyMs: m('lifecycleToReadyMs'), persistAllMs: m('persistAllMs'), heldHeapMB: m('heldHeapMB'), heldRssMB: m('heldRssMB'),
    reconcileStepMs: m('reconcileStepMs'), reconcileMoved: m('reconcileMoved'), reconcilePersistMs: m('reconcilePersistMs'),
    reopenLoadMs: m('reopenLoadMs'), singleSaveMs: m('singleSaveMs'), openIntentMs: m('openIntentMs'),
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await benchState();
  const f = (x: number): string => x.toFixed(1);
  process.stdout.write(
    `state: ${r.instances} instances, ${r.rounds} rounds (medians)\n`
    + `  lifecycle to ready (4 steps each):      ${f(r.lifecycleToReadyMs)} ms\n`
    + `  persist all + 4 transitions each (1 tx): ${f(r.persistAllMs)} ms\n`
    + `  held in memory (instances + open store): heap +${f(r.heldHeapMB)} MB, rss +${f(r.heldRssMB)} MB\n`
    + `  reconcile pass, step() x ${r.instances}:         ${f(r.reconcileStepMs)} ms (${r.reconcileMoved} moved)\n`
    + `  reconcile persist of the moved (1 tx):   ${f(r.reconcilePersistMs)} ms\n`
    + `  reopen + loadInstances:                  ${f(r.reopenLoadMs)} ms\n`
    + `  one fsynced saveInstance / openIntent:   ${r.singleSaveMs.toFixed(2)} ms / ${r.openIntentMs.toFixed(2)} ms\n`,
  );
}
