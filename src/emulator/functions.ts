/**
 * functions: what the emulated master does for one lowstate chunk (`{client, fun, tgt, arg, kwarg, ...}`):
 * the local, local_async, runner, runner_async and wheel clients with the functions salt-autoscaler calls,
 * returning the shapes recorded in test/fixtures/salt-api and firing the events a real master fires.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { localAllowed, specAllowed, type Acl } from './acl.ts';
import type { EventBus, Timers } from './bus.ts';
import type { CloudResult, World } from './world.ts';
import { globMatch, type JidGenerator } from './wire.ts';
import type { CallDelays } from './options.ts';
import { isRecord } from '../json-object.ts';

/** LowstateSchema is one lowstate chunk; unknown keys are kept (runners take them as kwargs). */
export const LowstateSchema = z.looseObject({
  client: z.string().optional(),
  fun: z.string().optional(),
  tgt: z.union([z.string(), z.array(z.string())]).optional(),
  tgt_type: z.string().optional(),
  arg: z.unknown().optional(),
  kwarg: z.record(z.string(), z.unknown()).optional(),
  full_return: z.boolean().optional(),
});

/** Lowstate is one parsed lowstate chunk. */
export type Lowstate = z.infer<typeof LowstateSchema>;

/** ALL_CLIENTS are the clients `GET /` lists (enabled or not), as recorded. */
export const ALL_CLIENTS: readonly string[] = ['local', 'local_async', 'local_batch', 'local_subset', 'runner', 'runner_async', 'ssh', 'wheel', 'wheel_async'];

/**
 * LowResult is the outcome of one chunk: a return value, Salt's 500, a disabled client (400), a call the ACL
 * refuses (401, `message` as salt-api words it), a call Salt cannot parse (400), or salt-api's own wait for a
 * runner running out (504, real_15).
 */
export type LowResult =
  | { readonly kind: 'ok'; readonly value: unknown }
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'disabled'; readonly client: string }
  | { readonly kind: 'refused'; readonly message: string }
  | { readonly kind: 'invalid'; readonly message: string }
  | { readonly kind: 'timeout' };

/** Caller is who runs a chunk: the user, their perms, and how salt-api authenticated them to the master. */
export interface Caller {
  readonly user: string;
  readonly perms: Acl;
  /** authType: `token` for a session (`POST /`, `/run` with a token), `eauth` for credentials in a `/run` body. */
  readonly authType: 'token' | 'eauth';
}

/** MSG_NOT_AUTHORIZED is salt-api's 401 text for a local call the ACL refuses (real_02, real_03). */
export const MSG_NOT_AUTHORIZED = 'Authorization error occurred.';
/** MSG_BAD_SYNTAX is Salt's answer to a runner or wheel name that is not `module.function`. */
export const MSG_BAD_SYNTAX = 'A command invocation error occurred: Check syntax.';

/** specRefusal is salt-api's 401 text for a runner or wheel call the ACL refuses (seen for runner and runner_async). */
export function specRefusal(caller: Caller): string {
  return `Authentication failure of type "${caller.authType}" occurred for user ${caller.user}.`;
}

/** SALT_DEFAULT_TIMEOUT_S / SALT_DEFAULT_GATHER_TIMEOUT_S / REST_TIMEOUT_S: Salt's `timeout`, `gather_job_timeout`, `rest_timeout`. */
const SALT_DEFAULT_TIMEOUT_S = 5;
const SALT_DEFAULT_GATHER_TIMEOUT_S = 10;
const REST_TIMEOUT_S = 300;

/** Job is one job as `/jobs` shows it. */
export interface Job {
  readonly jid: string;
  readonly fun: string;
  readonly arg: readonly unknown[];
  readonly tgt: unknown;
  readonly tgtType: string;
  readonly user: string;
  readonly minions: readonly string[];
  readonly result: Record<string, { return: unknown; retcode: number; success: boolean }>;
}

/** SaltToken is a master eauth token (64 hex) as `auth.mk_token` makes it. */
export interface SaltToken {
  readonly token: string;
  readonly name: string;
  readonly eauth: string;
  readonly startS: number;
  readonly expireS: number;
}

