import type { Redis } from 'ioredis';
import type { RedisKeys } from '@sloth/core';
import type { TaskRecord, TaskState } from './spec.js';

// Writes a record only if its version is the expected one, so two schedulers
// updating one task cannot overwrite each other's change; keeps the set of
// tasks with a run on an agent in the same step.
const casScript = `
local current = redis.call('HGET', KEYS[1], 'version')
if (current or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'record', ARGV[3])
if ARGV[4] == '1' then redis.call('SADD', KEYS[2], ARGV[5]) else redis.call('SREM', KEYS[2], ARGV[5]) end
return 1
`;

/** Task records in Redis: one hash per task plus a time index, shared by every scheduler (never under `<prefix>:tasks:`, which is BullMQ's queue). */
export class TaskStore {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly versions = new Map<string, number>();

  constructor(redis: Redis, keys: RedisKeys) {
    this.redis = redis;
    this.keys = keys;
    if (!('slothTaskCas' in redis)) redis.defineCommand('slothTaskCas', { numberOfKeys: 2, lua: casScript });
  }

  private key(id: string): string {
    return this.keys.key('task', id);
  }

  private indexKey(): string {
    return this.keys.key('task-index');
  }

  /** Tasks with a run on an agent (placed or running), for the down-agent and timeout checks. */
  private activeKey(): string {
    return this.keys.key('task-active');
  }

  async create(record: TaskRecord): Promise<void> {
    await this.redis.multi().hset(this.key(record.id), 'version', '1', 'record', JSON.stringify(record)).zadd(this.indexKey(), record.createdAtMillis, record.id).exec();
    this.versions.set(record.id, 1);
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const [version, text] = await this.redis.hmget(this.key(id), 'version', 'record');
    if (text === null || text === undefined) return undefined;
    this.versions.set(id, Number(version ?? '0'));
    return JSON.parse(text) as TaskRecord;
  }

  /**
   * Applies `change` to the stored record and saves it, re-reading and
   * re-applying when another writer got there first. Returns the saved
   * record, or undefined when the task does not exist or `change` returned false.
   */
  async update(id: string, change: (record: TaskRecord) => boolean | void): Promise<TaskRecord | undefined> {
    for (let tries = 0; tries < 10; tries += 1) {
      const record = await this.get(id);
      if (record === undefined) return undefined;
      const version = this.versions.get(id) ?? 0;
      if (change(record) === false) return undefined;
      const active = record.state === 'placed' || record.state === 'running';
      const redis = this.redis as Redis & { slothTaskCas(key: string, activeKey: string, ...args: string[]): Promise<number> };
      const saved = await redis.slothTaskCas(this.key(id), this.activeKey(), String(version), String(version + 1), JSON.stringify(record), active ? '1' : '0', id);
      if (saved === 1) {
        this.versions.set(id, version + 1);
        return record;
      }
    }
    throw new Error(`task ${id} kept changing under this scheduler; giving up this update`);
  }

  async active(): Promise<string[]> {
    return this.redis.smembers(this.activeKey());
  }

  /** Newest first, optionally only in one state. */
  async list(filter: { state?: TaskState | undefined; limit: number }): Promise<TaskRecord[]> {
    const result: TaskRecord[] = [];
    let offset = 0;
    while (result.length < filter.limit) {
      const ids = await this.redis.zrevrange(this.indexKey(), offset, offset + 199);
      if (ids.length === 0) break;
      offset += ids.length;
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hget(this.key(id), 'record');
      for (const [error, text] of (await pipeline.exec()) ?? []) {
        if (error !== null || typeof text !== 'string') continue;
        const record = JSON.parse(text) as TaskRecord;
        if (filter.state === undefined || record.state === filter.state) result.push(record);
        if (result.length >= filter.limit) break;
      }
    }
    return result;
  }
}
