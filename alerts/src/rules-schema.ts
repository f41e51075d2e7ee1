import { z } from 'zod';
import { defaultAlertMinScore } from '@sloth/core/live-calibration';

/**
 * The alerts file (`alerts.yaml`): rules, the route tree, inhibition, time
 * intervals and receivers, in Alertmanager's snake_case vocabulary so an
 * Alertmanager user recognises every key.
 */

const duration = z.union([z.string(), z.number().nonnegative()]);
const comparison = z.enum(['>', '>=', '<', '<=']);
const labelMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'label names are letters, digits and "_"'), z.string());

const ruleCommon = {
  /** The alert name (`alertname` label). */
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_:]*$/, 'rule names are letters, digits, "_" and ":" (they become the alertname label)'),
  labels: labelMap.default({}),
  severity: z.enum(['critical', 'warning', 'info']).default('warning'),
  summary: z.string().optional(),
  description: z.string().optional(),
  runbook_url: z.string().url().optional(),
  for: duration.default(0),
  keep_firing_for: duration.default(0),
  /** What to do when the source has no data for the rule. */
  no_data: z.enum(['nodata', 'alerting', 'ok', 'keep_state']).default('nodata'),
  /** What to do when the source cannot be read (collector down, bad answer). */
  on_error: z.enum(['error', 'alerting', 'ok', 'keep_state']).default('error'),
  /** Flap detection; `false` turns it off. */
  flapping: z.union([z.literal(false), z.strictObject({ changes: z.number().int().min(2).default(4), window: z.number().int().min(4).max(30).default(20) })]).default({ changes: 4, window: 20 }),
  /** Metric name as Prometheus exposes it, for `sloth alerts export --prometheus`. */
  prometheus_metric: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/).optional(),
};

const seriesSelector = {
  metric: z.string().min(1),
  /** Agent id, `*` wildcards allowed. */
  agent: z.string().min(1).optional(),
  /** Series label matchers (`device="sda"`, `mountpoint=~"/|/var"`). */
  matchers: z.array(z.string()).default([]),
};

export const thresholdRuleSchema = z.strictObject({
  ...ruleCommon,
  ...seriesSelector,
  type: z.literal('threshold'),
  op: comparison,
  threshold: z.number(),
  /** Hysteresis: once firing, the alert resolves only when the value is back across this level. */
  recover: z.number().optional(),
  /** A point older than this is no data. */
  stale_after: duration.default('5m'),
});

export const anomalyRuleSchema = z.strictObject({
  ...ruleCommon,
  type: z.literal('anomaly'),
  /** Metric name, `*` wildcards allowed. */
  metric: z.string().min(1).default('*'),
  agent: z.string().min(1).optional(),
  min_score: z.number().min(0).max(1).default(defaultAlertMinScore),
  direction: z.enum(['above', 'below', 'any']).default('any'),
  /** The incident must have lasted this long. */
  min_duration: duration.default(0),
  /** Incidents without a `resolved` transition (older analytics) end after this long without a new anomaly. */
  resolve_after: duration.default('5m'),
  /** Analytics counts as quiet (no data) when neither anomalies nor forecasts arrived for this long. */
  quiet_after: duration.default('30m'),
});

export const forecastRuleSchema = z.strictObject({
  ...ruleCommon,
  ...seriesSelector,
  type: z.literal('forecast'),
  op: comparison,
  threshold: z.number(),
  /** The forecast must cross `threshold` within this horizon. */
  within: duration,
  quantile: z.enum(['p10', 'p50', 'p90']).default('p50'),
  /** Current-level guard (as node-mixin's filesystem rules): the latest value must also satisfy this. */
  guard: z.strictObject({ op: comparison, threshold: z.number() }).optional(),
  /** A forecast older than this is no data. */
  stale_after: duration.default('30m'),
});

export const absenceRuleSchema = z.strictObject({
  ...ruleCommon,
  type: z.literal('absence'),
  /** Fires per agent the collector reported down (`agent_down` on `sloth:events`). */
  agent_down: z.boolean().default(false),
  metric: z.string().min(1).optional(),
  agent: z.string().min(1).optional(),
  matchers: z.array(z.string()).default([]),
  /** A series is silent when its newest point is older than this. */
  silent_for: duration.default('5m'),
});

