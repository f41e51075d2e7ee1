import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  ensureJobSigningKey,
  queueNames,
  readJobSigningKey,
  redisKeys,
  type RedisServer,
  remediationDoneKey,
  remediationJobName,
  remediationReportSchema,
  remediationResultsStream,
  signRemediationJob,
  type JobSigningKey,
  type Logger,
  type RemediationJob,
  type RemediationReport,
} from '@sloth/core';
import { startRemediationWorker, type RemediationWorker } from '../../src/jobs/index.js';
import { startSignedBed, stopSignedBed } from './signed-bed.js';

/** Touches `<allowed dir>/<params.file>`: a run leaves a file behind, a refused job does not. */
const source = `
return {
  name = "touch-marker",
  version = "1.0.0",
  description = "touches a marker file",
  params = { file = { type = "string" } },
  run = function(ctx)
    fs.touch(ctx.params.file)
    return true, "touched " .. ctx.params.file
  end,
}`;

let server: RedisServer;
let redis: Redis;
let dir: string;
let key: JobSigningKey;
let worker: RemediationWorker | undefined;
let queue: Queue | undefined;

beforeAll(async () => {
  ({ dir, server, redis, key } = await startSignedBed('sloth-signed-jobs'));
});

afterAll(() => stopSignedBed({ dir, server, redis }));

afterEach(async () => {
  await worker?.shutdown();
  worker = undefined;
  await queue?.close();
  queue = undefined;
});

/** A logger that keeps its warnings (what the worker says must be checked, and must not carry the key). */
function recordingLogger(lines: string[]): Logger {
  const logger = {
    level: 'debug',
    child: () => logger,
    flush: () => undefined,
    ...Object.fromEntries(['trace', 'debug', 'info', 'error', 'fatal'].map((level) => [level, () => undefined])),
    warn: (fields: unknown, message?: string) => {
      lines.push(typeof fields === 'string' ? fields : `${message ?? ''} ${JSON.stringify(fields)}`);
    },
  };
  return logger as unknown as Logger;
}

function job(remediationId: string, marker: string, overrides: Partial<RemediationJob> = {}): RemediationJob {
  return {
    remediationId,
    agentId: 'web-1',
    playbook: { name: 'touch-marker', version: '1.0.0', fileName: 'touch-marker.lua', source },
    params: { file: marker },
    event: { kind: 'test', nested: { b: 2, a: 1 } },
    dryRun: false,
    triggeredAtMillis: Date.now(),
    enqueuedAtMillis: Date.now(),
    ...overrides,
  };
}

async function finalReport(prefix: string, id: string): Promise<RemediationReport> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const entries = (await redis.xrange(remediationResultsStream(redisKeys(prefix)), '-', '+')) as Array<[string, string[]]>;
    const found = entries.map(([, fields]) => remediationReportSchema.parse(JSON.parse(fields[1]!))).find((r) => r.remediationId === id && r.state !== 'running');
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for the result of ${id}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startAgent(options: { signingKey?: JobSigningKey; warnings?: string[] } = {}): Promise<{ prefix: string; allowed: string }> {
  const prefix = `s${Math.random().toString(36).slice(2, 8)}`;
  const allowed = join(dir, `${prefix}-files`);
  mkdirSync(allowed);
  worker = await startRemediationWorker({
    agentId: 'web-1',
    redisUrl: server.url,
    prefix,
    stateDir: join(dir, `${prefix}-state`),
    fs: { allowRoots: [allowed] },
    signingKey: options.signingKey,
    logger: recordingLogger(options.warnings ?? []),
  });
  queue = new Queue(queueNames.agent('web-1'), { connection: redis, prefix });
  return { prefix, allowed };
}

