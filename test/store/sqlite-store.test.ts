import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openStore, type SqliteStore, type StoreOptions } from '../../src/store/sqlite-store.ts';
import { createLogger } from '../../src/log.ts';
import type { Instance, Transition } from '../../src/core/types.ts';
import { Writable } from 'node:stream';

const quiet = createLogger({ level: 'silent' });

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'asc-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(t: Test, path: string, opts: Partial<StoreOptions> = {}): SqliteStore {
  const store = openStore(path, { logger: quiet, ...opts });
  t.teardown(() => store.close());
  return store;
}

const full: Instance = {
  id: 'gpu-prod-1', pool: 'prod/type1', state: 'deploying', sinceMs: 1_000, reason: 'deploy orchestrate started',
  lastStartMs: 900, readyMs: 500, deployJid: '20261128071234567890', created: true,
};
const bare: Instance = { id: 'gpu-prod-2', pool: 'prod/type1', state: 'stopped', sinceMs: 10, reason: 'new instance', created: false };

t.test('an instance saved with every field comes back equal, and one without optional fields has none', async (t) => {
  const path = join(tempDir(t), 'state.db');
  const store = open(t, path);
  store.saveInstance(full);
  store.saveInstance(bare);
  t.same(store.loadInstances(), [full, bare]);
  t.notOk('lastStartMs' in store.loadInstances()[1]!, 'absent optional fields stay absent (exactOptionalPropertyTypes)');
});

t.test('saving an instance again updates it in place', async (t) => {
  const store = open(t, join(tempDir(t), 'state.db'));
  store.saveInstance(full);
  const { deployJid: _jid, ...rest } = full;
  store.saveInstance({ ...rest, state: 'ready', sinceMs: 2_000, reason: 'ready event', readyMs: 2_000 });
  const loaded = store.loadInstances();
  t.equal(loaded.length, 1);
  t.same(loaded[0], { ...rest, state: 'ready', sinceMs: 2_000, reason: 'ready event', readyMs: 2_000 });
});

t.test('the state survives closing and reopening the file', async (t) => {
  const path = join(tempDir(t), 'nested', 'dirs', 'state.db');
  const first = openStore(path, { logger: quiet });
  t.ok(existsSync(path), 'parent directories and file are created');
  first.saveInstance(full, { from: 'booted', to: 'deploying', atMs: 1_000, reason: 'deploy orchestrate started' });
  const intent = first.openIntent('start', 'gpu-prod-1', 'prod/type1', 900);
  first.recordDecision({ pool: 'prod/type1', atMs: 800, decision: { kind: 'hold', reason: 'cooldown' }, dryRun: true });
  first.setPoolState('prod/type1', { paused: true, lastUpMs: 800 });
  first.close();
  first.close();
  const second = open(t, path);
  t.same(second.loadInstances(), [full]);
  t.same(second.history('gpu-prod-1'), [{ from: 'booted', to: 'deploying', atMs: 1_000, reason: 'deploy orchestrate started' }]);
  t.same(second.openIntents(), [intent]);
  t.same(second.decisions(), [{ pool: 'prod/type1', atMs: 800, decision: { kind: 'hold', reason: 'cooldown' }, dryRun: true }]);
  t.same(second.poolState('prod/type1'), { paused: true, lastUpMs: 800 });
});

t.test('the database runs in WAL mode', async (t) => {
  const path = join(tempDir(t), 'state.db');
  open(t, path);
  const raw = new BetterSqlite3(path, { readonly: true });
  t.teardown(() => raw.close());
  t.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
});

t.test('history returns the newest transitions oldest first, and old ones are pruned', async (t) => {
  const store = open(t, join(tempDir(t), 'state.db'), { transitionsPerInstance: 10 });
  const states = ['starting', 'booted', 'deploying', 'ready', 'draining', 'stopping', 'stopped'] as const;
  const all: Transition[] = [];
  for (let i = 0; i < 100; i++) {
    const from = states[i % states.length]!;
    const to = states[(i + 1) % states.length]!;
    const tr: Transition = { from, to, atMs: i, reason: `step ${i}` };
    all.push(tr);
    store.saveInstance({ ...bare, state: to, sinceMs: i }, tr);
    store.saveInstance({ ...full, sinceMs: i }, { from: 'booted', to: 'deploying', atMs: i, reason: 'other instance' });
  }
  t.same(store.history(bare.id, 3), all.slice(-3));
  const kept = store.history(bare.id, 1000);
  t.ok(kept.length >= 10 && kept.length <= 10 + 32, `kept about 10 transitions (${kept.length})`);
  t.same(kept, all.slice(-kept.length), 'the kept ones are the newest');
  t.same(store.history('unknown'), []);
});

