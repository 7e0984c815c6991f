// real-events: the event streams the real Salt 3006.10 master sent while the product's own reactor and orchestrate
// deployed an instance (real_sse_01), failed one in training-env (real_sse_02) and salt-cloud stopped one
// (real_sse_03) parse, through the service's SSE reader and parseEvent, into the typed events the engine relies on.
import t from 'tap';
import { readFileSync } from 'node:fs';
import type { SaltEvent } from '../../src/core/salt-event.ts';
import { parseEvent } from '../../src/salt-api/events.ts';
import { sseReader } from '../../src/salt-api/event-stream.ts';

/** events reads a recorded stream as an EventSource parser sees it, fed in `chunk`-byte pieces (0: all at once). */
function events(name: string, chunk = 0): SaltEvent[] {
  const bytes = readFileSync(new URL(`../fixtures/salt-api/${name}.sse`, import.meta.url));
  const out: SaltEvent[] = [];
  const reader = sseReader((data) => { out.push(parseEvent(data)); });
  const step = chunk === 0 ? bytes.length : chunk;
  for (let i = 0; i < bytes.length; i += step) reader.feed(bytes.subarray(i, i + step));
  return out;
}

const tagCount = (name: string): number => readFileSync(new URL(`../fixtures/salt-api/${name}.sse`, import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('tag: ')).length;

for (const name of ['real_sse_01_deploy_success', 'real_sse_02_deploy_failure', 'real_sse_03_cloud_stop']) {
  t.test(`${name}: every event parses, whole or in 7-byte pieces`, async (t) => {
    const whole = events(name);
    t.equal(whole.length, tagCount(name), 'one typed event per recorded tag');
    t.same(events(name, 7).map((e) => e.tag), whole.map((e) => e.tag), 'the same events from split chunks');
  });
}

t.test('a successful deploy: minion-start, the reactor\'s orchestrate run-new for the minion, instance-ready, a successful run-ret', async (t) => {
  const evs = events('real_sse_01_deploy_success');
  const id = 'gpu-prod-type1-1';
  const kinds = evs.map((e) => e.kind);
  const start = evs.findIndex((e) => e.kind === 'minion-start' && e.minion === id);
  const orch = evs.findIndex((e) => e.kind === 'run-new' && e.orchestrateMinion === id);
  const ready = evs.findIndex((e) => e.kind === 'instance-ready' && e.minion === id);
  t.ok(start >= 0 && orch > start && ready > orch, `minion-start (${start}) < orchestrate run-new (${orch}) < instance-ready (${ready})`);
  const orchNew = evs[orch];
  const orchJid = orchNew?.kind === 'run-new' ? orchNew.jid : '';
  const orchRet = evs.find((e) => e.kind === 'run-ret' && e.jid === orchJid);
  t.equal(orchRet?.kind === 'run-ret' ? orchRet.success : undefined, true, 'the orchestrate succeeded');
  t.equal(orchRet?.kind === 'run-ret' ? orchRet.orchestrateMinion : undefined, id, 'its ret names the minion too');
  t.ok(kinds.includes('cloud'), 'salt-cloud start events');
  t.notOk(evs.some((e) => (e.kind === 'job-ret' || e.kind === 'run-ret') && e.failure !== undefined), 'no failure anywhere');
  t.notOk(kinds.includes('instance-failed'));
});

t.test('a deploy failing in training-env: the state.sls job-ret and the orchestrate run-ret carry the failing state\'s comment', async (t) => {
  const evs = events('real_sse_02_deploy_failure');
  const id = 'gpu-prod-type1-2';
  const jobRet = evs.find((e) => e.kind === 'job-ret' && e.minion === id && e.fun === 'state.sls' && e.success === false);
  t.match(jobRet?.kind === 'job-ret' ? jobRet.failure : undefined, /^training_env_agent_image_missing: \S/, 'job-ret failure: <state id>: <comment>');
  const failed = evs.find((e) => e.kind === 'instance-failed' && e.minion === id);
  t.match(failed?.kind === 'instance-failed' ? failed.reason : undefined, /^deploy orchestrate orch\.salt_autoscaler\.deploy failed/, 'instance-failed with the orchestrate\'s generic reason');
  const orchRet = evs.find((e) => e.kind === 'run-ret' && e.orchestrateMinion === id);
  t.ok(failed !== undefined && orchRet !== undefined && evs.indexOf(failed) < evs.indexOf(orchRet), 'instance-failed comes before the orchestrate\'s run-ret');
  t.equal(orchRet?.kind === 'run-ret' ? orchRet.success : undefined, false, 'the orchestrate failed');
  t.match(orchRet?.kind === 'run-ret' ? orchRet.failure : undefined, /^training_env_agent_image_missing: /, 'run-ret failure: the minion\'s state, not "Run failed on minions"');
  t.notOk(evs.some((e) => e.kind === 'instance-ready'));
});

t.test('a cloud stop: stopping then stopped for the instance, inside the runner\'s new and ret', async (t) => {
  const evs = events('real_sse_03_cloud_stop');
  t.same(evs.map((e) => (e.kind === 'cloud' ? `${e.kind} ${e.minion} ${e.what}` : e.kind)), [
    'run-new', 'cloud gpu-prod-type1-2 stopping', 'cloud gpu-prod-type1-2 stopped', 'run-ret',
  ]);
  const ret = evs.at(-1);
  t.equal(ret?.kind === 'run-ret' ? ret.fun : undefined, 'runner.cloud.action');
});
