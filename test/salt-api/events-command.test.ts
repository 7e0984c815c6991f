// `salt-autoscaler events`: every stream item becomes one JSON line {kind, tag, minion?, jid?, ..., data},
// gap lines included, against the salt-api emulator; aborting the signal ends the command cleanly.
import t from 'tap';
import { Writable } from 'node:stream';
import { startEmulator } from '../../src/emulator/index.ts';
import { eventLine, runEventsCommand } from '../../src/salt-api/events-command.ts';
import { createLogger } from '../../src/log.ts';
import { until } from './fixture-server.ts';

for (const transport of ['sse', 'ws'] as const) {
  t.test(`${transport}: prints one JSON object per line, gap first, until the signal aborts`, async (tt) => {
    const emu = await startEmulator({});
    tt.teardown(() => emu.close());
    const lines: string[] = [];
    let buffer = '';
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        buffer += chunk.toString();
        const parts = buffer.split('\n');
        buffer = parts.pop() ?? '';
        lines.push(...parts);
        cb();
      },
    });
    const ac = new AbortController();
    const run = runEventsCommand({
      url: emu.url, username: 'autoscaler', password: 'secret', eauth: 'pam', transport, tlsVerify: true,
      heartbeatIntervalMs: 0, timeoutMs: 2000, logger: createLogger({ level: 'silent' }),
    }, out, ac.signal);
    await until(() => lines.length >= 1, 5000, 'gap line');
    emu.fire('salt/minion/gpu-7/start', { id: 'gpu-7' });
    emu.fire('salt/job/20261128070102846864/ret/gpu-7', { id: 'gpu-7', fun: 'test.ping', success: true, retcode: 0 });
    await until(() => lines.length >= 3, 5000, 'event lines');
    ac.abort();
    await run;
    const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    tt.match(objs[0], { kind: 'gap', tag: '', reason: 'connect' });
    tt.match(objs[1], { kind: 'minion-start', tag: 'salt/minion/gpu-7/start', minion: 'gpu-7', data: { id: 'gpu-7' } });
    tt.match(objs[2], { kind: 'job-ret', minion: 'gpu-7', jid: '20261128070102846864', fun: 'test.ping', success: true, retcode: 0 });
    tt.same(Object.keys(objs[2] ?? {}).slice(0, 4), ['kind', 'tag', 'minion', 'jid'], 'kind, tag, then the ids');
    tt.equal(Object.keys(objs[2] ?? {}).at(-1), 'data', 'data last');
  });
}

t.test('eventLine renders gaps and events with a stable key order', async (tt) => {
  tt.same(eventLine({ kind: 'gap', reason: 'heartbeat-missed', atMs: 5 }), { kind: 'gap', tag: '', reason: 'heartbeat-missed', atMs: 5, data: {} });
  tt.same(Object.keys(eventLine({ kind: 'cloud', tag: 'salt/cloud/a/started', minion: 'a', what: 'started', stampMs: 1, data: {} })), ['kind', 'tag', 'minion', 'what', 'stampMs', 'data']);
});
