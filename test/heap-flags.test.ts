import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HEAP_FLAGS_ENV, heapFlagsToSet, SERVE_HEAP_FLAGS } from '../src/heap-flags.ts';

const ALL = SERVE_HEAP_FLAGS.map((f) => f.flag);

t.test('serve sets every heap flag when the user set none of them', async (t) => {
  t.same(heapFlagsToSet([], {}), { flags: ALL });
  t.same(heapFlagsToSet(['--enable-source-maps', '--import', 'tsx'], { NODE_OPTIONS: '--max-old-space-size=512 --trace-warnings' }), { flags: ALL }, 'unrelated flags, and a max-old-space cap, change nothing');
});

t.test('a heap flag the user set wins over the one serve would set', async (t) => {
  const semi = ALL.filter((f) => f.startsWith('--semi-space'));
  const growing = ALL.filter((f) => f.startsWith('--heap-growing'));
  const tier = ALL.filter((f) => f.startsWith('--interrupt-budget'));
  t.equal(tier.length, 1, 'the tier-up budget is one of them');
  t.same(heapFlagsToSet(['--max-semi-space-size=16'], {}), { flags: [...growing, ...tier] }, 'a young generation size on the command line');
  t.same(heapFlagsToSet(['--min_semi_space_size=4'], {}), { flags: [...growing, ...tier] }, 'spelt with underscores');
  t.same(heapFlagsToSet(['--heap-growing-percent=0'], {}), { flags: [...semi, ...tier] }, 'V8 own growing factor asked for');
  t.same(heapFlagsToSet([], { NODE_OPTIONS: '"--max-semi-space-size=8" "--import=file:///x/import.mjs"' }), { flags: [...growing, ...tier] }, 'in NODE_OPTIONS in double quotes');
  t.same(heapFlagsToSet(['--semi-space-growth-factor=2', '--heap-growing-percent=50'], {}), { flags: tier }, 'both GC flags set by the user');
  t.same(heapFlagsToSet(['--optimize-for-size'], {}), { flags: tier }, 'V8 own memory-saving mode replaces both GC flags');
  t.same(heapFlagsToSet(['--interrupt_budget=67584'], {}), { flags: [...semi, ...growing] }, 'V8 own tier-up budget asked for');
});

t.test('SALT_AUTOSCALER_HEAP_FLAGS replaces the list: none, or the V8 flags it names', async (t) => {
  t.same(heapFlagsToSet([], { [HEAP_FLAGS_ENV]: 'none' }), { flags: [] }, 'V8 own sizing');
  t.same(heapFlagsToSet([], { [HEAP_FLAGS_ENV]: ' --heap-growing-percent=50  --max-lazy ' }), { flags: ['--heap-growing-percent=50', '--max-lazy'] });
  t.match(heapFlagsToSet([], { [HEAP_FLAGS_ENV]: '--heap-growing-percent=50 50' }), { problem: /SALT_AUTOSCALER_HEAP_FLAGS: expected 'none' or V8 flags .*, got '50'/ });
  t.match(heapFlagsToSet([], { [HEAP_FLAGS_ENV]: '' }), { problem: /got ''/ }, 'set but empty is refused, not read as none');
});

/**
 * newSpaceGrowthMiB runs a child that applies serve's heap flags, then allocates millions of short-lived objects, and
 * returns how much its young generation grew meanwhile (what tsx loaded before the flags may have grown it already).
 */
function newSpaceGrowthMiB(nodeOptions: string): number {
  const heapFlags = fileURLToPath(new URL('../src/heap-flags.ts', import.meta.url));
  const script = [
    `const { applyServeHeapFlags } = await import(${JSON.stringify(heapFlags)});`,
    'applyServeHeapFlags();',
    "const v8 = await import('node:v8');",
    "const newSpace = () => v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space').space_size / 1048576;",
    'const before = newSpace();',
    'let keep = [];',
    "for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 100000) keep = []; }",
    'console.log(newSpace() - before);',
  ].join('\n');
  // NODE_OPTIONS is the case's own (the test runner adds its preloads to it again)
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: nodeOptions }, timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return Number(r.stdout.trim().split('\n').at(-1));
}

t.test('with serve heap flags the young generation does not grow under a stream of short-lived objects', async (t) => {
  t.equal(newSpaceGrowthMiB(''), 0, 'it keeps the size it had when the flags were set');
  t.ok(newSpaceGrowthMiB('--max-semi-space-size=8') > 0, 'the user\'s own young generation size is left to grow');
});

/**
 * callsToOptimize runs a child that applies serve's flags (or not) and calls a small function until V8 has optimized
 * it, compiling on the main thread (no concurrent recompilation) so the count does not depend on a worker's timing.
 */
function callsToOptimize(withServeFlags: boolean): number {
  const heapFlags = fileURLToPath(new URL('../src/heap-flags.ts', import.meta.url));
  const script = [
    withServeFlags ? `(await import(${JSON.stringify(heapFlags)})).applyServeHeapFlags();` : '',
    "const f = new Function('a', 'let s = 0; for (let i = 0; i < 10; i++) s += a * i; return s;');",
    // V8's OptimizationStatus: bit 4 is "optimized"
    'let n = 0;',
    'while (n < 1e6 && (%GetOptimizationStatus(f) & 16) === 0) { f(n); n += 1; }',
    'console.log(n);',
  ].join('\n');
  const { [HEAP_FLAGS_ENV]: _user, ...env } = process.env;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8', env: { ...env, NODE_OPTIONS: '' }, timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return Number(r.stdout.trim().split('\n').at(-1));
}

t.test('with serve flags a function runs ~4x as many times before V8 optimizes it (what a burst touches is not all compiled)', async (t) => {
  const plain = callsToOptimize(false);
  const served = callsToOptimize(true);
  t.ok(plain > 0 && plain < 1e6, `V8 optimizes it by itself (${plain} calls)`);
  t.ok(served >= 3 * plain && served < 1e6, `with serve's flags after ${served} calls, against ${plain}`);
});