describe('signed remediation jobs', () => {
  it('an agent holding the key runs a job signed with it', async () => {
    const { prefix, allowed } = await startAgent({ signingKey: key });
    const marker = join(allowed, 'signed');
    await queue!.add(remediationJobName, signRemediationJob(job('ok-1', marker), key), { jobId: 'ok-1' });
    const final = await finalReport(prefix, 'ok-1');
    expect(final).toMatchObject({ state: 'succeeded', ok: true, message: `touched ${marker}` });
    expect(existsSync(marker)).toBe(true);
  });

  it('refuses unsigned, tampered, foreign-key and misaddressed jobs without running their playbook', async () => {
    const warnings: string[] = [];
    const { prefix, allowed } = await startAgent({ signingKey: key, warnings });
    mkdirSync(join(dir, 'other'), { recursive: true });
    const otherKey = ensureJobSigningKey(join(dir, 'other')).key;
    const marker = (name: string): string => join(allowed, name);
    const cases: Array<{ id: string; file: string; job: RemediationJob; reason: string }> = [];
    const add = (id: string, make: (file: string) => RemediationJob, reason: string): void => {
      cases.push({ id, file: marker(id), job: make(marker(id)), reason });
    };
    add('unsigned', (file) => job('unsigned', file), 'job signature missing');
    const mismatch = "job signature does not match: not queued by a scheduler holding this agent's key";
    // Source changed after signing: the run would touch the marker from the altered code.
    add('source', (file) => {
      const signed = signRemediationJob(job('source', join(allowed, 'never')), key);
      return { ...signed, params: { file: join(allowed, 'never') }, playbook: { ...signed.playbook, source: source.replace('ctx.params.file', `"${file}"`) } };
    }, mismatch);
    // Params changed after signing.
    add('params', (file) => ({ ...signRemediationJob(job('params', join(allowed, 'other')), key), params: { file } }), mismatch);
    add('event', (file) => ({ ...signRemediationJob(job('event', file), key), event: { kind: 'forged' } }), mismatch);
    add('dry-run', (file) => ({ ...signRemediationJob(job('dry-run', file, { dryRun: true }), key), dryRun: false }), mismatch);
    add('other-key', (file) => signRemediationJob(job('other-key', file), otherKey), mismatch);
    // Signed for web-2 (a genuine job of another agent, copied onto this agent's queue).
    add('web-2', (file) => signRemediationJob(job('web-2', file, { agentId: 'web-2' }), key), 'job for agent web-2 arrived at agent web-1');
    for (const c of cases) await queue!.add(remediationJobName, c.job, { jobId: c.id });
    for (const c of cases) {
      const final = await finalReport(prefix, c.id);
      expect(final, c.id).toMatchObject({ state: 'failed', ok: false, agentId: 'web-1', message: c.reason });
      expect(final.error, c.id).toContain(c.reason);
      expect(existsSync(c.file), `${c.id} ran its playbook`).toBe(false);
      // Refused, not finished: a genuine job under this id later still runs.
      expect(await redis.get(remediationDoneKey(redisKeys(prefix), c.id)), c.id).toBeNull();
    }
    expect(existsSync(join(allowed, 'never'))).toBe(false);
    expect(existsSync(join(allowed, 'other'))).toBe(false);
    // One warning per kind of refusal, none with the key in it.
    const refusals = warnings.filter((line) => line.includes('remediation job refused'));
    expect(refusals).toHaveLength(3);
    expect(refusals.some((line) => line.includes('job signature missing'))).toBe(true);
    expect(refusals.some((line) => line.includes('does not match'))).toBe(true);
    expect(refusals.some((line) => line.includes('arrived at agent web-1'))).toBe(true);
    const secret = readKeyHex(join(dir, 'job-signing.key'));
    expect(warnings.join('\n')).not.toContain(secret);
    expect(warnings.some((line) => line.includes('no job-signing key'))).toBe(false);

    // The genuine job under a refused id still runs.
    await queue!.add(remediationJobName, signRemediationJob(job('params', marker('params')), key), { jobId: 'params-genuine' });
    await until(() => existsSync(marker('params')));
  });

  it('an agent without a key runs unsigned jobs as before and warns once at start', async () => {
    const warnings: string[] = [];
    const { prefix, allowed } = await startAgent({ warnings });
    const marker = join(allowed, 'unsigned');
    await queue!.add(remediationJobName, job('plain-1', marker), { jobId: 'plain-1' });
    expect(await finalReport(prefix, 'plain-1')).toMatchObject({ state: 'succeeded', ok: true });
    expect(existsSync(marker)).toBe(true);
    expect(warnings.filter((line) => line.includes('no job-signing key configured'))).toHaveLength(1);
  });
});

