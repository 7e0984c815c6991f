// cloud-destroy: SaltApiActions.destroy reads `cloud.destroy`'s answer as outcomesOf reads a `cloud.action`'s: the
// instance's own node decides, in the shapes salt/cloud/__init__.py `Cloud.destroy` builds (3006.10 and 3007.0),
// served by a real HTTP server (the recorded answer, req_59, and the shapes no lab run has recorded).
import t from 'tap';
import { SaltApiActions } from '../../src/salt-api/actions.ts';
import { SaltClient } from '../../src/salt-api/client.ts';
import { AutoscalerError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { fixtureReply, loginReply, startFixtureServer, type Reply } from './fixture-server.ts';

const logger = createLogger({ level: 'silent' });
const ID = 'gpu-dev-9';

/** destroyWith runs actions.destroy(ID) against a salt-api that answers cloud.destroy with `reply`; the rejection or undefined. */
async function destroyWith(reply: Reply): Promise<unknown> {
  const server = await startFixtureServer((seen) => (seen.path === '/login' ? loginReply('a'.repeat(40)) : reply));
  const client = new SaltClient({ url: server.url, username: 'lab', password: 'labsecret', eauth: 'sharedsecret', tlsVerify: true, timeoutMs: 5000, logger });
  try {
    await new SaltApiActions(client, logger).destroy(ID);
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await client.close();
    await server.close();
  }
}

const answer = (ret: unknown): Reply => ({ status: 200, contentType: 'application/json', body: JSON.stringify({ return: [ret] }) });
const node = (n: unknown): unknown => ({ 'lab-localproc': { localproc: { [ID]: n } } });

t.test('a destroyed node is done, also next to the names Salt did not find', async (t) => {
  t.equal(await destroyWith(fixtureReply('req_59_runner_cloud_destroy')), undefined, 'the recorded answer (destroyed: true)');
  t.equal(await destroyWith(answer({ 'lab-localproc': { localproc: { [ID]: { destroyed: true } } }, 'Not Found': ['gpu-dev-8'] })), undefined,
    'another name under "Not Found" says nothing of this one');
});

t.test('a destroy that failed rejects with what Salt said of this instance', async (t) => {
  const cases: readonly [string, unknown, RegExp][] = [
    ['a destroy that raised in parallel mode', node({ Error: 'quota exceeded' }), /did not destroy gpu-dev-9: it answered \{"Error":"quota exceeded"\}/],
    ['a node that says it was not destroyed', node({ name: ID, destroyed: false }), /did not destroy gpu-dev-9: it answered \{.*"destroyed":false\}/],
    ['a node that is no object', node(true), /did not destroy gpu-dev-9: it answered true/],
    ['the name listed as not found', { 'lab-localproc': { localproc: { 'gpu-dev-8': { destroyed: true } } }, 'Not Found': [ID] }, /did not destroy gpu-dev-9: it listed it under "Not Found"/],
    ['a runner traceback', "Exception occurred in runner cloud.destroy: SaltCloudSystemExit: The following VM's were not found: gpu-dev-9", /did not destroy gpu-dev-9: it answered "Exception occurred/],
  ];
  for (const [what, ret, message] of cases) {
    const err = await destroyWith(answer(ret));
    t.ok(err instanceof AutoscalerError && err.code === 'ASC_ERR_ACTION_FAILED', `${what}: ASC_ERR_ACTION_FAILED`, { err });
    t.match((err as Error | undefined)?.message, message, `${what}: the message says why`);
  }
});
