import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Queue, type Job } from 'bullmq';
import { queueNames, remediationResultsStream, type RemediationJob, type RemediationReport } from '@sloth/core';
import type { Scheduler } from '../src/index.js';
import { anomaly, cpuAnomaly, eventually, slothEvent, startRedis, startScheduler, testPlaybook, xaddJson, type Harness } from './helpers.js';

let h: Harness;
let scheduler: Scheduler | undefined;
const queues: Queue[] = [];

beforeEach(async () => {
  h = await startRedis();
});

afterEach(async () => {
  await scheduler?.shutdown();
  scheduler = undefined;
  await Promise.all(queues.splice(0).map((q) => q.close()));
  await h.cleanup();
});

function agentQueue(agentId: string): Queue {
  const queue = new Queue(queueNames.agent(agentId), { connection: h.redis, prefix: h.prefix });
  queues.push(queue);
  return queue;
}

/** The engine marks a record queued just before it adds the job, so a reader can see `queued` a moment before the job exists. */
function queuedJob(agentId: string, id: string): Promise<Job> {
  return eventually(() => agentQueue(agentId).getJob(id), 10_000, `job ${id} on ${agentId}'s queue`);
}

/** Waits until the agent's queue holds `n` jobs (for the same reason as {@link queuedJob}); fails after 10 s with the count it saw. */
async function queueHolds(agentId: string, n: number): Promise<void> {
  let seen = -1;
  await eventually(async () => ((seen = await agentQueue(agentId).count()) === n ? true : undefined), 10_000, `${n} job(s) on ${agentId}'s queue (last count ${seen})`);
}

