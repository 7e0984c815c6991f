import t from 'tap';
import { createLogger } from '../src/log.ts';
import { formatLine, prettyDestination } from '../src/log-pretty.ts';

const AT = new Date(2026, 10, 28, 8, 0, 5).getTime();

t.test('a decision and an instance transition are one short line each', async (t) => {
  t.equal(formatLine({ level: 30, time: AT, component: 'engine', pool: 'prod/type1', action: 'scaleUp', reason: 'workload 5 wants 3: start 3', dryRun: false, msg: 'decision' }),
    '08:00:05  prod/type1  scaleUp: workload 5 wants 3: start 3');
  t.equal(formatLine({ level: 30, time: AT, pool: 'prod/type1', action: 'scaleDown', reason: 'drain 1', dryRun: true, msg: 'decision' }),
    '08:00:05  prod/type1  scaleDown (dry run): drain 1');
  t.equal(formatLine({ level: 30, time: AT, pool: 'dev/type2', minion: 'gpu-1', from: 'deploying', to: 'failed', reason: 'failed event', msg: 'instance state' }),
    '08:00:05  dev/type2  gpu-1 deploying -> failed: failed event');
});

t.test('any other line shows time, level, component, message and its fields', async (t) => {
  t.equal(formatLine({ level: 40, time: AT, service: 'salt-autoscaler', component: 'salt-events', msg: 'stream lost', reconnects: 2, err: { message: 'socket hang up' } }),
    '08:00:05  WARN [salt-events] stream lost reconnects=2 err="socket hang up"');
});

t.test('the pretty destination keeps redaction, filters records and passes non-JSON through', async (t) => {
  let out = '';
  const pretty = createLogger({ level: 'info', format: 'pretty', destination: { write: (c: string) => { out += c; } } });
  pretty.info({ password: 'hunter2', token: 'tok-123', pool: 'p' }, 'login');
  t.notMatch(out, /hunter2|tok-123/, 'secrets are redacted before formatting');
  t.match(out, /INFO login password=\[redacted\] token=\[redacted\] pool=p/);
  t.notMatch(out, /^\{/m, 'no JSON');
  let kept = '';
  const only = prettyDestination({ out: { write: (c: string) => { kept += c; } }, keep: (r) => r['msg'] === 'decision' });
  only.write(`${JSON.stringify({ level: 30, time: AT, msg: 'request' })}\n${JSON.stringify({ level: 30, time: AT, pool: 'p', action: 'hold', reason: 'r', msg: 'decision' })}\nplain text\n`);
  t.equal(kept, '08:00:05  p  hold: r\nplain text\n');
});
