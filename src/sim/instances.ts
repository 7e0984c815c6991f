/**
 * instances: the simulator's one door to the instance lifecycle.
 *
 *   stopped --start-issued--> starting --minion-start--> booted --instance-ready--> ready
 *   stopped --create-issued--> creating --minion-start--> booted
 *   ready --drain-issued--> draining --stop-issued--> stopping --cloud stopped--> stopped
 *
 * The simulator speaks in the lifecycle's inputs (commands we issue and typed Salt events). This module
 * holds a minimal stand-in for those transitions so the simulator runs on its own; it is the only place
 * that changes when the simulator moves onto `src/core/lifecycle.ts`.
 */
import type { SaltEvent } from '../core/salt-event.ts';
import type { Instance, InstanceState } from '../core/types.ts';

/** SimInput is one lifecycle input the simulator produces: a command it issued or a Salt event it fakes. */
export type SimInput =
  | { readonly kind: 'start-issued' }
  | { readonly kind: 'create-issued' }
  | { readonly kind: 'drain-issued' }
  | { readonly kind: 'stop-issued' }
  | SaltEvent;

/** minionStart builds the `salt/minion/<id>/start` event of a booted instance. */
export function minionStart(id: string): SimInput {
  return { kind: 'minion-start', tag: `salt/minion/${id}/start`, minion: id, data: {} };
}

/** instanceReady builds the `salt-autoscaler/instance/<id>/ready` event the deploy orchestrate fires. */
export function instanceReady(id: string): SimInput {
  return { kind: 'instance-ready', tag: `salt-autoscaler/instance/${id}/ready`, minion: id, data: {} };
}

/** cloudStopped builds the `salt/cloud/<id>/stopped` event. */
export function cloudStopped(id: string): SimInput {
  return { kind: 'cloud', what: 'stopped', tag: `salt/cloud/${id}/stopped`, minion: id, data: {} };
}

/** newSimInstance is a stopped instance of the pool (a member of the reserve unless `created`). */
export function newSimInstance(id: string, pool: string, nowMs: number, created: boolean): Instance {
  return { id, pool, state: 'stopped', sinceMs: nowMs, reason: 'simulated reserve', created };
}

function nextState(state: InstanceState, input: SimInput): InstanceState | undefined {
  switch (input.kind) {
    case 'start-issued':
      return state === 'stopped' ? 'starting' : undefined;
    case 'create-issued':
      return state === 'stopped' ? 'creating' : undefined;
    case 'minion-start':
      return state === 'starting' || state === 'creating' ? 'booted' : undefined;
    case 'instance-ready':
      return state === 'booted' || state === 'deploying' ? 'ready' : undefined;
    case 'drain-issued':
      return state === 'ready' ? 'draining' : undefined;
    case 'stop-issued':
      return state === 'draining' || state === 'ready' || state === 'failed' ? 'stopping' : undefined;
    case 'cloud':
      return input.what === 'stopped' && state === 'stopping' ? 'stopped' : undefined;
    default:
      return undefined;
  }
}

/** applyInput moves the instance on one input; an input its state cannot take leaves it unchanged. */
export function applyInput(instance: Instance, input: SimInput, nowMs: number): Instance {
  const to = nextState(instance.state, input);
  if (to === undefined) return instance;
  const base = { ...instance, state: to, sinceMs: nowMs, reason: `simulated ${input.kind}` };
  if (input.kind === 'start-issued' || input.kind === 'create-issued') return { ...base, lastStartMs: nowMs };
  if (to === 'ready') return { ...base, readyMs: nowMs };
  return base;
}
