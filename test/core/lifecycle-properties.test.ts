import t from 'tap';
import fc from 'fast-check';
import { newInstance, step, type LifecycleInput } from '../../src/core/lifecycle.ts';
import type { SaltEvent } from '../../src/core/salt-event.ts';
import { INSTANCE_STATES, type Instance } from '../../src/core/types.ts';

const ID = 'gpu-prod-1';
const T0 = 1_800_000_000_000;

const minionArb = fc.constantFrom(ID, ID, ID, 'gpu-prod-2');
const jidArb = fc.constantFrom('J1', 'J2');

const eventArb: fc.Arbitrary<SaltEvent> = fc.oneof(
  minionArb.map((minion): SaltEvent => ({ kind: 'minion-start', tag: `salt/minion/${minion}/start`, data: {}, minion })),
  fc.tuple(minionArb, fc.constantFrom('creating', 'requesting', 'starting', 'started', 'created', 'stopping', 'stopped', 'destroying', 'destroyed', 'weird'))
    .map(([minion, what]): SaltEvent => ({ kind: 'cloud', tag: `salt/cloud/${minion}/${what}`, data: {}, minion, what })),
  fc.tuple(jidArb, minionArb).map(([jid, minion]): SaltEvent => ({ kind: 'run-new', tag: `salt/run/${jid}/new`, data: {}, jid, orchestrateMinion: minion })),
  fc.tuple(jidArb, minionArb, fc.option(fc.boolean(), { nil: undefined })).map(([jid, minion, success]): SaltEvent => ({
    kind: 'run-ret', tag: `salt/run/${jid}/ret`, data: {}, jid, orchestrateMinion: minion, ...(success === undefined ? {} : { success }),
  })),
  minionArb.map((minion): SaltEvent => ({ kind: 'instance-ready', tag: `salt-autoscaler/instance/${minion}/ready`, data: {}, minion })),
  minionArb.map((minion): SaltEvent => ({ kind: 'instance-failed', tag: `salt-autoscaler/instance/${minion}/failed`, data: {}, minion, reason: 'state failed' })),
  minionArb.map((minion): SaltEvent => ({ kind: 'instance-draining', tag: `salt-autoscaler/instance/${minion}/draining`, data: {}, minion })),
  fc.constant<SaltEvent>({ kind: 'heartbeat', tag: 'salt-autoscaler/heartbeat', data: {} }),
  fc.constant<SaltEvent>({ kind: 'job-new', tag: 'salt/job/J3/new', data: {}, jid: 'J3', minions: [ID] }),
  fc.constant<SaltEvent>({ kind: 'other', tag: 'salt/whatever', data: {} }),
);

const actionArb: fc.Arbitrary<LifecycleInput> = fc.oneof(
  fc.constantFrom<LifecycleInput>(
    { kind: 'start-issued' }, { kind: 'create-issued' }, { kind: 'drain-issued' }, { kind: 'undrain', reason: 'workload back' },
    { kind: 'stop-issued' }, { kind: 'destroy-issued' }, { kind: 'tick' }, { kind: 'create-unanswered', reason: 'salt-api answered 504' },
  ),
  fc.constantFrom('start', 'create', 'stop', 'destroy', 'drain', 'undrain' as const)
    .map((action): LifecycleInput => ({ kind: 'action-failed', action, reason: 'salt-api 500' })),
);

/** deployedOffsetMs is relative to the current time, so grains land both before and after the last start. */
const observedArb = fc.record({
  cloudState: fc.constantFrom('running', 'running', 'stopped', 'absent', 'pending', 'stopping', 'terminated', 'unknown-state'),
  minionUp: fc.boolean(),
  grain: fc.option(fc.record({ ready: fc.boolean(), deployedOffsetMs: fc.option(fc.integer({ min: -2_000_000, max: 10_000 }), { nil: undefined }) }), { nil: undefined }),
});

type Observe = typeof observedArb extends fc.Arbitrary<infer T> ? T : never;
type Step = { readonly input: LifecycleInput | { readonly observe: Observe }; readonly dtMs: number };

const stepArb: fc.Arbitrary<Step> = fc.record({
  input: fc.oneof(eventArb, actionArb, actionArb, observedArb.map((observe) => ({ observe }))),
  dtMs: fc.oneof(fc.integer({ min: -5_000, max: 5_000 }), fc.integer({ min: 0, max: 2_000_000 })),
});

function concrete(s: Step, nowMs: number): LifecycleInput {
  if (!('observe' in s.input)) return s.input;
  const { cloudState, minionUp, grain } = s.input.observe;
  return {
    kind: 'observed', cloudState, minionUp,
    ...(grain === undefined ? {} : { grain: { ready: grain.ready, ...(grain.deployedOffsetMs === undefined ? {} : { deployedAtMs: nowMs + grain.deployedOffsetMs }) } }),
  };
}

const runArb = fc.record({
  steps: fc.array(stepArb, { minLength: 1, maxLength: 80 }),
  provisionTimeoutMs: fc.constantFrom(0, 1_000, 600_000),
});

