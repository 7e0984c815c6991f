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
  const stampMs = stampToMs(data['_stamp']);
  const base = stampMs === undefined ? { tag, data } : { tag, data, stampMs };
  if (tag.startsWith('salt/')) {
    const parts = tag.split('/');
    const area = parts[1];
    if (area === 'job' && parts.length >= 4) {
      const jid = parts[2] ?? '';
      if (parts.length === 4 && parts[3] === 'new') {
        return { ...base, kind: 'job-new', jid, ...opt('fun', str(data['fun'])), minions: strings(data['minions']) };
      }
      if (parts.length === 5 && parts[3] === 'ret' && parts[4] !== '') {
        return {
          ...base, kind: 'job-ret', jid, minion: parts[4] ?? '', ...opt('fun', str(data['fun'])),
          ...opt('success', bool(data['success'])), ...opt('retcode', num(data['retcode'])),
        };
      }
    } else if (area === 'run' && parts.length === 4) {
      const jid = parts[2] ?? '';
      const fun = str(data['fun']);
      const orchestrateMinion = fun === 'runner.state.orchestrate' ? targetMinion(data['fun_args']) : undefined;
      if (parts[3] === 'new') return { ...base, kind: 'run-new', jid, ...opt('fun', fun), ...opt('orchestrateMinion', orchestrateMinion) };
      if (parts[3] === 'ret') {
        return { ...base, kind: 'run-ret', jid, ...opt('fun', fun), ...opt('success', runSuccess(data)), ...opt('orchestrateMinion', orchestrateMinion) };
      }
    } else if (area === 'minion' && parts.length === 4 && parts[3] === 'start' && parts[2] !== '') {
      return { ...base, kind: 'minion-start', minion: parts[2] ?? '' };
    } else if (area === 'auth' && parts.length === 2) {
      return { ...base, kind: 'auth', ...opt('minion', str(data['id'])) };
    } else if (area === 'key' && parts.length === 2) {
      return { ...base, kind: 'key', ...opt('minion', str(data['id'])), ...opt('act', str(data['act'])) };
    } else if (area === 'cloud' && parts.length === 4 && parts[2] !== '' && parts[3] !== '') {
      return { ...base, kind: 'cloud', minion: parts[2] ?? '', what: parts[3] ?? '' };
    }
    return { ...base, kind: 'other' };
  }
  if (tag.startsWith(INSTANCE_TAG_PREFIX)) {
    const rest = tag.slice(INSTANCE_TAG_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash > 0 && rest.indexOf('/', slash + 1) === -1) {
      const minion = rest.slice(0, slash);
      switch (rest.slice(slash + 1)) {
        case 'ready': return { ...base, kind: 'instance-ready', minion };
        case 'draining': return { ...base, kind: 'instance-draining', minion };
        case 'failed': return { ...base, kind: 'instance-failed', minion, ...opt('reason', failReason(data)) };
        default: break;
      }
    }
    return { ...base, kind: 'other' };
  }
  if (tag === HEARTBEAT_TAG) {
    const inner = data['data'];
    const seq = num(data['seq']) ?? (isRecord(inner) ? num(inner['seq']) : undefined);
    return { ...base, kind: 'heartbeat', ...opt('seq', seq) };
  }
  return { ...base, kind: 'other' };
}

/** stampToMs reads Salt's `_stamp` (`YYYY-MM-DDTHH:MM:SS.ffffff`, UTC, no zone) as epoch ms; undefined when absent or invalid. */
export function stampToMs(stamp: unknown): number | undefined {
  if (typeof stamp !== 'string') return undefined;
  const m = STAMP.exec(stamp);
  if (m === null) return undefined;
  const frac = m[7] ?? '';
  const ms = frac === '' ? 0 : Number((frac + '00').slice(0, 3));
  const value = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  return Number.isFinite(value) ? value : undefined;
}

const STAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/;

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
/** opt spreads `{key: value}` only when value is defined (exactOptionalPropertyTypes). */
function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
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
