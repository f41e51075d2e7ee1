import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { ensureJobSigningKey, queueNames, redisKeys, remediationJobSchema, verifyRemediationJob, type JobSigningKey, type RemediationJob } from '@sloth/core';
import { loadSchedulerConfig } from '../src/index.js';
import { AgentQueues } from '../src/tasks/agent-queues.js';
import { PlaybookActuator } from '../src/scaling/actuator.js';
import { startRedis, testPlaybook, type Harness } from './helpers.js';

let h: Harness;
let key: JobSigningKey;

beforeAll(async () => {
  h = await startRedis();
  key = ensureJobSigningKey(h.dir).key;
});

afterAll(async () => {
  await h.cleanup();
});

function run(id: string, agentId: string): RemediationJob {
  return {
    remediationId: id,
    agentId,
    playbook: { name: 'p', version: '1.0.0', fileName: 'p.lua', source: 'return { name = "p" }' },
    params: { b: 1, a: { y: 2, x: [1, 2] } },
    event: { kind: 'task', taskId: id, attempt: 1, name: null },
    dryRun: false,
    triggeredAtMillis: 1,
    enqueuedAtMillis: 2,
  };
}

/** The job as an agent reads it back from Redis (BullMQ's JSON round trip, then the agent's schema). */
async function stored(agentId: string, jobId: string): Promise<RemediationJob> {
  const queue = new Queue(queueNames.agent(agentId), { connection: h.redis, prefix: redisKeys(h.prefix).queuePrefix });
  const job = await queue.getJob(jobId);
  await queue.close();
  return remediationJobSchema.parse(job?.data);
}

describe('the scheduler signs the jobs it queues for agents', () => {
  it('task runs (AgentQueues, single and bulk) verify with the key on their agent, and only there', async () => {
    const queues = new AgentQueues(h.redis, redisKeys(h.prefix), key);
    await Promise.all([queues.add('web-1', run('t1.a1', 'web-1'), { jobId: 't1.a1' }), queues.add('web-1', run('t2.a1', 'web-1'), { jobId: 't2.a1' }), queues.add('web-2', run('t3.a1', 'web-2'), { jobId: 't3.a1' })]);
    await queues.close();
    for (const [agentId, id] of [['web-1', 't1.a1'], ['web-1', 't2.a1'], ['web-2', 't3.a1']] as const) {
      const job = await stored(agentId, id);
      expect(job.signature?.keyId).toBe(key.keyId);
      expect(verifyRemediationJob(job, key, agentId)).toEqual({ ok: true });
      expect(verifyRemediationJob(job, key, agentId === 'web-1' ? 'web-2' : 'web-1')).toMatchObject({ ok: false, kind: 'wrong-agent' });
    }
    mkdirSync(join(h.dir, 'other'));
    const other = ensureJobSigningKey(join(h.dir, 'other')).key;
    expect(verifyRemediationJob(await stored('web-1', 't1.a1'), other, 'web-1')).toMatchObject({ ok: false, kind: 'mismatch' });
  });

  it('without a key, task runs go unsigned (an agent with a key refuses them)', async () => {
    const queues = new AgentQueues(h.redis, redisKeys(h.prefix));
    await queues.add('web-3', run('t4.a1', 'web-3'), { jobId: 't4.a1' });
    await queues.close();
    const job = await stored('web-3', 't4.a1');
    expect(job.signature).toBeUndefined();
    expect(verifyRemediationJob(job, key, 'web-3')).toMatchObject({ ok: false, kind: 'missing', reason: 'job signature missing' });
  });

  it('scaling playbook actuators sign their jobs', async () => {
    const queue = new Queue(queueNames.agent('ops-1'), { connection: h.redis, prefix: redisKeys(h.prefix).queuePrefix });
    const actuator = new PlaybookActuator(() => testPlaybook('scale', () => false), 'ops-1', queue, key);
    const result = await actuator.scale({ target: 'web', replicas: 3, previous: 2, reasons: ['forecast'], decidedAtMillis: 1000 });
    await queue.close();
    expect(result.kind).toBe('ok');
    expect(verifyRemediationJob(await stored('ops-1', 'scale-web-1000'), key, 'ops-1')).toEqual({ ok: true });
  });

  it('reads the key from SLOTH_JOB_SIGNING_KEY_FILE, and refuses a key file other users can read', () => {
    const path = join(h.dir, 'job-signing.key');
    const config = loadSchedulerConfig({ file: undefined, env: { SLOTH_JOB_SIGNING_KEY_FILE: path }, flags: { insecureNoAuth: true } });
    expect(config.jobSigningKeyFile).toBe(path);
    expect(config.jobSigningKey?.keyId).toBe(key.keyId);
    const open = join(h.dir, 'open.key');
    writeFileSync(open, 'ab'.repeat(32), { mode: 0o644 });
    expect(() => loadSchedulerConfig({ file: undefined, env: { SLOTH_JOB_SIGNING_KEY_FILE: open }, flags: { insecureNoAuth: true } })).toThrow(/chmod 600/);
  });
});
