import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scheduler, TaskRecord } from '../src/index.js';
import { AgentDouble } from './agent-double.js';
import { CollectorDouble } from './collector-double.js';
import { eventually, startRedis, startScheduler, testPlaybook, type Harness } from './helpers.js';

let h: Harness;
let scheduler: Scheduler;
let agents: AgentDouble;
const collector = new CollectorDouble();
const apiToken = 'sched-api-token-0123456789';
const collectorToken = 'collector-token-abcdef012';
const webhookSecret = 'scaling-webhook-secret-0123';
const jobKey = 'a1'.repeat(32);

/** What a command that prints secrets returns: `exit code N`, then the end of its stdout and stderr (as `commandPlaybook` builds it). */
const output = [
  'exit code 1',
  'stdout:',
  '> Authorization: Bearer live-bearer-8f14e45f',
  'DB_PASSWORD=hunter2 DB_USER=app',
  // Sloth's own secrets, with nothing around them that looks secret: masked because the scheduler knows them.
  `seen ${apiToken}, ${collectorToken} and ${webhookSecret}`,
  // `cat` of the job-signing key file.
  jobKey,
  'connecting to postgres://app:pg-pass-42@db.internal:5432/app',
  'posted to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX',
  'stderr:',
  'warning: 3 tokens left, author bob',
].join('\n');
const secrets = ['live-bearer-8f14e45f', 'hunter2', apiToken, collectorToken, webhookSecret, jobKey, 'pg-pass-42', 'T00000000', 'XXXXXXXX'];

beforeAll(async () => {
  h = await startRedis();
  await collector.start();
  collector.set({ id: 'c1', cpuCores: 2, memoryMb: 2048, cpu: 0.1, memory: 0.1 });
  const jobSigningKeyFile = join(h.dir, 'job-signing.key');
  writeFileSync(jobSigningKeyFile, `${jobKey}\n`, { mode: 0o600 });
  scheduler = await startScheduler(h, [testPlaybook('backup', () => false)], {
    insecureNoAuth: false,
    jobSigningKeyFile,
    tokens: [apiToken],
    tasks: { collectorUrl: collector.url, collectorToken, allowedCommands: ['env'] },
    scaling: [
      {
        name: 'web',
        demandSeries: 'http.server.requests{agent="c1"}',
        capacityPerReplica: 10,
        minReplicas: 1,
        maxReplicas: 4,
        startupSeconds: 60,
        actuator: { kind: 'webhook', url: 'http://127.0.0.1:9/scale', secret: webhookSecret },
      },
    ],
  });
  agents = new AgentDouble(h.redisServer.url, scheduler.keys);
  agents.behaviour = () => ({ ok: false, message: output });
  await agents.start('c1');
});
afterAll(async () => {
  await agents.stop();
  await scheduler.shutdown();
  await collector.stop();
  await h.cleanup();
});

describe('a command task whose output prints secrets', () => {
  const url = (path: string): string => `http://127.0.0.1:${scheduler.listening.port}${path}`;
  const headers = { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' };

  it('stores and shows its output with every secret masked as ***, the rest as printed', async () => {
    const created = await fetch(url('/api/v1/tasks'), { method: 'POST', headers, body: JSON.stringify({ command: ['env'], resources: { cpuCores: 0.1, memoryMb: 16 } }) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const failed = await eventually(async () => {
      const task = (await (await fetch(url(`/api/v1/tasks/${id}`), { headers })).json()) as TaskRecord;
      return task.state === 'failed' ? task : undefined;
    }, 15_000, `task ${id} to fail`);

    expect(failed.reason).toBe('attempt 1 failed: exit code 1');
    expect(failed.attempts[0]?.message).toBe(
      [
        'exit code 1',
        'stdout:',
        '> Authorization: Bearer ***',
        'DB_PASSWORD=*** DB_USER=app',
        'seen ***, *** and ***',
        '***',
        'connecting to postgres://***:***@db.internal:5432/app',
        'posted to https://hooks.slack.com/…',
        'stderr:',
        'warning: 3 tokens left, author bob',
      ].join('\n'),
    );
    // What Redis holds is masked: older readers, the report and `sloth task show` read it from there.
    const stored = JSON.stringify(await h.redis.hgetall(scheduler.keys.key('task', id)));
    expect(stored).toContain('Bearer ***');
    for (const secret of secrets) expect(stored).not.toContain(secret);
    const listed = await (await fetch(url('/api/v1/tasks'), { headers })).text();
    for (const secret of secrets) expect(listed).not.toContain(secret);
  });
});
