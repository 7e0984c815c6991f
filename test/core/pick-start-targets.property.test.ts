import { deepStrictEqual } from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { pickStartTargets } from '../../src/core/safety.ts';
import type { Instance, InstanceState, PoolSpec } from '../../src/core/types.ts';

const NOW_MS = 1_700_000_000_000;

/** sortedPick is the rule pickStartTargets keeps, written as a whole-reserve stable sort. */
function sortedPick(pool: PoolSpec, instances: readonly Instance[], count: number, startFailedMs?: Readonly<Record<string, number>>): string[] {
  const failedMs = (id: string): number => startFailedMs?.[id] ?? Number.NEGATIVE_INFINITY;
  const reserve = instances
    .filter((i) => i.state === 'stopped' && (!i.created || pool.scaleIn === 'stop'))
    .sort((a, b) => failedMs(a.id) - failedMs(b.id) || Number(a.created) - Number(b.created) || a.id.localeCompare(b.id))
    .map((i) => i.id);
  const picked = reserve.slice(0, Math.max(0, count));
  while (pool.canCreate && picked.length < count) picked.push('(create)');
  return picked;
}

const pool = (scaleIn: 'stop' | 'destroy', canCreate: boolean): PoolSpec => ({
  name: 'prod/type1', env: 'prod', instanceType: 'type1', min: 0, max: 20, upThreshold: 1, downThreshold: 0,
  intervalMs: 270_000, upCooldownMs: 0, downCooldownMs: 0, step: 1, strategy: { kind: 'threshold' },
  provisionTimeoutMs: 900_000, drainTimeoutMs: 600_000, scaleIn, canCreate,
  signalMaxAgeMs: 600_000, failureBackoffBaseMs: 60_000, failureBackoffMaxMs: 1_800_000, dryRun: false, paused: false,
});

// ids that tie under localeCompare but are different strings, mixed case, punctuation, digits: where a sort's
// comparator and stability matter
const idArb = fc.constantFrom('a', 'A', 'b', 'B', 'a-1', 'a_1', 'a1', 'a10', 'a2', 'gpu-1', 'gpu-10', 'gpu-2', 'e\u0301', '\u00e9', 'z');
const stateArb = fc.constantFrom<InstanceState>('stopped', 'stopped', 'stopped', 'starting', 'ready', 'failed');

const caseArb = fc.record({
  rows: fc.array(fc.record({ id: idArb, state: stateArb, created: fc.boolean(), failedAt: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }) }), { maxLength: 14 }),
  count: fc.oneof(fc.integer({ min: -1, max: 16 }), fc.constantFrom(0.5, 1.5, Number.NaN)),
  scaleIn: fc.constantFrom<'stop' | 'destroy'>('stop', 'destroy'),
  canCreate: fc.boolean(),
  withHistory: fc.boolean(),
});

t.test('picks the targets a stable sort of the whole reserve would, in its order', async (t) => {
  let partial = 0;
  let failedTies = 0;
  let localeTies = 0;
  fc.assert(fc.property(caseArb, (c) => {
    const instances: Instance[] = c.rows.map((r) => ({ id: r.id, pool: 'prod/type1', state: r.state, sinceMs: NOW_MS, reason: 'generated', created: r.created }));
    const startFailedMs: Record<string, number> = {};
    for (const r of c.rows) if (r.failedAt !== undefined) startFailedMs[r.id] = NOW_MS + r.failedAt;
    const history = c.withHistory ? { startFailedMs } : undefined;
    const spec = pool(c.scaleIn, c.canCreate);
    const got = pickStartTargets(spec, instances, c.count, history).map((s) => (s.kind === 'start' ? s.id : '(create)'));
    const reserve = instances.filter((i) => i.state === 'stopped' && (!i.created || c.scaleIn === 'stop'));
    if (c.count >= 1 && reserve.length > c.count) partial += 1;
    if (c.withHistory && new Set(reserve.map((i) => startFailedMs[i.id])).size < reserve.length) failedTies += 1;
    if (reserve.some((a, n) => reserve.some((b, m) => n !== m && a.id !== b.id && a.id.localeCompare(b.id) === 0))) localeTies += 1;
    deepStrictEqual(got, sortedPick(spec, instances, c.count, history?.startFailedMs));
  }), { numRuns: 3000 });
  t.pass('3,000 cases: the same targets in the same order');
  // the generator reaches the cases the one-pass selection could get wrong
  t.ok(partial > 300, `reserve larger than count: ${partial}`);
  t.ok(failedTies > 300, `ties on the failure time: ${failedTies}`);
  t.ok(localeTies > 30, `different ids localeCompare calls equal: ${localeTies}`);
});
