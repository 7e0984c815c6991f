/**
 * webhook-schema: the Alertmanager webhook payload, version "4" (Alertmanager's `notify/webhook` Message),
 * validated with zod at the edge. Unknown extra keys are tolerated (Alertmanager may add fields); known keys
 * must have the documented types.
 *
 * Validation costs what it takes to find the first problem, never what the whole body would cost:
 *
 *   text --at most MAX_JSON_CONTAINERS objects + arrays?---------------> (else rejected before JSON.parse)
 *   body --alerts an array of at most MAX_ALERTS_PER_NOTIFICATION?--> (else rejected before any deep check)
 *        --a hand check (the schema's rules, no issue collected)---> valid: the payload, as zod would give it
 *        --else zod: envelope (every key but the alerts)-------------> first issue reported
 *        --each alert in turn, stopping at the first invalid one-----> first issue reported
 *
 * (zod collects every issue of a value it checks: 340,000 empty alerts in one 1 MB body were 1.36 M issues,
 * 6-7 s of blocked event loop and ~1 GB, to report one of them.)
 */
import { z } from 'zod';
import { isRecord } from '../json-object.ts';

/** MAX_ALERTS_PER_NOTIFICATION is the most alerts one notification may carry; more is a 400 (see alertmanager.yml max_alerts). */
export const MAX_ALERTS_PER_NOTIFICATION = 1000;

/**
 * MAX_JSON_CONTAINERS is the most objects + arrays a body may hold: a notification at the alert cap has about
 * 3 per alert (the alert, its labels, its annotations) and a few around them. A body over it is refused before
 * JSON.parse builds it (340,000 empty objects cost more to build than to reject).
 */
export const MAX_JSON_CONTAINERS = 16 * MAX_ALERTS_PER_NOTIFICATION;

/**
 * jsonContainersOver says whether JSON `text` opens more than `limit` objects and arrays (brackets inside strings do
 * not count). It stops at the first container over the limit: rejecting costs what it takes to find that one.
 */
export function jsonContainersOver(text: string, limit: number): boolean {
  let count = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i += 1; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if ((c === 0x7b || c === 0x5b) && ++count > limit) {
      return true;
    }
  }
  return false;
}

/** MAX_FINGERPRINT_LENGTH bounds an alert fingerprint (Alertmanager's are 16 hex characters). */
export const MAX_FINGERPRINT_LENGTH = 256;

/** firstNonString is the first key of `value` whose value is not a string (undefined when all are). */
function firstNonString(value: Record<string, unknown>): string | undefined {
  for (const key in value) if (typeof value[key] !== 'string') return key;
  return undefined;
}

/**
 * KeyValueSchema is a label or annotation set: string to string. Checked by hand up to the first bad value (a
 * zod record would report every bad value of a hostile set).
 */
const KeyValueSchema = z.custom<Record<string, string>>().superRefine((value, ctx) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: 'expected an object of strings' });
    return;
  }
  const bad = firstNonString(value as Record<string, unknown>);
  if (bad !== undefined) ctx.addIssue({ code: 'custom', message: `expected a string value, ${JSON.stringify(bad.slice(0, 40))} is not` });
});

/** TimestampSchema is an RFC 3339 time; Alertmanager sends `0001-01-01T00:00:00Z` for "not set". */
const TimestampSchema = z.string().max(64).refine((s) => !Number.isNaN(Date.parse(s)), 'expected an RFC 3339 timestamp');

/** WebhookAlertSchema is one alert of a notification. */
export const WebhookAlertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: KeyValueSchema,
  annotations: KeyValueSchema.default({}),
  startsAt: TimestampSchema,
  endsAt: TimestampSchema.optional(),
  generatorURL: z.string().default(''),
  fingerprint: z.string().min(1, 'fingerprint must not be empty').max(MAX_FINGERPRINT_LENGTH, `fingerprint longer than ${MAX_FINGERPRINT_LENGTH} characters`),
});

/** WebhookAlert is one parsed alert. */
export type WebhookAlert = z.output<typeof WebhookAlertSchema>;

