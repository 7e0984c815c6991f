import t from 'tap';
import { countsAsCapacity, isInFlight, newInstance, step, type LifecycleInput, type StepContext } from '../../src/core/lifecycle.ts';
import type { SaltEvent } from '../../src/core/salt-event.ts';
import type { Instance, InstanceState } from '../../src/core/types.ts';

const ID = 'gpu-prod-1';
const T0 = 1_800_000_000_000;
const TIMEOUT_MS = 600_000;
const ctxAt = (nowMs: number): StepContext => ({ nowMs, provisionTimeoutMs: TIMEOUT_MS });

/** at builds an instance in a state that entered it at T0 after a start at T0 - 60 s. */
function at(state: InstanceState, extra: Partial<Instance> = {}): Instance {
  return { id: ID, pool: 'prod/type1', state, sinceMs: T0, reason: 'test', lastStartMs: T0 - 60_000, created: false, ...extra };
}

const ev = {
  minionStart: (minion = ID): SaltEvent => ({ kind: 'minion-start', tag: `salt/minion/${minion}/start`, data: {}, minion }),
  cloud: (what: string, minion = ID): SaltEvent => ({ kind: 'cloud', tag: `salt/cloud/${minion}/${what}`, data: {}, minion, what }),
  runNew: (jid = 'J1', minion = ID): SaltEvent => ({ kind: 'run-new', tag: `salt/run/${jid}/new`, data: {}, jid, fun: 'runner.state.orchestrate', orchestrateMinion: minion }),
  runRet: (success: boolean | undefined, jid = 'J1'): SaltEvent => ({
    kind: 'run-ret', tag: `salt/run/${jid}/ret`, data: {}, jid, fun: 'runner.state.orchestrate', orchestrateMinion: ID,
    ...(success === undefined ? {} : { success }),
  }),
  ready: (minion = ID): SaltEvent => ({ kind: 'instance-ready', tag: `salt-autoscaler/instance/${minion}/ready`, data: {}, minion }),
  failed: (reason?: string): SaltEvent => ({ kind: 'instance-failed', tag: `salt-autoscaler/instance/${ID}/failed`, data: {}, minion: ID, ...(reason === undefined ? {} : { reason }) }),
  draining: (): SaltEvent => ({ kind: 'instance-draining', tag: `salt-autoscaler/instance/${ID}/draining`, data: {}, minion: ID }),
  heartbeat: (): SaltEvent => ({ kind: 'heartbeat', tag: 'salt-autoscaler/heartbeat', data: {} }),
  jobRet: (): SaltEvent => ({ kind: 'job-ret', tag: 'salt/job/J9/ret/x', data: {}, jid: 'J9', minion: ID, fun: 'test.ping' }),
};
const obs = (cloudState: string, minionUp: boolean, grain?: { ready: boolean; deployedAtMs?: number }): LifecycleInput => ({
  kind: 'observed', cloudState, minionUp, ...(grain === undefined ? {} : { grain }),
});

interface Row {
  readonly name: string;
  readonly from: Instance;
  readonly input: LifecycleInput;
  /** to: the state moved to, 'ignored', or 'confirm' (ignored until Salt confirms: the engine reconciles). */
  readonly to: InstanceState | 'ignored' | 'confirm';
  readonly nowMs?: number;
}

const LATE = T0 + TIMEOUT_MS; // more than the timeout after lastStartMs (T0 - 60 s)

