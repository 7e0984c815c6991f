/**
 * state-file-watch: a started StoreWatch on a real state file learns from the store's watch of its path (inotify) that
 * the file was deleted, replaced, or moved away with a directory that holds it, before the next loop turn's actions, and
 * stats nothing on the way to an action while nothing changes. Without a watch, it stats the path once per turn.
 */
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreWatch } from '../../src/engine/store-watch.ts';
import type { StateStore } from '../../src/engine/ports.ts';
import { createLogger } from '../../src/log.ts';
import { openStore, type SqliteStore } from '../../src/store/sqlite-store.ts';

const quiet = createLogger({ level: 'silent' });

/** nextTurns lets two loop turns pass: the second one's check phase comes after a poll phase that followed the change. */
async function nextTurns(): Promise<void> {
  for (let i = 0; i < 2; i += 1) await new Promise((resolve) => { setImmediate(resolve); });
}

interface Watched {
  readonly root: string;
  readonly path: string;
  readonly watch: StoreWatch;
  /** stats: how many times the watch asked the store whether its path still names its file. */
  readonly stats: () => number;
  /** breakWatch ends the store's watch as an error of it would. */
  readonly breakWatch: () => void;
}

/** watched opens a store at <root>/a/b/state.db and a StoreWatch on it (started unless told not to), counting its stats. */
function watched(t: Test, start = true, watchable = true): Watched {
  const root = mkdtempSync(join(tmpdir(), 'asc-file-watch-'));
  const path = join(root, 'a', 'b', 'state.db');
  const store: SqliteStore = openStore(path, { logger: quiet });
  let stats = 0;
  let breakWatch = (): void => undefined;
  const counted: Pick<StateStore, 'probeWrite' | 'fileStatus' | 'integrityCheck' | 'watchFile'> = {
    probeWrite: (nowMs) => { store.probeWrite(nowMs); },
    fileStatus: () => { stats += 1; return store.fileStatus(); },
    integrityCheck: () => store.integrityCheck(),
    ...(watchable ? {
      watchFile: (onChange: () => void, onBroken: () => void) => {
        const running = store.watchFile(onChange, onBroken);
        // what the store does on an error of its watch: close it, and say so
        breakWatch = () => { running?.close(); onBroken(); };
        return running;
      },
    } : {}),
  };
  const watch = new StoreWatch({ store: counted, clock: { now: () => Date.now() }, logger: quiet, checkIntervalMs: 3_600_000, integrityIntervalMs: 3_600_000 });
  if (start) watch.start();
  t.teardown(() => { watch.stop(); store.close(); rmSync(root, { recursive: true, force: true }); });
  return { root, path, watch, stats: () => stats, breakWatch: () => { breakWatch(); } };
}

t.test('while nothing changes on the path, a started watch stats nothing on the way to an action', async (t) => {
  const w = watched(t);
  const atStart = w.stats();
  for (let turn = 0; turn < 5; turn += 1) {
    t.equal(w.watch.mayAct(), true);
    await nextTurns();
  }
  writeFileSync(join(w.root, 'a', 'b', 'other-file'), 'x'); // another name in the same directory: not the path
  renameSync(join(w.root, 'a', 'b', 'other-file'), join(w.root, 'a', 'b', 'moved-file'));
  await nextTurns();
  t.equal(w.watch.mayAct(), true);
  t.equal(w.stats(), atStart, 'no stat in 5 turns of actions, nor for another file of its directory');
});

const changes: readonly (readonly [string, (w: Watched) => void, RegExp])[] = [
  ['another file renamed over it', (w) => { writeFileSync(`${w.path}.new`, 'not ours'); renameSync(`${w.path}.new`, w.path); }, /replaced by another file/],
  ['the file deleted', (w) => { unlinkSync(w.path); }, /was deleted/],
  ['its directory moved away', (w) => { renameSync(join(w.root, 'a', 'b'), join(w.root, 'a', 'b-old')); }, /was deleted/],
  ['a directory two levels up moved away and another put in its place', (w) => {
    renameSync(join(w.root, 'a'), join(w.root, 'a-old'));
    mkdirSync(join(w.root, 'a', 'b'), { recursive: true });
    writeFileSync(w.path, 'not ours');
  }, /replaced by another file/],
];

for (const [what, change, said] of changes) {
  t.test(`${what}: the next loop turn's action is stopped, from the watch`, async (t) => {
    const w = watched(t);
    t.equal(w.watch.mayAct(), true);
    const before = w.stats();
    change(w);
    await nextTurns();
    t.ok(w.stats() > before, 'the watch asked for a stat on the change');
    t.equal(w.watch.mayAct(), false, 'no action');
    t.equal(w.watch.problem()?.code, 'ASC_ERR_STORE_REPLACED');
    t.match(w.watch.problem()?.message, said);
  });
}

t.test('without a watch (not started, a store that cannot watch, a watch broken), the path is stat\'ed once per loop turn', async (t) => {
  for (const [name, start, watchable] of [['not started', false, true], ['no watch', true, false], ['broken', true, true]] as const) {
    const w = watched(t, start, watchable);
    if (name === 'broken') {
      w.breakWatch();
      await nextTurns();
    }
    const before = w.stats();
    t.equal(w.watch.mayAct(), true);
    t.equal(w.watch.mayAct(), true);
    t.equal(w.stats(), before + 1, `${name}: one stat in the turn`);
    await nextTurns();
    unlinkSync(w.path);
    t.equal(w.watch.mayAct(), false, `${name}: the next turn's first mayAct sees the file gone`);
  }
});