async function report(r: Omit<RemediationReport, 'agentId' | 'atMillis'> & { agentId?: string }): Promise<void> {
  await xaddJson(h.redis, remediationResultsStream(scheduler!.keys), { agentId: 'web-1', atMillis: Date.now(), ...r });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const { host, port } = scheduler!.listening;
  const response = await fetch(`http://${host}:${port}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: response.status, json: await response.json() };
}

describe('scheduler: triggers to jobs', () => {
  it('enqueues a remediation job on the affected agent queue when an anomaly matches', async () => {
    scheduler = await startScheduler(h, [testPlaybook('cpu-fix', cpuAnomaly), testPlaybook('never', () => false)]);
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    const record = await eventually(() => scheduler!.auditStore.list({ playbook: 'cpu-fix' }).find((r) => r.state === 'queued'), 10_000, 'queued record');
    expect(record.agentId).toBe('web-1');
    expect(record.playbookVersion).toBe('1.0.0');
    expect(record.triggerKind).toBe('anomaly');
    expect(scheduler.auditStore.list({ playbook: 'never' })).toHaveLength(0);
    const job = await queuedJob('web-1', record.id);
    expect(job?.name).toBe('remediation');
    const data = job?.data as RemediationJob;
    expect(data.remediationId).toBe(record.id);
    expect(data.playbook.name).toBe('cpu-fix');
    expect(data.playbook.source).toContain('cpu-fix');
    expect(data.dryRun).toBe(false);
    expect((data.event as { agentId: string }).agentId).toBe('web-1');
    expect(await agentQueue('web-2').count()).toBe(0);
  });

  it('ignores non-matching and malformed entries and keeps consuming', async () => {
    scheduler = await startScheduler(h, [testPlaybook('cpu-fix', cpuAnomaly)]);
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1', 0.2));
    await h.redis.xadd(scheduler.keys.anomalies, '*', 'data', '{not json');
    await h.redis.xadd(scheduler.keys.events, '*', 'nodata', 'x');
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-3'));
    await eventually(() => scheduler!.auditStore.list({ agentId: 'web-3' })[0], 10_000, 'record for web-3');
    expect(scheduler.auditStore.list()).toHaveLength(1);
    // The record is written before the entry is acknowledged: wait for the acknowledgement, not a fixed moment.
    await eventually(async () => {
      const pending = (await h.redis.xpending(scheduler!.keys.anomalies, 'scheduler')) as [number, ...unknown[]];
      return pending[0] === 0 ? true : undefined;
    }, 10_000, 'every entry acknowledged (none left pending)');
  });

  it('matches events on sloth:events and targets the agent named by the event', async () => {
    const unhealthy = testPlaybook('nginx-restart', (e) => e.kind === 'event' && e.event.type === 'health_check' && e.event.attributes.state === 'unhealthy');
    scheduler = await startScheduler(h, [unhealthy]);
    await xaddJson(h.redis, scheduler.keys.events, slothEvent('health_check', 'db-7', { check: 'nginx', state: 'unhealthy' }));
    const record = await eventually(() => scheduler!.auditStore.list()[0], 10_000, 'record');
    expect(record.agentId).toBe('db-7');
    expect(record.triggerKind).toBe('event');
    await queuedJob('db-7', record.id);
  });

  it('a redelivered trigger maps to the same record and job (idempotency key)', async () => {
    scheduler = await startScheduler(h, [testPlaybook('cpu-fix', cpuAnomaly)]);
    const trigger = { id: 'stream/1-0', event: { kind: 'anomaly' as const, anomaly: anomaly('web-1') }, agentId: 'web-1', triggeredAtMillis: Date.now() };
    await scheduler.handleTrigger(trigger);
    await scheduler.handleTrigger(trigger);
    expect(scheduler.auditStore.list()).toHaveLength(1);
    expect(await agentQueue('web-1').count()).toBe(1);
  });

  it('dry-run: the global flag and the per-playbook list put dryRun on the job', async () => {
    scheduler = await startScheduler(h, [testPlaybook('cpu-fix', cpuAnomaly), testPlaybook('other', cpuAnomaly)], { dryRunPlaybooks: ['other'] });
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    const records = await eventually(() => {
      const list = scheduler!.auditStore.list();
      return list.length === 2 ? list : undefined;
    });
    const byName = new Map(records.map((r) => [r.playbook, r]));
    expect(byName.get('other')?.dryRun).toBe(true);
    expect(byName.get('cpu-fix')?.dryRun).toBe(false);
    const job = await queuedJob('web-1', byName.get('other')!.id);
    expect((job?.data as RemediationJob).dryRun).toBe(true);
  });
});

describe('scheduler: parameters', () => {
  it('configured parameters, overridden by event attributes named like a declared parameter', async () => {
    const restart = testPlaybook('restart-unit', (e) => e.kind === 'event' && e.event.type === 'health_check', { paramNames: ['unit', 'verify'] });
    scheduler = await startScheduler(h, [restart], { playbookParams: { 'restart-unit': { unit: 'nginx', verify: false } }, cooldownSeconds: 0 });
    await xaddJson(h.redis, scheduler.keys.events, slothEvent('health_check', 'web-1', { check: 'nginx', state: 'unhealthy' }));
    await xaddJson(h.redis, scheduler.keys.events, slothEvent('health_check', 'web-2', { check: 'db', state: 'unhealthy', unit: 'postgresql' }));
    const records = await eventually(() => {
      const list = scheduler!.auditStore.list();
      return list.length === 2 ? list : undefined;
    });
    const byAgent = new Map(records.map((r) => [r.agentId, r]));
    expect(byAgent.get('web-1')?.params).toEqual({ unit: 'nginx', verify: false });
    expect(byAgent.get('web-2')?.params).toEqual({ unit: 'postgresql', verify: false });
    const job = await queuedJob('web-2', byAgent.get('web-2')!.id);
    expect((job?.data as RemediationJob).params).toEqual({ unit: 'postgresql', verify: false });
  });

  it('an alert a playbook raised supplies no parameter: the configured ones stand', async () => {
    const clean = testPlaybook('clean-directory', (e) => e.kind === 'event' && e.event.type === 'alert', { paramNames: ['dir', 'max_bytes'] });
    scheduler = await startScheduler(h, [clean], { playbookParams: { 'clean-directory': { dir: '/var/cache/app', max_bytes: 100_000_000 } }, cooldownSeconds: 0 });
    // What the agent writes for metrics.alert("DiskWillFill", { dir = "/srv/important", max_bytes = 0 }) in a playbook.
    await xaddJson(h.redis, scheduler.keys.events, slothEvent('alert', 'web-1', { name: 'DiskWillFill', dir: '/srv/important', max_bytes: 0, source: 'playbook', playbook: 'evil', runId: 'r1' }));
    const [record] = await eventually(() => {
      const list = scheduler!.auditStore.list();
      return list.length === 1 ? list : undefined;
    });
    expect(record?.params).toEqual({ dir: '/var/cache/app', max_bytes: 100_000_000 });
  });
});

describe('scheduler: safety rails', () => {
  it('cooldown: a second trigger for the same playbook and target is recorded as skipped, without a job', async () => {
    scheduler = await startScheduler(h, [testPlaybook('cpu-fix', cpuAnomaly)], { cooldownSeconds: 600 });
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-2'));
    const records = await eventually(() => {
      const list = scheduler!.auditStore.list();
      return list.length === 3 ? list : undefined;
    });
    const web1 = records.filter((r) => r.agentId === 'web-1');
    expect(web1.map((r) => r.state).sort()).toEqual(['queued', 'skipped_cooldown']);
    expect(web1.find((r) => r.state === 'skipped_cooldown')?.reason).toContain('cooldown');
    await queueHolds('web-1', 1);
    await queueHolds('web-2', 1);
  });

  it('concurrency: per-agent and global limits hold remediations waiting until a result frees a slot', async () => {
    const playbooks = ['a', 'b', 'c'].map((n) => testPlaybook(n, cpuAnomaly));
    scheduler = await startScheduler(h, playbooks, { maxConcurrentPerAgent: 1, maxConcurrent: 2 });
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-2'));
    await eventually(() => (scheduler!.auditStore.list().length === 6 ? true : undefined));
    const count = (agent: string, state: string): number => scheduler!.auditStore.list({ agentId: agent }).filter((r) => r.state === state).length;
    expect(count('web-1', 'queued')).toBe(1);
    expect(count('web-1', 'waiting')).toBe(2);
    expect(count('web-2', 'queued')).toBe(1);
    await queueHolds('web-1', 1);
    const first = scheduler.auditStore.list({ agentId: 'web-1', state: 'queued' })[0]!;
    await report({ remediationId: first.id, state: 'running', attempt: 1 });
    await report({ remediationId: first.id, state: 'succeeded', attempt: 1, ok: true, message: 'done', durationMillis: 5 });
    await eventually(() => (scheduler!.auditStore.get(first.id)?.state === 'succeeded' ? true : undefined));
    await eventually(() => (count('web-1', 'queued') === 1 && count('web-1', 'waiting') === 1 ? true : undefined), 10_000, 'next remediation queued');
    await queueHolds('web-1', 2);
  });

  it('records exactly one final result per remediation, whatever reports follow', async () => {
    scheduler = await startScheduler(h, [testPlaybook('cpu-fix', cpuAnomaly)]);
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    const record = await eventually(() => scheduler!.auditStore.list({ state: 'queued' })[0]);
    await report({ remediationId: record.id, state: 'running', attempt: 1 });
    await report({ remediationId: record.id, state: 'running', attempt: 2 });
    await report({ remediationId: record.id, state: 'succeeded', attempt: 2, ok: true, message: 'first', durationMillis: 12 });
    await report({ remediationId: record.id, state: 'failed', attempt: 3, ok: false, message: 'second' });
    await report({ remediationId: record.id, state: 'running', attempt: 3 });
    await eventually(() => (scheduler!.auditStore.get(record.id)?.state === 'succeeded' ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    const events = ((await h.redis.xrange(scheduler.keys.events, '-', '+')) as Array<[string, string[]]>).map(([, f]) => JSON.parse(f[1]!) as { type: string; attributes: Record<string, unknown> });
    expect(events.filter((e) => e.type === 'remediation').map((e) => e.attributes.state)).toEqual(['succeeded']);
    const final = scheduler.auditStore.get(record.id)!;
    expect(final.state).toBe('succeeded');
    expect(final.message).toBe('first');
    expect(final.attempts).toBe(2);
    expect(final.durationMillis).toBe(12);
    expect(final.ok).toBe(true);
  });
});

describe('scheduler: agents that never answer', () => {
  it('fails a remediation without a result after resultTimeoutSeconds, removes its job and frees the slot', async () => {
    scheduler = await startScheduler(h, [testPlaybook('a', cpuAnomaly), testPlaybook('b', cpuAnomaly)], { resultTimeoutSeconds: 0.5, maxConcurrentPerAgent: 1 });
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('gone-1'));
    const records = await eventually(() => {
      const failed = scheduler!.auditStore.list({ state: 'failed' });
      return failed.length === 2 ? failed : undefined;
    }, 15_000, 'both remediations timed out');
    expect(records.every((r) => r.message?.includes('no result from agent gone-1'))).toBe(true);
    expect(await agentQueue('gone-1').count()).toBe(0);
    // A late result changes nothing.
    await report({ remediationId: records[0]!.id, agentId: 'gone-1', state: 'succeeded', attempt: 1, ok: true, message: 'late' });
    await new Promise((r) => setTimeout(r, 500));
    expect(scheduler.auditStore.get(records[0]!.id)?.state).toBe('failed');
  });
});

describe('scheduler: approval gate and API', () => {
  it('holds an approval-gated playbook until approved, then enqueues it', async () => {
    scheduler = await startScheduler(h, [testPlaybook('drain', cpuAnomaly, { requiresApproval: true })]);
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    const record = await eventually(() => scheduler!.auditStore.list({ state: 'pending_approval' })[0]);
    expect(await agentQueue('web-1').count()).toBe(0);
    const listed = await api('GET', '/api/v1/remediations?state=pending_approval');
    expect(listed.status).toBe(200);
    expect(listed.json.remediations.map((r: { id: string }) => r.id)).toEqual([record.id]);
    const approved = await api('POST', `/api/v1/remediations/${record.id}/approve`, { by: 'alice' });
    expect(approved.status).toBe(200);
    expect(approved.json.state).toBe('queued');
    expect(approved.json.approvedBy).toBe('alice');
    expect(await agentQueue('web-1').getJob(record.id)).toBeDefined();
    const announced = (await h.redis.xrange(scheduler.keys.events, '-', '+')) as Array<[string, string[]]>;
    const remediationEvents = announced.map(([, f]) => JSON.parse(f[1]!) as { type: string; attributes: Record<string, unknown> }).filter((e) => e.type === 'remediation');
    expect(remediationEvents.map((e) => [e.attributes.remediationId, e.attributes.state])).toEqual([[record.id, 'pending_approval']]);
    const again = await api('POST', `/api/v1/remediations/${record.id}/approve`, { by: 'bob' });
    expect(again.status).toBe(409);
    expect(again.json.code).toBe('SLOTH_ERR_CONFLICT');
  });

  it('reject: the remediation never runs; unknown ids are 404', async () => {
    scheduler = await startScheduler(h, [testPlaybook('drain', cpuAnomaly, { requiresApproval: true })]);
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    const record = await eventually(() => scheduler!.auditStore.list({ state: 'pending_approval' })[0]);
    const rejected = await api('POST', `/api/v1/remediations/${record.id}/reject`, { by: 'carol', reason: 'maintenance window' });
    expect(rejected.status).toBe(200);
    expect(rejected.json).toMatchObject({ state: 'rejected', rejectedBy: 'carol', reason: 'maintenance window' });
    expect(await agentQueue('web-1').count()).toBe(0);
    const shown = await api('GET', `/api/v1/remediations/${record.id}`);
    expect(shown.json.state).toBe('rejected');
    const missing = await api('GET', '/api/v1/remediations/nope');
    expect(missing.status).toBe(404);
    expect(missing.json.code).toBe('SLOTH_ERR_NOT_FOUND');
    // A rejection releases the cooldown: the next trigger asks again.
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    await eventually(() => scheduler!.auditStore.list({ state: 'pending_approval' })[0]);
  });

  it('expires an approval request after the configured time', async () => {
    scheduler = await startScheduler(h, [testPlaybook('drain', cpuAnomaly, { requiresApproval: true })], { approvalTimeoutSeconds: 0.3 });
    await xaddJson(h.redis, scheduler.keys.anomalies, anomaly('web-1'));
    const record = await eventually(() => scheduler!.auditStore.list()[0]);
    const expired = await eventually(() => (scheduler!.auditStore.get(record.id)?.state === 'expired' ? scheduler!.auditStore.get(record.id) : undefined), 10_000, 'expiry');
    expect(expired.reason).toBe('approval timed out');
    const late = await api('POST', `/api/v1/remediations/${record.id}/approve`, { by: 'alice' });
    expect(late.status).toBe(409);
    expect(await agentQueue('web-1').count()).toBe(0);
  });

  it('requires a bearer token unless insecure-no-auth', async () => {
    scheduler = await startScheduler(h, [], { insecureNoAuth: false, tokens: [{ token: 'secret-token-1', name: 'ops' }] });
    const { host, port } = scheduler.listening;
    const anonymous = await fetch(`http://${host}:${port}/api/v1/remediations`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { code: string }).code).toBe('SLOTH_ERR_AUTH');
    const wrong = await fetch(`http://${host}:${port}/api/v1/remediations`, { headers: { authorization: 'Bearer nope-nope-nope' } });
    expect(wrong.status).toBe(401);
    const ok = await fetch(`http://${host}:${port}/api/v1/remediations`, { headers: { authorization: 'Bearer secret-token-1' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ remediations: [] });
  });
});

