/**
 * The status page is drawn twice: by the server (status-page.ts, the first paint) and by the browser's poller
 * (static/status.js, plain JS that cannot import TypeScript), which mirrors the server's text rules by hand. This test
 * loads the shipped status.js in a Node `vm` context (a document with no elements, timers and fetch that never run)
 * and checks each mirror against the server's function on generated inputs: a rule changed on one side only fails here.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import t from 'tap';
import fc from 'fast-check';
import { budgetText, collapseHolds, formatAge, leadText, overBudget, spanText } from '../../src/http/status-page.ts';
import type { DecisionJson, PoolJson } from '../../src/http/api-shapes.ts';

type Mirror = (...args: unknown[]) => unknown;

/** loadScript runs status.js as the browser would, with nothing on the page, and returns its top-level functions. */
function loadScript(): Record<string, Mirror> {
  const source = readFileSync(fileURLToPath(new URL('../../src/http/static/status.js', import.meta.url)), 'utf8');
  const context = vm.createContext({
    document: { getElementById: () => null, querySelector: () => null },
    window: { setTimeout: () => 0, clearTimeout: () => {}, location: { href: 'http://127.0.0.1/' } },
    fetch: () => new Promise(() => {}), // the first poll never answers: nothing is drawn, nothing is scheduled
    URL,
  });
  vm.runInContext(source, context, { filename: 'status.js' });
  const found: Record<string, Mirror> = {};
  for (const name of ['formatAge', 'spanText', 'budgetText', 'overBudget', 'leadText', 'collapseHolds']) {
    const fn = vm.runInContext(`typeof ${name} === 'function' ? ${name} : undefined`, context) as Mirror | undefined;
    if (fn === undefined) throw new Error(`status.js has no function ${name}`);
    found[name] = fn;
  }
  return found;
}

const script = loadScript();
const runs = { numRuns: 400 };

/** durations from 0 to 40 days, with the unit boundaries (59 s, 60 s, 2 h, 2 d ...) reached often. */
const duration = fc.oneof(
  fc.integer({ min: 0, max: 40 * 86_400_000 }),
  fc.constantFrom(0, 59_999, 60_000, 3_599_999, 3_600_000, 7_199_999, 7_200_000, 86_399_999, 86_400_000, 172_799_999, 172_800_000, 604_800_000),
);

const share = fc.oneof(fc.double({ min: 0, max: 0.05, noNaN: true }), fc.constantFrom(0, 0.0025, 0.004, 0.04));
const budgetPool = fc.record({
  waitBudget: fc.oneof(share, fc.constant(undefined)),
  waitingShare: fc.oneof(share, fc.constant(undefined)),
  waitWindowMs: fc.oneof(fc.constantFrom(604_800_000, 86_400_000, 3_600_000), fc.constant(undefined)),
  waitWindowCovered: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0.1, 0.5, 1), fc.constant(undefined)),
  startLeadMs: fc.oneof(duration, fc.constant(undefined)),
  waitWindowStrict: fc.constantFrom(true as const, undefined),
}).map((p) => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Partial<PoolJson>);

t.test('formatAge and spanText: the script words a duration as the server does', async (t) => {
  fc.assert(fc.property(duration, (ms) => script['formatAge']?.(ms) === formatAge(ms) && script['spanText']?.(ms) === spanText(ms)), runs);
  t.pass('agree on 400 durations');
});

t.test('budgetText, overBudget and leadText: the script marks and words a pool as the server does', async (t) => {
  const seen = { young: 0, over: 0, none: 0, lead: 0, strict: 0 };
  fc.assert(fc.property(budgetPool, (pool) => {
    const young = budgetText(pool).includes(' over ');
    seen.young += young ? 1 : 0;
    seen.over += overBudget(pool) ? 1 : 0;
    seen.none += pool.waitBudget === undefined ? 1 : 0;
    seen.lead += pool.startLeadMs === undefined ? 0 : 1;
    seen.strict += budgetText(pool).endsWith(', every window') ? 1 : 0;
    return script['budgetText']?.(pool) === budgetText(pool) && script['overBudget']?.(pool) === overBudget(pool) && script['leadText']?.(pool) === leadText(pool);
  }), runs);
  // the generator reaches every case the rules tell apart
  t.ok(seen.young > 0 && seen.over > 0 && seen.none > 0 && seen.lead > 0 && seen.strict > 0,
    `young ${seen.young}, over ${seen.over}, no budget ${seen.none}, with a lead ${seen.lead}, every window kept ${seen.strict}`);
});

t.test('collapseHolds: the script folds runs of holds as the server does', async (t) => {
  const decision = fc.record({
    pool: fc.constantFrom('prod/type1', 'dev/type2'),
    at: fc.integer({ min: 0, max: 1e12 }).map((ms) => new Date(ms).toISOString()),
    action: fc.constantFrom('hold', 'hold', 'scaleUp', 'scaleDown'),
    count: fc.nat(3), targets: fc.constant([]), reason: fc.constant('r'), dryRun: fc.boolean(),
  }) as fc.Arbitrary<DecisionJson>;
  let folded = 0;
  fc.assert(fc.property(fc.array(decision, { maxLength: 30 }), (decisions) => {
    const server = collapseHolds(decisions);
    if (server.some((row) => row.holds > 1)) folded += 1;
    return JSON.stringify(script['collapseHolds']?.(decisions)) === JSON.stringify(server);
  }), runs);
  t.ok(folded > 0, `runs of holds folded in ${folded} of 400 histories`);
});