/** MasterDeps are what the lowstate functions need. */
export interface MasterDeps {
  readonly world: World;
  readonly bus: EventBus;
  readonly jids: JidGenerator;
  readonly now: () => number;
  readonly jobs: Map<string, Job>;
  readonly saltTokens: Map<string, SaltToken>;
  readonly checkCredentials: (username: string, password: string, eauth: string) => boolean;
  readonly tokenExpireS: number;
  readonly timers: Timers;
  /** enabledClients: `netapi_enable_clients`. */
  readonly enabledClients: readonly string[];
  /** saltSecondMs: how long one second of Salt's timeouts lasts in the emulator. */
  readonly saltSecondMs: number;
  /** callDelays: the master's answer time per function (none: at once). */
  readonly callDelays?: CallDelays | undefined;
}

const RESERVED = new Set(['client', 'fun', 'tgt', 'tgt_type', 'arg', 'kwarg', 'token', 'username', 'password', 'eauth', 'timeout', 'full_return', 'match', 'ret', 'expr_form']);

function argList(low: Lowstate): unknown[] {
  if (low.arg === undefined || low.arg === null) return [];
  return Array.isArray(low.arg) ? [...(low.arg as unknown[])] : [low.arg];
}

function runnerKwargs(low: Lowstate): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(low.kwarg ?? {}) };
  for (const [k, v] of Object.entries(low)) if (!RESERVED.has(k)) out[k] = v;
  return out;
}

class RunnerFailure extends Error {}

/** runLowstate executes one chunk for `caller`, after salt-api's client check and the master's ACL check. */
export async function runLowstate(deps: MasterDeps, low: Lowstate, caller: Caller): Promise<LowResult> {
  const client = low.client ?? 'None';
  if (!deps.enabledClients.includes(client)) return { kind: 'disabled', client };
  const fun = low.fun ?? '';
  const { user } = caller;
  switch (client) {
    case 'local':
    case 'local_async': {
      const minions = targetMinions(deps.world, low.tgt, low.tgt_type);
      if (!localAllowed(caller.perms, { fun, args: argList(low), kwargs: low.kwarg ?? {}, minions })) return { kind: 'refused', message: MSG_NOT_AUTHORIZED };
      await answerTime(deps, fun, () => minions.length);
      return { kind: 'ok', value: runLocal(deps, low, fun, user, minions, client === 'local_async') };
    }
    case 'runner':
    case 'runner_async':
    case 'wheel': {
      const verdict = specAllowed(caller.perms, client === 'wheel' ? 'wheel' : 'runner', fun, low.kwarg ?? {});
      if (verdict === 'bad-syntax') return { kind: 'invalid', message: MSG_BAD_SYNTAX };
      if (verdict === 'refused') return { kind: 'refused', message: specRefusal(caller) };
      await answerTime(deps, fun, () => coveredMinions(deps, fun, runnerKwargs(low)));
      return client === 'wheel' ? runWheel(deps, fun, user) : runRunner(deps, low, fun, user, client === 'runner_async');
    }
    default:
      return { kind: 'disabled', client };
  }
}

/** answerTime waits the master's answer time of `fun` (callDelays), `covered()` minions counted only when it matters. */
async function answerTime(deps: MasterDeps, fun: string, covered: () => number): Promise<void> {
  const model = deps.callDelays?.[fun] ?? deps.callDelays?.['*'];
  if (model === undefined) return;
  const ms = model.ms + (model.perMinionMs === undefined || model.perMinionMs === 0 ? 0 : model.perMinionMs * covered());
  if (ms > 0) await deps.timers.sleep(ms);
}

/** coveredMinions is how many minions a runner call is about: manage.up's targets, the cloud calls' nodes. */
function coveredMinions(deps: MasterDeps, fun: string, kwargs: Readonly<Record<string, unknown>>): number {
  if (fun === 'manage.up' || fun === 'manage.status') return presence(deps, kwargs).targeted.length;
  // salt-cloud lists every node for a query, and for an action too (to find the instance's provider)
  if (fun === 'cloud.query' || fun === 'cloud.full_query' || fun === 'cloud.action') return deps.world.allNodes().length;
  return 0;
}

// ---- local -----------------------------------------------------------------------------------------

/** targetMinions resolves a target (glob, or list as array or comma string) against accepted minions. */
export function targetMinions(world: World, tgt: unknown, tgtType: string | undefined): string[] {
  const accepted = world.acceptedMinions();
  if (tgtType === 'list') {
    const ids = new Set(Array.isArray(tgt) ? tgt.map(String) : String(tgt ?? '').split(','));
    return accepted.filter((id) => ids.has(id));
  }
  const pattern = Array.isArray(tgt) ? tgt.map(String).join(',') : String(tgt ?? '');
  return accepted.filter((id) => globMatch(pattern, id));
}

