/**
 * The budget memory through the real SQLite store: held compactly in memory (typed columns), its pool_state row is
 * the JSON main writes, and main's row loads into the compact form again.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { PoolHistory, PoolSpec } from '../../src/core/types.ts';
import { loadPool, savedPool } from '../../src/engine/pool-state.ts';
import { createLogger } from '../../src/log.ts';
import { openStore } from '../../src/store/sqlite-store.ts';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/budget/memory-main.json', import.meta.url), 'utf8')) as { readonly spec: PoolSpec; readonly after: PoolHistory };

t.test('a compactly held budget memory is saved as the row main writes, and main\'s row loads compactly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-budget-row-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'state.db');
  const mainRow = JSON.stringify({ history: fixture.after, paused: false });
  const store = openStore(path, { logger: createLogger({ level: 'silent' }) });
  store.setPoolState(fixture.spec.name, JSON.parse(mainRow) as Record<string, unknown>);
  const managed = { spec: fixture.spec, reserved: [], idleCheck: { fun: 'test.true', args: [] } };
  const rt = loadPool(managed, store);
  t.ok(rt.history.budget?.peaks instanceof Int32Array, 'main\'s 5-min peaks (70,000 among them) load as 4-byte integers');
  t.ok(rt.history.budget?.hours instanceof Int32Array, 'so do its hourly peaks');
  t.ok(Array.isArray(rt.history.budget?.fine), 'its minutes (2.5 among them) stay a plain array');
  store.setPoolState(fixture.spec.name, savedPool(rt));
  store.close();
  const raw = new BetterSqlite3(path, { readonly: true });
  t.teardown(() => raw.close());
  const row = raw.prepare('SELECT value FROM pool_state WHERE pool = ?').get(fixture.spec.name) as { value: string } | undefined;
  t.equal(row?.value, mainRow, 'saved from the compact form: the very row main wrote');
});
