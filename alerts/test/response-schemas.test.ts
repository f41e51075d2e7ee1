import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  alertHistoryResponseSchema,
  alertmanagerIntakeResponseSchema,
  alertRulesResponseSchema,
  alertsResponseSchema,
  apiErrorBodySchema,
  apiRoutes,
  healthResponseSchema,
  listenApi,
  redisKeys,
  RedisServer,
  routeTestResponseSchema,
  ruleScoresResponseSchema,
  silenceExpiredResponseSchema,
  silenceResponseSchema,
  silencesResponseSchema,
  silentLogger,
  TokenSet,
} from '@sloth/core';
import { createAlertsApi, Delivery, NotificationLog, Silences } from '../src/index.js';
import { rig, T0, type Rig } from './helpers.js';

const token = 'alerts-schema-token-0123';
const keys = redisKeys(`rs${process.pid}`);
const alertsYaml = `evaluation_interval: 15s
rules:
  - name: HighCpu
    type: threshold
    metric: system.cpu.utilization
    op: '>'
    threshold: 0.9
    for: 0s
    severity: critical
    summary: "CPU on {{ $labels.agent }}"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: team
`;

let dir: string;
let redisServer: RedisServer;
let redis: Redis;
let r: Rig;
let app: FastifyInstance;
let url: string;

/** Calls the alerts API over real HTTP; the body must be accepted by the client's zod schema for that route. */
async function call<S extends z.ZodType>(method: string, path: string, schema: S, expectedStatus = 200, body?: unknown): Promise<{ raw: Record<string, unknown>; parsed: z.infer<S> }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const raw = (await response.json()) as Record<string, unknown>;
  expect(response.status, `${method} ${path}: ${JSON.stringify(raw)}`).toBe(expectedStatus);
  return { raw, parsed: schema.parse(raw) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-schemas-'));
  redisServer = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  redis = new Redis(redisServer.url);
  const silences = new Silences({ redis, keys });
  const log = new NotificationLog({ redis, keys });
  r = rig(alertsYaml, { silences, log });
  // One alert fires and is notified, so alerts and history have something to carry.
  r.values.set('system.cpu.utilization', 'web-1', 0.95, T0 + 15_000);
  await r.step(15_000);
  await r.step(15_000);
  // A dead letter as Delivery writes it when every retry failed (the list it reads).
  await redis.lpush(keys.key('alerts', 'dead-letter'), JSON.stringify({ atMillis: T0, receiver: 'team', integration: 'webhook', groupKey: 'g', attempts: 3, reason: 'HTTP 500', firing: ['HighCpu'], resolved: [] }));
  app = createAlertsApi({ engine: r.engine, silences, log, delivery: new Delivery({ redis, keys }), tokens: new TokenSet([{ token, name: 'ops' }]), logger: silentLogger(), clock: () => r.clock.now });
  url = (await listenApi(app, { port: 0, host: '127.0.0.1' })).url;
});

afterAll(async () => {
  await app?.close();
  redis?.disconnect();
  redisServer?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('alerts API response schemas', () => {
  it('declares a response schema on every JSON route', () => {
    const routes = apiRoutes(app);
    expect(routes.filter((route) => route.response === 'missing').map((route) => `${route.method} ${route.url}`)).toEqual([]);
    expect(routes.filter((route) => route.response === 'json').map((route) => `${route.method} ${route.url}`).sort()).toEqual([
      'DELETE /api/v1/silences/:id',
      'GET /api/v1/alerts',
      'GET /api/v1/history',
      'GET /api/v1/rules',
      'GET /api/v1/score',
      'GET /api/v1/silences',
      'GET /healthz',
      'POST /api/v1/intake/alertmanager',
      'POST /api/v1/routes/test',
      'POST /api/v1/silences',
    ]);
  });

  it('answers every route with a body the client schema accepts, nothing dropped', async () => {
    expect((await call('GET', '/healthz', healthResponseSchema)).parsed.status).toBe('ok');
    const alerts = await call('GET', '/api/v1/alerts', alertsResponseSchema);
    expect(alerts.raw).toEqual(JSON.parse(JSON.stringify({ alerts: r.engine.list(r.clock.now) })));
    expect(alerts.parsed.alerts.map((a) => [a.labels.alertname, a.state, a.annotations.summary])).toEqual([['HighCpu', 'firing', 'CPU on web-1']]);
    const rules = await call('GET', '/api/v1/rules', alertRulesResponseSchema);
    expect(rules.parsed).toMatchObject({ rules: [{ name: 'HighCpu', type: 'threshold', severity: 'critical' }], receivers: ['team'], reloads: 0, lastReloadError: null });
    expect((await call('GET', '/api/v1/score', ruleScoresResponseSchema)).parsed.rules).toEqual([]);

    const created = await call('POST', '/api/v1/silences', silenceResponseSchema, 201, { matchers: ['agent="web-1"'], duration: '2h', comment: 'deploy' });
    expect(created.parsed.silence).toMatchObject({ matchers: ['agent="web-1"'], createdBy: 'ops', comment: 'deploy', state: 'active', endsAtMillis: r.clock.now + 7_200_000 });
    const listed = await call('GET', '/api/v1/silences', silencesResponseSchema);
    expect(listed.parsed.silences.map((s) => s.id)).toEqual([created.parsed.silence.id]);
    const tested = await call('POST', '/api/v1/routes/test', routeTestResponseSchema, 200, { labels: { alertname: 'HighCpu', agent: 'web-1' } });
    expect(tested.parsed).toMatchObject({ at: r.clock.now, silencedBy: created.parsed.silence.id, routes: [{ receiver: 'team', groupBy: ['alertname'], groupWaitMillis: 0 }] });
    expect((await call('DELETE', `/api/v1/silences/${created.parsed.silence.id}`, silenceExpiredResponseSchema)).parsed).toEqual({ expired: created.parsed.silence.id });

    const history = await call('GET', '/api/v1/history', alertHistoryResponseSchema);
    expect(history.parsed.notifications.map((n) => [n.receiver, n.firing])).toEqual([['team', [expect.stringContaining('HighCpu')]]]);
    expect(history.parsed.deadLetters).toEqual([{ atMillis: T0, receiver: 'team', integration: 'webhook', groupKey: 'g', attempts: 3, reason: 'HTTP 500', firing: ['HighCpu'], resolved: [] }]);

    const intake = await call('POST', '/api/v1/intake/alertmanager', alertmanagerIntakeResponseSchema, 200, {
      version: '4',
      status: 'firing',
      alerts: [{ status: 'firing', labels: { alertname: 'DiskFull', agent: 'db-1' }, startsAt: new Date(r.clock.now).toISOString() }],
    });
    expect(intake.parsed.accepted).toEqual({ firing: 1, resolved: 0 });
  });

  it('answers errors with the one error body', async () => {
    const missing = await call('DELETE', '/api/v1/silences/nope', apiErrorBodySchema, 404);
    expect(missing.parsed.code).toBe('SLOTH_ERR_NOT_FOUND');
    const bad = await call('POST', '/api/v1/silences', apiErrorBodySchema, 400, { matchers: 'agent=web-1' });
    expect(bad.parsed.code).toBe('SLOTH_ERR_BAD_REQUEST');
  });
});
