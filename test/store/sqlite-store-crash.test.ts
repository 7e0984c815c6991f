import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { openStore } from '../../src/store/sqlite-store.ts';
import { createLogger } from '../../src/log.ts';
import { STARTUP_CEILING_MS } from '../support/service-process.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const quiet = createLogger({ level: 'silent' });

/** CHILD opens the store, saves an instance, writes one intent, prints it and then waits to be killed. */
const CHILD = `
  import { openStore } from ${JSON.stringify(join(ROOT, 'src/store/sqlite-store.ts'))};
  import { createLogger } from ${JSON.stringify(join(ROOT, 'src/log.ts'))};
  const store = openStore(process.env.ASC_TEST_DB ?? '', { logger: createLogger({ level: 'silent' }) });
  store.saveInstance({ id: 'gpu-prod-1', pool: 'prod/type1', state: 'starting', sinceMs: 1000, reason: 'start issued', lastStartMs: 1000, created: false },
    { from: 'stopped', to: 'starting', atMs: 1000, reason: 'start issued' });
  const intent = store.openIntent('start', 'gpu-prod-1', 'prod/type1', 1000);
  process.stdout.write(JSON.stringify(intent) + '\\n');
  setInterval(() => {}, 60_000);
`;

t.test('an intent written by a process killed with SIGKILL right after openIntent returns is still open after reopening', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-store-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'var', 'state.db');

  // node with the tsx loader, not the tsx CLI: the CLI runs the script in a grandchild that SIGKILL would not reach
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', CHILD], {
    cwd: ROOT, env: { ...process.env, ASC_TEST_DB: path }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += String(chunk); });
  const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, signal) => res(signal)));

  const deadline = setTimeout(() => child.kill('SIGKILL'), STARTUP_CEILING_MS);
  t.teardown(() => clearTimeout(deadline));
  const lines = createInterface({ input: child.stdout });
  let printed: unknown;
  for await (const line of lines) {
    child.kill('SIGKILL'); // the moment the intent is reported, before anything else can run
    printed = JSON.parse(line);
    break;
  }
  const signal = await exited;
  t.equal(signal, 'SIGKILL', `the child was killed (stderr: ${stderr.slice(0, 300)})`);
  t.ok(existsSync(`${path}-wal`), 'the write-ahead log was left behind, not checkpointed');

  const store = openStore(path, { logger: quiet });
  t.teardown(() => store.close());
  t.same(store.openIntents(), [printed], 'the intent is there and still open');
  t.equal(store.loadInstances()[0]?.state, 'starting', 'the instance saved before it is there too');
  t.same(store.history('gpu-prod-1'), [{ from: 'stopped', to: 'starting', atMs: 1000, reason: 'start issued' }]);
});
