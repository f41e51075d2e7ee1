import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys, type RedisKeys } from '@sloth/core';
import { parseTaskSpec, placeTask, ReservationLedger, TaskStore, type AgentSnapshot, type TaskRecord } from '../src/index.js';
import { waitingScore } from '../src/tasks/task-store.js';
import { startRedis, type Harness } from './helpers.js';

let h: Harness;
let counter = 0;
const connections: Redis[] = [];

beforeAll(async () => {
  h = await startRedis();
});
afterAll(async () => {
  for (const connection of connections) connection.disconnect();
  await h.cleanup();
});

function record(id: string, extra: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id,
    spec: parseTaskSpec({ playbook: 'backup', resources: { cpuCores: 1, memoryMb: 64 }, timeoutSeconds: 60 }),
    state: 'queued',
    submittedBy: 'test',
    createdAtMillis: 1000,
    updatedAtMillis: 1000,
    decision: null,
    reason: null,
    attempts: [],
    avoidAgents: [],
    ...extra,
  };
}

const agent = (id: string): AgentSnapshot => ({ id, up: true, drained: false, labels: {}, cpuCores: 4, memoryMb: 8192, reservedCpuCores: 0, reservedMemoryMb: 0, running: 0, cpuUtilization: 0.2, memoryUtilization: 0.3, metricsAtMillis: 1000, recentCpuCores: 0 });

const attempt = (n: number, agentId: string): TaskRecord['attempts'][number] => ({ attempt: n, agentId, runId: `task-x.a${n}`, placedAtMillis: 5000, startedAtMillis: null, finishedAtMillis: null, outcome: null, message: null });

/** Two schedulers' stores on one Redis prefix, each with its own connection and record cache. */
function twoStores(): [TaskStore, TaskStore, ReservationLedger, RedisKeys] {
  counter += 1;
  const keys = redisKeys(`${h.prefix}s${counter}`);
  const a = h.redis.duplicate();
  const b = h.redis.duplicate();
  connections.push(a, b);
  return [new TaskStore(a, keys), new TaskStore(b, keys), new ReservationLedger(h.redis, keys), keys];
}

