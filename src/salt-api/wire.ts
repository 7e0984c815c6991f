/**
 * wire: zod schemas of every salt-api (rest_cherrypy, Salt 3006) answer we read.
 *
 * Shapes come from the recordings in test/fixtures/salt-api/ (see its README). Schemas are loose where
 * Salt adds fields freely and strict only on what we rely on.
 */
import { z } from 'zod';
import { isRecord } from '../json-object.ts';

/** LoginAnswer is the body of `POST /login`: `{return: [{token, expire, start, user, eauth, perms}]}` (auth_01). */
export const LoginAnswer = z.object({
  return: z.tuple([
    z.looseObject({
      token: z.string().min(1),
      expire: z.number(),
      start: z.number(),
      user: z.string().optional(),
      eauth: z.string().optional(),
      // perms is the user's external_auth entry as Salt stores it: a list of strings AND objects
      // (`["@jobs", {"@runner": [...]}, {"<glob>": [{"fun$": {"args": [...]}}, "fun$"]}]`, real_01), or `{}` when
      // the user has none (auth_04). The service never reads it: salt-api enforces it on every call.
      perms: z.union([z.array(z.union([z.string(), z.record(z.string(), z.unknown())])), z.record(z.string(), z.unknown())]).optional(),
    }),
  ]).rest(z.unknown()),
});
/** LoginAnswer's parsed type. */
export type LoginAnswer = z.infer<typeof LoginAnswer>;

/** ReturnEnvelope is the body of `POST /` (lowstate): `{return: [<one entry per lowstate>]}`. */
export const ReturnEnvelope = z.looseObject({
  return: z.array(z.unknown()).min(1),
});

/** ServerError is the JSON body of an error raised inside Salt (HTTP 500, req_15). */
export const ServerError = z.looseObject({
  status: z.number(),
  return: z.unknown(),
});

/** LocalReturn is a `local` client answer: per minion id its return (an absent minion did not answer, req_55). */
export const LocalReturn = z.record(z.string(), z.unknown());
/** LocalReturn's parsed type. */
export type LocalReturn = z.infer<typeof LocalReturn>;
/** isLocalReturn is LocalReturn's check in place: any object (zod would copy it key by key, 3,000 minions a reconcile). */
export function isLocalReturn(value: unknown): value is LocalReturn {
  return isRecord(value);
}

/** AsyncJob is a `local_async` answer (`{jid, minions}`, req_08). */
export const AsyncJob = z.looseObject({ jid: z.string(), minions: z.array(z.string()) });
/** AsyncJob's parsed type. */
export type AsyncJob = z.infer<typeof AsyncJob>;

/** AsyncRun is a `runner_async` answer (`{tag, jid}`, req_13). */
export const AsyncRun = z.looseObject({ tag: z.string(), jid: z.string() });
/** AsyncRun's parsed type. */
export type AsyncRun = z.infer<typeof AsyncRun>;

/** WheelReturn is a `wheel` answer: the result wrapped in `{tag, data: {return, success}}` (req_16). */
export const WheelReturn = z.looseObject({
  tag: z.string(),
  data: z.looseObject({ return: z.unknown(), success: z.boolean().optional(), fun: z.string().optional(), jid: z.string().optional() }),
});
/** WheelReturn's parsed type. */
export type WheelReturn = z.infer<typeof WheelReturn>;

/** JobAnswer is the body of `GET /jobs/<jid>` (req_09, req_14). */
export const JobAnswer = z.looseObject({
  info: z.array(z.looseObject({
    jid: z.string().optional(),
    Function: z.string().optional(),
    Minions: z.array(z.string()).optional(),
    Result: z.record(z.string(), z.unknown()).optional(),
  })).optional(),
  return: z.array(z.unknown()),
});
/** JobAnswer's parsed type. */
export type JobAnswer = z.infer<typeof JobAnswer>;

/** LogoutAnswer is the body of `POST /logout` (auth_15). */
export const LogoutAnswer = z.looseObject({ return: z.unknown() });

/** CloudNode is one VM as salt-cloud reports it (loose: drivers add their own keys). */
export const CloudNode = z.looseObject({
  name: z.string().optional(),
  state: z.union([z.string(), z.number()]).optional(),
  changed: z.boolean().optional(),
  comment: z.string().optional(),
  destroyed: z.boolean().optional(),
  provider: z.string().optional(),
});
/** CloudNode's parsed type. */
export type CloudNode = z.infer<typeof CloudNode>;

/** CloudTree is `{provider: {driver: {name: node}}}`: cloud.action / cloud.query / cloud.destroy (req_23, req_30, req_59). */
export const CloudTree = z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown())));
/** CloudTree's parsed type. */
export type CloudTree = z.infer<typeof CloudTree>;

/**
 * isCloudTree is CloudTree's check without zod's copy: a cloud.query of 10,000 instances would be copied node by
 * node on every reconcile (bench/reconcile.ts), so the answer is narrowed in place (same acceptance as CloudTree).
 */
export function isCloudTree(value: unknown): value is CloudTree {
  if (!isRecord(value)) return false;
  for (const provider in value) {
    const drivers = value[provider];
    if (!isRecord(drivers)) return false;
    for (const driver in drivers) if (!isRecord(drivers[driver])) return false;
  }
  return true;
}

/**
 * isGrainsItemReturn is GrainsItemReturn's check without the copy: per minion an object, a string (an error) or a
 * boolean.
 */
export function isGrainsItemReturn(value: unknown): value is Record<string, Record<string, unknown> | string | boolean> {
  if (!isRecord(value)) return false;
  for (const id in value) {
    const answer = value[id];
    if (!isRecord(answer) && typeof answer !== 'string' && typeof answer !== 'boolean') return false;
  }
  return true;
}

/** ProfileReturn is `cloud.profile`: keyed by instance name (req_58). */
export const ProfileReturn = z.record(z.string(), z.unknown());

/** ReadyGrainWire is the `salt_autoscaler` grain; `""` when missing (req_51). */
export const ReadyGrainWire = z.union([
  z.literal(''),
  z.looseObject({
    ready: z.boolean().optional(),
    deployed_at: z.number().optional(),
    draining: z.boolean().optional(),
  }),
]);
/** ReadyGrainWire's parsed type. */
export type ReadyGrainWire = z.infer<typeof ReadyGrainWire>;

/**
 * readyGrainWire is ReadyGrainWire's check without zod (one call per running minion of a reconcile, 3,000 at fleet
 * size): the grain as it came, or undefined where ReadyGrainWire would fail.
 */
export function readyGrainWire(value: unknown): ReadyGrainWire | undefined {
  if (value === '') return '';
  if (!isRecord(value)) return undefined;
  const flag = (x: unknown): boolean => x === undefined || typeof x === 'boolean';
  if (!flag(value['ready']) || !flag(value['draining'])) return undefined;
  const deployedAt = value['deployed_at'];
  if (deployedAt !== undefined && !(typeof deployedAt === 'number' && Number.isFinite(deployedAt))) return undefined;
  return value as ReadyGrainWire;
}

/** GrainsItemReturn is `grains.item salt_autoscaler` per minion (req_51). A minion may answer a string (an error). */
export const GrainsItemReturn = z.record(z.string(), z.union([z.looseObject({ salt_autoscaler: z.unknown().optional() }), z.string(), z.boolean()]));

/** EventFrame is one event on the stream: `{"data": {...}, "tag": "..."}` (sse_*, ws_*). */
export const EventFrame = z.object({
  tag: z.string(),
  data: z.record(z.string(), z.unknown()),
});
/** EventFrame's parsed type. */
export type EventFrame = z.infer<typeof EventFrame>;