t.test('for any sequence of inputs the machine keeps its invariants', async (t) => {
  /** unanswered: what an unanswered create did to a creating instance (the generator reaches both outcomes). */
  const unanswered = new Set<string>();
  fc.assert(fc.property(runArb, ({ steps, provisionTimeoutMs }) => {
    let inst: Instance = newInstance(ID, 'prod/type1', T0);
    let nowMs = T0;
    // armed: a start/create was issued, or Salt said it runs, since the instance was last stopped.
    let armed = false;
    for (const s of steps) {
      nowMs += s.dtMs;
      const input = concrete(s, nowMs);
      const before = inst;
      const r = step(before, input, { nowMs, provisionTimeoutMs }); // throwing fails the property
      // Salt's own word that it runs (a start by someone else) arms it too: a cloud start/create, a minion start, a deploy
      if (input.kind === 'start-issued' || input.kind === 'create-issued' || (input.kind === 'observed' && input.cloudState === 'running')
        || (input.kind === 'cloud' && ['starting', 'started', 'created'].includes(input.what)) || input.kind === 'minion-start' || input.kind === 'run-new') armed = true;
      if (!INSTANCE_STATES.includes(r.instance.state)) throw new Error(`invalid state ${r.instance.state}`);
      if (r.instance.sinceMs < before.sinceMs) throw new Error(`sinceMs went back ${before.sinceMs} -> ${r.instance.sinceMs}`);
      if (r.instance.id !== ID || r.instance.pool !== 'prod/type1') throw new Error('identity changed');
      if (r.kind === 'ignored') {
        if (r.instance !== before) throw new Error('an ignored input changed the instance');
        if (r.reason.length === 0) throw new Error('ignored without a reason');
      } else {
        const tr = r.transition;
        if (tr.from === tr.to) throw new Error(`moved with from == to (${tr.from})`);
        if (tr.from !== before.state || tr.to !== r.instance.state) throw new Error('transition does not match the states');
        if (tr.reason.length === 0 || r.instance.reason !== tr.reason) throw new Error('moved without a reason');
        if (tr.atMs !== r.instance.sinceMs) throw new Error('transition time differs from sinceMs');
        if (tr.to === 'ready' && !armed) throw new Error(`stopped -> ready without a start (${tr.reason})`);
        if (tr.to === 'ready' && r.instance.readyMs === undefined) throw new Error('ready without readyMs');
      }
      if (r.instance.state === 'stopped') armed = false;
      if (input.kind === 'create-unanswered' && before.state === 'creating') unanswered.add(r.instance.state);
      inst = r.instance;
    }
  }), { numRuns: 3000 });
  t.pass('3000 random runs kept every invariant');
  t.same([...unanswered].sort(), ['creating', 'failed'], 'runs had an unanswered create keep a creating instance on its way, and fail one past its timeout');
});

function historyThen(steps: readonly Step[], provisionTimeoutMs: number, last: Step): { inst: Instance; nowMs: number; input: LifecycleInput } {
  let inst: Instance = newInstance(ID, 'prod/type1', T0);
  let nowMs = T0;
  for (const s of steps) {
    nowMs += s.dtMs;
    inst = step(inst, concrete(s, nowMs), { nowMs, provisionTimeoutMs }).instance;
  }
  nowMs += last.dtMs;
  return { inst, nowMs, input: concrete(last, nowMs) };
}

t.test('a duplicate event, action or tick is ignored the second time', async (t) => {
  fc.assert(fc.property(runArb, stepArb, ({ steps, provisionTimeoutMs }, last) => {
    const { inst, nowMs, input } = historyThen(steps, provisionTimeoutMs, last);
    fc.pre(input.kind !== 'observed');
    const once = step(inst, input, { nowMs, provisionTimeoutMs });
    const twice = step(once.instance, input, { nowMs, provisionTimeoutMs });
    if (twice.kind !== 'ignored') throw new Error(`${input.kind} moved twice: ${once.instance.state} -> ${twice.instance.state} (${twice.transition.reason})`);
  }), { numRuns: 3000 });
  t.pass('3000 random histories: every event, action and tick is idempotent');
});

t.test('a repeated reconcile observation converges within two moves', async (t) => {
  fc.assert(fc.property(runArb, observedArb, fc.integer({ min: 0, max: 2_000_000 }), ({ steps, provisionTimeoutMs }, observe, dtMs) => {
    const { inst, nowMs, input } = historyThen(steps, provisionTimeoutMs, { input: { observe }, dtMs });
    let current = inst;
    const seen: string[] = [current.state];
    for (let i = 0; i < 2; i++) {
      current = step(current, input, { nowMs, provisionTimeoutMs }).instance;
      seen.push(current.state);
    }
    const third = step(current, input, { nowMs, provisionTimeoutMs });
    if (third.kind !== 'ignored') throw new Error(`observation still moving after two moves: ${seen.join(' -> ')} -> ${third.instance.state}`);
  }), { numRuns: 3000 });
  t.pass('3000 random histories: the same observation settles');
});

t.test('the provision timeout always ends an in-flight instance', async (t) => {
  fc.assert(fc.property(runArb, ({ steps, provisionTimeoutMs }) => {
    let inst: Instance = newInstance(ID, 'prod/type1', T0);
    let nowMs = T0;
    for (const s of steps) {
      nowMs += s.dtMs;
      inst = step(inst, concrete(s, nowMs), { nowMs, provisionTimeoutMs }).instance;
    }
    const late = Math.max(nowMs, inst.sinceMs, inst.lastStartMs ?? 0) + provisionTimeoutMs + 1;
    const r = step(inst, { kind: 'tick' }, { nowMs: late, provisionTimeoutMs });
    const inFlight = ['creating', 'starting', 'booted', 'deploying'].includes(inst.state);
    if (inFlight !== (r.kind === 'moved' && r.instance.state === 'failed')) throw new Error(`tick on ${inst.state} gave ${r.kind} ${r.instance.state}`);
  }), { numRuns: 2000 });
  t.pass('2000 random histories: in-flight instances fail after the timeout, others do not move');
});