const rows: readonly Row[] = [
  // engine actions
  { name: 'a start issued moves a stopped instance to starting', from: at('stopped'), input: { kind: 'start-issued' }, to: 'starting' },
  { name: 'a create issued moves a stopped instance to creating', from: at('stopped'), input: { kind: 'create-issued' }, to: 'creating' },
  { name: 'a start issued for a starting instance is a duplicate', from: at('starting'), input: { kind: 'start-issued' }, to: 'ignored' },
  { name: 'a start issued for a ready instance is ignored', from: at('ready'), input: { kind: 'start-issued' }, to: 'ignored' },
  { name: 'a create issued for a failed instance is ignored', from: at('failed'), input: { kind: 'create-issued' }, to: 'ignored' },
  { name: 'a drain issued moves a ready instance to draining', from: at('ready'), input: { kind: 'drain-issued' }, to: 'draining' },
  { name: 'a drain issued for a deploying instance is ignored', from: at('deploying'), input: { kind: 'drain-issued' }, to: 'ignored' },
  { name: 'an undrain moves a draining instance back to ready', from: at('draining'), input: { kind: 'undrain', reason: 'workload came back' }, to: 'ready' },
  { name: 'an undrain for a ready instance is ignored', from: at('ready'), input: { kind: 'undrain', reason: 'x' }, to: 'ignored' },
  { name: 'a stop issued moves a draining instance to stopping', from: at('draining'), input: { kind: 'stop-issued' }, to: 'stopping' },
  { name: 'a stop issued moves a failed instance to stopping', from: at('failed'), input: { kind: 'stop-issued' }, to: 'stopping' },
  { name: 'a stop issued for a ready instance that was not drained is ignored', from: at('ready'), input: { kind: 'stop-issued' }, to: 'ignored' },
  { name: 'a destroy issued moves a draining instance to stopping', from: at('draining'), input: { kind: 'destroy-issued' }, to: 'stopping' },
  { name: 'a destroy issued moves a stopped created instance to stopping', from: at('stopped', { created: true }), input: { kind: 'destroy-issued' }, to: 'stopping' },
  { name: 'a destroy issued for a booted instance is ignored', from: at('booted'), input: { kind: 'destroy-issued' }, to: 'ignored' },
  { name: 'a start that Salt confirms never happened puts a starting instance back to the reserve (not failed)', from: at('starting'), input: { kind: 'action-failed', action: 'start', reason: 'salt-api 500' }, to: 'stopped' },
  { name: 'a stopping instance whose stop never reached Salt is undrained back to ready', from: at('stopping', { readyMs: T0 - 30_000 }), input: { kind: 'undrain', reason: 'busy again' }, to: 'ready' },
  { name: 'a stopping instance never ready in this life cannot be undrained to ready', from: at('stopping', { readyMs: T0 - 120_000 }), input: { kind: 'undrain', reason: 'x' }, to: 'ignored' },
  { name: 'a failed create moves a creating instance to failed', from: at('creating'), input: { kind: 'action-failed', action: 'create', reason: 'quota' }, to: 'failed' },
  { name: 'a create Salt left unanswered (504) keeps a creating instance on its way within its provision timeout', from: at('creating'), input: { kind: 'create-unanswered', reason: 'salt-api answered 504' }, to: 'ignored' },
  { name: 'a create Salt left unanswered past the provision timeout fails the instance', from: at('creating'), input: { kind: 'create-unanswered', reason: 'salt-api answered 504' }, to: 'failed', nowMs: T0 + TIMEOUT_MS },
  { name: 'a create answer that comes after the instance moved on changes nothing', from: at('booted'), input: { kind: 'create-unanswered', reason: 'salt-api answered 504' }, to: 'ignored', nowMs: T0 + TIMEOUT_MS },
  { name: 'a failed stop moves a stopping instance to failed so the stop is retried', from: at('stopping'), input: { kind: 'action-failed', action: 'stop', reason: 'timeout' }, to: 'failed' },
  { name: 'a failed destroy moves a stopping instance to failed', from: at('stopping'), input: { kind: 'action-failed', action: 'destroy', reason: 'timeout' }, to: 'failed' },
  { name: 'a failed drain puts a draining instance back to ready', from: at('draining'), input: { kind: 'action-failed', action: 'drain', reason: 'minion down' }, to: 'ready' },
  { name: 'a failed undrain does not change the state', from: at('ready'), input: { kind: 'action-failed', action: 'undrain', reason: 'x' }, to: 'ignored' },
  { name: 'a failed start for a booted instance is out of order and ignored', from: at('booted'), input: { kind: 'action-failed', action: 'start', reason: 'late' }, to: 'ignored' },
  { name: 'a failed stop for a stopped instance is ignored', from: at('stopped'), input: { kind: 'action-failed', action: 'stop', reason: 'late' }, to: 'ignored' },

  // salt events
  { name: 'a minion start moves a starting instance to booted', from: at('starting'), input: ev.minionStart(), to: 'booted' },
  { name: 'a minion start moves a creating instance to booted', from: at('creating'), input: ev.minionStart(), to: 'booted' },
  { name: 'a second minion start for a booted instance is a duplicate', from: at('booted'), input: ev.minionStart(), to: 'ignored' },
  { name: 'a minion start for a ready instance (restart) keeps it ready', from: at('ready'), input: ev.minionStart(), to: 'ignored' },
  { name: 'a minion start for a stopped instance follows a start made outside the autoscaler to booted', from: at('stopped'), input: ev.minionStart(), to: 'booted' },
  { name: 'a minion start for another minion is ignored', from: at('starting'), input: ev.minionStart('gpu-prod-2'), to: 'ignored' },
  { name: 'the deploy orchestrate starting moves a booted instance to deploying', from: at('booted'), input: ev.runNew(), to: 'deploying' },
  { name: 'the deploy orchestrate starting moves a starting instance whose minion start was missed to deploying', from: at('starting'), input: ev.runNew(), to: 'deploying' },
  { name: 'an orchestrate that really runs on a ready instance moves it to deploying', from: at('ready'), input: ev.runNew(), to: 'deploying' },
  { name: 'an orchestrate for a draining instance is ignored', from: at('draining'), input: ev.runNew(), to: 'ignored' },
  { name: 'a deploy orchestrate for a stopped instance follows a start made outside the autoscaler to deploying', from: at('stopped'), input: ev.runNew(), to: 'deploying' },
  { name: 'an orchestrate return for a stopped instance is checked with Salt', from: at('stopped'), input: ev.runRet(true), to: 'confirm' },
  { name: 'an orchestrate run for another minion is ignored', from: at('booted'), input: ev.runNew('J1', 'gpu-prod-2'), to: 'ignored' },
  { name: 'a successful orchestrate return moves a deploying instance to ready', from: at('deploying', { deployJid: 'J1' }), input: ev.runRet(true), to: 'ready' },
  { name: 'a failed orchestrate return moves a deploying instance to failed', from: at('deploying', { deployJid: 'J1' }), input: ev.runRet(false), to: 'failed' },
  { name: 'an orchestrate return without success is ignored', from: at('deploying', { deployJid: 'J1' }), input: ev.runRet(undefined), to: 'ignored' },
  { name: 'the return of another orchestrate run is ignored', from: at('deploying', { deployJid: 'J0' }), input: ev.runRet(false), to: 'ignored' },
  { name: 'an orchestrate return for a ready instance is a duplicate', from: at('ready', { deployJid: 'J1' }), input: ev.runRet(true), to: 'ignored' },
  { name: 'an orchestrate return for a booted instance whose run-new was missed counts', from: at('booted'), input: ev.runRet(true), to: 'ready' },
  { name: 'a ready event moves a deploying instance to ready', from: at('deploying'), input: ev.ready(), to: 'ready' },
  { name: 'a ready event moves a booted instance to ready', from: at('booted'), input: ev.ready(), to: 'ready' },
  { name: 'a ready event moves a starting instance whose earlier events were lost to ready', from: at('starting'), input: ev.ready(), to: 'ready' },
  { name: 'a second ready event is a duplicate', from: at('ready'), input: ev.ready(), to: 'ignored' },
  { name: 'a ready event for a stopped instance with no start seen is checked with Salt', from: at('stopped'), input: ev.ready(), to: 'confirm' },
  { name: 'a failed event for a stopped instance with no start seen is checked with Salt', from: at('stopped'), input: ev.failed(), to: 'confirm' },
  { name: 'a ready event for a failed instance is ignored', from: at('failed'), input: ev.ready(), to: 'ignored' },
  { name: 'a ready event for a stopping instance is ignored', from: at('stopping'), input: ev.ready(), to: 'ignored' },
  { name: 'a failed event moves a deploying instance to failed', from: at('deploying'), input: ev.failed('pkg.installed failed'), to: 'failed' },
  { name: 'a failed event moves a starting instance to failed', from: at('starting'), input: ev.failed(), to: 'failed' },
  { name: 'a failed event for a ready instance is ignored', from: at('ready'), input: ev.failed(), to: 'ignored' },
  { name: 'a draining event is informational', from: at('ready'), input: ev.draining(), to: 'ignored' },
  { name: 'a heartbeat is not a lifecycle event', from: at('ready'), input: ev.heartbeat(), to: 'ignored' },
  { name: 'a job return is not a lifecycle event', from: at('deploying'), input: ev.jobRet(), to: 'ignored' },
  { name: 'cloud created moves a creating instance to starting', from: at('creating'), input: ev.cloud('created'), to: 'starting' },
  { name: 'cloud created for a booted instance is out of order and ignored', from: at('booted'), input: ev.cloud('created'), to: 'ignored' },
  { name: 'cloud starting is informational', from: at('starting'), input: ev.cloud('starting'), to: 'ignored' },
  { name: 'cloud started is informational', from: at('starting'), input: ev.cloud('started'), to: 'ignored' },
  { name: 'cloud starting for a stopped instance follows a start made outside the autoscaler', from: at('stopped'), input: ev.cloud('starting'), to: 'starting' },
  { name: 'cloud started for a stopped instance follows a start made outside the autoscaler', from: at('stopped'), input: ev.cloud('started'), to: 'starting' },
  { name: 'cloud created for a stopped instance follows a create made outside the autoscaler', from: at('stopped'), input: ev.cloud('created'), to: 'starting' },
  { name: 'cloud stopping for a draining instance we did not stop is checked with Salt', from: at('draining'), input: ev.cloud('stopping'), to: 'confirm' },
  { name: 'cloud stopping for a ready instance is checked with Salt before capacity changes', from: at('ready'), input: ev.cloud('stopping'), to: 'confirm' },
  { name: 'cloud destroying for a deploying instance is checked with Salt', from: at('deploying'), input: ev.cloud('destroying'), to: 'confirm' },
  { name: 'cloud stopping for a stopping instance is a duplicate', from: at('stopping'), input: ev.cloud('stopping'), to: 'ignored' },
  { name: 'cloud destroying moves a failed instance to stopping', from: at('failed'), input: ev.cloud('destroying'), to: 'stopping' },
  { name: 'cloud stopped moves a stopping instance to stopped', from: at('stopping'), input: ev.cloud('stopped'), to: 'stopped' },
  { name: 'cloud destroyed moves a stopping instance to stopped', from: at('stopping'), input: ev.cloud('destroyed'), to: 'stopped' },
  { name: 'a stale cloud stopped for a ready instance is checked with Salt, the instance stays ready', from: at('ready'), input: ev.cloud('stopped'), to: 'confirm' },
  { name: 'a stale cloud destroyed for a ready instance is checked with Salt', from: at('ready'), input: ev.cloud('destroyed'), to: 'confirm' },
  { name: 'cloud stopped moves a failed instance to stopped', from: at('failed'), input: ev.cloud('stopped'), to: 'stopped' },
  { name: 'cloud stopped for a stopped instance is a duplicate', from: at('stopped'), input: ev.cloud('stopped'), to: 'ignored' },
  { name: 'cloud destroyed for a stopped instance is ignored', from: at('stopped'), input: ev.cloud('destroyed'), to: 'ignored' },

  // timers
  { name: 'a tick moves a starting instance past the provision timeout to failed', from: at('starting'), input: { kind: 'tick' }, to: 'failed', nowMs: LATE },
  { name: 'a tick moves a creating instance past the provision timeout to failed', from: at('creating'), input: { kind: 'tick' }, to: 'failed', nowMs: LATE },
  { name: 'a tick moves a booted instance past the provision timeout to failed', from: at('booted'), input: { kind: 'tick' }, to: 'failed', nowMs: LATE },
  { name: 'a tick moves a deploying instance past the provision timeout to failed', from: at('deploying'), input: { kind: 'tick' }, to: 'failed', nowMs: LATE },
  { name: 'a tick within the provision timeout leaves a deploying instance alone', from: at('deploying'), input: { kind: 'tick' }, to: 'ignored', nowMs: T0 + 1000 },
  { name: 'a tick leaves a stopping instance that never reports stopped in stopping', from: at('stopping'), input: { kind: 'tick' }, to: 'ignored', nowMs: T0 + 100 * TIMEOUT_MS },
  { name: 'a tick leaves a ready instance alone', from: at('ready'), input: { kind: 'tick' }, to: 'ignored', nowMs: LATE },

  // reconcile observations
  { name: 'reconcile: running, up and a grain deployed after the last start makes a deploying instance ready', from: at('deploying'), input: obs('running', true, { ready: true, deployedAtMs: T0 - 1000 }), to: 'ready' },
  { name: 'reconcile: a grain stamped in the same whole second as the start counts (deployed_at has second resolution)', from: at('deploying', { lastStartMs: T0 + 700 }), input: obs('running', true, { ready: true, deployedAtMs: T0 }), to: 'ready' },
  { name: 'reconcile: a grain stamped the second before the start is from a previous life', from: at('deploying', { lastStartMs: T0 + 700 }), input: obs('running', true, { ready: true, deployedAtMs: T0 - 1000 }), to: 'ignored' },
  { name: 'reconcile: a grain from before the last start never counts', from: at('deploying'), input: obs('running', true, { ready: true, deployedAtMs: T0 - 120_000 }), to: 'ignored' },
  { name: 'reconcile: a grain without deployed_at never counts after a known start', from: at('booted'), input: obs('running', true, { ready: true }), to: 'ignored' },
  { name: 'reconcile: a grain that says not ready does not count', from: at('booted'), input: obs('running', true, { ready: false, deployedAtMs: T0 }), to: 'ignored' },
  { name: 'reconcile: a fresh grain with the minion down does not count', from: at('deploying'), input: obs('running', false, { ready: true, deployedAtMs: T0 }), to: 'ignored' },
  { name: 'reconcile: running and up moves a starting instance to booted', from: at('starting'), input: obs('running', true), to: 'booted' },
  { name: 'reconcile: running but not ready past the provision timeout is failed', from: at('deploying'), input: obs('running', true), to: 'failed', nowMs: LATE },
  { name: 'reconcile: a starting instance still stopped in the cloud past the timeout is failed', from: at('starting'), input: obs('stopped', false), to: 'failed', nowMs: LATE },
  { name: 'reconcile: a starting instance still stopped in the cloud right after the start waits', from: at('starting'), input: obs('stopped', false), to: 'ignored' },
  { name: 'reconcile: a creating instance not yet in the cloud waits', from: at('creating'), input: obs('absent', false), to: 'ignored' },
  { name: 'reconcile: a booted instance stopped in the cloud is stopped', from: at('booted'), input: obs('stopped', false), to: 'stopped' },
  { name: 'reconcile: a ready instance stopped in the cloud is stopped', from: at('ready'), input: obs('stopped', false), to: 'stopped' },
  { name: 'reconcile: a ready instance absent from the cloud is stopped', from: at('ready'), input: obs('absent', false), to: 'stopped' },
  { name: 'reconcile: a ready instance stopping in the cloud is stopping', from: at('ready'), input: obs('stopping', true), to: 'stopping' },
  { name: 'reconcile: a running ready instance is consistent', from: at('ready'), input: obs('running', true, { ready: true, deployedAtMs: T0 }), to: 'ignored' },
  { name: 'reconcile: a draining instance stopped in the cloud is stopped', from: at('draining'), input: obs('stopped', false), to: 'stopped' },
  { name: 'reconcile: a stopping instance stopped in the cloud is stopped', from: at('stopping'), input: obs('stopped', false), to: 'stopped' },
  { name: 'reconcile: a stopping instance still running shortly after the stop stays stopping', from: at('stopping'), input: obs('running', true), to: 'ignored', nowMs: T0 + 1000 },
  { name: 'reconcile: a stopping instance still running long after the stop is failed', from: at('stopping'), input: obs('running', true), to: 'failed', nowMs: T0 + TIMEOUT_MS + 1 },
  { name: 'reconcile: a failed instance stopped in the cloud is stopped', from: at('failed'), input: obs('stopped', false), to: 'stopped' },
  { name: 'reconcile: a failed instance still running awaits its stop', from: at('failed'), input: obs('running', true), to: 'ignored' },
  { name: 'reconcile: running while we think stopped (minion down) is starting', from: at('stopped'), input: obs('running', false), to: 'starting' },
  { name: 'reconcile: running while we think stopped (minion up) is booted', from: at('stopped'), input: obs('running', true, { ready: true, deployedAtMs: T0 - 1 }), to: 'booted' },
  { name: 'reconcile: running while stopped with a grain deployed since is adopted as ready', from: at('stopped'), input: obs('running', true, { ready: true, deployedAtMs: T0 + 1 }), to: 'ready', nowMs: T0 + 2 },
  { name: 'reconcile: a never-started instance running with a ready grain is adopted as ready', from: newInstance(ID, 'prod/type1', T0), input: obs('running', true, { ready: true, deployedAtMs: T0 - 86_400_000 }), to: 'ready' },
  { name: 'reconcile: pending while we think stopped waits until running', from: at('stopped'), input: obs('pending', false), to: 'ignored' },
  { name: 'reconcile: a stopped instance stopped in the cloud is consistent', from: at('stopped'), input: obs('stopped', false), to: 'ignored' },
  { name: 'reconcile: an unknown cloud state is ignored', from: at('ready'), input: obs('hibernating-ish', true), to: 'ignored' },
];

