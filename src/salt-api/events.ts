/**
 * events: one salt-api event frame (`{"data": {...}, "tag": "..."}`) -> one typed SaltEvent.
 *
 * ```
 *  tag                                           kind
 *  salt/minion/<id>/start                     -> minion-start
 *  salt/auth                                  -> auth
 *  salt/key                                   -> key
 *  salt/job/<jid>/new                         -> job-new
 *  salt/job/<jid>/ret/<minion>                -> job-ret
 *  salt/run/<jid>/new | ret                   -> run-new | run-ret (orchestrateMinion from pillar.target_minion)
 *  salt/cloud/<name>/<what>                   -> cloud
 *  salt-autoscaler/instance/<id>/ready|failed|draining -> instance-ready | instance-failed | instance-draining
 *  salt-autoscaler/heartbeat                  -> heartbeat
 *  anything else                              -> other
 * ```
 * Each frame is JSON-parsed exactly once; `data` is kept as parsed, never re-parsed.
 */
import { AutoscalerError } from '../errors.ts';
import { HEARTBEAT_TAG, INSTANCE_TAG_PREFIX, type EventData, type SaltEvent } from '../core/salt-event.ts';

/** parseEvent parses one frame's JSON text into a typed event; it throws ASC_ERR_SALT_STREAM when the frame is malformed. */
export function parseEvent(json: string): SaltEvent {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new AutoscalerError('ASC_ERR_SALT_STREAM', 'salt-api sent an event frame that is not JSON', { cause: err });
  }
  // EventFrame (wire.ts) narrowed by hand: this is the ingest hot path, and copying every data object
  // through a zod record costs more than the JSON.parse itself (see bench/ingest.ts).
  if (!isRecord(value) || typeof value['tag'] !== 'string' || !isRecord(value['data'])) {
    throw new AutoscalerError('ASC_ERR_SALT_STREAM', 'salt-api sent an event frame without a string tag and an object data');
  }
  return classify(value['tag'], value['data']);
}

/** tryParseEvent is parseEvent that returns undefined for a malformed frame (no exception cost on the stream). */
export function tryParseEvent(json: string): SaltEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || typeof value['tag'] !== 'string' || !isRecord(value['data'])) return undefined;
  return classify(value['tag'], value['data']);
}

