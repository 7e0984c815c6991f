/**
 * state-failure: why a state run failed, as `<state id>: <comment>`, from the return shapes Salt sends (the shipped
 * orchestrate's run return and the minion's state.sls return in real_sse_02).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { classify, stateFailure } from '../../src/salt-api/events.ts';

const state = (id: string, result: boolean, comment: string, run: number, changes: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ __id__: id, result, comment, __run_num__: run, changes, name: id });

t.test('the first failing state by run order, skipping states that failed only for a requisite', async (t) => {
  t.equal(stateFailure({
    a: state('later_fail', false, 'second failure', 3),
    b: state('skipped', false, 'One or more requisite failed: training-env.first', 2),
    c: state('first_fail', false, 'pkg.installed failed: docker.io not found', 1),
    d: state('ok', true, 'fine', 0),
  }), 'first_fail: pkg.installed failed: docker.io not found');
});

t.test('only requisite failures: the first of them is the answer', async (t) => {
  t.equal(stateFailure({ a: state('x', false, 'One or more requisite failed: y', 0) }), 'x: One or more requisite failed: y');
});

t.test('an orchestrate\'s salt.state step carries the minion\'s own failing state, which wins', async (t) => {
  const ret = { vm_master: {
    step: state('apply_training_env', false, 'Run failed on minions: m1', 1, { ret: { m1: { s: state('image_missing', false, 'no image', 1) } } }),
  } };
  t.equal(stateFailure(ret), 'image_missing: no image');
});

t.test('a state run that could not render returns its errors as a list', async (t) => {
  t.equal(stateFailure(['Rendering SLS \'base:training-env\' failed: Jinja variable is undefined']), 'Rendering SLS \'base:training-env\' failed: Jinja variable is undefined');
  t.equal(stateFailure({ a: state('ok', true, 'fine', 0) }), undefined, 'nothing failed: no failure');
  t.equal(stateFailure('garbage'), undefined, 'not a state return');
});

t.test('a very long comment is bounded', async (t) => {
  const text = stateFailure({ a: state('x', false, 'y'.repeat(10_000), 0) }) ?? '';
  t.ok(text.length <= 500, `${text.length} chars`);
});

t.test('the recorded failing deploy on a real master (real_sse_02): job-ret and run-ret both carry the comment', async (t) => {
  const sse = readFileSync(fileURLToPath(new URL('../fixtures/salt-api/real_sse_02_deploy_failure.sse', import.meta.url)), 'utf8');
  const events = sse.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { tag: string; data: Record<string, unknown> }).map((f) => classify(f.tag, f.data));
  const jobRet = events.find((e) => e.kind === 'job-ret' && e.fun === 'state.sls');
  t.match(jobRet, { kind: 'job-ret', success: false, failure: /^training_env_agent_image_missing: / }, 'the minion\'s state.sls return');
  const runRet = events.find((e) => e.kind === 'run-ret' && e.orchestrateMinion !== undefined);
  t.match(runRet, { kind: 'run-ret', success: false, failure: /^training_env_agent_image_missing: / }, 'the orchestrate\'s run return');
});
