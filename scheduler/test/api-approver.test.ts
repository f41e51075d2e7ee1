import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Scheduler } from '../src/index.js';
import { anomaly, cpuAnomaly, eventually, startRedis, startScheduler, testPlaybook, xaddJson, type Harness } from './helpers.js';

let h: Harness;
let scheduler: Scheduler | undefined;

beforeEach(async () => {
  h = await startRedis();
});

afterEach(async () => {
  await scheduler?.shutdown();
  scheduler = undefined;
  await h.cleanup();
});

async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const { host, port } = scheduler!.listening;
  const response = await fetch(`http://${host}:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('scheduler API: who decides', () => {
  it('records the token name as approver and rejecter, and refuses a different "by" in the body', async () => {
    scheduler = await startScheduler(h, [testPlaybook('drain', cpuAnomaly, { requiresApproval: true })], {
      insecureNoAuth: false,
      tokens: [{ token: 'alice-token-123', name: 'alice' }, { token: 'bob-token-4567', name: 'bob' }],
    });
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-2'));
    const [first, second] = await eventually(() => {
      const pending = scheduler!.auditStore.list({ state: 'pending_approval' });
      return pending.length === 2 ? pending : undefined;
    });

    const forged = await call('POST', `/api/v1/remediations/${first!.id}/approve`, 'bob-token-4567', { by: 'alice' });
    expect(forged.status).toBe(400);
    expect(forged.json).toMatchObject({ code: 'SLOTH_ERR_BAD_REQUEST', details: { by: 'alice', principal: 'bob' } });
    expect(scheduler.auditStore.get(first!.id)?.state).toBe('pending_approval');

    const approved = await call('POST', `/%61pi/v1/remediations/${first!.id}/approve`, 'bob-token-4567');
    expect(approved.status).toBe(200);
    expect(approved.json).toMatchObject({ state: 'queued', approvedBy: 'bob' });

    const rejected = await call('POST', `/api/v1/remediations/${second!.id}/reject`, 'alice-token-123', { by: 'alice', reason: 'change freeze' });
    expect(rejected.status).toBe(200);
    expect(scheduler.auditStore.get(second!.id)).toMatchObject({ state: 'rejected', reason: 'change freeze' });
    expect(scheduler.auditStore.get(second!.id)?.rejectedBy).toBe('alice');
  });
});
