/**
 * instances: the simulator's one door to the instance lifecycle.
 *
 *   stopped --start-issued--> starting --minion-start--> booted --instance-ready--> ready
 *   stopped --create-issued--> creating --minion-start--> booted
 *   ready --drain-issued--> draining --stop-issued--> stopping --cloud stopped--> stopped
 *   booted --instance-failed--> failed --stop-issued--> stopping (the engine stops a failed instance at once)
 *
 * The simulator speaks in the lifecycle's inputs (commands we issue and typed Salt events) and runs them
 * through the REAL state machine, `src/core/lifecycle.ts`; this is the only module that knows it.
 */
import { newInstance, step, type LifecycleInput } from '../core/lifecycle.ts';
import type { Instance } from '../core/types.ts';

/** SimInput is one lifecycle input the simulator produces: a command it issued or a Salt event it fakes. */
export type SimInput = LifecycleInput;

/** minionStart builds the `salt/minion/<id>/start` event of a booted instance. */
export function minionStart(id: string): SimInput {
  return { kind: 'minion-start', tag: `salt/minion/${id}/start`, minion: id, data: {} };
}

/** instanceReady builds the `salt-autoscaler/instance/<id>/ready` event the deploy orchestrate fires. */
export function instanceReady(id: string): SimInput {
  return { kind: 'instance-ready', tag: `salt-autoscaler/instance/${id}/ready`, minion: id, data: {} };
}

/** instanceFailed builds the `salt-autoscaler/instance/<id>/failed` event of a deploy orchestrate that failed. */
export function instanceFailed(id: string, reason: string): SimInput {
  return { kind: 'instance-failed', tag: `salt-autoscaler/instance/${id}/failed`, minion: id, reason, data: {} };
}

/** cloudStopped builds the `salt/cloud/<id>/stopped` event. */
export function cloudStopped(id: string): SimInput {
  return { kind: 'cloud', what: 'stopped', tag: `salt/cloud/${id}/stopped`, minion: id, data: {} };
}

/** newSimInstance is a stopped instance of the pool, one of the reserve (`create-issued` marks created ones). */
export function newSimInstance(id: string, pool: string, nowMs: number): Instance {
  return newInstance(id, pool, nowMs);
}

/** Applied is the instance after one input, and why the lifecycle ignored the input when it did. */
export interface Applied {
  readonly instance: Instance;
  readonly ignored?: string;
}

/** applyInput moves the instance on one input through the real lifecycle; an input it cannot take is reported. */
export function applyInput(instance: Instance, input: SimInput, nowMs: number, provisionTimeoutMs: number): Applied {
  const result = step(instance, input, { nowMs, provisionTimeoutMs });
  return result.kind === 'moved' ? { instance: result.instance } : { instance: result.instance, ignored: result.reason };
}
