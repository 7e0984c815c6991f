/**
 * etcd-candidate: one EtcdLeadership in a child process, so a test can SIGSTOP or kill -9 a leader. Configured by
 * env (ETCD_ENDPOINTS comma-separated, ETCD_PREFIX, ETCD_TTL_MS); prints one JSON line per event on stdout
 * (`ready`, `leader`, `lost`, `fenced`) and reads one command per line on stdin: `fence <key> <value>` answers
 * `{"event":"fenced","ok":…,"mayActBefore":…}`.
 */
import { createInterface } from 'node:readline';
import { EtcdClient } from '../../src/etcd/client.ts';
import { EtcdLeadership } from '../../src/etcd/leadership.ts';

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const client = new EtcdClient({ endpoints: (process.env['ETCD_ENDPOINTS'] ?? '').split(','), logger: quiet, timeoutMs: 2_000 });
const leadership = new EtcdLeadership({ client, prefix: process.env['ETCD_PREFIX'] ?? '/test', ttlMs: Number(process.env['ETCD_TTL_MS'] ?? '3000'), logger: quiet });
const say = (obj: object): void => { process.stdout.write(`${JSON.stringify({ ...obj, self: leadership.self, atMs: Date.now() })}\n`); };
leadership.onLost((why) => { say({ event: 'lost', why }); });
say({ event: 'ready' });
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, key, value] = line.trim().split(' ');
  if (cmd === 'fence' && key !== undefined) {
    const mayActBefore = leadership.mayAct();
    leadership.fence([{ key, value: value ?? '' }]).then(
      (ok) => { say({ event: 'fenced', ok, mayActBefore }); },
      (err: unknown) => { say({ event: 'fenced', ok: false, mayActBefore, error: (err as Error).message }); },
    );
  }
});
if (await leadership.acquire()) {
  leadership.keep();
  say({ event: 'leader' });
}