function runLocal(deps: MasterDeps, low: Lowstate, fun: string, user: string, minions: readonly string[], async: boolean): unknown {
  const { world, bus, jids, now, jobs } = deps;
  const args = argList(low);
  const kwargs = low.kwarg ?? {};
  const wireArg: unknown[] = Object.keys(kwargs).length > 0 ? [...args, { __kwarg__: true, ...kwargs }] : args;
  const jid = jids.next(now());
  const job: Job = { jid, fun, arg: wireArg, tgt: low.tgt ?? '', tgtType: low.tgt_type ?? 'glob', user, minions, result: {} };
  jobs.set(jid, job);
  const execute = (): Record<string, unknown> => {
    bus.publish(jid, { minions });
    bus.publish(`salt/job/${jid}/new`, { jid, tgt_type: job.tgtType, tgt: job.tgt, user, fun, arg: wireArg, minions, missing: [] });
    const out: Record<string, unknown> = {};
    for (const id of minions) {
      const minion = world.minion(id);
      if (minion === undefined) continue;
      if (!minion.up) {
        if (fun === 'test.ping') out[id] = false;
        continue;
      }
      const { value, retcode } = localFunction(minion, fun, args, kwargs);
      job.result[id] = { return: value, retcode, success: retcode === 0 };
      bus.publish(`salt/job/${jid}/ret/${id}`, { cmd: '_return', id, success: retcode === 0, return: value, retcode, jid, fun, fun_args: wireArg, user });
      out[id] = low.full_return === true ? { ret: value, retcode, jid } : value;
    }
    return out;
  };
  if (async) {
    queueMicrotask(() => void execute());
    return { jid, minions };
  }
  return execute();
}

function localFunction(
  minion: { readonly id: string; grains: Record<string, unknown>; readonly busy: boolean },
  fun: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>,
): { value: unknown; retcode: number } {
  const key = String(args[0] ?? '');
  const force = kwargs['force'] === true || args.includes(true);
  switch (fun) {
    case 'test.ping':
      return { value: true, retcode: 0 };
    case 'grains.items':
      return { value: structuredClone(minion.grains), retcode: 0 };
    case 'grains.item': {
      const value: Record<string, unknown> = {};
      for (const k of args) value[String(k)] = minion.grains[String(k)] ?? '';
      return { value, retcode: 0 };
    }
    case 'grains.get':
      return { value: minion.grains[key] ?? '', retcode: 0 };
    case 'grains.setval': {
      const v = args[1] ?? kwargs['val'] ?? null;
      minion.grains[key] = structuredClone(v);
      return { value: { [key]: v }, retcode: 0 };
    }
    case 'grains.delkey':
    case 'grains.delval': {
      const current = minion.grains[key];
      const isComplex = typeof current === 'object' && current !== null;
      if (isComplex && !force) {
        return { value: { comment: `The key '${key}' exists but is a dict or a list. Use 'force=True' to overwrite.`, changes: {}, result: false }, retcode: 1 };
      }
      if (fun === 'grains.delkey') delete minion.grains[key];
      else minion.grains[key] = null;
      return { value: { comment: '', changes: { [key]: null }, result: true }, retcode: 0 };
    }
    case 'cmd.retcode':
      return { value: minion.busy ? 1 : 0, retcode: minion.busy ? 1 : 0 };
    case 'cmd.run':
      return { value: '', retcode: 0 };
    default:
      return { value: `'${fun}' is not available.`, retcode: 254 };
  }
}

// ---- runner ----------------------------------------------------------------------------------------

