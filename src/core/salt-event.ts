/**
 * salt-event: the typed Salt events every part of salt-autoscaler speaks (contract: DESIGN "events" kinds).
 *
 * The salt adapter turns each wire frame (`{"data": {...}, "tag": "..."}`) into exactly one SaltEvent;
 * the lifecycle and engine consume them. `gap` is not a Salt event but a stream signal: events may have
 * been lost (reconnect, failed heartbeat) and the engine must reconcile.
 */

/** SaltEventKind is the `kind` field printed by `salt-autoscaler events` (fixed by the contracts). */
export type SaltEventKind =
  | 'minion-start' | 'auth' | 'key' | 'job-new' | 'job-ret' | 'run-new' | 'run-ret' | 'cloud'
  | 'instance-ready' | 'instance-failed' | 'instance-draining' | 'heartbeat' | 'gap' | 'other';

/** EventData is the raw `data` object of a Salt event, after JSON parsing (never re-parsed). */
export type EventData = Readonly<Record<string, unknown>>;

interface Base {
  readonly tag: string;
  /** stamp is Salt's `_stamp` as epoch ms (UTC), when present and valid. */
  readonly stampMs?: number;
  readonly data: EventData;
}

/** SaltEvent is one typed event from the salt-api stream. */
export type SaltEvent =
  | (Base & { readonly kind: 'minion-start'; readonly minion: string })
  | (Base & { readonly kind: 'auth'; readonly minion?: string })
  | (Base & { readonly kind: 'key'; readonly minion?: string; readonly act?: string })
  | (Base & { readonly kind: 'job-new'; readonly jid: string; readonly fun?: string; readonly minions: readonly string[] })
  /** job-ret: `failure` is the first failing state's id and comment of a state run (`state.sls`, `state.apply`, ...). */
  | (Base & { readonly kind: 'job-ret'; readonly jid: string; readonly minion: string; readonly fun?: string; readonly success?: boolean; readonly retcode?: number; readonly failure?: string })
  /** run-new / run-ret: `orchestrateMinion` is the minion whose deploy orchestrate this runner job is (pillar `target_minion`). */
  | (Base & { readonly kind: 'run-new'; readonly jid: string; readonly fun?: string; readonly orchestrateMinion?: string })
  /** run-ret: `failure` is the failing state's id and comment, the minion's own state when the orchestrate ran one. */
  | (Base & { readonly kind: 'run-ret'; readonly jid: string; readonly fun?: string; readonly success?: boolean; readonly orchestrateMinion?: string; readonly failure?: string })
  /** cloud: `salt/cloud/<name>/<what>`, e.g. what = starting | started | stopping | stopped | creating | created | destroying | destroyed. */
  | (Base & { readonly kind: 'cloud'; readonly minion: string; readonly what: string })
  | (Base & { readonly kind: 'instance-ready'; readonly minion: string })
  | (Base & { readonly kind: 'instance-failed'; readonly minion: string; readonly reason?: string })
  | (Base & { readonly kind: 'instance-draining'; readonly minion: string })
  | (Base & { readonly kind: 'heartbeat'; readonly seq?: number })
  | (Base & { readonly kind: 'other' });

/** StreamGap says events may have been lost between `sinceMs` and `atMs`; the engine reconciles on it. */
export interface StreamGap {
  readonly kind: 'gap';
  readonly reason: 'connect' | 'reconnect' | 'heartbeat-missed' | 'heartbeat-failed';
  readonly atMs: number;
}

/** StreamItem is what an event stream yields: a typed event or a gap signal. */
export type StreamItem = SaltEvent | StreamGap;

/** HEARTBEAT_TAG is the tag of the event we fire through salt-api to prove the bus is alive. */
export const HEARTBEAT_TAG = 'salt-autoscaler/heartbeat';
/** INSTANCE_TAG_PREFIX starts our own instance events: `salt-autoscaler/instance/<minion>/<ready|failed|draining>`. */
export const INSTANCE_TAG_PREFIX = 'salt-autoscaler/instance/';

