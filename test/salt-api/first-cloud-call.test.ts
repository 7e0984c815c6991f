// first-cloud-call: the first salt-cloud call of a process goes alone; the ones asked meanwhile wait for its answer.
// The rule with fake calls (each a promise the test settles); the service's path against the emulator is
// test/engine/first-cloud-call.test.ts.
import t from 'tap';
import { SaltApiError } from '../../src/errors.ts';
import { FirstCloudCall } from '../../src/salt-api/first-cloud-call.ts';

/** Pending is one fake call: `sent` once the gate let it go, settled by the test. */
interface Pending { sent: boolean; resolve: (v: string) => void; reject: (e: unknown) => void }

function fakeCall(): { pending: Pending; call: () => Promise<string> } {
  const pending: Pending = { sent: false, resolve: () => undefined, reject: () => undefined };
  const call = (): Promise<string> => {
    pending.sent = true;
    return new Promise<string>((resolve, reject) => { pending.resolve = resolve; pending.reject = reject; });
  };
  return { pending, call };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

type Three<T> = readonly [T, T, T];

/** askThree asks three calls of a fresh gate in one turn. */
function askThree(): { calls: Three<Pending>; results: Three<Promise<string>> } {
  const gate = new FirstCloudCall();
  const [a, b, c] = [fakeCall(), fakeCall(), fakeCall()];
  return { calls: [a.pending, b.pending, c.pending], results: [gate.run(a.call), gate.run(b.call), gate.run(c.call)] };
}

t.test('once a call was answered, a call is sent at once (in the same turn)', async (t) => {
  const gate = new FirstCloudCall();
  const a = fakeCall();
  const ra = gate.run(a.call);
  a.pending.resolve('a');
  await ra;
  const b = fakeCall();
  const rb = gate.run(b.call);
  t.ok(b.pending.sent, 'sent synchronously');
  b.pending.resolve('b');
  t.equal(await rb, 'b');
});

const FIRST_OUTCOMES: readonly (readonly [string, (first: Pending) => void])[] = [
  ['answered', (first) => { first.resolve('a'); }],
  // a runner that raised is salt-api's answer too: the cache dir was made on the way in
  ['answered with an error', (first) => { first.reject(new SaltApiError('ASC_ERR_SALT_RUNNER', 'SystemExit: 17', { endpoint: '/', status: 200 })); }],
];

for (const [outcome, settle] of FIRST_OUTCOMES) {
  t.test(`the calls asked while the first is unanswered are sent once it is ${outcome}, together`, async (t) => {
    const { calls: [a, b, c], results: [ra, rb, rc] } = askThree();
    await turn();
    t.same([a.sent, b.sent, c.sent], [true, false, false], 'only the first is sent');
    settle(a);
    await ra.catch(() => undefined);
    await turn();
    t.same([b.sent, c.sent], [true, true], 'both sent, neither waiting for the other');
    b.resolve('b');
    c.resolve('c');
    t.same(await Promise.all([rb, rc]), ['b', 'c']);
  });
}

t.test('a first call that never reached salt-api leaves the next one to go alone', async (t) => {
  const { calls: [a, b, c], results: [ra, rb, rc] } = askThree();
  a.reject(new SaltApiError('ASC_ERR_SALT_NETWORK', 'connection refused', { endpoint: '/', status: 0 }));
  await t.rejects(ra, { code: 'ASC_ERR_SALT_NETWORK' });
  await turn();
  t.same([b.sent, c.sent], [true, false], 'the next call goes alone; the other waits for it');
  b.resolve('b');
  t.equal(await rb, 'b');
  await turn();
  t.ok(c.sent, 'then the last one');
  c.resolve('c');
  t.equal(await rc, 'c');
});
