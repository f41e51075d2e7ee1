import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  queueNames,
  redisKeys,
  type RedisServer,
  remediationClaimKey,
  remediationDoneKey,
  remediationJobName,
  signRemediationJob,
  type JobSigningKey,
  type RemediationJob,
} from '@sloth/core';
import { ClaimLedger, ClaimLedgerFullError, JobWorker, type JobReturn, type PlaybookRunner, type RunOutcome } from '../../src/jobs/index.js';
import { startSignedBed, stopSignedBed } from './signed-bed.js';

let server: RedisServer;
let redis: Redis;
let dir: string;
let key: JobSigningKey;
const workers: JobWorker[] = [];
let queue: Queue | undefined;

beforeAll(async () => {
  ({ dir, server, redis, key } = await startSignedBed('sloth-claim-ledger'));
});

afterAll(() => stopSignedBed({ dir, server, redis }));

afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.shutdown(200);
  await queue?.close();
  queue = undefined;
});

/** Counts the runs of each remediation id: a replay that runs shows as a second run. */
class CountingRunner implements PlaybookRunner {
  readonly runs = new Map<string, number>();
  constructor(private readonly hold?: Promise<never>) {}
  async run(job: RemediationJob): Promise<RunOutcome> {
    this.runs.set(job.remediationId, (this.runs.get(job.remediationId) ?? 0) + 1);
    if (this.hold !== undefined) await this.hold;
    return { ok: true, message: `ran ${job.remediationId}`, durationMillis: 1, logs: [] };
  }
}

function job(remediationId: string): RemediationJob {
  return {
    remediationId,
    agentId: 'web-1',
    playbook: { name: 'noop', version: '1.0.0', fileName: 'noop.lua', source: 'return {}' },
    params: {},
    event: { kind: 'test' },
    dryRun: false,
    triggeredAtMillis: Date.now(),
    enqueuedAtMillis: Date.now(),
  };
}

async function startWorker(o: { prefix: string; claimDir: string; runner: PlaybookRunner; doneTtlSeconds?: number; fast?: boolean; maxBytes?: number }): Promise<JobWorker> {
  const worker = new JobWorker({
    agentId: 'web-1',
    redisUrl: server.url,
    prefix: o.prefix,
    runner: o.runner,
    signingKey: key,
    claimDir: o.claimDir,
    ...(o.doneTtlSeconds === undefined ? {} : { doneTtlSeconds: o.doneTtlSeconds }),
    ...(o.fast === true ? { lockDurationMillis: 1000, stalledIntervalMillis: 500 } : {}),
    ...(o.maxBytes === undefined ? {} : { claimLedgerMaxBytes: o.maxBytes }),
  });
  workers.push(worker);
  await worker.start();
  queue ??= new Queue(queueNames.agent('web-1'), { connection: redis, prefix: o.prefix });
  return worker;
}

function setup(name: string): { prefix: string; claimDir: string } {
  return { prefix: `${name}${Math.random().toString(36).slice(2, 8)}`, claimDir: join(dir, `${name}-claims`) };
}

