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
import { HEARTBEAT_TAG, INSTANCE_TAG_PREFIX, type EventData, type SaltEvent, type SaltEventKind } from '../core/salt-event.ts';
import { isRecord } from '../json-object.ts';

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

/**
 * tryParseEvent is parseEvent that returns undefined for a malformed frame (no exception cost on the stream).
 * `subject` is classifyTag of the frame's tag when the caller has read it already (frameTag), not read twice.
 */
export function tryParseEvent(json: string, subject?: TagSubject): SaltEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || typeof value['tag'] !== 'string' || !isRecord(value['data'])) return undefined;
  return classify(value['tag'], value['data'], subject);
}

/** TAG_MEMBER is how salt-api's `json.dumps` writes the frame's last member: `, "tag": "<tag>"}`. */
const TAG_MEMBER = '"tag": "';

/**
 * frameTag reads the tag of a salt-api event frame from the end of its JSON text, without parsing it: salt-api
 * writes `{"data": {...}, "tag": "<tag>"}`, the tag last. It answers only when the text ends with that member and
 * the tag has no escape: in a valid JSON text, the string before the final `}` preceded by `"tag": `
 * is then the outer object's tag. Anything else is undefined (the caller parses the frame to know).
 */
export function frameTag(json: string): string | undefined {
  let end = json.length - 1;
  while (end > 0 && json.charCodeAt(end) <= 32) end -= 1;
  if (end < 2 || json.charCodeAt(end) !== 125 || json.charCodeAt(end - 1) !== 34) return undefined;
  const key = json.lastIndexOf(TAG_MEMBER, end - 1);
  if (key < 1) return undefined;
  let before = key - 1;
  while (before > 0 && json.charCodeAt(before) <= 32) before -= 1;
  const sep = json.charCodeAt(before);
  if (sep !== 44 && sep !== 123) return undefined;
  // in a valid JSON text a quote inside the tag is escaped: no backslash means no quote either
  const tag = json.slice(key + TAG_MEMBER.length, end - 1);
  return tag.includes('\\') ? undefined : tag;
}

/**
 * TagSubject is what a tag alone says about an event: its kind and, where the tag names them, its jid, its minion
 * and (cloud) what happened. `minion` is only the tag's: run events name theirs in the body, auth and key too.
 */
export interface TagSubject {
  readonly kind: Exclude<SaltEventKind, 'gap'>;
  readonly jid: string;
  readonly minion: string;
  readonly what: string;
}

const SALT_PREFIX = 'salt/';

/**
 * classifyTag reads a tag's kind and subject with indexOf only (no split, no array): it runs once per bus event,
 * before the body is parsed, so the stream can skip the bodies nobody reads. Fields the kind has not are ''.
 */
export function classifyTag(tag: string): TagSubject {
  if (tag.startsWith(SALT_PREFIX)) return saltTag(tag);
  if (tag.startsWith(INSTANCE_TAG_PREFIX)) {
    const from = INSTANCE_TAG_PREFIX.length;
    const slash = tag.indexOf('/', from);
    if (slash > from && tag.indexOf('/', slash + 1) === -1) {
      const suffix = tag.slice(slash + 1);
      const kind = suffix === 'ready' ? 'instance-ready' : suffix === 'failed' ? 'instance-failed' : suffix === 'draining' ? 'instance-draining' : undefined;
      if (kind !== undefined) return { kind, jid: '', minion: tag.slice(from, slash), what: '' };
    }
    return OTHER;
  }
  return tag === HEARTBEAT_TAG ? HEARTBEAT : OTHER;
}

const OTHER: TagSubject = { kind: 'other', jid: '', minion: '', what: '' };
const HEARTBEAT: TagSubject = { kind: 'heartbeat', jid: '', minion: '', what: '' };
const AUTH: TagSubject = { kind: 'auth', jid: '', minion: '', what: '' };
const KEY: TagSubject = { kind: 'key', jid: '', minion: '', what: '' };