/** classify turns a tag and its data object into a typed event (unknown tags are `other`). */
export function classify(tag: string, data: EventData): SaltEvent {
  // Events are built field by field (no object spread): this runs once per bus event, see bench/ingest.ts.
  const stampMs = stampToMs(data['_stamp']);
  if (tag.startsWith('salt/')) {
    const parts = tag.split('/', 6);
    const area = parts[1];
    const p2 = parts[2] ?? '';
    if (area === 'job' && parts.length >= 4) {
      if (parts.length === 4 && parts[3] === 'new') {
        const ev: Draft<'job-new'> = { kind: 'job-new', tag, data, jid: p2, minions: strings(data['minions']) };
        const fun = str(data['fun']);
        if (fun !== undefined) ev.fun = fun;
        return stamped(ev, stampMs);
      }
      const minion = parts[4] ?? '';
      if (parts.length === 5 && parts[3] === 'ret' && minion !== '') {
        const ev: Draft<'job-ret'> = { kind: 'job-ret', tag, data, jid: p2, minion };
        const fun = str(data['fun']);
        if (fun !== undefined) ev.fun = fun;
        const success = bool(data['success']);
        if (success !== undefined) ev.success = success;
        const retcode = num(data['retcode']);
        if (retcode !== undefined) ev.retcode = retcode;
        if (success === false && fun !== undefined && fun.startsWith('state.')) {
          const failure = stateFailure(data['return']);
          if (failure !== undefined) ev.failure = failure;
        }
        return stamped(ev, stampMs);
      }
    } else if (area === 'run' && parts.length === 4 && (parts[3] === 'new' || parts[3] === 'ret')) {
      const fun = str(data['fun']);
      const orchestrateMinion = fun === 'runner.state.orchestrate' ? targetMinion(data['fun_args']) : undefined;
      const ev: Draft<'run-new'> | Draft<'run-ret'> = parts[3] === 'new' ? { kind: 'run-new', tag, data, jid: p2 } : { kind: 'run-ret', tag, data, jid: p2 };
      if (fun !== undefined) ev.fun = fun;
      if (orchestrateMinion !== undefined) ev.orchestrateMinion = orchestrateMinion;
      if (ev.kind === 'run-ret') {
        const success = runSuccess(data);
        if (success !== undefined) ev.success = success;
        const ret = data['return'];
        if (success === false && isRecord(ret)) {
          const failure = stateFailure(ret['data']);
          if (failure !== undefined) ev.failure = failure;
        }
      }
      return stamped(ev, stampMs);
    } else if (area === 'minion' && parts.length === 4 && parts[3] === 'start' && p2 !== '') {
      return stamped<Draft<'minion-start'>>({ kind: 'minion-start', tag, data, minion: p2 }, stampMs);
    } else if (area === 'auth' && parts.length === 2) {
      const ev: Draft<'auth'> = { kind: 'auth', tag, data };
      const minion = str(data['id']);
      if (minion !== undefined) ev.minion = minion;
      return stamped(ev, stampMs);
    } else if (area === 'key' && parts.length === 2) {
      const ev: Draft<'key'> = { kind: 'key', tag, data };
      const minion = str(data['id']);
      if (minion !== undefined) ev.minion = minion;
      const act = str(data['act']);
      if (act !== undefined) ev.act = act;
      return stamped(ev, stampMs);
    } else if (area === 'cloud' && parts.length === 4 && p2 !== '' && parts[3] !== '') {
      return stamped<Draft<'cloud'>>({ kind: 'cloud', tag, data, minion: p2, what: parts[3] ?? '' }, stampMs);
    }
    return stamped<Draft<'other'>>({ kind: 'other', tag, data }, stampMs);
  }
  if (tag.startsWith(INSTANCE_TAG_PREFIX)) {
    const rest = tag.slice(INSTANCE_TAG_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash > 0 && rest.indexOf('/', slash + 1) === -1) {
      const minion = rest.slice(0, slash);
      switch (rest.slice(slash + 1)) {
        case 'ready': return stamped<Draft<'instance-ready'>>({ kind: 'instance-ready', tag, data, minion }, stampMs);
        case 'draining': return stamped<Draft<'instance-draining'>>({ kind: 'instance-draining', tag, data, minion }, stampMs);
        case 'failed': {
          const ev: Draft<'instance-failed'> = { kind: 'instance-failed', tag, data, minion };
          const reason = failReason(data);
          if (reason !== undefined) ev.reason = reason;
          return stamped(ev, stampMs);
        }
        default: break;
      }
    }
    return stamped<Draft<'other'>>({ kind: 'other', tag, data }, stampMs);
  }
  if (tag === HEARTBEAT_TAG) {
    const inner = data['data'];
    const seq = num(data['seq']) ?? (isRecord(inner) ? num(inner['seq']) : undefined);
    const ev: Draft<'heartbeat'> = { kind: 'heartbeat', tag, data };
    if (seq !== undefined) ev.seq = seq;
    return stamped(ev, stampMs);
  }
  return stamped<Draft<'other'>>({ kind: 'other', tag, data }, stampMs);
}

/** Draft is one SaltEvent variant with writable fields, filled in by classify. */
type Draft<K extends SaltEvent['kind']> = { -readonly [P in keyof Extract<SaltEvent, { kind: K }>]: Extract<SaltEvent, { kind: K }>[P] };

function stamped<E extends { stampMs?: number }>(ev: E, stampMs: number | undefined): E {
  if (stampMs !== undefined) ev.stampMs = stampMs;
  return ev;
}

/** stampToMs reads Salt's `_stamp` (`YYYY-MM-DDTHH:MM:SS.ffffff`, UTC, no zone) as epoch ms; undefined when absent or invalid. */
export function stampToMs(stamp: unknown): number | undefined {
  if (typeof stamp !== 'string' || stamp.length < 19) return undefined;
  if (stamp.charCodeAt(4) !== 45 || stamp.charCodeAt(7) !== 45 || stamp.charCodeAt(10) !== 84 || stamp.charCodeAt(13) !== 58 || stamp.charCodeAt(16) !== 58) return undefined;
  let ms = 0;
  if (stamp.length > 19) {
    if (stamp.charCodeAt(19) !== 46 || stamp.length === 20) return undefined;
    for (let i = 20; i < stamp.length; i += 1) {
      const d = stamp.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return undefined;
    }
    ms = digits(stamp, 20, Math.min(3, stamp.length - 20));
    if (stamp.length - 20 === 1) ms *= 100;
    else if (stamp.length - 20 === 2) ms *= 10;
  }
  const year = digits(stamp, 0, 4);
  const month = digits(stamp, 5, 2);
  const day = digits(stamp, 8, 2);
  const hour = digits(stamp, 11, 2);
  const minute = digits(stamp, 14, 2);
  const second = digits(stamp, 17, 2);
  // NaN (a non-digit) fails every comparison below
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60 && year >= 0)) return undefined;
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + ms;
}