/** What the worker returned for job `id` once it completed after `afterMillis`. */
async function completed(id: string, afterMillis = 0): Promise<JobReturn> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    // State first, then the job: a job read before it completed carries no return value yet.
    const state = await queue!.getJobState(id);
    const found: Job | undefined = state === 'completed' ? await queue!.getJob(id) : undefined;
    if (found !== undefined && (found.finishedOn ?? 0) >= afterMillis) return found.returnvalue as JobReturn;
    if (Date.now() > deadline) throw new Error(`timed out waiting for job ${id}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the agent claim ledger refuses replays Redis has forgotten', () => {
  it('(a) refuses a captured job under a new id after the claim and done keys are deleted', async () => {
    const { prefix, claimDir } = setup('a');
    const runner = new CountingRunner();
    await startWorker({ prefix, claimDir, runner });
    const captured = signRemediationJob(job('a-1'), key);
    await queue!.add(remediationJobName, captured, { jobId: 'a-1' });
    expect(await completed('a-1')).toMatchObject({ state: 'succeeded', replayed: false });
    const keys = redisKeys(prefix);
    expect(await redis.del(remediationClaimKey(keys, 'a-1'), remediationDoneKey(keys, 'a-1'))).toBe(2);
    await queue!.add(remediationJobName, captured, { jobId: 'a-1-again' });
    expect(await completed('a-1-again')).toMatchObject({ state: 'failed', message: 'remediation a-1 was already taken by job a-1: job a-1-again is a replay' });
    expect(runner.runs.get('a-1')).toBe(1);
  });

  it('(b, e) refuses the captured job after FLUSHALL, on a new worker over the same claim dir', async () => {
    const { prefix, claimDir } = setup('b');
    const first = new CountingRunner();
    const worker = await startWorker({ prefix, claimDir, runner: first });
    const captured = signRemediationJob(job('b-1'), key);
    await queue!.add(remediationJobName, captured, { jobId: 'b-1' });
    const result = await completed('b-1');
    expect(result).toMatchObject({ state: 'succeeded', replayed: false });
    await worker.shutdown();
    await redis.flushall();
    const second = new CountingRunner();
    await startWorker({ prefix, claimDir, runner: second });
    await queue!.add(remediationJobName, captured, { jobId: 'b-1-again' });
    expect(await completed('b-1-again')).toMatchObject({ state: 'failed', message: 'remediation b-1 was already taken by job b-1: job b-1-again is a replay' });
    // Under its own id: the recorded result comes back, the playbook does not run.
    await queue!.add(remediationJobName, captured, { jobId: 'b-1' });
    expect(await completed('b-1')).toEqual({ ...result, replayed: true });
    expect(second.runs.get('b-1')).toBeUndefined();
  });

  it('(c) a completed job retried after its done marker lapsed replays its result instead of running', async () => {
    const { prefix, claimDir } = setup('c');
    const runner = new CountingRunner();
    await startWorker({ prefix, claimDir, runner, doneTtlSeconds: 1 });
    await queue!.add(remediationJobName, signRemediationJob(job('c-1'), key), { jobId: 'c-1' });
    const result = await completed('c-1');
    const doneKey = remediationDoneKey(redisKeys(prefix), 'c-1');
    // A signed job's done marker lives as long as its claim (about the signed validity), not doneTtlSeconds.
    expect(await redis.ttl(doneKey)).toBeGreaterThan(3000);
    // Lapsed anyway: the ledger on disk still has the result.
    await redis.del(doneKey);
    const retriedAt = Date.now();
    await (await queue!.getJob('c-1'))!.retry('completed');
    expect(await completed('c-1', retriedAt)).toEqual({ ...result, replayed: true });
    expect(runner.runs.get('c-1')).toBe(1);
  });

  it('(d) a run that stalled before any result runs again on a restarted worker', async () => {
    const { prefix, claimDir } = setup('d');
    const stuck = new CountingRunner(new Promise<never>(() => undefined));
    const worker = await startWorker({ prefix, claimDir, runner: stuck, fast: true });
    await queue!.add(remediationJobName, signRemediationJob(job('d-1'), key), { jobId: 'd-1' });
    const deadline = Date.now() + 20_000;
    while (stuck.runs.get('d-1') !== 1) {
      if (Date.now() > deadline) throw new Error('the first run never started');
      await new Promise((r) => setTimeout(r, 20));
    }
    await worker.shutdown(100); // the run never ends: the worker is closed under it, as by a crash
    const runner = new CountingRunner();
    await startWorker({ prefix, claimDir, runner, fast: true });
    expect(await completed('d-1')).toMatchObject({ state: 'succeeded', replayed: false });
    expect(runner.runs.get('d-1')).toBe(1);
  });
});

describe('a full claim ledger', () => {
  it('fails signed jobs without running them rather than run them unrecorded', async () => {
    const { prefix, claimDir } = setup('f');
    const runner = new CountingRunner();
    await startWorker({ prefix, claimDir, runner, maxBytes: 20 });
    await queue!.add(remediationJobName, signRemediationJob(job('f-1'), key), { jobId: 'f-1' });
    const deadline = Date.now() + 20_000;
    while ((await queue!.getJobState('f-1')) !== 'failed') {
      if (Date.now() > deadline) throw new Error('job f-1 did not fail');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await queue!.getJob('f-1'))!.failedReason).toMatch(/claim ledger .* over its cap of 20/);
    expect(runner.runs.get('f-1')).toBeUndefined();
  });
});

describe('ClaimLedger', () => {
  const result: JobReturn = { remediationId: 'x', state: 'succeeded', ok: true, message: 'm', durationMillis: 1, replayed: false };

  it('keeps claims and results across reopening, drops expired ones, and refuses past its cap', async () => {
    const ledgerDir = join(dir, 'ledger');
    const ledger = new ClaimLedger(ledgerDir, { maxBytes: 400, compactIntervalMillis: 60_000 });
    await ledger.open();
    expect((await ledger.take('r-1', 'j-1', Date.now() + 60_000)).taken).toBe(true);
    await ledger.finish('r-1', 'j-1', result);
    expect((await ledger.take('r-2', 'j-2', Date.now() + 200)).taken).toBe(true);
    expect(await ledger.take('r-1', 'j-9', Date.now() + 60_000)).toMatchObject({ taken: false, entry: { jobId: 'j-1', result } });
    // Full: refused, not forgotten.
    await expect(ledger.take('r-3', 'j-3'.repeat(100), Date.now() + 60_000)).rejects.toBeInstanceOf(ClaimLedgerFullError);
    expect(ledger.get('r-3')).toBeUndefined();
    await ledger.close();
    await new Promise((r) => setTimeout(r, 250));

    const reopened = new ClaimLedger(ledgerDir, { maxBytes: 400, compactIntervalMillis: 60_000 });
    await reopened.open();
    expect(reopened.get('r-1')).toMatchObject({ jobId: 'j-1', result });
    expect(reopened.get('r-2')).toBeUndefined();
    // Compacted at open: only r-1 is left on disk.
    expect(readFileSync(reopened.path, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(statSync(reopened.path).mode & 0o777).toBe(0o600);
    await reopened.close();
  });
});
