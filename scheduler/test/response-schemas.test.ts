import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  apiErrorBodySchema,
  drainedAgentsResponseSchema,
  drainResponseSchema,
  healthResponseSchema,
  placementDecisionSchema,
  remediationRecordSchema,
  remediationsResponseSchema,
  scalingDecisionsResponseSchema,
  scalingTargetsResponseSchema,
  taskRecordSchema,
  tasksResponseSchema,
} from '@sloth/core';
import { createServer } from 'node:http';
import { RemediationClient, TaskClient, type Scheduler } from '../src/index.js';
import { CollectorDouble } from './collector-double.js';
import { anomaly, cpuAnomaly, eventually, startRedis, startScheduler, testPlaybook, xaddJson, type Harness } from './helpers.js';

let h: Harness;
let scheduler: Scheduler;
const collector = new CollectorDouble();
const token = 'schema-admin-token';

beforeAll(async () => {
  h = await startRedis();
  await collector.start();
  collector.set({ id: 'a1', cpuCores: 2, memoryMb: 2048, cpu: 0.1, memory: 0.1 });
  scheduler = await startScheduler(h, [testPlaybook('drain', cpuAnomaly, { requiresApproval: true }), testPlaybook('backup', () => false)], {
    insecureNoAuth: false,
    tokens: [{ token, name: 'ops' }],
    tasks: { collectorUrl: collector.url, defaultStrategy: 'spread' },
    scaling: [{ name: 'web', demandSeries: 'http.server.requests{agent="a1"}', capacityPerReplica: 10, minReplicas: 1, maxReplicas: 4, startupSeconds: 60 }],
  });
});
afterAll(async () => {
  await scheduler.shutdown();
  await collector.stop();
  await h.cleanup();
});