describe('task store (real Redis, two schedulers)', () => {
  it('updates from the version it last saw, and re-reads when another scheduler changed the record since', async () => {
    const [a, b] = twoStores();
    await a.create(record('task-x'));
    await b.update('task-x', (r) => {
      r.state = 'placed';
      r.attempts.push(attempt(1, 'w1'));
    });
    // `a` still caches version 1 without the attempt: a change that needs the attempt must not be refused on that copy.
    const updated = await a.update('task-x', (r) => {
      const current = r.attempts.find((x) => x.runId === 'task-x.a1');
      if (current === undefined) return false;
      current.startedAtMillis = 6000;
      r.state = 'running';
    });
    expect(updated?.state).toBe('running');
    const stored = await b.get('task-x');
    expect(stored?.attempts).toEqual([{ ...attempt(1, 'w1'), startedAtMillis: 6000 }]);
    // A refusal on what Redis holds is final: nothing is written.
    expect(await a.update('task-x', (r) => (r.attempts.some((x) => x.attempt === 2) ? undefined : false))).toBeUndefined();
    expect((await b.get('task-x'))?.state).toBe('running');
  });

  it('keeps the decision apart from the record: a run update rewrites only the record, a new decision both, and a record stored whole still reads and updates', async () => {
    const [a, b, , keys] = twoStores();
    const decision = placeTask({ cpuCores: 1, memoryMb: 64, constraints: {}, affinities: [] }, [agent('w1'), agent('w2')], { defaultStrategy: 'spread', maxMetricsAgeMillis: 60_000, maxConcurrentPerAgent: 4 }, 1000);
    await a.create(record('task-x', { state: 'placed', decision, reason: decision.explanation, attempts: [attempt(1, 'w1')] }));
    const key = keys.key('task', 'task-x');
    expect(JSON.parse((await h.redis.hget(key, 'decision')) ?? 'null')).toEqual(decision);
    expect(JSON.parse((await h.redis.hget(key, 'record')) ?? '{}')).not.toHaveProperty('decision');
    // A run's start: the decision field is not written again (a value set behind the store's back survives).
    await h.redis.hset(key, 'decision', JSON.stringify({ ...decision, explanation: 'marker' }));
    const started = await a.update('task-x', (r) => {
      r.state = 'running';
    });
    expect(started?.state).toBe('running');
    expect(JSON.parse((await h.redis.hget(key, 'decision')) ?? 'null').explanation).toBe('marker');
    expect((await b.get('task-x'))?.decision?.explanation).toBe('marker');
    // A new decision is written with the record.
    const waiting = await b.update('task-x', (r) => {
      r.decision = { ...decision, agentId: null, explanation: 'nothing fits' };
      r.state = 'waiting';
    });
    expect(waiting?.decision?.explanation).toBe('nothing fits');
    expect((await a.get('task-x'))?.decision?.explanation).toBe('nothing fits');
    // A record stored whole (before the split) reads with its decision, and its first update moves the decision out.
    await h.redis.hdel(key, 'decision');
    await h.redis.hset(key, 'version', '9', 'record', JSON.stringify(record('task-x', { state: 'placed', decision, attempts: [attempt(1, 'w1')] })));
    expect((await a.get('task-x'))?.decision).toEqual(decision);
    expect((await a.list({ limit: 5 })).map((r) => r.decision)).toEqual([decision]);
    await b.update('task-x', (r) => {
      r.state = 'running';
    });
    expect(JSON.parse((await h.redis.hget(key, 'decision')) ?? 'null')).toEqual(decision);
    expect(JSON.parse((await h.redis.hget(key, 'record')) ?? '{}')).not.toHaveProperty('decision');
    expect((await a.get('task-x'))?.state).toBe('running');
  });

  it('indexes runs on agents with their deadline, and drops them when the run ends', async () => {
    const [a] = twoStores();
    await a.create(record('task-x'));
    await a.update('task-x', (r) => {
      r.state = 'placed';
      r.attempts.push(attempt(1, 'w1'));
    });
    expect(await a.active()).toEqual([{ taskId: 'task-x', agentId: 'w1', deadlineMillis: 5000 + 60_000 }]);
    await a.update('task-x', (r) => {
      r.state = 'running';
      (r.attempts[0] as TaskRecord['attempts'][number]).startedAtMillis = 7000;
    });
    expect(await a.active()).toEqual([{ taskId: 'task-x', agentId: 'w1', deadlineMillis: 7000 + 60_000 }]);
    await a.update('task-x', (r) => {
      r.state = 'succeeded';
      (r.attempts[0] as TaskRecord['attempts'][number]).outcome = 'succeeded';
    });
    expect(await a.active()).toEqual([]);
  });

  it('creates a placed record only when its reservation is won, in one script', async () => {
    const [a, b, ledger] = twoStores();
    const limits = { cpuCores: 1, memoryMb: 1024, maxConcurrent: 4 };
    const hold = { holdsKey: ledger.holdsKey('w1'), totalsKey: ledger.totalsKey('w1') };
    const placed = (id: string): TaskRecord => record(id, { state: 'placed', attempts: [{ ...attempt(1, 'w1'), runId: `${id}.a1` }] });
    // Two schedulers race for the last core of w1: one wins the room and writes its record, the other writes nothing.
    const race = (store: TaskStore, id: string): Promise<string> => store.createReserved(placed(id), hold, { taskId: id, cpuCores: 1, memoryMb: 64, atMillis: 1 }, limits);
    const outcomes = await Promise.all([race(a, 'task-1'), race(b, 'task-2')]);
    expect([...outcomes].sort()).toEqual(['cpu', 'ok']);
    const winner = outcomes[0] === 'ok' ? 'task-1' : 'task-2';
    expect((await a.get(winner))?.state).toBe('placed');
    expect(await a.get(winner === 'task-1' ? 'task-2' : 'task-1')).toBeUndefined();
    expect((await ledger.byAgent(['w1'])).get('w1')?.map((r) => r.taskId)).toEqual([winner]);
    expect((await a.active()).map((r) => r.taskId)).toEqual([winner]);
    expect((await a.list({ limit: 10 })).map((r) => r.id)).toEqual([winner]);
    // Concurrency and memory are checked as the ledger checks them.
    expect(await a.createReserved(placed('task-3'), hold, { taskId: 'task-3', cpuCores: 0, memoryMb: 2048, atMillis: 1 }, limits)).toBe('memory');
    expect(await a.createReserved(placed('task-4'), hold, { taskId: 'task-4', cpuCores: 0, memoryMb: 1, atMillis: 1 }, { ...limits, maxConcurrent: 1 })).toBe('concurrency');
    expect(await a.get('task-3')).toBeUndefined();
    expect(await a.get('task-4')).toBeUndefined();
    // A reservation and a record of two different tasks are a bug, not a race.
    await expect(a.createReserved(placed('task-5'), hold, { taskId: 'task-6', cpuCores: 0, memoryMb: 1, atMillis: 1 }, limits)).rejects.toThrow(/task-6/);
  });

  it('records a run\'s end and releases its reservation in one write, and releases nothing when the write is refused', async () => {
    const [a, b, ledger] = twoStores();
    const limits = { cpuCores: 2, memoryMb: 1024, maxConcurrent: 4 };
    await a.create(record('task-x', { state: 'placed', attempts: [attempt(1, 'w1')] }));
    await ledger.reserve('w1', { taskId: 'task-x', cpuCores: 1.5, memoryMb: 64, atMillis: 1 }, limits);
    await ledger.reserve('w1', { taskId: 'task-y', cpuCores: 0.5, memoryMb: 32, atMillis: 1 }, limits);
    const hold = { holdsKey: ledger.holdsKey('w1'), totalsKey: ledger.totalsKey('w1') };
    const finish = (r: TaskRecord): boolean | void => {
      const current = r.attempts[0] as TaskRecord['attempts'][number];
      if (current.outcome !== null) return false;
      current.outcome = 'succeeded';
      r.state = 'succeeded';
    };
    // `b` has never seen the record: it reads it, writes the end and releases task-x's room only.
    const first = await b.updateReleasing('task-x', finish, () => hold);
    expect(first.released).toBe(true);
    expect(first.record?.state).toBe('succeeded');
    expect((await ledger.byAgent(['w1'])).get('w1')?.map((r) => r.taskId)).toEqual(['task-y']);
    // The totals went down with it: the 1.5 cores are free again (2 − 0.5 held by task-y).
    expect(await ledger.reserve('w1', { taskId: 'task-z', cpuCores: 1.5, memoryMb: 64, atMillis: 1 }, limits)).toBe('ok');
    expect(await ledger.reserve('w1', { taskId: 'task-w', cpuCores: 0.1, memoryMb: 1, atMillis: 1 }, limits)).toBe('cpu');
    // `a`'s cached copy is stale; on the fresh record the change refuses, so nothing is written or released.
    const second = await a.updateReleasing('task-x', finish, () => hold);
    expect(second).toEqual({ record: undefined, released: false });
    expect((await ledger.byAgent(['w1'])).get('w1')?.map((r) => r.taskId).sort()).toEqual(['task-y', 'task-z']);
    expect(await a.active()).toEqual([]);
  });

  it('keeps the waiting set with the record, for every scheduler: in it while the task waits (by priority, then wait start), out of it once it stops waiting', async () => {
    const [a, b, ledger, keys] = twoStores();
    const spec = (priority: number): TaskRecord['spec'] => parseTaskSpec({ playbook: 'backup', priority, resources: { cpuCores: 1, memoryMb: 64 }, constraints: { zone: 'eu-1' } });
    const wait = (atMillis: number) => (r: TaskRecord): void => {
      r.state = 'waiting';
      r.updatedAtMillis = atMillis;
    };
    for (const [id, priority] of [['task-1', 50], ['task-2', 10], ['task-3', 50]] as const) await a.create(record(id, { spec: spec(priority) }));
    await a.update('task-1', wait(2000));
    await b.update('task-2', wait(3000));
    await a.update('task-3', wait(2500));
    const everything = waitingScore(1001, 0);
    const view = async (store: TaskStore): Promise<Array<[string, number, number]>> => (await store.waitingAhead(everything, 10)).map((w) => [w.taskId, w.priority, w.sinceMillis]);
    expect(await view(b)).toEqual([['task-2', 10, 3000], ['task-1', 50, 2000], ['task-3', 50, 2500]]);
    expect((await a.waitingAhead(everything, 1))[0]?.request).toEqual({ cpuCores: 1, memoryMb: 64, constraints: { zone: 'eu-1' }, affinities: [], avoidAgents: [] });
    // A later look keeps the task's place (its wait start), and only what ranks before a score is returned.
    await b.update('task-1', wait(9000));
    expect(await view(a)).toEqual([['task-2', 10, 3000], ['task-1', 50, 2000], ['task-3', 50, 2500]]);
    expect((await a.waitingAhead(waitingScore(50, 0), 10)).map((w) => w.taskId)).toEqual(['task-2']);
    // A submit-time placement is refused while a task at least as urgent waits, on any scheduler, and writes nothing.
    const limits = { cpuCores: 4, memoryMb: 1024, maxConcurrent: 4 };
    const hold = { holdsKey: ledger.holdsKey('w1'), totalsKey: ledger.totalsKey('w1') };
    const placed = (id: string, priority: number): TaskRecord => record(id, { spec: spec(priority), state: 'placed', attempts: [{ ...attempt(1, 'w1'), runId: `${id}.a1` }] });
    const reserve = (id: string, priority: number): Promise<string> => b.createReserved(placed(id, priority), hold, { taskId: id, cpuCores: 1, memoryMb: 64, atMillis: 1 }, limits, { behindScore: waitingScore(priority + 1, 0) });
    expect(await reserve('task-4', 10)).toBe('behind');
    expect(await b.get('task-4')).toBeUndefined();
    expect((await ledger.byAgent(['w1'])).get('w1')).toEqual([]);
    expect(await reserve('task-5', 9)).toBe('ok');
    // Placed, cancelled, failed: out of the set, with its request.
    await a.update('task-2', (r) => {
      r.state = 'placed';
      r.attempts.push(attempt(1, 'w1'));
    });
    await b.update('task-1', (r) => {
      r.state = 'cancelled';
    });
    expect(await view(b)).toEqual([['task-3', 50, 2500]]);
    await a.update('task-3', (r) => {
      r.state = 'failed';
    });
    expect(await a.waitingCount()).toBe(0);
    expect(await a.waitingAhead(everything, 10)).toEqual([]);
    // A task that waits again after an attempt has a new place, from that wait.
    await b.update('task-2', wait(12_000));
    expect(await view(a)).toEqual([['task-2', 10, 12_000]]);
    // A leftover entry is dropped only when its record does not wait.
    expect(await a.dropWaiting('task-2')).toBe(false);
    expect(await a.waitingCount()).toBe(1);
    expect(await a.waitingNotLookedSince(12_001, 10)).toEqual(['task-2']);
    expect(await a.waitingNotLookedSince(12_000, 10)).toEqual([]);
    await a.update('task-2', (r) => {
      r.state = 'cancelled';
    });
    await h.redis.zadd(keys.key('task-waiting'), 1, 'task-2');
    expect(await a.waitingCount()).toBe(1);
    expect(await a.dropWaiting('task-2')).toBe(true);
    expect(await a.waitingCount()).toBe(0);
  });

  it('keeps the pending set with the record: queued and retrying tasks are in it, and a leftover drop cannot take out a task that still awaits its placement job', async () => {
    const [a, b, , keys] = twoStores();
    const pending = async (): Promise<string[]> => h.redis.zrange(keys.key('task-pending'), 0, -1);
    await a.create(record('task-p'));
    expect(await pending()).toEqual(['task-p']);
    // Another scheduler's check, working from a read before the task was retried, tries to drop the entry: it stays.
    expect(await b.dropPending('task-p')).toBe(false);
    expect(await pending()).toEqual(['task-p']);
    await a.update('task-p', (r) => {
      r.state = 'placed';
      r.attempts.push(attempt(1, 'w1'));
    });
    expect(await pending()).toEqual([]);
    await b.update('task-p', (r) => {
      r.state = 'retrying';
    });
    expect(await pending()).toEqual(['task-p']);
    expect(await a.dropPending('task-p')).toBe(false);
    await a.update('task-p', (r) => {
      r.state = 'cancelled';
    });
    expect(await pending()).toEqual([]);
    // A leftover entry (its record no longer pending) is dropped.
    await h.redis.zadd(keys.key('task-pending'), 1, 'task-p');
    expect(await b.dropPending('task-p')).toBe(true);
    expect(await pending()).toEqual([]);
  });
});