async function runRunner(deps: MasterDeps, low: Lowstate, fun: string, user: string, async: boolean): Promise<LowResult> {
  const impl = RUNNERS[fun];
  if (impl === undefined) return { kind: 'error', message: `'${fun}' is not available` };
  const { bus, jids, now, jobs, timers, saltSecondMs } = deps;
  const args = argList(low);
  const kwargs = runnerKwargs(low);
  const funArgs: unknown[] = Object.keys(kwargs).length > 0 ? [...args, kwargs] : args;
  const jid = jids.next(now());
  const job: Job = { jid, fun: `runner.${fun}`, arg: funArgs, tgt: 'vm_master', tgtType: 'list', user, minions: [], result: {} };
  jobs.set(jid, job);
  const run = { fun: `runner.${fun}`, jid, user, fun_args: funArgs };
  const runS = runnerSeconds(deps, fun, kwargs);
  const execute = async (): Promise<LowResult> => {
    bus.publish(`salt/run/${jid}/new`, run);
    try {
      if (runS > 0) await timers.sleep(runS * saltSecondMs);
      const value = await impl(deps, args, kwargs);
      bus.publish(`salt/run/${jid}/ret`, { ...run, return: value, success: true });
      job.result['master'] = { return: value, retcode: 0, success: true };
      return { kind: 'ok', value };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      bus.publish(`salt/run/${jid}/ret`, { ...run, return: `Exception occurred in runner ${fun}: ${message}`, success: false });
      return { kind: 'error', message };
    }
  };
  // execute never rejects: a failing runner becomes its ret event and an error LowResult
  if (async) {
    void execute();
    return { kind: 'ok', value: { tag: `salt/run/${jid}`, jid } };
  }
  // a top-level `timeout` is salt-api's own wait for the runner's return (NetapiClient.runner -> RunnerClient.cmd_sync:
  // `event.get_event(wait=timeout)`, default rest_timeout): when it runs out salt-api raises SaltClientTimeout and
  // rest_cherrypy answers 504 (real_15; test/real-salt/profile-timeout.test.ts); the runner goes on in the master and fires its ret later. The wait
  // is in Salt seconds (saltSecondMs each); a runner whose time is in Salt seconds (manage.up's ping wait) is compared
  // with it in Salt seconds, one whose time is the world's (cloud.profile's createMs, a cloud.action's startMs) races
  // it in milliseconds.
  const waitS = typeof low['timeout'] === 'number' ? low['timeout'] : REST_TIMEOUT_S;
  const waitMs = waitS * saltSecondMs;
  if (runS > waitS) {
    void execute(); // goes on past salt-api's wait, like the real runner
    await timers.sleep(waitMs);
    return { kind: 'timeout' };
  }
  const running = execute();
  let cancel = (): void => {};
  const waited = new Promise<LowResult>((resolve) => { cancel = timers.after(waitMs, () => { resolve({ kind: 'timeout' }); }); });
  try {
    return await Promise.race([running, waited]);
  } finally {
    cancel(); // (a runner that answered in time leaves no timer behind; one that did not goes on alone)
  }
}

/** presence resolves manage.up's kwargs `tgt` / `tgt_type` (default every minion) to the targeted minions. */
function presence(deps: MasterDeps, kwargs: Readonly<Record<string, unknown>>): { targeted: string[]; up: string[] } {
  const tgtType = typeof kwargs['tgt_type'] === 'string' ? kwargs['tgt_type'] : undefined;
  const targeted = targetMinions(deps.world, kwargs['tgt'] ?? '*', tgtType);
  return { targeted, up: targeted.filter((id) => deps.world.minion(id)?.up === true) };
}

/**
 * runnerSeconds is how long (in Salt seconds) a runner takes: manage.up and manage.status ping the targeted
 * minions and, when one does not answer, wait `timeout` then `gather_job_timeout` (kwargs; Salt's defaults
 * 5 + 10 s: real_16 took ~16 s); everything else returns at once.
 */
function runnerSeconds(deps: MasterDeps, fun: string, kwargs: Readonly<Record<string, unknown>>): number {
  if (fun !== 'manage.up' && fun !== 'manage.status') return 0;
  const { targeted, up } = presence(deps, kwargs);
  if (up.length === targeted.length) return 0;
  const seconds = (key: string, fallback: number): number => (typeof kwargs[key] === 'number' ? kwargs[key] : fallback);
  return seconds('timeout', SALT_DEFAULT_TIMEOUT_S) + seconds('gather_job_timeout', SALT_DEFAULT_GATHER_TIMEOUT_S);
}

type Runner = (deps: MasterDeps, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>) => Promise<unknown>;

function nameList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string') return value.split(',').filter((s) => s !== '');
  return [];
}

function groupByProvider(results: readonly CloudResult[]): Record<string, Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const r of results) {
    const byDriver = (out[r.provider] ??= {});
    const byName = (byDriver[r.driver] ??= {});
    byName[r.name] = r.value;
  }
  return out;
}