/** Calls the scheduler over real HTTP; the body must be accepted by the client's zod schema for that route. */
async function call<S extends z.ZodType>(method: string, path: string, schema: S, expectedStatus = 200, body?: unknown): Promise<{ raw: Record<string, unknown>; parsed: z.infer<S> }> {
  const response = await fetch(`http://127.0.0.1:${scheduler.listening.port}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const raw = (await response.json()) as Record<string, unknown>;
  expect(response.status, `${method} ${path}: ${JSON.stringify(raw)}`).toBe(expectedStatus);
  return { raw, parsed: schema.parse(raw) };
}

describe('scheduler response schemas', () => {
  it('declares a response schema on every JSON route', () => {
    const routes = scheduler.routes;
    expect(routes.filter((r) => r.response === 'missing').map((r) => `${r.method} ${r.url}`)).toEqual([]);
    const json = routes.filter((r) => r.response === 'json').map((r) => `${r.method} ${r.url}`).sort();
    expect(json).toEqual([
      'GET /api/v1/agents/drained',
      'GET /api/v1/remediations',
      'GET /api/v1/remediations/:id',
      'GET /api/v1/scaling',
      'GET /api/v1/scaling/:name/decisions',
      'GET /api/v1/tasks',
      'GET /api/v1/tasks/:id',
      'GET /healthz',
      'POST /api/v1/agents/:id/drain',
      'POST /api/v1/agents/:id/undrain',
      'POST /api/v1/remediations/:id/approve',
      'POST /api/v1/remediations/:id/reject',
      'POST /api/v1/tasks',
      'POST /api/v1/tasks/:id/cancel',
      'POST /api/v1/tasks/plan',
    ]);
    expect(routes.filter((r) => r.response === 'non-json').every((r) => r.method === 'HEAD')).toBe(true);
  });

  it('answers remediation routes with bodies the client schemas accept, nothing dropped', async () => {
    expect((await call('GET', '/healthz', healthResponseSchema)).parsed.status).toBe('ok');
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-2'));
    const pending = await eventually(() => {
      const list = scheduler.auditStore.list({ state: 'pending_approval' });
      return list.length === 2 ? list : undefined;
    });
    const listed = await call('GET', '/api/v1/remediations?state=pending_approval', remediationsResponseSchema);
    expect(listed.parsed.remediations.map((r) => r.id).sort()).toEqual(pending.map((r) => r.id).sort());
    const first = pending[0]!;
    const shown = await call('GET', `/api/v1/remediations/${first.id}`, remediationRecordSchema);
    // Every field of the stored record reaches the client, not only those the schema names.
    expect(shown.raw).toEqual(JSON.parse(JSON.stringify(scheduler.auditStore.get(first.id))));
    expect(Object.keys(shown.raw)).toContain('trigger');
    const approved = await call('POST', `/api/v1/remediations/${first.id}/approve`, remediationRecordSchema);
    expect(approved.parsed).toMatchObject({ approvedBy: 'ops' });
    const rejected = await call('POST', `/api/v1/remediations/${pending[1]!.id}/reject`, remediationRecordSchema, 200, { reason: 'freeze' });
    expect(rejected.parsed).toMatchObject({ state: 'rejected', rejectedBy: 'ops', reason: 'freeze' });
    const conflict = await call('POST', `/api/v1/remediations/${pending[1]!.id}/approve`, apiErrorBodySchema, 409);
    expect(conflict.raw).toMatchObject({ code: 'SLOTH_ERR_CONFLICT', details: { id: pending[1]!.id, state: 'rejected' } });
  });

  it('answers task, drain and scaling routes with bodies the client schemas accept', async () => {
    const spec = { playbook: 'backup', resources: { cpuCores: 1, memoryMb: 100 } };
    const plan = await call('POST', '/api/v1/tasks/plan', placementDecisionSchema, 200, spec);
    expect(plan.parsed).toMatchObject({ agentId: 'a1', strategy: 'spread', evaluated: 1 });
    expect(plan.raw).toHaveProperty('filtered');
    expect(plan.raw).toHaveProperty('exhausted');
    const created = await call('POST', '/api/v1/tasks', taskRecordSchema, 201, spec);
    expect(created.parsed.spec).toMatchObject(spec);
    const id = created.parsed.id;
    expect((await call('GET', `/api/v1/tasks/${id}`, taskRecordSchema)).raw).toMatchObject({ id, spec, submittedBy: 'ops', avoidAgents: [] });
    expect((await call('GET', '/api/v1/tasks', tasksResponseSchema)).parsed.tasks.map((t) => t.id)).toEqual([id]);
    const cancelled = await call('POST', `/api/v1/tasks/${id}/cancel`, taskRecordSchema);
    expect(cancelled.parsed.state).toBe('cancelled');
    const invalid = await call('POST', '/api/v1/tasks', apiErrorBodySchema, 400, { ...spec, strategy: 'random' });
    expect(invalid.parsed.code).toBe('SLOTH_ERR_INPUT');
    expect((await call('POST', '/api/v1/agents/a1/drain', drainResponseSchema)).parsed).toMatchObject({ agentId: 'a1', drained: true, message: expect.any(String) });
    expect((await call('GET', '/api/v1/agents/drained', drainedAgentsResponseSchema)).parsed.agents).toEqual(['a1']);
    expect((await call('POST', '/api/v1/agents/a1/undrain', drainResponseSchema)).parsed).toEqual({ agentId: 'a1', drained: false });
    const targets = await call('GET', '/api/v1/scaling', scalingTargetsResponseSchema);
    expect(targets.parsed.targets).toEqual([{ name: 'web', mode: 'forecast-only', demandSeries: 'http.server.requests{agent="a1"}', minReplicas: 1, maxReplicas: 4, lastDecision: null }]);
    expect((await call('GET', '/api/v1/scaling/web/decisions', scalingDecisionsResponseSchema)).parsed.decisions).toBeInstanceOf(Array);
    expect((await call('GET', '/api/v1/scaling/nope/decisions', apiErrorBodySchema, 404)).parsed.code).toBe('SLOTH_ERR_NOT_FOUND');
  });

  it('has the scheduler clients check bodies with the same schemas: a real answer passes, a drifted one is an error naming the field', async () => {
    const baseUrl = `http://127.0.0.1:${scheduler.listening.port}`;
    const tasks = new TaskClient({ baseUrl, token });
    const listed = await tasks.list();
    expect(listed.kind === 'ok' ? listed.value.length : listed).toBe(1);
    const remediations = await new RemediationClient({ baseUrl, token }).list();
    expect(remediations.kind === 'ok' ? remediations.value.length : remediations).toBe(2);
    // A server of another version that answers a task without its state.
    const drifted = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tasks: [{ id: 't1', spec: {}, submittedBy: 'ops' }] }));
    });
    await new Promise<void>((resolve) => drifted.listen(0, '127.0.0.1', resolve));
    try {
      const address = drifted.address() as { port: number };
      const result = await new TaskClient({ baseUrl: `http://127.0.0.1:${address.port}` }).list();
      expect(result).toMatchObject({ kind: 'error', status: 200, code: 'BAD_RESPONSE', message: expect.stringContaining('tasks.0.state') });
    } finally {
      await new Promise<void>((resolve) => drifted.close(() => resolve()));
    }
  });
});