export const ruleSchema = z.discriminatedUnion('type', [thresholdRuleSchema, anomalyRuleSchema, forecastRuleSchema, absenceRuleSchema]);
export type RuleSpec = z.infer<typeof ruleSchema>;

export interface RouteSpec {
  receiver?: string | undefined;
  matchers?: string[] | undefined;
  group_by?: string[] | undefined;
  group_wait?: string | number | undefined;
  group_interval?: string | number | undefined;
  repeat_interval?: string | number | undefined;
  continue?: boolean | undefined;
  mute_time_intervals?: string[] | undefined;
  active_time_intervals?: string[] | undefined;
  routes?: RouteSpec[] | undefined;
}

export const routeSchema: z.ZodType<RouteSpec> = z.lazy(() =>
  z.strictObject({
    receiver: z.string().optional(),
    matchers: z.array(z.string()).optional(),
    group_by: z.array(z.string()).optional(),
    group_wait: duration.optional(),
    group_interval: duration.optional(),
    repeat_interval: duration.optional(),
    continue: z.boolean().optional(),
    mute_time_intervals: z.array(z.string()).optional(),
    active_time_intervals: z.array(z.string()).optional(),
    routes: z.array(routeSchema).optional(),
  }),
);

const range = z.union([z.string(), z.number().int()]);
export const timeIntervalSchema = z.strictObject({
  name: z.string().min(1),
  time_intervals: z.array(
    z.strictObject({
      times: z.array(z.strictObject({ start_time: z.string(), end_time: z.string() })).optional(),
      weekdays: z.array(z.string()).optional(),
      days_of_month: z.array(range).optional(),
      months: z.array(range).optional(),
      years: z.array(range).optional(),
      /** IANA time zone. @defaultValue UTC */
      location: z.string().optional(),
    }),
  ),
});
export type TimeIntervalSpec = z.infer<typeof timeIntervalSchema>;

const retry = {
  /** Attempts before the dead letter. @defaultValue 5 */
  max_attempts: z.number().int().min(1).max(20).optional(),
};

/**
 * One secret given inline or as `<key>_file` (a path, read at every load): exactly one of the two. The issue
 * names both keys; it sits on the inline key, so the problem never shows a value (receiver values are secrets).
 */
function oneOf(ctx: z.RefinementCtx, spec: Record<string, unknown>, key: string, required: boolean, what = ''): void {
  const inline = spec[key] !== undefined;
  const file = spec[`${key}_file`] !== undefined;
  if (inline && file) ctx.addIssue({ code: 'custom', path: [key], message: `give ${key} or ${key}_file, not both` });
  else if (required && !inline && !file) ctx.addIssue({ code: 'custom', path: [key], message: `set ${key}${what} or ${key}_file (a file holding it)` });
}

/** A path to a file holding a secret (`webhook_url_file`…); relative to the alerts file's directory. */
const secretFile = z.string().min(1);

export const slackSchema = z
  .strictObject({
    /** Incoming-webhook mode. */
    webhook_url: z.string().url().optional(),
    /** A file holding the webhook URL (instead of `webhook_url`). */
    webhook_url_file: secretFile.optional(),
    /** Bot-token mode (`chat.postMessage` / `chat.update`). */
    bot_token: z.string().min(8).optional(),
    /** A file holding the bot token (instead of `bot_token`). */
    bot_token_file: secretFile.optional(),
    channel: z.string().min(1).optional(),
    /** On resolve in bot mode: edit the original message, or reply in its thread. */
    on_resolve: z.enum(['update', 'thread']).default('update'),
    /** Slack Web API base. @defaultValue https://slack.com/api */
    api_url: z.string().url().default('https://slack.com/api'),
    send_resolved: z.boolean().default(true),
    ...retry,
  })
  .superRefine((s, ctx) => {
    oneOf(ctx, s, 'webhook_url', false);
    oneOf(ctx, s, 'bot_token', false);
    const webhook = s.webhook_url !== undefined || s.webhook_url_file !== undefined;
    const bot = s.bot_token !== undefined || s.bot_token_file !== undefined;
    if (webhook === bot) ctx.addIssue({ code: 'custom', message: 'set exactly one of webhook_url or webhook_url_file (incoming webhook), or bot_token or bot_token_file (with channel)' });
    if (bot && s.channel === undefined) ctx.addIssue({ code: 'custom', message: 'bot_token needs a channel' });
  });

