import {
  alertHistoryResponseSchema,
  alertmanagerIntakeResponseSchema,
  alertRulesResponseSchema,
  alertsResponseSchema,
  createApi,
  healthResponseSchema,
  HttpError,
  InputError,
  jsonResponses,
  routeTestResponseSchema,
  ruleScoresResponseSchema,
  silenceExpiredResponseSchema,
  silenceResponseSchema,
  silencesResponseSchema,
  type Logger,
  type TokenSet,
} from '@sloth/core';
import { parseDurationMillis } from './duration.js';
import type { Delivery } from './delivery.js';
import type { AlertsEngine } from './engine.js';
import { AlertmanagerIntake } from './intake.js';
import type { NotificationLog } from './notification-log.js';
import { testRoutes } from './route-test.js';
import type { RulesWatcher } from './rules-watcher.js';
import { Silences } from './silences.js';

export interface AlertsApiOptions {
  engine: AlertsEngine;
  silences: Silences;
  log: NotificationLog;
  delivery: Delivery;
  watcher?: RulesWatcher | undefined;
  tokens: TokenSet;
  logger: Logger;
  clock: () => number;
}

/** A time given as Unix milliseconds, ISO 8601, or a duration from now (`2h`). */
function parseTime(value: unknown, what: string, nowMillis: number): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    if (/^\d{12,}$/.test(value)) return Number(value);
    const date = Date.parse(value);
    if (!Number.isNaN(date)) return date;
    try {
      return nowMillis + parseDurationMillis(value, what);
    } catch {
      // fall through to the error below
    }
  }
  throw new InputError(`${what} ${JSON.stringify(value)} is not a time: give Unix milliseconds, ISO 8601 or a duration from now such as 2h`, { value });
}

/**
 * The alerts role's HTTP API on its own port: alerts, silences (author from
 * the token), history, route tests and the Alertmanager-compatible intake.
 */
export function createAlertsApi(options: AlertsApiOptions): ReturnType<typeof createApi> {
  const { engine, silences, clock } = options;
  const app = createApi({ name: 'alerts', tokens: options.tokens, logger: options.logger });

  app.get('/healthz', { config: { auth: 'public' }, schema: { response: jsonResponses(healthResponseSchema) } }, async () => ({ status: 'ok' }));

  app.get('/api/v1/alerts', { schema: { response: jsonResponses(alertsResponseSchema) } }, async () => ({ alerts: engine.list(clock()) }));

  app.get('/api/v1/rules', { schema: { response: jsonResponses(alertRulesResponseSchema) } }, async () => {
    const file = engine.alertsFile;
    return {
      path: file.path,
      rules: file.rules.map((r) => ({ name: r.name, type: r.spec.type, severity: r.spec.severity })),
      receivers: [...file.receivers.keys()],
      reloads: options.watcher?.reloads ?? 0,
      lastReloadError: options.watcher?.lastError ?? null,
    };
  });

  app.get('/api/v1/score', { schema: { response: jsonResponses(ruleScoresResponseSchema) } }, async () => ({ rules: engine.grader.scores() }));

  app.get('/api/v1/silences', { schema: { response: jsonResponses(silencesResponseSchema) } }, async () => {
    const now = clock();
    await silences.refresh(now);
    return { silences: silences.list().map((s) => ({ ...s, state: Silences.state(s, now) })) };
  });

  app.post('/api/v1/silences', { schema: { response: jsonResponses({ 201: silenceResponseSchema }) } }, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const now = clock();
    const matchers = body.matchers;
    if (!Array.isArray(matchers) || !matchers.every((m) => typeof m === 'string')) {
      throw new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', 'body.matchers must be a list of matcher strings such as ["alertname=\\"HighCpu\\"", "agent=~\\"web-.*\\""]');
    }
    const startsAtMillis = parseTime(body.startsAt, 'startsAt', now);
    let endsAtMillis = parseTime(body.endsAt, 'endsAt', now);
    if (endsAtMillis === undefined && typeof body.duration === 'string') endsAtMillis = (startsAtMillis ?? now) + parseDurationMillis(body.duration, 'duration');
    if (endsAtMillis === undefined) throw new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', 'give the silence an end: "duration" (e.g. "2h") or "endsAt"');
    const silence = await silences.add(
      { matchers, startsAtMillis, endsAtMillis, createdBy: request.principal?.name ?? 'anonymous', comment: typeof body.comment === 'string' ? body.comment : '' },
      now,
    );
    return reply.code(201).send({ silence: { ...silence, state: Silences.state(silence, now) } });
  });

  app.delete('/api/v1/silences/:id', { schema: { response: jsonResponses(silenceExpiredResponseSchema) } }, async (request) => {
    const { id } = request.params as { id: string };
    if (!(await silences.expire(id, clock()))) throw new HttpError(404, 'SLOTH_ERR_NOT_FOUND', `no active silence has id ${JSON.stringify(id)}; list them with sloth alerts silence --list`);
    return { expired: id };
  });

  app.get('/api/v1/history', { schema: { response: jsonResponses(alertHistoryResponseSchema) } }, async (request) => {
    const query = request.query as { limit?: string };
    const limit = Math.min(1000, Math.max(1, Number(query.limit ?? 50) || 50));
    return { notifications: await options.log.history(limit), deadLetters: await options.delivery.deadLetters(limit) };
  });

  app.post('/api/v1/routes/test', { schema: { response: jsonResponses(routeTestResponseSchema) } }, async (request) => {
    const body = (request.body ?? {}) as { labels?: unknown; at?: unknown };
    const labels = body.labels;
    if (labels === null || typeof labels !== 'object' || Array.isArray(labels) || !Object.values(labels).every((v) => typeof v === 'string')) {
      throw new HttpError(400, 'SLOTH_ERR_BAD_REQUEST', 'body.labels must be an object of string label values, e.g. {"alertname":"HighCpu","severity":"critical"}');
    }
    const now = clock();
    const at = parseTime(body.at, 'at', now) ?? now;
    return { at, routes: testRoutes(engine.alertsFile, labels as Record<string, string>, at), silencedBy: silences.mutedBy(labels as Record<string, string>, at) ?? null };
  });

  // Alertmanager's webhook_configs POST here (with http_config.authorization carrying a Sloth token).
  app.post('/api/v1/intake/alertmanager', { schema: { response: jsonResponses(alertmanagerIntakeResponseSchema) } }, async (request) => {
    const payload = AlertmanagerIntake.parse(request.body);
    return { accepted: engine.ingestAlertmanager(payload, clock()) };
  });

  return app;
}