/** WebhookEnvelopeSchema is a notification with its alerts unchecked (they are checked one by one). */
const WebhookEnvelopeSchema = z.object({
  version: z.literal('4', { error: 'expected webhook payload version "4"' }),
  groupKey: z.string(),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: KeyValueSchema.default({}),
  commonLabels: KeyValueSchema.default({}),
  commonAnnotations: KeyValueSchema.default({}),
  externalURL: z.string().default(''),
  alerts: z.custom<unknown[]>((value) => Array.isArray(value), 'expected an array'),
});

/** WebhookPayloadSchema is one webhook notification (the current state of one alert group); the webhook uses parseWebhookPayload. */
export const WebhookPayloadSchema = WebhookEnvelopeSchema.extend({ alerts: z.array(WebhookAlertSchema) });

/** WebhookPayload is one parsed notification. */
export type WebhookPayload = z.output<typeof WebhookPayloadSchema>;

/** PayloadCheck is the outcome of parseWebhookPayload: the payload, or the first problem found in words. */
export type PayloadCheck = { readonly success: true; readonly data: WebhookPayload } | { readonly success: false; readonly reason: string };

function firstIssue(error: z.ZodError, prefix: readonly PropertyKey[]): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid payload';
  const path = [...prefix, ...issue.path].map(String).join('.');
  return `${path === '' ? 'body' : path}: ${issue.message}`;
}

/** keyValues is a label or annotation set as KeyValueSchema takes it (`{}` for undefined when defaulted), else undefined. */
function keyValues(value: unknown, defaulted: boolean): Record<string, string> | undefined {
  if (value === undefined) return defaulted ? {} : undefined;
  return isRecord(value) && firstNonString(value) === undefined ? value as Record<string, string> : undefined;
}

/** isStatus: the `status` enum of the payload and of an alert. */
function isStatus(value: unknown): value is 'firing' | 'resolved' {
  return value === 'firing' || value === 'resolved';
}

/** TIMES_KEPT: how many texts a ParsedTimes remembers by default (a notification's alerts' startsAt and endsAt). */
const TIMES_KEPT = 16;

/**
 * ParsedTimes is `Date.parse` remembering the last few texts it parsed (at most `kept`, then it starts afresh): the
 * webhook owns one, its hand check parses an alert's times with it, and the alert book reads the same strings again
 * right after (`AlertBook.apply`).
 */
export class ParsedTimes {
  readonly #kept: number;
  readonly #ms = new Map<string, number>();

  constructor(kept = TIMES_KEPT) {
    this.#kept = kept;
  }