for (const row of rows) {
  t.test(row.name, async (t) => {
    const result = step(row.from, row.input, ctxAt(row.nowMs ?? T0 + 1000));
    if (row.to === 'ignored' || row.to === 'confirm') {
      t.equal(result.kind, 'ignored', `expected ignored, got ${result.kind} to ${result.instance.state}`);
      t.equal(result.instance, row.from, 'an ignored input returns the instance unchanged');
      if (result.kind === 'ignored') {
        t.ok(result.reason.length > 0, 'with a reason');
        t.equal(result.confirm === true, row.to === 'confirm', row.to === 'confirm' ? 'asks the engine to confirm with Salt' : 'needs no confirmation');
      }
    } else {
      t.equal(result.kind, 'moved', result.kind === 'ignored' ? `ignored: ${result.reason}` : 'moved');
      t.equal(result.instance.state, row.to);
      if (result.kind === 'moved') {
        t.same(result.transition.from, row.from.state);
        t.same(result.transition.to, row.to);
        t.equal(result.transition.atMs, result.instance.sinceMs);
        t.ok(result.transition.reason.length > 0);
        t.equal(result.instance.reason, result.transition.reason);
      }
    }
  });
}

t.test('every state appears in the table as a source and every non-initial state as a target', async (t) => {
  const from = new Set(rows.map((r) => r.from.state));
  const to = new Set(rows.map((r) => r.to));
  for (const s of ['stopped', 'creating', 'starting', 'booted', 'deploying', 'ready', 'draining', 'stopping', 'failed'] as const) {
    t.ok(from.has(s), `from ${s}`);
    t.ok(to.has(s), `to ${s}`);
  }
});

