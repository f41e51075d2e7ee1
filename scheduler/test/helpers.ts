import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { encodeJsonMessage, freePort, RedisServer, silentLogger, type AnomalyEvent, type SlothEvent } from '@sloth/core';
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