  /** ms is `Date.parse(text)`. */
  ms(text: string): number {
    const known = this.#ms.get(text);
    if (known !== undefined) return known;
    const ms = Date.parse(text);
    if (this.#ms.size >= this.#kept) this.#ms.clear();
    this.#ms.set(text, ms);
    return ms;
  }
}

/** isTimestamp is TimestampSchema on what it surely accepts (at most 64 UTF-16 units: zod counts code points, never more). */
function isTimestamp(value: unknown, times: ParsedTimes): value is string {
  return typeof value === 'string' && value.length <= 64 && !Number.isNaN(times.ms(value));
}

/** checkedAlert is WebhookAlertSchema's output for an alert it surely accepts, else undefined (zod then decides). */
function checkedAlert(raw: unknown, times: ParsedTimes): WebhookAlert | undefined {
  if (!isRecord(raw)) return undefined;
  const { status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint } = raw;
  const labelSet = keyValues(labels, false);
  const annotationSet = keyValues(annotations, true);
  if (!isStatus(status) || labelSet === undefined || annotationSet === undefined || !isTimestamp(startsAt, times)) return undefined;
  if ((endsAt !== undefined && !isTimestamp(endsAt, times)) || (generatorURL !== undefined && typeof generatorURL !== 'string')) return undefined;
  if (typeof fingerprint !== 'string' || fingerprint.length < 1 || fingerprint.length > MAX_FINGERPRINT_LENGTH) return undefined;
  // in the schema's key order, endsAt only when given (two literals, no spread: this is on the way to the salt-api call)
  return 'endsAt' in raw
    ? { status, labels: labelSet, annotations: annotationSet, startsAt, endsAt, generatorURL: generatorURL ?? '', fingerprint }
    : { status, labels: labelSet, annotations: annotationSet, startsAt, generatorURL: generatorURL ?? '', fingerprint };
}

/**
 * checkedPayload is WebhookPayloadSchema's output for a body it surely accepts, else undefined: the schema's rules by
 * hand (~1 us against ~20 us of zod on a one-alert notification). Undefined is no verdict: zod then checks the body
 * and gives the reason (test/alertmanager/webhook-check.property.test.ts keeps the two equal). `times` parses the
 * alerts' times (the webhook's own, which its alert book reads again; a fresh one by default).
 */
export function checkedPayload(body: unknown, times = new ParsedTimes()): WebhookPayload | undefined {
  if (!isRecord(body)) return undefined;
  const { version, groupKey, truncatedAlerts, status, receiver, groupLabels, commonLabels, commonAnnotations, externalURL, alerts } = body;
  if (version !== '4' || typeof groupKey !== 'string' || !isStatus(status) || typeof receiver !== 'string') return undefined;
  if (truncatedAlerts !== undefined && !(typeof truncatedAlerts === 'number' && Number.isSafeInteger(truncatedAlerts) && truncatedAlerts >= 0)) return undefined;
  const groupSet = keyValues(groupLabels, true);
  const commonSet = keyValues(commonLabels, true);
  const commonAnnotationSet = keyValues(commonAnnotations, true);
  if (groupSet === undefined || commonSet === undefined || commonAnnotationSet === undefined) return undefined;
  if ((externalURL !== undefined && typeof externalURL !== 'string') || !Array.isArray(alerts)) return undefined;
  const checked: WebhookAlert[] = [];
  for (const raw of alerts as unknown[]) {
    const alert = checkedAlert(raw, times);
    if (alert === undefined) return undefined;
    checked.push(alert);
  }
  return {
    version, groupKey, truncatedAlerts: truncatedAlerts ?? 0, status, receiver, groupLabels: groupSet, commonLabels: commonSet,
    commonAnnotations: commonAnnotationSet, externalURL: externalURL ?? '', alerts: checked,
  };
}

/**
 * parseWebhookPayload validates a parsed JSON body in time proportional to what it takes to reject it: the number of
 * alerts first, then the hand check (its times parsed with `times`), and when it has no verdict the envelope, then each
 * alert until the first invalid one.
 */
export function parseWebhookPayload(body: unknown, times = new ParsedTimes()): PayloadCheck {
  const alerts = isRecord(body) ? body['alerts'] : undefined;
  if (Array.isArray(alerts) && alerts.length > MAX_ALERTS_PER_NOTIFICATION) {
    return {
      success: false,
      reason: `too many alerts: ${alerts.length} in one notification, at most ${MAX_ALERTS_PER_NOTIFICATION} (group by alertname, env, instance_type or set max_alerts on the receiver)`,
    };
  }
  const checked = checkedPayload(body, times);
  return checked === undefined ? parseWithZod(body) : { success: true, data: checked };
}

/** parseWithZod is the schema's verdict, stopping at the first invalid alert (the count of alerts already checked). */
export function parseWithZod(body: unknown): PayloadCheck {
  const envelope = WebhookEnvelopeSchema.safeParse(body);
  if (!envelope.success) return { success: false, reason: firstIssue(envelope.error, []) };
  const parsed: WebhookAlert[] = [];
  for (const [i, raw] of envelope.data.alerts.entries()) {
    const one = WebhookAlertSchema.safeParse(raw);
    if (!one.success) return { success: false, reason: firstIssue(one.error, ['alerts', i]) };
    parsed.push(one.data);
  }
  return { success: true, data: { ...envelope.data, alerts: parsed } };
}
