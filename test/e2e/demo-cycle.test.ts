/**
 * demo cycle: `salt-autoscaler demo` shows the whole lifecycle within its first cycle (about 2.5 minutes): a scale-up,
 * instances becoming ready, a failed deploy and the back-off before the retry, a drain with an idle check, stops.
 * Read from its JSON log lines (`--log-format json`). Slow (real time): it lives in the e2e suite.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { cliArgs } from '../support/cli-process.ts';

t.setTimeout(5 * 60_000);

interface Line { msg?: string; pool?: string; action?: string; reason?: string; minion?: string; from?: string; to?: string; time?: number }

t.test('the demo runs a full cycle in under three minutes', async (t) => {
  const child = spawn(process.execPath, cliArgs(['demo', '--port', '0', '--log-format', 'json', '--duration-s', '170']), { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', () => {});
  const began = Date.now();
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.equal(code, 0);
  const lines: Line[] = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
  const first = lines[0]?.time ?? began;
  const at = (pred: (l: Line) => boolean): number | undefined => {
    const hit = lines.find(pred);
    return hit?.time === undefined ? undefined : Math.round((hit.time - first) / 1000);
  };
  const moves = (to: string, pool?: string): number | undefined => at((l) => l.msg === 'instance state' && l.to === to && (pool === undefined || l.pool === pool));
  const up = at((l) => l.msg === 'decision' && l.action === 'scaleUp');
  const ready = moves('ready', 'prod/type1');
  const failed = moves('failed', 'dev/type2');
  const devStarts = lines.filter((l) => l.msg === 'instance state' && l.pool === 'dev/type2' && l.to === 'starting').map((l) => l.time ?? 0);
  const drain = at((l) => l.msg === 'decision' && l.action === 'scaleDown');
  const stopped = at((l) => l.msg === 'instance state' && l.from === 'stopping' && l.to === 'stopped' && l.pool === 'prod/type1');
  t.comment(`seconds from start: scale-up ${up}, ready ${ready}, failed deploy ${failed}, drain ${drain}, stopped ${stopped}`);
  t.ok(up !== undefined && up < 30, 'scales up within 30 s');
  t.ok(ready !== undefined && ready < 60, 'an instance is ready within a minute');
  t.ok(failed !== undefined, 'a deploy fails');
  t.ok(devStarts.length >= 2, 'the pool retries after the failure');
  const gapS = ((devStarts[1] ?? 0) - (devStarts[0] ?? 0)) / 1000;
  t.ok(gapS >= 20, `the retry waits out the 20 s back-off (${gapS.toFixed(0)} s between the starts)`);
  t.ok(lines.some((l) => l.msg === 'decision' && l.action === 'scaleDown' && /drain \d/.test(l.reason ?? '')), 'a drain with idle-confirmed targets');
  t.ok(drain !== undefined && drain < 150, 'drains within the cycle');
  t.ok(stopped !== undefined && stopped < 180, 'a drained instance is stopped within three minutes');
  t.ok(lines.some((l) => l.msg === 'instance state' && l.pool === 'prod/type1' && l.to === 'ready'
    && lines.some((m) => m.msg === 'instance state' && m.minion === l.minion && m.to === 'draining')), 'a ready instance is drained');
});
