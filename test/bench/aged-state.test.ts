import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillAgedStore } from '../../bench/aged-state.ts';
import { fleetInstanceIds, fleetPools } from '../../bench/fleet.ts';
import { FINE_BUCKETS, HOUR_BUCKETS, PEAK_BUCKETS, START_LATENCY_SAMPLES, WAIT_BUCKETS } from '../../src/core/strategies/budget.ts';
import type { PoolHistory } from '../../src/core/types.ts';
import { createLogger } from '../../src/log.ts';
import { openStore } from '../../src/store/sqlite-store.ts';

t.test('the aged store holds, for every pool and instance, what four weeks of running leave, up to the retention bounds', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-aged-'));
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }); });
  const shape = { pools: 2, instancesPerPool: 3 };
  const path = join(dir, 'state.db');
  const nowMs = Date.UTC(2026, 11, 6, 10);
  const fill = fillAgedStore(path, shape, nowMs);
  const store = openStore(path, { logger: createLogger({ level: 'silent' }) });
  t.teardown(() => { store.close(); });
  for (const pool of fleetPools(shape)) {
    const history = store.poolState(pool.name)?.['history'] as PoolHistory | undefined;
    const budget = history?.budget;
    t.equal(budget?.peaks.length, PEAK_BUCKETS, `${pool.name}: every 5-min peak bucket`);
    t.equal(budget?.hours?.length, HOUR_BUCKETS, `${pool.name}: every hourly bucket`);
    t.equal(budget?.fine.length, FINE_BUCKETS, `${pool.name}: every 1-min bucket`);
    t.equal(budget?.demand.length, WAIT_BUCKETS, `${pool.name}: the whole waiting window`);
    t.ok((budget?.scores?.length ?? 0) > 0, `${pool.name}: scored candidates`);
    t.equal(history?.startLatenciesMs?.length, START_LATENCY_SAMPLES, `${pool.name}: every start latency kept`);
    t.equal(store.decisions(pool.name, 5_000).length, 1_000, `${pool.name}: the decisions the store keeps per pool`);
    t.ok((store.decisions(pool.name, 1)[0]?.atMs ?? Infinity) <= nowMs, 'no decision from the future');
  }
  const instances = store.loadInstances();
  t.same(instances.map((i) => i.id).sort(), fleetInstanceIds(shape).sort(), 'every instance of the fleet, no other');
  t.ok(instances.every((i) => i.state === 'stopped'), 'every instance ends stopped, as the emulator reserve is');
  for (const i of instances) {
    const rows = store.history(i.id, 1_000);
    t.equal(rows.length, 500, `${i.id}: the transitions the store keeps per instance`);
    t.ok(rows.every((r, k) => k === 0 || r.from === rows[k - 1]?.to), `${i.id}: each transition starts where the one before ended`);
  }
  t.equal(store.openIntents().length, 0, 'no intent left open');
  t.equal(fill.decisions, 2_000);
  t.equal(fill.transitions, 6 * 500);
});
