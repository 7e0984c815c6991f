// cloud-batch, the group-commit rule, with a fake send: a request goes out at once when no `cloud.action` of its func
// is in flight, and queues for the end of the turn (one call per func, capped) while one is.
import t from 'tap';
import { CloudActionBatcher, type CloudActionSend, type CloudFunc } from '../../src/salt-api/cloud-batch.ts';

/** Call is one call the fake Salt received and has not answered yet. */
interface Call {
  readonly func: CloudFunc;
  readonly ids: readonly string[];
  readonly answer: () => void;
  readonly fail: (err: Error) => void;
}

/** fakeSalt records each call the moment it is sent, and answers it (every instance done) when the test says so. */
function fakeSalt(): { send: CloudActionSend; sent: string[]; calls: Call[] } {
  const sent: string[] = [];
  const calls: Call[] = [];
  const send: CloudActionSend = (func, ids) => {
    sent.push(`${func}: ${ids.join(',')}`);
    return new Promise((resolve, reject) => {
      calls.push({
        func, ids,
        answer: () => { resolve({ lab: { localproc: Object.fromEntries(ids.map((id) => [id, { state: 'running', changed: true }])) } }); },
        fail: reject,
      });
    });
  };
  return { send, sent, calls };
}

/** turnEnd resolves after the setImmediate callbacks scheduled so far (the batcher's flush among them). */
const turnEnd = (): Promise<void> => new Promise((resolve) => { setImmediate(resolve); });

/** settled: what each promise came to, `ok` or its error's message. */
async function settled(ps: readonly Promise<unknown>[]): Promise<string[]> {
  return (await Promise.allSettled(ps)).map((r) => (r.status === 'fulfilled' ? 'ok' : String((r.reason as Error).message)));
}

t.test('a start asked while no start is in flight is sent at once, before request() returns', async (t) => {
  const salt = fakeSalt();
  const batcher = new CloudActionBatcher(salt.send);
  const a = batcher.request('start', 'a');
  t.same(salt.sent, ['start: a'], 'sent in the same synchronous block, not at the end of the turn');
  salt.calls[0]?.answer();
  t.same(await settled([a]), ['ok']);
  t.equal(batcher.calls, 1);
});

t.test('starts asked while a start is in flight queue and go out together at the end of the turn', async (t) => {
  const salt = fakeSalt();
  const batcher = new CloudActionBatcher(salt.send);
  const ps = ['a', 'b', 'c'].map((id) => batcher.request('start', id));
  t.same(salt.sent, ['start: a'], 'b and c wait while a is in flight');
  await turnEnd();
  t.same(salt.sent, ['start: a', 'start: b,c']);
  for (const call of salt.calls) call.answer();
  t.same(await settled(ps), ['ok', 'ok', 'ok']);
  t.equal(batcher.calls, 2);
});

t.test('the queue goes out at the end of the turn even if the in-flight call has answered by then', async (t) => {
  const salt = fakeSalt();
  const batcher = new CloudActionBatcher(salt.send);
  const a = batcher.request('start', 'a');
  const b = batcher.request('start', 'b');
  salt.calls[0]?.answer();
  t.same(await settled([a]), ['ok'], 'a answered and settled before the turn ended');
  const c = batcher.request('start', 'c');
  t.same(salt.sent, ['start: a'], 'c joins the queue b is in, behind it');
  await turnEnd();
  t.same(salt.sent, ['start: a', 'start: b,c']);
  salt.calls[1]?.answer();
  t.same(await settled([b, c]), ['ok', 'ok']);
});

t.test('once the queue is out and nothing is in flight, the next start is sent at once again', async (t) => {
  const salt = fakeSalt();
  const batcher = new CloudActionBatcher(salt.send);
  const first = ['a', 'b'].map((id) => batcher.request('start', id));
  await turnEnd();
  for (const call of salt.calls) call.answer();
  await settled(first);
  const c = batcher.request('start', 'c');
  t.same(salt.sent, ['start: a', 'start: b', 'start: c'], 'c sent at once');
  salt.calls[2]?.answer();
  t.same(await settled([c]), ['ok']);
});

t.test('a rejected in-flight call fails its callers and frees the func: the next start is sent at once', async (t) => {
  const salt = fakeSalt();
  const batcher = new CloudActionBatcher(salt.send);
  const a = batcher.request('start', 'a');
  salt.calls[0]?.fail(new Error('salt-api answered 500'));
  t.same(await settled([a]), ['salt-api answered 500']);
  const b = batcher.request('start', 'b');
  t.same(salt.sent, ['start: a', 'start: b'], 'b sent at once: the failed call is no longer in flight');
  salt.calls[1]?.answer();
  t.same(await settled([b]), ['ok']);
});

t.test('a send that throws before it returns a promise also frees the func', async (t) => {
  let throws = true;
  const sent: string[] = [];
  const batcher = new CloudActionBatcher((func, ids) => {
    sent.push(`${func}: ${ids.join(',')}`);
    if (throws) throw new Error('no connection');
    return Promise.resolve({ lab: { localproc: { b: { state: 'running' } } } });
  });
  t.same(await settled([batcher.request('start', 'a')]), ['no connection']);
  throws = false;
  const b = batcher.request('start', 'b');
  t.same(sent, ['start: a', 'start: b'], 'b sent at once');
  t.same(await settled([b]), ['ok']);
});

t.test('in flight is counted per func: a stop is sent at once while a start is in flight, and queues behind a stop', async (t) => {
  const salt = fakeSalt();
  const batcher = new CloudActionBatcher(salt.send);
  const ps = [batcher.request('start', 'a'), batcher.request('stop', 'x'), batcher.request('start', 'b'), batcher.request('stop', 'y'), batcher.request('stop', 'z')];
  t.same(salt.sent, ['start: a', 'stop: x']);
  await turnEnd();
  t.same(salt.sent, ['start: a', 'stop: x', 'start: b', 'stop: y,z']);
  for (const call of salt.calls) call.answer();
  t.same(await settled(ps), ['ok', 'ok', 'ok', 'ok', 'ok']);
});

t.test('the queue keeps the order asked and the cap: five queued starts with a cap of two go out as 2 + 2 + 1', async (t) => {
  const salt = fakeSalt();
  const batcher = new CloudActionBatcher(salt.send, 2);
  const ps = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => batcher.request('start', id));
  await turnEnd();
  t.same(salt.sent, ['start: a', 'start: b,c', 'start: d,e', 'start: f']);
  for (const call of salt.calls) call.answer();
  t.same(await settled(ps), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
});

t.test('the queue keeps waiting while several calls of its func are in flight, until each has settled', async (t) => {
  const salt = fakeSalt();
  const batcher = new CloudActionBatcher(salt.send, 1);
  const first = ['a', 'b', 'c'].map((id) => batcher.request('start', id));
  await turnEnd();
  t.same(salt.sent, ['start: a', 'start: b', 'start: c'], 'three calls in flight');
  salt.calls[0]?.answer();
  salt.calls[1]?.answer();
  await settled(first.slice(0, 2));
  const d = batcher.request('start', 'd');
  t.same(salt.sent.length, 3, 'd queued: c is still in flight');
  await turnEnd();
  t.same(salt.sent.at(-1), 'start: d');
  salt.calls[2]?.answer();
  salt.calls[3]?.answer();
  t.same(await settled([...first, d]), ['ok', 'ok', 'ok', 'ok']);
});
