/**
 * close: closing the app (a stop, a reload, a lost store) ends the connections of requests that were in flight when
 * the close began, once their responses are done, instead of waiting for the client to drop its keep-alive.
 */
import t from 'tap';
import { Agent, request } from 'undici';
import { buildTestApp } from './build.ts';

t.test('a request in flight when the close begins gets its answer, and its keep-alive connection does not hold the close', async (t) => {
  const { app } = buildTestApp();
  let release = (): void => {};
  const held = new Promise<void>((resolve) => { release = resolve; });
  let arrived = (): void => {};
  const inFlight = new Promise<void>((resolve) => { arrived = resolve; });
  app.get('/test/held', async () => {
    arrived();
    await held;
    return { answered: true };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  // a client that keeps its connections for ten minutes, as Alertmanager's does for minutes
  const agent = new Agent({ keepAliveTimeout: 600_000, keepAliveMaxTimeout: 600_000 });
  t.teardown(() => agent.destroy());
  const answer = request(`http://127.0.0.1:${address.port}/test/held`, { dispatcher: agent });
  await inFlight;
  let closed = false;
  const closing = app.close().then(() => { closed = true; });
  // the answer is sent only once the server has stopped listening: Node has then already ended the idle connections
  while (app.server.listening) await new Promise((resolve) => setImmediate(resolve));
  release();
  const res = await answer;
  t.equal(res.statusCode, 200, 'the request in flight is answered');
  t.same(await res.body.json(), { answered: true });
  // without the fix the close waits for the client's keep-alive (here 10 minutes): the test's own timeout catches it
  await closing;
  t.ok(closed, 'the close completes while the client would still keep the connection');
});
