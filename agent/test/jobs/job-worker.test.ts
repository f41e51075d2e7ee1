import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import {
  decodeJsonMessage,
  queueNames,
  redisKeys,
  RedisServer,
  remediationDoneKey,
  remediationJobName,
  remediationReportSchema,
  remediationResultsStream,
  slothEventSchema,
  type RemediationJob,
  type RemediationReport,
} from '@sloth/core';
import { JobWorker, redeliveryWindowMillis, startRemediationWorker, type PlaybookRunner, type RemediationWorker } from '../../src/jobs/index.js';

const source = `
return {
  name = "collect",
  version = "1.2.0",
  description = "records metrics and raises an alert",
  triggers = { { anomaly = { metric = "system.cpu.utilization", min_score = 0.9 } } },
  params = { threshold = { type = "number", default = 80 } },
  run = function(ctx)
    metrics.gauge("task_duration", 45.2)
    metrics.counter("deployments_total", 1)
    log.info("collected", { agent = ctx.event.agentId })
    metrics.alert("high_cpu", { level = "warning", message = "cpu " .. ctx.event.value })
    return true, "Metrics collected for " .. ctx.event.agentId
  end,
}`;

let server: RedisServer;
let redis: Redis;
let dir: string;
let prefix: string;
let worker: RemediationWorker | undefined;
let queue: Queue;
let plainWorker: JobWorker | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-jobs-'));
  server = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await worker?.shutdown();
  worker = undefined;
  await plainWorker?.shutdown();
  plainWorker = undefined;
  await queue?.close();
});

function job(remediationId: string, overrides: Partial<RemediationJob> = {}): RemediationJob {
  return {
    remediationId,
    agentId: 'web-1',
    playbook: { name: 'collect', version: '1.2.0', fileName: 'collect.lua', source },
    params: {},
    event: { seriesId: 'system.cpu.utilization', agentId: 'web-1', metric: 'system.cpu.utilization', timestampMillis: 1, value: 97, score: 0.97, expectedLow: 0, expectedHigh: 50, modelVersion: 't' },
    dryRun: false,
    triggeredAtMillis: Date.now(),
    enqueuedAtMillis: Date.now(),
    ...overrides,
  };
}

async function reports(p: string, id: string): Promise<RemediationReport[]> {
  const entries = (await redis.xrange(remediationResultsStream(redisKeys(p)), '-', '+')) as Array<[string, string[]]>;
  return entries.map(([, fields]) => remediationReportSchema.parse(JSON.parse(fields[1]!))).filter((r) => r.remediationId === id);
}