t.test('a start issued stamps lastStartMs and drops the previous life deploy jid', async (t) => {
  const r = step(at('stopped', { deployJid: 'OLD' }), { kind: 'start-issued' }, ctxAt(T0 + 5));
  t.equal(r.instance.lastStartMs, T0 + 5);
  t.equal(r.instance.deployJid, undefined);
});

t.test('a create issued marks the instance as created', async (t) => {
  const r = step(at('stopped'), { kind: 'create-issued' }, ctxAt(T0 + 5));
  t.equal(r.instance.created, true);
  t.equal(r.instance.lastStartMs, T0 + 5);
});

t.test('the deploy orchestrate records its jid and a ready instance records readyMs', async (t) => {
  const deploying = step(at('booted'), ev.runNew('J7'), ctxAt(T0 + 10)).instance;
  t.equal(deploying.deployJid, 'J7');
  const ready = step(deploying, ev.runRet(true, 'J7'), ctxAt(T0 + 20)).instance;
  t.equal(ready.state, 'ready');
  t.equal(ready.readyMs, T0 + 20);
});

t.test('a minion restart of a ready instance never counts it as capacity twice', async (t) => {
  const pool = [at('ready'), at('ready', { id: 'gpu-prod-2' })];
  const count = (xs: readonly Instance[]): number => xs.filter(countsAsCapacity).length;
  t.equal(count(pool), 2);
  const restarted = step(pool[0]!, ev.minionStart(), ctxAt(T0 + 1));
  t.equal(restarted.kind, 'ignored');
  const redeploying = step(restarted.instance, ev.runNew('J2'), ctxAt(T0 + 2)).instance;
  t.equal(redeploying.state, 'deploying');
  t.equal(count([redeploying, pool[1]!]), 2, 're-deploying still counts once');
  const again = step(redeploying, ev.ready(), ctxAt(T0 + 3)).instance;
  t.equal(again.state, 'ready');
  t.equal(count([again, pool[1]!]), 2, 'ready again counts once');
});