async function cloudAction(deps: MasterDeps, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): Promise<unknown> {
  const { world } = deps;
  const func = String(kwargs['func'] ?? args[0] ?? '');
  let names: string[];
  const instances = kwargs['instances'] ?? kwargs['names'];
  if (typeof instances === 'string') names = [...new Set(instances)]; // Salt 3006 quirk: set("gpu-dev-2")
  else if (Array.isArray(instances)) names = [...new Set(instances.map(String))];
  else if (typeof kwargs['instance'] === 'string') names = [kwargs['instance']];
  else names = [];
  const found = names.filter((n) => world.exists(n));
  const missing = names.filter((n) => !world.exists(n));
  const results: CloudResult[] = [];
  // Salt runs the driver's action for each name it found one after the other (Map.do_action), so a call of
  // several instances answers after all of them
  switch (func) {
    case 'start':
      for (const n of found) results.push(await world.start(n));
      break;
    case 'stop':
      for (const n of found) results.push(await world.stop(n));
      break;
    case 'show_instance':
      for (const n of found) {
        const node = world.node(n, true);
        const inst = world.instance(n);
        if (node && inst) results.push({ provider: inst.provider, driver: inst.driver, name: n, value: node });
      }
      break;
    default:
      throw new RunnerFailure(`cloud.action: unknown func '${func}'`);
  }
  const out: Record<string, unknown> = groupByProvider(results);
  if (missing.length > 0) {
    out['Not Actioned/Not Running'] = missing;
    out['Not Found'] = missing;
  }
  return out;
}

async function cloudProfile(deps: MasterDeps, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): Promise<unknown> {
  const prof = String(kwargs['prof'] ?? kwargs['profile'] ?? args[0] ?? '');
  const names = nameList(kwargs['instances'] ?? kwargs['names'] ?? args[1]);
  const out: Record<string, unknown> = {};
  const values = await Promise.all(names.map((n) => deps.world.create(n, prof)));
  names.forEach((n, i) => { out[n] = values[i]; });
  return out;
}

async function cloudDestroy(deps: MasterDeps, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): Promise<unknown> {
  const names = nameList(kwargs['instances'] ?? kwargs['names'] ?? args[0]).filter((n) => deps.world.exists(n));
  return groupByProvider(await Promise.all(names.map((n) => deps.world.destroy(n))));
}

function cloudQuery(full: boolean): Runner {
  return async (deps) => groupByProvider(deps.world.allNodes().flatMap((n) => {
    const node = deps.world.node(n.name, full);
    return node ? [{ ...n, value: node }] : [];
  }));
}

const RUNNERS: Readonly<Record<string, Runner>> = {
  'manage.up': async (deps, _args, kwargs) => presence(deps, kwargs).up,
  'manage.alived': async (deps) => deps.world.upMinions(),
  // no job of the emulated master outlives its request long enough to be seen running (real_05: `{}`)
  'jobs.active': async () => ({}),
  'manage.status': async (deps, _args, kwargs) => {
    const { targeted, up } = presence(deps, kwargs);
    const upSet = new Set(up);
    return { up, down: targeted.filter((id) => !upSet.has(id)) };
  },
  'event.send': async (deps, args, kwargs) => {
    const tag = String(kwargs['tag'] ?? args[0] ?? '');
    const raw = kwargs['data'] ?? args[1] ?? {};
    const data = isRecord(raw) ? raw : {};
    deps.bus.publish(tag, data);
    return true;
  },
  'cloud.action': cloudAction,
  'cloud.profile': cloudProfile,
  'cloud.destroy': cloudDestroy,
  'cloud.query': cloudQuery(false),
  'cloud.full_query': cloudQuery(true),
  'auth.mk_token': async (deps, _args, kwargs) => {
    const username = String(kwargs['username'] ?? '');
    const eauth = String(kwargs['eauth'] ?? '');
    if (!deps.checkCredentials(username, String(kwargs['password'] ?? ''), eauth)) throw new RunnerFailure('Authentication failure');
    const startS = deps.now() / 1000;
    const token: SaltToken = { token: randomBytes(32).toString('hex'), name: username, eauth, startS, expireS: startS + deps.tokenExpireS };
    deps.saltTokens.set(token.token, token);
    return { start: token.startS, expire: token.expireS, name: token.name, eauth: token.eauth, token: token.token };
  },
};

// ---- wheel -----------------------------------------------------------------------------------------

function runWheel(deps: MasterDeps, fun: string, user: string): LowResult {
  if (fun !== 'key.list_all') return { kind: 'error', message: `'${fun}' is not available` };
  const { bus, jids, now } = deps;
  const jid = jids.next(now());
  const tag = `salt/wheel/${jid}`;
  bus.publish(`${tag}/new`, { fun: `wheel.${fun}`, jid, tag, user });
  const ret = bus.publish(`${tag}/ret`, { fun: `wheel.${fun}`, jid, tag, user, return: deps.world.keys(), success: true });
  const data = ret?.data ?? { fun: `wheel.${fun}`, jid, tag, user, return: deps.world.keys(), success: true };
  return { kind: 'ok', value: { tag, data } };
}
