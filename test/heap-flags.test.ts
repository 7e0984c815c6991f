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
  t.same(heapFlagsToSet(['--max-semi-space-size=16'], {}), { flags: growing }, 'a young generation size on the command line');
  t.same(heapFlagsToSet(['--min_semi_space_size=4'], {}), { flags: growing }, 'spelt with underscores');
  t.same(heapFlagsToSet(['--heap-growing-percent=0'], {}), { flags: semi }, 'V8 own growing factor asked for');
  t.same(heapFlagsToSet([], { NODE_OPTIONS: '"--max-semi-space-size=8" "--import=file:///x/import.mjs"' }), { flags: growing }, 'in NODE_OPTIONS in double quotes');
  t.same(heapFlagsToSet(['--semi-space-growth-factor=2', '--heap-growing-percent=50'], {}), { flags: [] }, 'both set by the user');
  t.same(heapFlagsToSet(['--optimize-for-size'], {}), { flags: [] }, 'V8 own memory-saving mode replaces both');
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