/** saltTag classifies `salt/<area>[/<a>[/<b>[/<c>]]]`; five segments or more after `salt` are `other`. */
function saltTag(tag: string): TagSubject {
  const from = SALT_PREFIX.length;
  const s1 = tag.indexOf('/', from);
  if (s1 === -1) {
    const area = tag.slice(from);
    return area === 'auth' ? AUTH : area === 'key' ? KEY : OTHER;
  }
  const s2 = tag.indexOf('/', s1 + 1);
  if (s2 === -1) return OTHER;
  const s3 = tag.indexOf('/', s2 + 1);
  const area = tag.slice(from, s1);
  if (s3 === -1) {
    // salt/<area>/<a>/<b>
    const a = tag.slice(s1 + 1, s2);
    const b = tag.slice(s2 + 1);
    switch (area) {
      case 'job': return b === 'new' ? { kind: 'job-new', jid: a, minion: '', what: '' } : OTHER;
      case 'run': return b === 'new' ? { kind: 'run-new', jid: a, minion: '', what: '' } : b === 'ret' ? { kind: 'run-ret', jid: a, minion: '', what: '' } : OTHER;
      case 'minion': return b === 'start' && a !== '' ? { kind: 'minion-start', jid: '', minion: a, what: '' } : OTHER;
      case 'cloud': return a !== '' && b !== '' ? { kind: 'cloud', jid: '', minion: a, what: b } : OTHER;
      default: return OTHER;
    }
  }
  // salt/job/<jid>/ret/<minion>, and nothing longer
  if (area !== 'job' || tag.indexOf('/', s3 + 1) !== -1 || s3 + 1 === tag.length || tag.slice(s2 + 1, s3) !== 'ret') return OTHER;
  return { kind: 'job-ret', jid: tag.slice(s1 + 1, s2), minion: tag.slice(s3 + 1), what: '' };
}

/** ORCHESTRATE_FUN is the runner function of a deploy orchestrate: the only run events that name a minion. */
const ORCHESTRATE_FUN = 'runner.state.orchestrate';

/**
 * mayBeOrchestrate is false only when a run event's frame text cannot be an orchestrate's: it does not contain
 * `runner.state.orchestrate`, nor a `\u` escape that could spell it otherwise. Such a run event names no minion.
 */
export function mayBeOrchestrate(json: string): boolean {
  return json.includes(ORCHESTRATE_FUN) || json.includes('\\u');
}

/** classify turns a tag and its data object into a typed event (unknown tags are `other`). */
export function classify(tag: string, data: EventData, subject?: TagSubject): SaltEvent {
  // Events are built field by field (no object spread): this runs once per bus event, see bench/ingest.ts.
  const stampMs = stampToMs(data['_stamp']);
  const t = subject ?? classifyTag(tag);
  switch (t.kind) {
    case 'job-new': {
      const ev: Draft<'job-new'> = { kind: 'job-new', tag, data, jid: t.jid, minions: strings(data['minions']) };
      const fun = str(data['fun']);
      if (fun !== undefined) ev.fun = fun;
      return stamped(ev, stampMs);
    }
    case 'job-ret': {
      const ev: Draft<'job-ret'> = { kind: 'job-ret', tag, data, jid: t.jid, minion: t.minion };
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
    case 'run-new':
    case 'run-ret': {
      const fun = str(data['fun']);
      const orchestrateMinion = fun === ORCHESTRATE_FUN ? targetMinion(data['fun_args']) : undefined;
      const ev: Draft<'run-new'> | Draft<'run-ret'> = t.kind === 'run-new' ? { kind: 'run-new', tag, data, jid: t.jid } : { kind: 'run-ret', tag, data, jid: t.jid };
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
    }
    case 'minion-start':
      return stamped<Draft<'minion-start'>>({ kind: 'minion-start', tag, data, minion: t.minion }, stampMs);
    case 'auth': {
      const ev: Draft<'auth'> = { kind: 'auth', tag, data };
      const minion = str(data['id']);
      if (minion !== undefined) ev.minion = minion;
      return stamped(ev, stampMs);
    }
    case 'key': {
      const ev: Draft<'key'> = { kind: 'key', tag, data };
      const minion = str(data['id']);
      if (minion !== undefined) ev.minion = minion;
      const act = str(data['act']);
      if (act !== undefined) ev.act = act;
      return stamped(ev, stampMs);
    }
    case 'cloud':
      return stamped<Draft<'cloud'>>({ kind: 'cloud', tag, data, minion: t.minion, what: t.what }, stampMs);
    case 'instance-ready':
      return stamped<Draft<'instance-ready'>>({ kind: 'instance-ready', tag, data, minion: t.minion }, stampMs);
    case 'instance-draining':
      return stamped<Draft<'instance-draining'>>({ kind: 'instance-draining', tag, data, minion: t.minion }, stampMs);
    case 'instance-failed': {
      const ev: Draft<'instance-failed'> = { kind: 'instance-failed', tag, data, minion: t.minion };
      const reason = failReason(data);
      if (reason !== undefined) ev.reason = reason;
      return stamped(ev, stampMs);
    }
    case 'heartbeat': {
      const inner = data['data'];
      const seq = num(data['seq']) ?? (isRecord(inner) ? num(inner['seq']) : undefined);
      const ev: Draft<'heartbeat'> = { kind: 'heartbeat', tag, data };
      if (seq !== undefined) ev.seq = seq;
      return stamped(ev, stampMs);
    }
    case 'other':
      return stamped<Draft<'other'>>({ kind: 'other', tag, data }, stampMs);
    default:
      return t.kind satisfies never;
  }
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