t.test('isInFlight and countsAsCapacity by state', async (t) => {
  const inFlight = ['creating', 'starting', 'booted', 'deploying'];
  for (const s of ['stopped', 'creating', 'starting', 'booted', 'deploying', 'ready', 'draining', 'stopping', 'failed'] as const) {
    t.equal(isInFlight(at(s)), inFlight.includes(s), `${s} in flight`);
    t.equal(countsAsCapacity(at(s)), s === 'ready' || inFlight.includes(s), `${s} counts as capacity`);
  }
});

t.test('newInstance is stopped, not created, with no start', async (t) => {
  t.same(newInstance('x', 'p', 5), { id: 'x', pool: 'p', state: 'stopped', sinceMs: 5, reason: 'new instance', created: false });
});

t.test('a clock that runs backwards never moves sinceMs backwards', async (t) => {
  const r = step(at('ready'), { kind: 'drain-issued' }, ctxAt(T0 - 50_000));
  t.equal(r.instance.sinceMs, T0);
  if (r.kind === 'moved') t.equal(r.transition.atMs, T0);
});

t.test('the full happy path from stopped to ready and back to stopped', async (t) => {
  const inputs: LifecycleInput[] = [
    { kind: 'start-issued' }, ev.cloud('starting'), ev.cloud('started'), ev.minionStart(), ev.runNew('J1'), ev.ready(), ev.runRet(true, 'J1'),
    { kind: 'drain-issued' }, { kind: 'stop-issued' }, ev.cloud('stopping'), ev.cloud('stopped'),
  ];
  let inst = newInstance(ID, 'prod/type1', T0);
  const path: string[] = [inst.state];
  inputs.forEach((input, i) => {
    const r = step(inst, input, ctxAt(T0 + i * 1000));
    if (r.kind === 'moved') path.push(r.instance.state);
    inst = r.instance;
  });
  t.same(path, ['stopped', 'starting', 'booted', 'deploying', 'ready', 'draining', 'stopping', 'stopped']);
});