export const webhookSchema = z
  .strictObject({
    url: z.string().url().optional(),
    /** A file holding the URL (instead of `url`). */
    url_file: secretFile.optional(),
    /** Standard Webhooks secrets (`whsec_<base64>`); list two while rotating. */
    secrets: z.array(z.string().min(8)).min(1).max(2).optional(),
    /** A file holding the secrets, one per line (two while rotating), instead of `secrets`. */
    secrets_file: secretFile.optional(),
    send_resolved: z.boolean().default(true),
    ...retry,
  })
  .superRefine((w, ctx) => {
    oneOf(ctx, w, 'url', true);
    oneOf(ctx, w, 'secrets', true, ' (one or two signing secrets)');
  });

/** What a secret read from a `_file` must be, as its inline key requires (checked without showing it). */
export const secretValueSchemas = {
  webhook_url: z.string().url(),
  bot_token: z.string().min(8),
  url: z.string().url(),
  secret: z.string().min(8),
} as const;

export const remediationReceiverSchema = z.strictObject({
  /** Overrides the alert name the playbook triggers match (`{ alert = { name = … } }`). */
  alert_name: z.string().optional(),
});

export const receiverSchema = z.strictObject({
  name: z.string().min(1),
  slack: z.array(slackSchema).optional(),
  webhook: z.array(webhookSchema).optional(),
  remediation: remediationReceiverSchema.optional(),
});
/** A receiver as written in the alerts file: each secret inline or as a `_file` path. */
export type ReceiverFileSpec = z.infer<typeof receiverSchema>;
type SlackFileSpec = z.infer<typeof slackSchema>;
type WebhookFileSpec = z.infer<typeof webhookSchema>;
/** A Slack integration with its secret read: `webhook_url` or `bot_token` holds it, whichever way it was given. */
export type SlackSpec = Omit<SlackFileSpec, 'webhook_url_file' | 'bot_token_file'>;
/** A webhook integration with its URL and secrets read. */
export type WebhookSpec = Omit<WebhookFileSpec, 'url' | 'url_file' | 'secrets' | 'secrets_file'> & { url: string; secrets: string[] };
/** A receiver as the engine uses it: every secret read (from the file or inline), no `_file` keys left. */
export type ReceiverSpec = Omit<ReceiverFileSpec, 'slack' | 'webhook'> & { slack?: SlackSpec[] | undefined; webhook?: WebhookSpec[] | undefined };

export const inhibitRuleSchema = z.strictObject({
  source_matchers: z.array(z.string()).min(1),
  target_matchers: z.array(z.string()).min(1),
  equal: z.array(z.string()).default([]),
});

export const alertsFileSchema = z.strictObject({
  evaluation_interval: duration.default('15s'),
  /** Resolved alerts stay listed (and routable) this long. */
  resolved_retention: duration.default('15m'),
  /** Send resolved notifications also for alerts that were silenced or inhibited when they resolved. */
  send_resolved_for_muted: z.boolean().default(false),
  /** Link targets in notifications; `{{ $labels.agent }}` etc. are filled in. */
  links: z.strictObject({ dashboard: z.string().optional(), silence: z.string().optional() }).default({}),
  rules: z.array(ruleSchema).default([]),
  route: routeSchema.default({ receiver: 'default' }),
  inhibit_rules: z.array(inhibitRuleSchema).default([]),
  time_intervals: z.array(timeIntervalSchema).default([]),
  receivers: z.array(receiverSchema).default([{ name: 'default' }]),
});
export type AlertsFileSpec = z.infer<typeof alertsFileSchema>;
