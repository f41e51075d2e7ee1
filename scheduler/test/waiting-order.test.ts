import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { encodeJsonMessage, queueNames, remediationResultsStream, silentLogger, type RedisKeys } from '@sloth/core';
import { TaskService, tasksConfigSchema, type TaskRecord } from '../src/index.js';
import { newTaskRecord } from '../src/tasks/task-manager.js';
import { waitingScore } from '../src/tasks/task-store.js';
import { eventually, taskBed, testPlaybook } from './helpers.js';

/**
 * The priority order of waiting tasks across scheduler processes: several schedulers on one Redis
 * share the task records, the queue and the ledger (docs/scheduler.md), so the set of waiting tasks
 * a placement gives way to must be shared too, not each process's own memory.
 */

const bed = taskBed();
const { collector, running } = bed;

function freshKeys(): RedisKeys {
  return bed.freshKeys('w');
}

/** One scheduler's task service on `keys` (several may share them, as schedulers share one Redis prefix). */
async function scheduler(keys: RedisKeys, name: string, extra: Record<string, unknown> = {}): Promise<TaskService> {
  const config = tasksConfigSchema.parse({ collectorUrl: collector.url, waitRetrySeconds: 3600, ...extra });
  const service = new TaskService({ config, redisUrl: bed.h.redisServer.url, keys, consumerName: name, playbooks: () => [testPlaybook('backup', () => false)], logger: silentLogger(), checkMillis: 60_000 });
  await service.start();
  running.push({ stop: () => service.shutdown() });
  return service;
}

/** Scheduler A on fresh keys, with one idle agent of 2 cores known to the collector (and no other). */
async function oneAgent(agentId: string, extra: Record<string, unknown> = {}): Promise<{ keys: RedisKeys; a: TaskService }> {
  collector.agents.clear();
  collector.set({ id: agentId, cpuCores: 2, memoryMb: 4096, cpu: 0.1, memory: 0.1 });
  const keys = freshKeys();
  return { keys, a: await scheduler(keys, 'a', extra) };
}

const spec = (priority: number, cpuCores: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ playbook: 'backup', priority, resources: { cpuCores, memoryMb: 64 }, ...extra });

async function waitFor(service: TaskService, id: string, check: (record: TaskRecord) => boolean, what: string): Promise<TaskRecord> {
  return eventually(async () => {
    const record = await service.store.get(id);
    return record !== undefined && check(record) ? record : undefined;
  }, 15_000, `task ${id} to be ${what}`).catch(async (error: unknown) => {
    throw new Error(`${(error as Error).message}; it is ${JSON.stringify(await service.store.get(id))}`);
  });
}

/** Ends a placed task's run as its agent would (a result on the results stream), and waits until its room is free. */
async function finishRun(service: TaskService, keys: RedisKeys, record: TaskRecord, agentId: string): Promise<void> {
  const runId = `${record.id}.a1`;
  await bed.h.redis.xadd(remediationResultsStream(keys), '*', ...encodeJsonMessage({ remediationId: runId, agentId, state: 'succeeded', attempt: 1, atMillis: Date.now(), ok: true, message: 'done' }));
  await waitFor(service, record.id, (r) => r.state === 'succeeded', 'succeeded');
  await eventually(async () => (((await service.ledger.byAgent([agentId])).get(agentId) ?? []).length === 0 ? true : undefined), 5000, 'the room to be released');
}

