import { z } from 'zod';

/**
 * Response schemas of the alerts API (docs/alerts.md). Loose objects, as the
 * query API's: named fields are what readers rely on; the server's JSON
 * schema is generated from these and passes other fields through.
 */

const labels = z.record(z.string(), z.string());

export const alertViewSchema = z.looseObject({
  fingerprint: z.string().optional(),
  labels,
  annotations: labels,
  state: z.enum(['pending', 'firing', 'resolved']),
  silencedBy: z.string().optional(),
  inhibitedBy: z.string().optional(),
  flapping: z.boolean(),
  startsAtMillis: z.number(),
  endsAtMillis: z.number().optional(),
  value: z.number().optional(),
  source: z.enum(['rule', 'alertmanager']),
});
export type AlertViewRecord = z.infer<typeof alertViewSchema>;
export const alertsResponseSchema = z.looseObject({ alerts: z.array(alertViewSchema) });

export const alertRulesResponseSchema = z.looseObject({
  path: z.string(),
  rules: z.array(z.looseObject({ name: z.string(), type: z.string(), severity: z.string().optional() })),
  receivers: z.array(z.string()),
  reloads: z.number(),
  lastReloadError: z.string().nullable(),
});

export const ruleScoresResponseSchema = z.looseObject({
  rules: z.array(
    z.looseObject({
      rule: z.string(),
      predictions: z.number(),
      hits: z.number(),
      precision: z.number().nullable(),
      medianLeadMillis: z.number().nullable(),
      pending: z.number(),
    }),
  ),
});

export const silenceSchema = z.looseObject({
  id: z.string(),
  matchers: z.array(z.string()),
  startsAtMillis: z.number(),
  endsAtMillis: z.number(),
  createdBy: z.string(),
  comment: z.string(),
  createdAtMillis: z.number(),
  state: z.enum(['pending', 'active', 'expired']),
});
export type SilenceRecord = z.infer<typeof silenceSchema>;
export const silencesResponseSchema = z.looseObject({ silences: z.array(silenceSchema) });
export const silenceResponseSchema = z.looseObject({ silence: silenceSchema });
export const silenceExpiredResponseSchema = z.looseObject({ expired: z.string() });

export const alertHistoryResponseSchema = z.looseObject({
  notifications: z.array(z.looseObject({ atMillis: z.number(), receiver: z.string(), groupKey: z.string() })),
  deadLetters: z.array(z.looseObject({ atMillis: z.number(), receiver: z.string(), integration: z.string(), attempts: z.number(), reason: z.string() })),
});

export const routeTestResponseSchema = z.looseObject({
  at: z.number(),
  routes: z.array(
    z.looseObject({
      receiver: z.string(),
      route: z.string(),
      groupBy: z.array(z.string()),
      groupLabels: labels,
      groupWaitMillis: z.number(),
      groupIntervalMillis: z.number(),
      repeatIntervalMillis: z.number(),
      mutedBy: z.string().optional(),
    }),
  ),
  silencedBy: z.string().nullable(),
});

export const alertmanagerIntakeResponseSchema = z.looseObject({ accepted: z.looseObject({ firing: z.number(), resolved: z.number() }) });
