// cloud-batch on a real master: the starts (and stops) the service asks while a call of theirs is in flight reach
// real Salt as ONE `cloud.action` with every instance in `instances` (the first, asked with none in flight, went
// alone at once), through the product's user and the shipped ACL; Salt actions each name it finds and lists the one
// it does not find, and the service settles each caller from its own entry.
// The same request to the emulator answers with the same shape (the evidence for src/emulator/functions.ts).
//
//   npm run test:salt   (as root, with ../shared/salt or SALT_SRC; skips visibly otherwise; see salt/README.md)
import t from 'tap';
import { startEmulator } from '../../src/emulator/index.ts';
import { createLogger } from '../../src/log.ts';
import { SaltApiActions } from '../../src/salt-api/actions.ts';
import { SaltClient } from '../../src/salt-api/client.ts';
import { PROVIDER, SHARED_SECRET, SaltLab, findSaltSources } from '../support/real-salt.ts';

const RESERVED = ['gpu-prod-type1-1', 'gpu-prod-type1-2'];
const MISSING = 'gpu-prod-type1-404';
/** LONE: an unknown instance whose start (or stop), asked first, is the call in flight the others queue behind. */
const LONE = 'gpu-prod-type1-405';
const logger = createLogger({ level: 'silent' });

/** shapeOf: the answer's keys down to the instance names, values replaced by their kind (the nodes are the driver's). */
function shapeOf(v: unknown, depth = 3): unknown {
  if (Array.isArray(v)) return v.map((x) => shapeOf(x, depth)).sort();
  if (typeof v !== 'object' || v === null) return typeof v;
  if (depth === 0) return 'node';
  return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, shapeOf(x, depth - 1)]));
}

const found = findSaltSources();
if (found.sources.length === 0) {
  t.test('real Salt: cloud.action of several instances', { skip: `no real Salt: ${found.skip ?? 'none found'}` }, () => undefined);
}

for (const source of found.sources) {
  t.test(`Salt ${source.label}: the starts and the stops asked behind a call in flight share one cloud.action`, { timeout: 600_000 }, async (t) => {
    const lab = await SaltLab.start(source, { reserved: RESERVED });
    const client = new SaltClient({ url: lab.apiUrl, username: 'salt-autoscaler', password: SHARED_SECRET, eauth: 'sharedsecret', tlsVerify: true, timeoutMs: 120_000, logger });
    t.teardown(async () => { await client.close(); await lab.close(); });
    t.comment(lab.saltVersion);
    const actions = new SaltApiActions(client, logger);

    // salt-cloud makes its cache dir on a master's first salt-cloud call; two first calls at once race there (Salt's
    // verify_env: FileExistsError, then SystemExit 17 as the runner's answer). The service asks the startup cloud.query
    // and, say, a stop at once: SaltApiActions sends the first alone (first-cloud-call.ts), and each gets Salt's answer
    const [query, lone] = await Promise.allSettled([actions.cloudInstances(), actions.stop(LONE)]);
    const listed = query.status === 'fulfilled' ? query.value : [];
    t.same(RESERVED.map((id) => listed.find((c) => c.id === id)?.state), ['stopped', 'stopped'], `the first cloud.query of the fresh master lists the reserve (${query.status === 'rejected' ? String(query.reason) : 'answered'})`);
    t.match(lone, { status: 'rejected', reason: { code: 'ASC_ERR_ACTION_FAILED', message: new RegExp(`did not stop ${LONE}: it listed it under`) } }, 'the stop asked with it is answered from its own entry, not a SystemExit');

    // the service's path: a lone start goes at once; two starts and an unknown instance asked while it is in flight
    const first = actions.cloudActionCalls;
    const results = await Promise.allSettled([LONE, ...RESERVED, MISSING].map((id) => actions.start(id)));
    t.equal(actions.cloudActionCalls - first, 2, 'the lone start, then one cloud.action call for the three starts');
    t.match(results[0], { status: 'rejected', reason: { code: 'ASC_ERR_ACTION_FAILED', message: new RegExp(`did not start ${LONE}: it listed it under`) } }, 'the lone start answered on its own');
    t.same(results.slice(1, 3).map((r) => r.status), ['fulfilled', 'fulfilled'], 'both reserved instances started');
    t.match(results[3], { status: 'rejected', reason: { code: 'ASC_ERR_ACTION_FAILED', message: new RegExp(`did not start ${MISSING}: it listed it under`) } }, 'the unknown one failed from its own entry');
    t.same(RESERVED.map((id) => lab.running(id)), [true, true], 'both minions run');
    t.same(lab.actions().filter((a) => a.action === 'start').map((a) => a.name).sort(), RESERVED, 'the driver started each once');

    // Salt's own answer to several names, one of them unknown: {provider: {driver: {name: node}}} and the lists
    const raw = await client.lowstate({ client: 'runner', fun: 'cloud.action', kwarg: { func: 'stop', instances: [...RESERVED, MISSING] } });
    const expected = { 'Not Actioned/Not Running': [MISSING], 'Not Found': [MISSING], [PROVIDER]: { localproc: Object.fromEntries(RESERVED.map((id) => [id, {}])) } };
    t.same(shapeOf(raw), shapeOf(expected), `real Salt answers several names as ${JSON.stringify(raw)}`);
    t.same(RESERVED.map((id) => lab.running(id)), [false, false], 'one call stopped both');

    // the emulator, asked the same, answers the same shape
    const emu = await startEmulator({ instances: RESERVED.map((id) => ({ id, provider: PROVIDER, driver: 'localproc', state: 'running' as const })), delays: { stopMs: 5 } });
    t.teardown(() => emu.close());
    const emuClient = new SaltClient({ url: emu.url, username: 'autoscaler', password: 'secret', eauth: 'pam', tlsVerify: true, timeoutMs: 10_000, logger });
    t.teardown(() => emuClient.close());
    const emuRaw = await emuClient.lowstate({ client: 'runner', fun: 'cloud.action', kwarg: { func: 'stop', instances: [...RESERVED, MISSING] } });
    t.same(shapeOf(emuRaw), shapeOf(raw), 'the emulator answers several names with real Salt\'s shape');

    // and the stops asked behind a stop in flight through the service's path again: one call, each settled
    await Promise.all(RESERVED.map((id) => actions.start(id)));
    const before = actions.cloudActionCalls;
    const stops = await Promise.allSettled([LONE, ...RESERVED].map((id) => actions.stop(id)));
    t.same(stops.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled'], 'the lone stop failed (unknown), both stops settled ok');
    t.equal(actions.cloudActionCalls - before, 2, 'the lone stop, then one call for the two stops');
    t.same(RESERVED.map((id) => lab.running(id)), [false, false], 'both stopped again');
  });
}
