import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { encodeJsonMessage, freePort, redisKeys, RedisServer, silentLogger, type AnomalyEvent, type RedisKeys, type SlothEvent } from '@sloth/core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { CollectorDouble } from './collector-double.js';
import { loadSchedulerConfig, Scheduler, type SchedulablePlaybook, type TriggerEvent } from '../src/index.js';

/** A playbook descriptor for tests of the scheduler alone (the Lua runtime is exercised in the root tests). */
export function testPlaybook(name: string, match: (event: TriggerEvent) => boolean, extra: Partial<SchedulablePlaybook> = {}): SchedulablePlaybook {
  return { name, version: '1.0.0', fileName: `${name}.lua`, source: `return { name = "${name}" }`, requiresApproval: false, matches: match, ...extra };
}

export const cpuAnomaly = (event: TriggerEvent): boolean => event.kind === 'anomaly' && event.anomaly.metric === 'system.cpu.utilization' && event.anomaly.score >= 0.9;

export function anomaly(agentId: string, score = 0.95, metric = 'system.cpu.utilization'): AnomalyEvent {
  return { seriesId: `${metric}{host="h"}`, agentId, metric, timestampMillis: Date.now(), value: 97, score, expectedLow: 0, expectedHigh: 60, modelVersion: 't' };
}

export function slothEvent(type: string, agentId: string, attributes: Record<string, unknown> = {}): SlothEvent {
  return { type, agentId, timestampMillis: Date.now(), attributes };
}

export interface Harness {
  redisServer: RedisServer;
  redis: Redis;
  dir: string;
  prefix: string;
  cleanup(): Promise<void>;
}

export async function startRedis(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-sched-'));
  const redisServer = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  const prefix = `t${Math.random().toString(36).slice(2, 8)}`;
  return {
    redisServer,
    redis,
    dir,
    prefix,
    async cleanup() {
      redis.disconnect();
      await redisServer.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startScheduler(h: Harness, playbooks: SchedulablePlaybook[], flags: Record<string, unknown> = {}): Promise<Scheduler> {
  const port = await freePort();
  const config = loadSchedulerConfig({
    file: undefined,
    env: {},
    flags: { dataDir: join(h.dir, 'data'), redisPrefix: h.prefix, port, host: '127.0.0.1', insecureNoAuth: true, ...flags },
  });
  const scheduler = new Scheduler({ config, redisUrl: h.redisServer.url, loadPlaybooks: async () => playbooks, logger: silentLogger(), tickMillis: 100 });
  await scheduler.start();
  return scheduler;
}

export async function xaddJson(redis: Redis, stream: string, payload: unknown): Promise<string> {
  return (await redis.xadd(stream, '*', ...encodeJsonMessage(payload))) as string;
}

/** Polls until `check` returns a value other than undefined (or throws after `timeoutMillis`). */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMillis = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What the task tests share: a Redis, a collector stand-in, and the services a test started (stopped after it). */
export interface TaskBed {
  /** The file's Redis (set once its beforeAll ran). */
  readonly h: Harness;
  readonly collector: CollectorDouble;
  /** Stopped, newest first, after each test. */
  readonly running: Array<{ stop(): Promise<void> }>;
  /** Keys of a prefix no other test of the file uses. */
  freshKeys(tag: string): RedisKeys;
}

/** Registers the file's hooks (call at the top level of a test file) and returns the bed they keep. */
export function taskBed(): TaskBed {
  let harness: Harness | undefined;
  let counter = 0;
  const collector = new CollectorDouble();
  const running: Array<{ stop(): Promise<void> }> = [];
  beforeAll(async () => {
    harness = await startRedis();
    await collector.start();
  });
  afterEach(async () => {
    for (const item of running.splice(0).reverse()) await item.stop();
  });
  afterAll(async () => {
    await collector.stop();
    await harness?.cleanup();
  });
  return {
    get h(): Harness {
      if (harness === undefined) throw new Error('taskBed: Redis is not started yet (use it inside a test)');
      return harness;
    },
    collector,
    running,
    freshKeys(tag: string): RedisKeys {
      counter += 1;
      return redisKeys(`${this.h.prefix}${tag}${counter}`);
    },
  };
}