describe('waiting tasks across schedulers (two task services on one redis-server)', () => {
  it('a less urgent task submitted to scheduler B does not take the room a more urgent task waiting in scheduler A needs', async () => {
    const { keys, a } = await oneAgent('solo');
    // No agent runs anything here: runs end when the test writes their result.
    const blocker = await a.manager.submit(spec(100, 1.5), 'x');
    expect(blocker.state).toBe('placed');
    const urgent = await a.manager.submit(spec(10, 1.5), 'x');
    await waitFor(a, urgent.id, (r) => r.state === 'waiting', 'waiting');
    // The room frees up between two looks of the urgent task (here it looks again at the next full hour)…
    await finishRun(a, keys, blocker, 'solo');
    // …and a second scheduler, which never saw the urgent task wait, is asked to place a less urgent one that fits.
    const b = await scheduler(keys, 'b');
    const small = await b.manager.submit(spec(500, 1), 'y');
    expect(small.state).toBe('queued');
    // Through B's queue it gives way too, naming the task it waits behind.
    const behind = await waitFor(b, small.id, (r) => r.state === 'waiting', 'waiting');
    expect(behind.reason).toBe(`waiting behind task ${urgent.id} (priority 10, more urgent), which fits the room free now`);
    expect((await b.ledger.byAgent(['solo'])).get('solo')).toEqual([]);
  });

  it('a waiting task that fits is found behind 20 more urgent ones that fit nowhere, and a less urgent submission gives way to it', async () => {
    const { keys, a } = await oneAgent('deep');
    const blocker = await a.manager.submit(spec(100, 1.5), 'x');
    expect(blocker.state).toBe('placed');
    // Twenty of the most urgent tasks need a label no agent has; behind them, one that needs the blocker's room.
    const nowhere = await Promise.all(Array.from({ length: 20 }, () => a.manager.submit(spec(5, 0.1, { constraints: { zone: 'nowhere' } }), 'x')));
    const urgent = await a.manager.submit(spec(10, 1.5), 'x');
    for (const task of [...nowhere, urgent]) await waitFor(a, task.id, (r) => r.state === 'waiting', 'waiting');
    await finishRun(a, keys, blocker, 'deep');
    const late = await a.manager.submit(spec(500, 1), 'x');
    expect(late.state).toBe('queued');
    expect((await waitFor(a, late.id, (r) => r.state === 'waiting', 'waiting')).reason).toBe(`waiting behind task ${urgent.id} (priority 10, more urgent), which fits the room free now`);
    expect((await a.ledger.byAgent(['deep'])).get('deep')).toEqual([]);
  });

  it('a waiting task whose waiting entry or placement job was lost is found again, and its entry goes when it is placed', async () => {
    const { keys, a } = await oneAgent('lost', { waitRetrySeconds: 0.2 });
    await a.ledger.setDrained('lost', true);
    a.inventory.applyDrain('lost', true);
    const task = await a.manager.submit(spec(100, 1), 'x');
    await waitFor(a, task.id, (r) => r.state === 'waiting', 'waiting');
    const everything = waitingScore(1001, 0);
    const waitingIds = async (): Promise<string[]> => (await a.store.waitingAhead(everything, 10)).map((w) => w.taskId);
    expect(await waitingIds()).toEqual([task.id]);
    // A look that finds what the record already says writes no record, only the time of the look.
    const version = await bed.h.redis.hget(keys.key('task', task.id), 'version');
    const since = Date.now();
    await eventually(async () => ((await a.store.waitingNotLookedSince(since + 1, 10)).length === 0 ? true : undefined), 5000, 'a look');
    expect(await bed.h.redis.hget(keys.key('task', task.id), 'version')).toBe(version);
    // The entry is lost (as after a crash of a version that kept none): the task's next look puts it back.
    await bed.h.redis.del(keys.key('task-waiting'), keys.key('task-waiting', 'entries'), keys.key('task-waiting', 'looked'));
    await eventually(async () => ((await waitingIds()).length === 1 ? true : undefined), 5000, 'the entry to come back');
    expect(Number(await bed.h.redis.hget(keys.key('task', task.id), 'version'))).toBeGreaterThan(Number(version));
    // Its placement job is lost: nothing makes it look again, even once room appears…
    const queue = new Queue(queueNames.tasks, { connection: bed.h.redis, prefix: keys.queuePrefix });
    try {
      await eventually(async () => ((await queue.remove(`${task.id}.p1`)) === 1 ? true : undefined), 5000, 'the placement job to be removed');
      await a.ledger.setDrained('lost', false);
      a.inventory.applyDrain('lost', false);
      await new Promise((r) => setTimeout(r, 1000));
      expect((await a.store.get(task.id))?.state).toBe('waiting');
      // …until the check finds it has not looked for three retry periods and gives it its job back.
      expect(await a.manager.checkPlacementJobs()).toEqual({ requeued: 1, dropped: 0 });
      await waitFor(a, task.id, (r) => r.state === 'placed', 'placed');
      expect(await waitingIds()).toEqual([]);
      expect(await a.manager.checkPlacementJobs()).toEqual({ requeued: 0, dropped: 0 });
    } finally {
      await queue.close();
    }
  });

  it('a task with two placement jobs (one given back by the check while the other was handled) is placed and run once', async () => {
    const { keys, a } = await oneAgent('twice', { waitRetrySeconds: 1 });
    await a.ledger.setDrained('twice', true);
    a.inventory.applyDrain('twice', true);
    const task = await a.manager.submit(spec(100, 0.5), 'x');
    await waitFor(a, task.id, (r) => r.state === 'waiting', 'waiting');
    // A second placement job for the same task, due at the same grid instant as its own: both look at once.
    const queue = new Queue(queueNames.tasks, { connection: bed.h.redis, prefix: keys.queuePrefix });
    try {
      const own = await queue.getJob(`${task.id}.p1`);
      const dueAt = (own?.timestamp ?? Date.now()) + (own?.delay ?? 0);
      await queue.add('place', { taskId: task.id }, { jobId: `${task.id}.again`, priority: 100, delay: Math.max(0, dueAt - Date.now()) });
      await a.ledger.setDrained('twice', false);
      a.inventory.applyDrain('twice', false);
      await waitFor(a, task.id, (r) => r.state === 'placed', 'placed');
      await eventually(async () => ((await queue.getJobCounts('delayed', 'wait', 'prioritized', 'active')).active === 0 ? true : undefined), 5000, 'both placement jobs to be handled');
      await new Promise((r) => setTimeout(r, 1500));
      const record = await a.store.get(task.id);
      expect(record?.attempts.map((attempt) => attempt.runId)).toEqual([`${task.id}.a1`]);
      expect((await a.ledger.byAgent(['twice'])).get('twice')?.map((r) => r.taskId)).toEqual([task.id]);
    } finally {
      await queue.close();
    }
  });

  it('a task stored as queued whose placement job was never queued (its scheduler died in between) is found by the check and placed', async () => {
    const { keys, a } = await oneAgent('orphan', { waitRetrySeconds: 0.2 });
    const pending = async (): Promise<string[]> => bed.h.redis.zrange(keys.key('task-pending'), 0, -1);
    // What submit stores before it queues the job; the process dies before the job is queued.
    const record = newTaskRecord(await a.manager.validate(spec(100, 1)), 'x', Date.now());
    await a.store.create(record);
    expect(await pending()).toEqual([record.id]);
    // Nothing places it while it has been pending for less than three retry periods…
    expect(await a.manager.checkPlacementJobs()).toEqual({ requeued: 0, dropped: 0 });
    await new Promise((r) => setTimeout(r, 700));
    expect((await a.store.get(record.id))?.state).toBe('queued');
    // …then the check gives it its placement job, and it leaves the pending set when placed.
    expect(await a.manager.checkPlacementJobs()).toEqual({ requeued: 1, dropped: 0 });
    await waitFor(a, record.id, (r) => r.state === 'placed', 'placed');
    expect(await pending()).toEqual([]);
    // A task that goes through the queue and waits is pending only until its first look.
    await a.ledger.setDrained('orphan', true);
    a.inventory.applyDrain('orphan', true);
    const waiting = await a.manager.submit(spec(100, 1), 'x');
    await waitFor(a, waiting.id, (r) => r.state === 'waiting', 'waiting');
    expect(await pending()).toEqual([]);
    expect(await a.manager.checkPlacementJobs()).toEqual({ requeued: 0, dropped: 0 });
  });
});
