// websocket: /ws/<token> speaks the recorded handshake and frame format (ws_01_minion_start).
import t from 'tap';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { startEmulator } from '../../src/emulator/index.ts';
import { login, waitUntil } from './raw-client.ts';

const FIXTURES = new URL('../fixtures/salt-api/', import.meta.url);

function connect(url: string, token: string): Promise<{ ws: WebSocket; headers: Record<string, string | string[] | undefined>; frames: string[] }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws/${token}`);
  const frames: string[] = [];
  ws.on('message', (data) => frames.push(String(data)));
  return new Promise((resolve, reject) => {
    ws.once('upgrade', (res) => {
      ws.once('open', () => resolve({ ws, headers: res.headers, frames }));
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${String(res.statusCode)}`)));
    ws.once('error', reject);
  });
}

t.test('upgrades with the CherryPy headers and answers the client-ready handshake', async (t) => {
  const emu = await startEmulator();
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  const { ws, headers, frames } = await connect(emu.url, token);
  t.teardown(() => ws.terminate());
  t.equal(headers['server'], 'CherryPy/18.8.0');
  t.equal(headers['allow'], 'GET, HEAD');
  t.equal(headers['access-control-allow-credentials'], 'true');
  emu.fire('before/ready', { n: 1 });
  ws.send('websocket client ready');
  await waitUntil(() => frames.length >= 1);
  t.same(frames, ['server received message'], 'no event before the client said it is ready');
  emu.fire('lab/custom/tag', { n: 2 });
  await waitUntil(() => frames.length >= 2);
  t.match(frames[1], /^data: \{"data": \{"n": 2, "_stamp": "[^"]+"\}, "tag": "lab\/custom\/tag"\}\n\n$/, 'one text frame per event, no tag line');
  ws.send('anything');
  await waitUntil(() => frames.length >= 3);
  t.equal(frames[2], 'server received message', 'every client text is answered');
});

t.test('sends frames in the recorded format', async (t) => {
  const recorded = readFileSync(new URL('ws_01_minion_start.frames.jsonl', FIXTURES), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { dir: string; text?: string });
  const serverTexts = recorded.filter((f) => f.dir === 'server->client').map((f) => f.text ?? '');
  t.equal(serverTexts[0], 'server received message');
  const emu = await startEmulator({ instances: [{ id: 'gpu-1' }] });
  t.teardown(() => emu.close());
  const token = await login(emu.url);
  const { ws, frames } = await connect(emu.url, token);
  t.teardown(() => ws.terminate());
  ws.send('websocket client ready');
  await waitUntil(() => frames.length >= 1);
  emu.fire('salt/auth', { result: true, act: 'accept', id: 'gpu-1' });
  await waitUntil(() => frames.length >= 2);
  const pattern = /^data: (\{.*\})\n\n$/s;
  for (const text of [serverTexts[1] ?? '', frames[1] ?? '']) {
    const m = pattern.exec(text);
    t.ok(m, 'data: prefix and blank-line suffix');
    const parsed = JSON.parse(m?.[1] ?? '{}') as { data: Record<string, unknown>; tag: string };
    t.same(Object.keys(parsed), ['data', 'tag']);
    t.equal(typeof parsed.data['_stamp'], 'string');
  }
});

t.test('refuses an unknown token with 401 and no upgrade', async (t) => {
  const emu = await startEmulator();
  t.teardown(() => emu.close());
  await t.rejects(connect(emu.url, '0123456789abcdef0123456789abcdef01234567'), /status 401/);
});