describe('scheduler: restarts', () => {
  it('triggers and results that arrive while the scheduler is down are handled when it comes back', async () => {
    scheduler = await startScheduler(h, [testPlaybook('cpu-fix', cpuAnomaly)]);
    const keys = scheduler.keys;
    await xaddJson(h.redis, keys.anomalies, anomaly('web-1'));
    const first = await eventually(() => scheduler!.auditStore.list({ state: 'queued' })[0]);
    await scheduler.shutdown();
    scheduler = undefined;
    // While it is down: the agent finishes the first run, and a new anomaly arrives for another agent.
    await xaddJson(h.redis, remediationResultsStream(keys), { remediationId: first.id, agentId: 'web-1', state: 'succeeded', attempt: 1, atMillis: Date.now(), ok: true, message: 'fixed while you were away' });
    await xaddJson(h.redis, keys.anomalies, anomaly('web-9'));
    scheduler = await startScheduler(h, [testPlaybook('cpu-fix', cpuAnomaly)]);
    const done = await eventually(() => (scheduler!.auditStore.get(first.id)?.state === 'succeeded' ? scheduler!.auditStore.get(first.id) : undefined), 10_000, 'result applied');
    expect(done.message).toBe('fixed while you were away');
    const second = await eventually(() => scheduler!.auditStore.list({ agentId: 'web-9', state: 'queued' })[0], 10_000, 'trigger handled and queued');
    await queuedJob('web-9', second.id);
    expect(scheduler.auditStore.list()).toHaveLength(2);
  });
});