/** daysFromCivil counts days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm; cheaper than Date.UTC). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** digits reads `n` decimal digits at `from`; NaN when one is not a digit. */
function digits(s: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i += 1) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    v = v * 10 + d;
  }
  return v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}
function strings(v: unknown): readonly string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
function targetMinion(funArgs: unknown): string | undefined {
  if (!Array.isArray(funArgs)) return undefined;
  const first: unknown = funArgs[0];
  if (!isRecord(first)) return undefined;
  const pillar = first['pillar'];
  return isRecord(pillar) ? str(pillar['target_minion']) : undefined;
}

/** runSuccess: the outer `success`, made false when an orchestrate's `return.retcode` is non-zero (sse_05). */
function runSuccess(data: EventData): boolean | undefined {
  const success = bool(data['success']);
  const ret = data['return'];
  if (success === true && isRecord(ret) && typeof ret['retcode'] === 'number' && ret['retcode'] !== 0) return false;
  return success;
}

/** failReason takes `reason` from runner-fired data (`{id, reason}`) or minion-fired `data.data` (with `__pub_*` keys). */
function failReason(data: EventData): string | undefined {
  const direct = str(data['reason']);
  if (direct !== undefined) return direct;
  const inner = data['data'];
  return isRecord(inner) ? str(inner['reason']) : undefined;
}

/** REQUISITE_FAILED starts the comment of a state skipped because one it requires failed: never the cause. */
const REQUISITE_FAILED = 'One or more requisite failed';
/** MAX_FAILURE_CHARS bounds the failure text kept from a state's comment. */
const MAX_FAILURE_CHARS = 500;

/**
 * stateFailure finds why a state run failed, as `<state id>: <comment>`: the failing state (result false) with the
 * lowest `__run_num__` that is not a mere requisite failure. A state run as part of an orchestrate (`salt.state`)
 * carries its minions' own returns in `changes.ret.<minion>`: the failure is looked for there first, so the
 * comment is the minion's state's (sse real_sse_02: `training_env_agent_image_missing: …`), not the orchestrate's
 * `Run failed on minions: …`. The shape is `{<state key>: {result, comment, __id__, __run_num__, changes}}`, or
 * per master/minion id one such map (an orchestrate's `return.data`).
 */
export function stateFailure(ret: unknown, depth = 0): string | undefined {
  // a state run that could not start (an SLS that does not render, a missing SLS) returns its errors as a list
  if (Array.isArray(ret)) {
    const errors = commentText(ret);
    return errors === '' ? undefined : errors.slice(0, MAX_FAILURE_CHARS);
  }
  if (!isRecord(ret) || depth > 4) return undefined;
  const states = Object.values(ret).filter(isRecord);
  if (states.length > 0 && states.every((v) => !('result' in v) && Object.values(v).some((x) => isRecord(x) && 'result' in x))) {
    for (const byId of states) {
      const found = stateFailure(byId, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const failed = states
    .filter((v) => v['result'] === false)
    .sort((a, b) => (num(a['__run_num__']) ?? 0) - (num(b['__run_num__']) ?? 0));
  let fallback: string | undefined;
  for (const state of failed) {
    const changes = state['changes'];
    const nested = isRecord(changes) ? changes['ret'] : undefined;
    if (isRecord(nested)) {
      for (const minionRet of Object.values(nested)) {
        const inner = stateFailure(minionRet, depth + 1);
        if (inner !== undefined) return inner;
      }
    }
    const comment = commentText(state['comment']);
    const id = str(state['__id__']) ?? str(state['name']) ?? 'a state';
    const text = `${id}: ${comment === '' ? 'failed without a comment' : comment}`.slice(0, MAX_FAILURE_CHARS);
    if (!comment.startsWith(REQUISITE_FAILED)) return text;
    fallback ??= text;
  }
  return fallback;
}

function commentText(v: unknown): string {
  if (typeof v === 'string') return v.trim();
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string').join('; ').trim();
  return '';
}
