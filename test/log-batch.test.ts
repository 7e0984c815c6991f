/**
 * log-batch: the lines of one loop turn reach the stream as one write, in order, at the end of the turn; the exit
 * hands what is kept to the stream and has it write now. The service's own log (a child process) is read whole.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TurnBatchedDestination } from '../src/log-batch.ts';

/** fakeOut records each write it is given and each flushSync. */
function fakeOut(): { writes: string[]; syncs: number; write(data: string): void; flushSync(): void } {
  return {
    writes: [], syncs: 0,
    write(data: string) { this.writes.push(data); },
    flushSync() { this.syncs += 1; },
  };
}

t.test('the lines of one loop turn reach the stream together, in order, once the turn ends', async (t) => {
  const out = fakeOut();
  const dest = new TurnBatchedDestination(out);
  for (let i = 0; i < 50; i += 1) dest.write(`{"n":${i}}\n`);
  t.same(out.writes, [], 'nothing is written during the turn');
  await new Promise((resolve) => { setImmediate(resolve); });
  t.equal(out.writes.length, 1, 'one write for the turn');
  t.equal(out.writes[0], Array.from({ length: 50 }, (_, i) => `{"n":${i}}\n`).join(''), 'every line, in the order written');
  dest.write('{"n":50}\n');
  await new Promise((resolve) => { setImmediate(resolve); });
  t.same(out.writes.slice(1), ['{"n":50}\n'], 'the next turn is a write of its own');
});

t.test('a turn without lines writes nothing', async (t) => {
  const out = fakeOut();
  const turns: (() => void)[] = [];
  const dest = new TurnBatchedDestination(out, (fn) => { turns.push(fn); });
  dest.write('a\n');
  dest.write('b\n');
  t.equal(turns.length, 1, 'one end-of-turn write is scheduled for the turn');
  dest.flushSync();
  t.same(out.writes, ['a\nb\n']);
  turns[0]?.();
  t.same(out.writes, ['a\nb\n'], 'the scheduled write finds nothing left');
});

t.test('flushSync hands the kept lines to the stream and has it write them now', async (t) => {
  const out = fakeOut();
  const dest = new TurnBatchedDestination(out, () => undefined);
  dest.write('kept\n');
  dest.flushSync();
  t.same(out.writes, ['kept\n']);
  t.equal(out.syncs, 1);
});

t.test('the lines written just before the process exits are in its output', async (t) => {
  const script = [
    `const { createLogger } = await import(${JSON.stringify(fileURLToPath(new URL('../src/log.ts', import.meta.url)))});`,
    'const log = createLogger();',
    "for (let i = 0; i < 100; i += 1) log.info({ i }, 'line');",
    "if (process.argv[1] === 'throw') throw new Error('boom');",
    'process.exit(process.argv[1] === \'exit\' ? 3 : 0);',
  ].join('\n');
  for (const how of ['exit', 'throw', 'end']) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, how], { encoding: 'utf8' });
    const lines = run.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { i: number; msg: string });
    t.equal(lines.length, 100, `${how}: every line`);
    t.same(lines.map((l) => l.i), Array.from({ length: 100 }, (_, i) => i), `${how}: in order`);
  }
});