t.test('intents are open until finished, and a finished one leaves openIntents', async (t) => {
  const store = open(t, join(tempDir(t), 'state.db'));
  const a = store.openIntent('start', 'gpu-prod-1', 'prod/type1', 100);
  const b = store.openIntent('drain', 'gpu-prod-2', 'prod/type1', 200);
  const c = store.openIntent('create', 'gpu-prod-3', 'prod/type1', 300);
  t.same(a, { id: a.id, kind: 'start', instance: 'gpu-prod-1', pool: 'prod/type1', createdMs: 100, status: 'open' });
  t.ok(b.id > a.id && c.id > b.id, 'ids grow');
  store.finishIntent(a.id, 'done');
  store.finishIntent(c.id, 'failed', 'salt-api answered 500');
  t.same(store.openIntents().map((i) => i.id), [b.id]);
});

t.test('finishing an unknown intent warns and does not throw', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', destination: new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }) });
  const store = open(t, join(tempDir(t), 'state.db'), { logger });
  store.finishIntent(4242, 'done');
  t.match(lines.join(''), /no such intent/);
  t.match(lines.join(''), /"intent":4242/);
});

t.test('finished intents beyond the kept number are pruned when the store opens; open ones never are', async (t) => {
  const path = join(tempDir(t), 'state.db');
  const first = openStore(path, { logger: quiet });
  const open1 = first.openIntent('stop', 'gpu-prod-9', 'prod/type1', 1);
  for (let i = 0; i < 20; i++) first.finishIntent(first.openIntent('start', `gpu-${i}`, 'prod/type1', i).id, 'done');
  first.close();
  const second = open(t, path, { finishedIntentsKept: 5 });
  t.same(second.openIntents().map((i) => i.id), [open1.id]);
  const raw = new BetterSqlite3(path, { readonly: true });
  t.teardown(() => raw.close());
  t.equal(raw.prepare(`SELECT count(*) AS n FROM intents WHERE status = 'done'`).pluck().get(), 5);
  t.equal(raw.prepare(`SELECT count(*) AS n FROM intents WHERE finished_ms IS NOT NULL`).pluck().get(), 5, 'finished intents carry their finish time');
});

t.test('the newest intent is never pruned, so an id is never given twice', async (t) => {
  const path = join(tempDir(t), 'state.db');
  const first = openStore(path, { logger: quiet });
  const ids = [1, 2, 3].map((i) => first.openIntent('start', `gpu-${i}`, 'prod/type1', i).id);
  for (const id of ids) first.finishIntent(id, 'done');
  first.close();
  const second = open(t, path, { finishedIntentsKept: 0 });
  const raw = new BetterSqlite3(path, { readonly: true });
  t.teardown(() => raw.close());
  t.same(raw.prepare('SELECT id FROM intents').pluck().all(), [ids[2]], 'every finished intent pruned but the newest');
  t.equal(second.openIntent('stop', 'gpu-4', 'prod/type1', 4).id, (ids[2] ?? 0) + 1, 'the next id follows the newest ever given');
});

t.test('decisions come back newest first, per pool, with their targets', async (t) => {
  const store = open(t, join(tempDir(t), 'state.db'));
  store.recordDecision({ pool: 'prod/type1', atMs: 1, decision: { kind: 'scaleUp', count: 2, targets: [{ kind: 'start', id: 'gpu-prod-1' }, { kind: 'create' }], reason: 'workload 5 >= 1' }, dryRun: false });
  store.recordDecision({ pool: 'dev/type2', atMs: 2, decision: { kind: 'scaleDown', count: 1, targets: ['gpu-dev-1'], reason: 'workload 0 <= 0' }, dryRun: true });
  store.recordDecision({ pool: 'prod/type1', atMs: 3, decision: { kind: 'hold', reason: 'stale signal' }, dryRun: false });
  t.same(store.decisions().map((d) => d.atMs), [3, 2, 1]);
  t.same(store.decisions(undefined, 2).map((d) => d.atMs), [3, 2]);
  t.same(store.decisions('prod/type1'), [
    { pool: 'prod/type1', atMs: 3, decision: { kind: 'hold', reason: 'stale signal' }, dryRun: false },
    { pool: 'prod/type1', atMs: 1, decision: { kind: 'scaleUp', count: 2, targets: [{ kind: 'start', id: 'gpu-prod-1' }, { kind: 'create' }], reason: 'workload 5 >= 1' }, dryRun: false },
  ]);
  t.same(store.decisions('dev/type2')[0]?.decision, { kind: 'scaleDown', count: 1, targets: ['gpu-dev-1'], reason: 'workload 0 <= 0' });
  t.same(store.decisions('none'), []);
});