describe('replayed and expired signed jobs', () => {
  /** What the worker returned to BullMQ for a job, once it is done with it. */
  async function returned(id: string): Promise<{ state: string; message: string }> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = await queue!.getJob(id);
      // The job read above may predate its completion (no return value yet): read it again once it is completed.
      if (found !== undefined && (await found.getState()) === 'completed') return (await queue!.getJob(id))?.returnvalue as { state: string; message: string };
      if (Date.now() > deadline) throw new Error(`timed out waiting for job ${id}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function finalReports(prefix: string, id: string): Promise<RemediationReport[]> {
    const entries = (await redis.xrange(remediationResultsStream(redisKeys(prefix)), '-', '+')) as Array<[string, string[]]>;
    return entries.map(([, fields]) => remediationReportSchema.parse(JSON.parse(fields[1]!))).filter((r) => r.remediationId === id && r.state !== 'running');
  }

  it('a captured job added again does not run, under a new BullMQ id or its own, after the done marker is gone', async () => {
    const warnings: string[] = [];
    const { prefix, allowed } = await startAgent({ signingKey: key, warnings });
    const marker = join(allowed, 'once');
    const captured = signRemediationJob(job('rp-1', marker), key);
    await queue!.add(remediationJobName, captured, { jobId: 'rp-1' });
    expect(await finalReport(prefix, 'rp-1')).toMatchObject({ state: 'succeeded' });
    await returned('rp-1');
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);
    // Later: the done marker has lapsed (it covers only BullMQ's redelivery window).
    await redis.del(remediationDoneKey(redisKeys(prefix), 'rp-1'));

    // The same signed data under a new BullMQ job id.
    await queue!.add(remediationJobName, captured, { jobId: 'rp-1-again' });
    expect(await returned('rp-1-again')).toMatchObject({ state: 'failed', message: 'remediation rp-1 was already taken by job rp-1: job rp-1-again is a replay' });
    // And under its own id, once BullMQ removed the finished job: the agent's claim ledger returns the recorded result.
    await queue!.remove('rp-1');
    await queue!.add(remediationJobName, captured, { jobId: 'rp-1' });
    expect(await returned('rp-1')).toMatchObject({ state: 'succeeded', message: `touched ${marker}`, replayed: true });
    expect(existsSync(marker), 'a replay ran the playbook').toBe(false);
    // Not reported: the remediation keeps its one result.
    expect((await finalReports(prefix, 'rp-1')).map((r) => r.state)).toEqual(['succeeded']);
    // Logged once at warn (then at debug), naming the jobs, without the params.
    const refusals = warnings.filter((line) => line.includes('remediation job refused'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain('job rp-1-again is a replay');
    expect(refusals[0]).toContain('"refusal":"replayed"');
    expect(refusals[0]).toContain('"claimedByJobId":"rp-1"');
    expect(refusals[0]).not.toContain(marker);
  });

  it('refuses a job past its signed expiry (beyond the allowed clock skew) and one signed in its future; runs one within the skew', async () => {
    const warnings: string[] = [];
    const { prefix, allowed } = await startAgent({ signingKey: key, warnings });
    const hour = 3_600_000;
    const now = Date.now();
    const cases = [
      { id: 'old', nowMillis: now - 2 * hour, state: 'failed', message: /^job expired at .* too old to start, or a captured job added again$/ },
      { id: 'skewed', nowMillis: now - hour - 20_000, state: 'succeeded', message: /^touched / },
      { id: 'future', nowMillis: now + 5 * 60_000, state: 'failed', message: /^job signed at .*, ahead of this agent's clock by more than 60 s/ },
    ];
    for (const c of cases) await queue!.add(remediationJobName, signRemediationJob(job(c.id, join(allowed, c.id)), key, { validForMillis: hour, nowMillis: c.nowMillis }), { jobId: c.id });
    for (const c of cases) {
      const final = await finalReport(prefix, c.id);
      expect(final.state, c.id).toBe(c.state);
      expect(final.message, c.id).toMatch(c.message);
      expect(existsSync(join(allowed, c.id)), c.id).toBe(c.state === 'succeeded');
    }
    expect(warnings.filter((line) => line.includes('"refusal":"expired"'))).toHaveLength(1);
    // The expiry is signed: moved forward, the signature no longer matches.
    const stale = signRemediationJob(job('moved', join(allowed, 'moved')), key, { validForMillis: hour, nowMillis: now - 2 * hour });
    await queue!.add(remediationJobName, { ...stale, signature: { ...stale.signature!, expiresAtMillis: now + hour } }, { jobId: 'moved' });
    expect(await finalReport(prefix, 'moved')).toMatchObject({ state: 'failed', message: "job signature does not match: not queued by a scheduler holding this agent's key" });
    expect(existsSync(join(allowed, 'moved'))).toBe(false);
  });

  it('a signer refuses a validity out of bounds', () => {
    expect(() => signRemediationJob(job('x', 'y'), key, { validForMillis: 9 * 24 * 3_600_000 })).toThrow(/at most/);
    expect(() => signRemediationJob(job('x', 'y'), key, { validForMillis: 0 })).toThrow(/more than 0/);
  });
});

describe('job-signing key files', () => {
  it('reads a 0600 hex key, refuses one other users can read and one too short', () => {
    const path = join(dir, 'k1.key');
    writeFileSync(path, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
    expect(readJobSigningKey(path).keyId).toMatch(/^[0-9a-f]{16}$/);
    chmodSync(path, 0o644);
    expect(() => readJobSigningKey(path)).toThrow(/chmod 600/);
    writeFileSync(join(dir, 'k2.key'), 'ab'.repeat(16), { mode: 0o600 });
    expect(() => readJobSigningKey(join(dir, 'k2.key'))).toThrow(/at least 32 random bytes/);
    // The key never shows in its JSON form.
    expect(JSON.stringify({ key: readJobSigningKey(join(dir, 'job-signing.key')) })).not.toContain(readKeyHex(join(dir, 'job-signing.key')));
  });
});

function readKeyHex(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