async function until<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('agent remediation job worker', () => {
  it('runs a remediation job with the Lua runtime and reports running and the result', async () => {
    prefix = `j${Math.random().toString(36).slice(2, 8)}`;
    worker = await startRemediationWorker({ agentId: 'web-1', redisUrl: server.url, prefix, stateDir: join(dir, 'state1') });
    queue = new Queue(queueNames.agent('web-1'), { connection: redis, prefix });
    await queue.add(remediationJobName, job('r1'), { jobId: 'r1' });
    const final = await until(async () => (await reports(prefix, 'r1')).find((r) => r.state !== 'running'), 'final report');
    const all = await reports(prefix, 'r1');
    expect(all.map((r) => r.state), JSON.stringify(final)).toEqual(['running', 'succeeded']);
    expect(final).toMatchObject({ agentId: 'web-1', ok: true, attempt: 1, message: 'Metrics collected for web-1' });
    expect(final.durationMillis).toBeGreaterThan(0);
    expect(JSON.stringify(final.logs)).toContain('collected');
    // The alert went to sloth:events.
    const events = (await redis.xrange(redisKeys(prefix).events, '-', '+')) as Array<[string, string[]]>;
    const alert = decodeJsonMessage(events[0]![1], slothEventSchema);
    expect(alert).toMatchObject({ type: 'alert', agentId: 'web-1', attributes: { name: 'high_cpu', level: 'warning', playbook: 'collect' } });
    const done = await redis.get(remediationDoneKey(redisKeys(prefix), 'r1'));
    expect(JSON.parse(done!)).toMatchObject({ state: 'succeeded', ok: true });
    // The final report is written inside the job; BullMQ marks the job completed just after it returns.
    await until(async () => ((await queue.getJobState('r1')) === 'completed' ? true : undefined), 'job r1 completed');
  });

  it('reports a failing playbook as failed, with the error', async () => {
    prefix = `j${Math.random().toString(36).slice(2, 8)}`;
    worker = await startRemediationWorker({ agentId: 'web-1', redisUrl: server.url, prefix, stateDir: join(dir, 'state2') });
    queue = new Queue(queueNames.agent('web-1'), { connection: redis, prefix });
    const bad = source.replace('return true, "Metrics collected for " .. ctx.event.agentId', 'error("disk is on fire")');
    await queue.add(remediationJobName, job('r2', { playbook: { name: 'collect', version: '1.2.0', fileName: 'collect.lua', source: bad } }), { jobId: 'r2' });
    const final = await until(async () => (await reports(prefix, 'r2')).find((r) => r.state !== 'running'), 'final report');
    expect(final.state).toBe('failed');
    expect(final.ok).toBe(false);
    expect(final.error).toContain('disk is on fire');
  });

  it('a rerun of a finished remediation replays the result without running the playbook again', async () => {
    prefix = `j${Math.random().toString(36).slice(2, 8)}`;
    worker = await startRemediationWorker({ agentId: 'web-1', redisUrl: server.url, prefix, stateDir: join(dir, 'state3') });
    queue = new Queue(queueNames.agent('web-1'), { connection: redis, prefix });
    await queue.add(remediationJobName, job('r3'), { jobId: 'r3-a' });
    await until(async () => (await reports(prefix, 'r3')).find((r) => r.state === 'succeeded'), 'first result');
    // Same remediation delivered again under another job id (as after a stalled rerun).
    await queue.add(remediationJobName, job('r3'), { jobId: 'r3-b' });
    // Read the state first and the job after: a job fetched before it completed carries no return value.
    const second = await until(async () => {
      if ((await queue.getJobState('r3-b')) !== 'completed') return undefined;
      return queue.getJob('r3-b');
    }, 'second job');
    expect(second?.returnvalue).toMatchObject({ remediationId: 'r3', replayed: true });
    expect((await reports(prefix, 'r3')).filter((r) => r.state !== 'running').map((r) => r.state)).toEqual(['succeeded']);
    const alerts = (await redis.xrange(redisKeys(prefix).events, '-', '+')) as unknown[];
    expect(alerts).toHaveLength(1);
  });

  it('keeps a done marker for the redelivery window of its settings, not for days', async () => {
    // Default settings: 2 stalls × (30 s lock + 2 × 15 s stalled checks) = 120 s.
    expect(redeliveryWindowMillis({ lockDurationMillis: 30_000, stalledIntervalMillis: 15_000, maxStalledCount: 2 })).toBe(120_000);
    expect(new JobWorker({ agentId: 'web-1', redisUrl: server.url, runner: { run: () => Promise.reject(new Error('not run')) } }).doneTtlSeconds).toBe(120);
    expect(() => new JobWorker({ agentId: 'web-1', redisUrl: server.url, runner: { run: () => Promise.reject(new Error('not run')) }, doneTtlSeconds: 0 })).toThrow(/doneTtlSeconds/);
    prefix = `j${Math.random().toString(36).slice(2, 8)}`;
    let runs = 0;
    const runner: PlaybookRunner = {
      run: () => {
        runs += 1;
        return Promise.resolve({ ok: true, message: 'ok', durationMillis: 1, logs: [] });
      },
    };
    // A short window: 1 stall × (1 s lock + 2 × 0.5 s) = 2 s.
    plainWorker = new JobWorker({ agentId: 'web-2', redisUrl: server.url, prefix, runner, lockDurationMillis: 1000, stalledIntervalMillis: 500, maxStalledCount: 1 });
    await plainWorker.start();
    queue = new Queue(queueNames.agent('web-2'), { connection: redis, prefix });
    await queue.add(remediationJobName, job('r4', { agentId: 'web-2' }), { jobId: 'r4-a' });
    await until(async () => (await reports(prefix, 'r4')).find((r) => r.state === 'succeeded'), 'first result');
    const doneKey = remediationDoneKey(redisKeys(prefix), 'r4');
    const ttl = await redis.pttl(doneKey);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2000);
    // Within the window a redelivery replays; after it the marker is gone (no key left behind).
    await queue.add(remediationJobName, job('r4', { agentId: 'web-2' }), { jobId: 'r4-b' });
    await until(async () => ((await queue.getJobState('r4-b')) === 'completed' ? true : undefined), 'replayed job');
    expect(runs).toBe(1);
    await until(async () => ((await redis.exists(doneKey)) === 0 ? true : undefined), 'done marker expired');
  });

  it('announces a long run while it runs and a short one with its result, each with its real start', async () => {
    prefix = `j${Math.random().toString(36).slice(2, 8)}`;
    let seenRunning: RemediationReport | undefined;
    const runner: PlaybookRunner = {
      run: async (data) => {
        if (data.remediationId === 'long') {
          // The run goes on until its `running` report is on the stream.
          seenRunning = await until(async () => (await reports(prefix, 'long')).find((r) => r.state === 'running'), 'running report during the run');
        }
        return { ok: true, message: 'ok', durationMillis: 1, logs: [] };
      },
    };
    plainWorker = new JobWorker({ agentId: 'web-3', redisUrl: server.url, prefix, runner, runningReportDelayMillis: 100 });
    await plainWorker.start();
    queue = new Queue(queueNames.agent('web-3'), { connection: redis, prefix });
    const before = Date.now();
    await queue.add(remediationJobName, job('long', { agentId: 'web-3' }), { jobId: 'long' });
    const longFinal = await until(async () => (await reports(prefix, 'long')).find((r) => r.state === 'succeeded'), 'long result');
    expect(seenRunning?.atMillis).toBeGreaterThanOrEqual(before);
    expect(seenRunning?.atMillis).toBeLessThanOrEqual(longFinal.atMillis);
    await queue.add(remediationJobName, job('short', { agentId: 'web-3' }), { jobId: 'short' });
    await until(async () => (await reports(prefix, 'short')).find((r) => r.state === 'succeeded'), 'short result');
    const entries = (await redis.xrange(remediationResultsStream(redisKeys(prefix)), '-', '+')) as Array<[string, string[]]>;
    const short = entries.map(([id, fields]) => ({ id, report: remediationReportSchema.parse(JSON.parse(fields[1]!)) })).filter((e) => e.report.remediationId === 'short');
    expect(short.map((e) => e.report.state)).toEqual(['running', 'succeeded']);
    expect(short[0]!.report.atMillis).toBeLessThanOrEqual(short[1]!.report.atMillis);
  });

  it('bounds the logs, actions and message a report carries, whatever the runner returned', async () => {
    prefix = `j${Math.random().toString(36).slice(2, 8)}`;
    const circular: Record<string, unknown> = { level: 'info', message: 'loop' };
    circular.self = circular;
    const runner: PlaybookRunner = {
      run: () =>
        Promise.resolve({
          ok: true,
          message: 'M'.repeat(100_000),
          durationMillis: 1,
          logs: [{ level: 'info', message: 'first', attrs: {} }, circular, ...Array.from({ length: 3 }, () => ({ level: 'info', message: 'B'.repeat(1024 * 1024), attrs: {} }))],
          actions: Array.from({ length: 5000 }, (_, i) => ({ kind: 'state.set', dryRun: false, detail: { key: `k${i}` } })),
        }),
    };
    plainWorker = new JobWorker({ agentId: 'web-6', redisUrl: server.url, prefix, runner });
    await plainWorker.start();
    queue = new Queue(queueNames.agent('web-6'), { connection: redis, prefix });
    await queue.add(remediationJobName, job('big', { agentId: 'web-6' }), { jobId: 'big' });
    const final = await until(async () => (await reports(prefix, 'big')).find((r) => r.state !== 'running'), 'final report');
    expect(final).toMatchObject({ state: 'succeeded', ok: true });
    expect(final.message).toMatch(/^M{65536}… \(truncated\)$/);
    expect(Buffer.byteLength(JSON.stringify(final))).toBeLessThan(2.2 * 1024 * 1024);
    expect(final.logs?.[0]).toMatchObject({ message: 'first' });
    expect(final.actions).toHaveLength(5000);
    // The circular record and two of the three 1 MiB ones did not fit.
    expect(final.logs?.at(-1)).toMatchObject({ level: 'warn', message: '3 log or action record(s) left out of the report: a report carries at most 2097152 bytes of them' });
    await until(async () => ((await queue.getJobState('big')) === 'completed' ? true : undefined), 'job big completed');
  });

  it('without the first-delivery check, a job delivered again or under another id still replays a finished attempt', async () => {
    prefix = `j${Math.random().toString(36).slice(2, 8)}`;
    const ran: string[] = [];
    const runner: PlaybookRunner = {
      run: (data) => {
        ran.push(data.remediationId);
        return Promise.resolve({ ok: true, message: 'ran', durationMillis: 1, logs: [] });
      },
    };
    const keys = redisKeys(prefix);
    const finished = JSON.stringify({ remediationId: 'x', state: 'succeeded', ok: true, message: 'earlier', durationMillis: 1, replayed: false });
    for (const id of ['again', 'other', 'fresh']) await redis.set(remediationDoneKey(keys, id), finished.replace('"x"', JSON.stringify(id)), 'EX', 60);
    queue = new Queue(queueNames.agent('web-4'), { connection: redis, prefix });
    // 'again': started once by a worker that gave it back (as a stalled job comes back), so its next start is its second.
    await queue.add(remediationJobName, job('again', { agentId: 'web-4' }), { jobId: 'again' });
    const takerConnection = redis.duplicate();
    const taker = new Worker(queueNames.agent('web-4'), null, { connection: takerConnection, prefix });
    const taken = (await taker.getNextJob('taker-token')) as Job | undefined;
    expect(taken?.id).toBe('again');
    expect(taken?.attemptsStarted).toBe(1);
    await taken!.moveToWait('taker-token');
    await taker.close();
    takerConnection.disconnect();
    // 'other': the same remediation under another job id; 'fresh': a first delivery under its own id.
    await queue.add(remediationJobName, job('other', { agentId: 'web-4' }), { jobId: 'other-b' });
    await queue.add(remediationJobName, job('fresh', { agentId: 'web-4' }), { jobId: 'fresh' });
    plainWorker = new JobWorker({ agentId: 'web-4', redisUrl: server.url, prefix, runner }); // the default: doneCheckOnFirstDelivery false
    await plainWorker.start();
    const returned = async (id: string): Promise<unknown> => until(async () => ((await queue.getJobState(id)) === 'completed' ? (await queue.getJob(id))?.returnvalue : undefined), `job ${id} completed`);
    expect(await returned('again')).toMatchObject({ remediationId: 'again', replayed: true, message: 'earlier' });
    expect(await returned('other-b')).toMatchObject({ remediationId: 'other', replayed: true, message: 'earlier' });
    // Documented narrowing: a first delivery under its own id is not checked, so it runs.
    expect(await returned('fresh')).toMatchObject({ remediationId: 'fresh', replayed: false, message: 'ran' });
    expect(ran).toEqual(['fresh']);
  });
  it('started at the hand-over (startOnFetch), each job runs once and BullMQ completes it with that run\'s result', async () => {
    prefix = `j${Math.random().toString(36).slice(2, 8)}`;
    const ran: string[] = [];
    const runner: PlaybookRunner = {
      run: async (data) => {
        ran.push(data.remediationId);
        // One run outlasts the others, so the worker takes jobs both idle and with a run in progress.
        if (data.remediationId === 'slow') await new Promise((r) => setTimeout(r, 300));
        return { ok: data.remediationId !== 'bad', message: `ran ${data.remediationId}`, durationMillis: 1, logs: [] };
      },
    };
    queue = new Queue(queueNames.agent('web-5'), { connection: redis, prefix });
    plainWorker = new JobWorker({ agentId: 'web-5', redisUrl: server.url, prefix, runner, concurrency: 3, startOnFetch: true });
    await plainWorker.start();
    const ids = ['slow', 'a', 'b', 'bad', 'c'];
    for (const id of ids) await queue.add(remediationJobName, job(id, { agentId: 'web-5' }), { jobId: id });
    const returned = async (id: string): Promise<unknown> => until(async () => ((await queue.getJobState(id)) === 'completed' ? (await queue.getJob(id))?.returnvalue : undefined), `job ${id} completed`);
    for (const id of ids) expect(await returned(id)).toMatchObject({ remediationId: id, replayed: false, message: `ran ${id}`, ok: id !== 'bad', state: id === 'bad' ? 'failed' : 'succeeded' });
    expect([...ran].sort()).toEqual([...ids].sort());
    for (const id of ids) expect((await reports(prefix, id)).map((r) => r.state)).toEqual(['running', id === 'bad' ? 'failed' : 'succeeded']);
  });
});
