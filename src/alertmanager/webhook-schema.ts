/**
 * webhook-schema: the Alertmanager webhook payload, version "4" (Alertmanager's `notify/webhook` Message),
 * validated with zod at the edge. Unknown extra keys are tolerated (Alertmanager may add fields); known keys
 * must have the documented types.
 */
import { z } from 'zod';

/** KeyValueSchema is a label or annotation set: string to string. */
const KeyValueSchema = z.record(z.string(), z.string());

/** TimestampSchema is an RFC 3339 time; Alertmanager sends `0001-01-01T00:00:00Z` for "not set". */
const TimestampSchema = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an RFC 3339 timestamp');

/** WebhookAlertSchema is one alert of a notification. */
export const WebhookAlertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: KeyValueSchema,
  annotations: KeyValueSchema.default({}),
  startsAt: TimestampSchema,
  endsAt: TimestampSchema.optional(),
  generatorURL: z.string().default(''),
  fingerprint: z.string().min(1, 'fingerprint must not be empty'),
});

/** WebhookAlert is one parsed alert. */
export type WebhookAlert = z.output<typeof WebhookAlertSchema>;

/** WebhookPayloadSchema is one webhook notification (the current state of one alert group). */
export const WebhookPayloadSchema = z.object({
  version: z.literal('4', { error: 'expected webhook payload version "4"' }),
  groupKey: z.string(),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: KeyValueSchema.default({}),
  commonLabels: KeyValueSchema.default({}),
  commonAnnotations: KeyValueSchema.default({}),
  externalURL: z.string().default(''),
  alerts: z.array(WebhookAlertSchema),
});

/** WebhookPayload is one parsed notification. */
export type WebhookPayload = z.output<typeof WebhookPayloadSchema>;