t.test('a stop ends the life: a destroy of the stopped instance cannot be undrained to ready (fast-check counterexample)', async (t) => {
  let inst = newInstance(ID, 'prod/type1', T0);
  inst = step(inst, obs('running', true, { ready: true }), ctxAt(T0)).instance;
  t.equal(inst.state, 'ready');
  inst = step(inst, obs('stopped', false), ctxAt(T0)).instance;
  t.equal(inst.state, 'stopped');
  t.equal(inst.readyMs, undefined, 'the stopped instance keeps no ready time');
  inst = step(inst, { kind: 'destroy-issued' }, ctxAt(T0)).instance;
  t.equal(inst.state, 'stopping');
  const r = step(inst, { kind: 'undrain', reason: 'workload back' }, ctxAt(T0));
  t.equal(r.kind, 'ignored', 'a stopped-then-destroyed instance never becomes capacity without a start');
});

t.test('an instance failed by an unanswered create says why: the answer it did not get, and that salt-cloud may still make it', async (t) => {
  const r = step(at('creating'), { kind: 'create-unanswered', reason: 'cloud.profile unanswered (salt-api answered 504)' }, ctxAt(T0 + TIMEOUT_MS));
  t.equal(r.kind, 'moved');
  t.match(r.instance.reason, /^create unanswered past the provision timeout \(600s\): cloud\.profile unanswered \(salt-api answered 504\); salt-cloud may still make it/);
});

t.test('a creating instance that times out says salt-cloud had not reported it made', async (t) => {
  const r = step(at('creating'), { kind: 'tick' }, ctxAt(T0 + TIMEOUT_MS));
  t.equal(r.instance.state, 'failed');
  t.match(r.instance.reason, /was creating: salt-cloud had not reported the VM made/);
});
