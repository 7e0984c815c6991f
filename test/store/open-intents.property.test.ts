/**
 * openIntents reads the intents table from the oldest id that can still be open (schema 4 has no index on status):
 * whatever two connections on one file do (open intents, finish them, list them, roll a transaction back after a
 * list inside it, reopen the store, which prunes finished intents), each list is every open intent, oldest first.
 */
import fc from 'fast-check';
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openStore, type SqliteStore } from '../../src/store/sqlite-store.ts';
import { createLogger } from '../../src/log.ts';

const quiet = createLogger({ level: 'silent' });

type Op =
  | { readonly op: 'open'; readonly conn: 0 | 1 }
  | { readonly op: 'finish'; readonly conn: 0 | 1; readonly pick: number }
  | { readonly op: 'list'; readonly conn: 0 | 1 }
  | { readonly op: 'rolledBack'; readonly opens: number; readonly finish: boolean; readonly list: boolean }
  | { readonly op: 'reopen'; readonly conn: 0 | 1 };

const conn = fc.constantFrom(0 as const, 1 as const);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('open' as const), conn }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('finish' as const), conn, pick: fc.nat(20) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('list' as const), conn }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rolledBack' as const), opens: fc.nat(3), finish: fc.boolean(), list: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reopen' as const), conn }) },
);

t.test('openIntents lists every open intent, oldest first, whatever the two connections did before', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-open-intents-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let file = 0;
  const reach = { foundAfterEmpty: 0, foundFromOther: 0, rollbackAfterList: 0, prunedOnReopen: 0 };

  fc.assert(fc.property(fc.array(opArb, { minLength: 10, maxLength: 60 }), (ops) => {
    const path = join(dir, `state-${file++}.db`);
    // (no finished intent kept: each reopen prunes every one it may, the newest intent aside)
    const openOne = (): SqliteStore => openStore(path, { logger: quiet, finishedIntentsKept: 0 });
    const stores: [SqliteStore, SqliteStore] = [openOne(), openOne()];
    const raw = new BetterSqlite3(path, { readonly: true });
    /** open: the model, id -> who opened it; lastList: per connection, the ids its last list saw. */
    const open = new Map<number, 0 | 1>();
    const lastList: [number[] | undefined, number[] | undefined] = [undefined, undefined];
    let written = 0;
    const expected = (): number[] => [...open.keys()].sort((a, b) => a - b);
    const list = (c: 0 | 1): boolean => {
      const ids = stores[c].openIntents().map((i) => i.id);
      const want = expected();
      if (ids.length > 0 && lastList[c]?.length === 0) reach.foundAfterEmpty += 1;
      if (ids.some((id) => open.get(id) !== c && !(lastList[c] ?? []).includes(id))) reach.foundFromOther += 1;
      lastList[c] = ids;
      return ids.length === want.length && ids.every((id, i) => id === want[i]);
    };
    try {
      for (const o of ops) {
        switch (o.op) {
          case 'open': {
            const intent = stores[o.conn].openIntent('start', `gpu-${written++}`, 'prod/type1', written);
            if (open.has(intent.id)) return false; // an id given twice
            open.set(intent.id, o.conn);
            break;
          }
          case 'finish': {
            const ids = expected();
            const id = ids[o.pick % Math.max(1, ids.length)];
            if (id === undefined) break;
            stores[o.conn].finishIntent(id, 'done');
            open.delete(id);
            break;
          }
          case 'list':
            if (!list(o.conn)) return false;
            break;
          case 'rolledBack': {
            const before = new Map(open);
            const store = stores[0];
            store.begin();
            for (let i = 0; i < o.opens; i += 1) open.set(store.openIntent('stop', `gpu-${written++}`, 'prod/type1', written).id, 0);
            const first = expected()[0];
            if (o.finish && first !== undefined) { store.finishIntent(first, 'done'); open.delete(first); }
            const listed = o.list && list(0);
            store.rollback();
            open.clear();
            for (const [id, c] of before) open.set(id, c);
            if (o.list) {
              if (!listed) return false;
              reach.rollbackAfterList += 1;
            }
            break;
          }
          case 'reopen': {
            const rows = raw.prepare('SELECT count(*) FROM intents').pluck();
            const before = rows.get();
            stores[o.conn].close();
            stores[o.conn] = openOne();
            lastList[o.conn] = undefined;
            if (Number(rows.get()) < Number(before)) reach.prunedOnReopen += 1;
            break;
          }
        }
      }
      return list(0) && list(1);
    } finally {
      raw.close();
      stores[0].close();
      stores[1].close();
      rmSync(path, { force: true });
      rmSync(`${path}-wal`, { force: true });
      rmSync(`${path}-shm`, { force: true });
    }
  }), { numRuns: 200 });
  t.ok(reach.foundAfterEmpty > 100, `lists that found intents after the connection's previous list found none: ${reach.foundAfterEmpty}`);
  t.ok(reach.foundFromOther > 100, `lists that found an intent the other connection opened since: ${reach.foundFromOther}`);
  t.ok(reach.rollbackAfterList > 50, `transactions rolled back after a list inside them: ${reach.rollbackAfterList}`);
  t.ok(reach.prunedOnReopen > 50, `reopened stores whose open pruned finished intents: ${reach.prunedOnReopen}`);
});
