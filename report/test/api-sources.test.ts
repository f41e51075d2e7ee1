import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTasks } from '../src/index.js';

/** A real HTTP server standing in for the scheduler: answers `GET /api/v1/tasks` with `body` and records what it was asked. */
class FakeScheduler {
  body: unknown = { tasks: [] };
  status = 200;
  readonly asked: Array<{ url: string; authorization: string | undefined }> = [];
  private readonly server: Server = createServer((request, response) => {
    this.asked.push({ url: request.url ?? '', authorization: request.headers.authorization });
    response.writeHead(this.status, { 'content-type': 'application/json' });
    response.end(typeof this.body === 'string' ? this.body : JSON.stringify(this.body));
  });

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('readTasks', () => {
  const scheduler = new FakeScheduler();
  const token = 'sched-token-7f3a';
  beforeAll(async () => scheduler.start());
  afterAll(async () => scheduler.stop());

  it('keeps what the report shows of well-formed tasks, skips malformed entries and attempts, and never keeps params or the token', async () => {
    scheduler.status = 200;
    scheduler.body = {
      tasks: [
        // Newest first, as the API lists them.
        {
          id: 't-2',
          spec: { name: 'backup', command: ['sh-backup', `--auth=${token}`, 42], params: { apiKey: 'param-secret-1' }, resources: { cpuCores: 1, memoryMb: 64 } },
          state: 'failed',
          submittedBy: 'ops',
          createdAtMillis: 2_000,
          updatedAtMillis: 9_000,
          decision: { agentId: 'web-1', strategy: 'spread', evaluated: 3, candidates: [], explanation: 'best fit' },
          reason: `attempt 2 failed: curl -H "Bearer ${token}" exit 7`,
          attempts: [
            { attempt: 2, agentId: 'web-2', runId: 't-2.a2', placedAtMillis: 5_000, startedAtMillis: 5_100, finishedAtMillis: 6_000, outcome: 'failed', message: 'exit 7' },
            { attempt: 1, agentId: 'web-1', runId: 't-2.a1', placedAtMillis: 2_500, startedAtMillis: 2_600, finishedAtMillis: null, outcome: 'agent-down', message: null, redeliveries: 1 },
            // No agent, no placement time, not an object: skipped.
            { attempt: 3, runId: 't-2.a3', placedAtMillis: 7_000 },
            { attempt: 4, agentId: 'web-3', placedAtMillis: 'soon' },
            'garbage',
          ],
          avoidAgents: ['web-1'],
        },
        { id: 't-1', spec: { playbook: 'restart' }, state: 'succeeded', createdAtMillis: 1_000, reason: null, attempts: 'not a list' },
        // No id, a creation time that is not a number, not an object: skipped.
        { spec: { playbook: 'x' }, state: 'queued', createdAtMillis: 1_500, attempts: [] },
        { id: 't-3', state: 'queued', createdAtMillis: '1970-01-01', attempts: [] },
        null,
        42,
        // No spec at all: kept, with nothing to name it by.
        { id: 't-4', state: 'weird', createdAtMillis: 3_000 },
      ],
    };
    const read = await readTasks({ url: scheduler.url, token });
    expect(scheduler.asked.at(-1)).toEqual({ url: '/api/v1/tasks?limit=10000', authorization: `Bearer ${token}` });
    if (!read.available) throw new Error(read.reason);
    expect(read.truncated).toBe(false);
    expect(read.tasks).toEqual([
      { id: 't-1', name: '', playbook: 'restart', command: [], state: 'succeeded', createdAtMillis: 1_000, updatedAtMillis: 1_000, reason: '', attempts: [] },
      {
        id: 't-2',
        name: 'backup',
        playbook: '',
        command: ['sh-backup', '--auth=***'],
        state: 'failed',
        createdAtMillis: 2_000,
        updatedAtMillis: 9_000,
        reason: 'attempt 2 failed: curl -H "Bearer ***" exit 7',
        attempts: [
          { attempt: 1, agentId: 'web-1', placedAtMillis: 2_500, startedAtMillis: 2_600, finishedAtMillis: null, outcome: 'agent-down', message: '', redeliveries: 1 },
          { attempt: 2, agentId: 'web-2', placedAtMillis: 5_000, startedAtMillis: 5_100, finishedAtMillis: 6_000, outcome: 'failed', message: 'exit 7', redeliveries: 0 },
        ],
      },
      { id: 't-4', name: '', playbook: '', command: [], state: 'weird', createdAtMillis: 3_000, updatedAtMillis: 3_000, reason: '', attempts: [] },
    ]);
    expect(JSON.stringify(read)).not.toMatch(/param-secret|sched-token/);
  });

  it('says why when the scheduler fails, rejects the token or answers without a task list', async () => {
    scheduler.status = 401;
    scheduler.body = { error: { code: 'SLOTH_ERR_AUTH' } };
    expect(await readTasks({ url: scheduler.url, token: 'wrong-token-1' })).toEqual({ available: false, reason: `the scheduler at ${scheduler.url} answered HTTP 401 (check --scheduler-token)` });
    scheduler.status = 200;
    scheduler.body = { items: [] };
    expect(await readTasks({ url: scheduler.url })).toEqual({ available: false, reason: `the scheduler at ${scheduler.url} answered without a "tasks" list` });
    scheduler.body = 'not json';
    expect(await readTasks({ url: scheduler.url })).toEqual({ available: false, reason: `the scheduler at ${scheduler.url} answered with a body that is not JSON` });
  });

  it('marks an answer cut at the API\u2019s maximum as truncated', async () => {
    scheduler.status = 200;
    scheduler.body = { tasks: Array.from({ length: 10_000 }, (_, i) => ({ id: `t-${i}`, spec: { playbook: 'p' }, state: 'succeeded', createdAtMillis: 10_000 - i, attempts: [] })) };
    const read = await readTasks({ url: scheduler.url });
    expect(read.available && read.truncated).toBe(true);
    expect(read.available && read.tasks[0]?.createdAtMillis).toBe(1);
  });
});