t.test('only the newest decisions per pool are kept', async (t) => {
  const store = open(t, join(tempDir(t), 'state.db'), { decisionsPerPool: 5 });
  for (let i = 0; i < 40; i++) {
    for (const pool of ['a', 'b', 'c']) store.recordDecision({ pool, atMs: i, decision: { kind: 'hold', reason: `r${i}` }, dryRun: false });
  }
  for (const pool of ['a', 'b', 'c']) t.same(store.decisions(pool, 1000).map((d) => d.atMs), [39, 38, 37, 36, 35], `pool ${pool}`);
  // the table is pruned every 32nd decision of a pool: at most 31 beyond the 5 kept, never the 120 written
  const all = store.decisions(undefined, 1000);
  for (const pool of ['a', 'b', 'c']) {
    const stored = all.filter((d) => d.pool === pool).length;
    t.ok(stored >= 5 && stored <= 5 + 31, `pool ${pool}: ${stored} rows stored of 40 written`);
  }
});

t.test('pool state is undefined until set, then replaced as a whole', async (t) => {
  const store = open(t, join(tempDir(t), 'state.db'));
  t.equal(store.poolState('prod/type1'), undefined);
  store.setPoolState('prod/type1', { paused: true, history: { consecutiveFailures: 2 } });
  store.setPoolState('prod/type1', { paused: false });
  t.same(store.poolState('prod/type1'), { paused: false });
});

t.test('saveInstances writes a batch in one transaction', async (t) => {
  const store = open(t, join(tempDir(t), 'state.db'));
  const batch = Array.from({ length: 500 }, (_, i) => ({
    instance: { ...bare, id: `gpu-${String(i).padStart(4, '0')}`, state: 'starting' as const },
    transition: { from: 'stopped' as const, to: 'starting' as const, atMs: 10, reason: 'start issued' },
  }));
  store.saveInstances(batch);
  store.saveInstances([]);
  t.equal(store.loadInstances().length, 500);
  t.same(store.history('gpu-0499'), [{ from: 'stopped', to: 'starting', atMs: 10, reason: 'start issued' }]);
});

t.test('forgetInstance removes a destroyed instance and its history, and keeps the intents', async (t) => {
  const { openStore } = await import('../../src/store/sqlite-store.ts');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { createLogger } = await import('../../src/log.ts');
  const dir = mkdtempSync(join(tmpdir(), 'asc-forget-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = openStore(join(dir, 'state.db'), { logger: createLogger({ level: 'silent' }) });
  const inst = { id: 'gpu-c', pool: 'p', state: 'stopped' as const, sinceMs: 1, reason: 'destroyed', created: true };
  store.saveInstance(inst, { from: 'stopping', to: 'stopped', atMs: 1, reason: 'destroyed' });
  const intent = store.openIntent('destroy', 'gpu-c', 'p', 1);
  store.finishIntent(intent.id, 'done');
  store.forgetInstance('gpu-c');
  t.same(store.loadInstances(), []);
  t.same(store.history('gpu-c'), []);
  store.close();
});

t.test('atomically: all or nothing, inside a group commit too; the writes inside it (nested blocks included) join it', async (t) => {
  const store = open(t, join(tempDir(t), 'state.db'));
  const move: Transition = { from: 'stopped', to: 'starting', atMs: 20, reason: 'scale-up' };
  const hold = (reason: string) => ({ pool: 'prod/type1', atMs: 1, dryRun: false, decision: { kind: 'hold' as const, reason } });
  t.throws(() => store.atomically(() => { store.saveInstance(full); store.recordDecision(hold('lost')); throw new Error('boom'); }));
  t.same(store.loadInstances(), [], 'alone: a throw rolls every write back');
  t.same(store.decisions(), []);
  store.begin();
  store.recordDecision(hold('before'));
  t.throws(() => store.atomically(() => { store.saveInstance(full); throw new Error('boom'); }));
  store.commit();
  t.same(store.loadInstances(), [], "inside a group commit: a throw rolls the block's writes back...");
  t.same(store.decisions().map((d) => d.decision.reason), ['before'], '...and not the rest of the turn');
  store.begin();
  store.atomically(() => {
    t.throws(() => store.atomically(() => { store.saveInstance(bare, move); throw new Error('boom'); }));
    store.recordDecision(hold('after'));
  });
  store.commit();
  t.same(store.loadInstances(), [bare], 'a nested block joins the outer one: what it wrote before it threw is kept with the block');
  t.same(store.history('gpu-prod-2').map((h) => h.to), ['starting'], 'with its transition');
  t.same(store.decisions().map((d) => d.decision.reason), ['after', 'before']);
  store.begin();
  store.atomically(() => { store.saveInstance(full); });
  store.rollback();
  t.same(store.loadInstances(), [bare], "a block's writes go with the turn's rollback");
});
