import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { remediationResultsStream } from '@sloth/core';
import type { Scheduler } from '../src/index.js';
import { deadLetterStream } from '../src/trigger-consumer.js';
import { anomaly, cpuAnomaly, eventually, slothEvent, startRedis, startScheduler, testPlaybook, xaddJson, type Harness } from './helpers.js';

/**
 * The scheduler survives a Redis restart: redis-server (no persistence, so the consumer group is gone)
 * is killed and started again under a running scheduler; triggers and results written after the
 * restart are all handled, none skipped, and the group is back (no NOGROUP loop).
 */

let h: Harness;
let scheduler: Scheduler | undefined;

beforeEach(async () => {
  h = await startRedis();
});

afterEach(async () => {
  await scheduler?.shutdown();
  scheduler = undefined;
  await h.cleanup();
});

describe('scheduler across a Redis restart (real redis-server killed)', () => {
  it('recreates its consumer group and handles every trigger and result written after the restart', async () => {
    const restartEvent = testPlaybook('restart-svc', (e) => e.kind === 'event' && e.event.type === 'service_down');
    scheduler = await startScheduler(h, [testPlaybook('cpu-fix', cpuAnomaly), restartEvent]);
    const keys = scheduler.keys;
    await xaddJson(h.redis, keys.anomalies, anomaly('before-1'));
    await eventually(() => scheduler!.auditStore.list({ agentId: 'before-1' })[0], 10_000, 'the trigger written before the restart');

    h.redisServer.kill();
    await h.redisServer.restart();
    // Written at once, before the scheduler noticed: a group recreated at '$' would skip them.
    await xaddJson(h.redis, keys.anomalies, anomaly('after-1'));
    await xaddJson(h.redis, keys.events, slothEvent('service_down', 'after-2'));
    await xaddJson(h.redis, keys.anomalies, anomaly('after-3'));

    const records = await eventually(() => {
      const found = ['after-1', 'after-2', 'after-3'].map((agentId) => scheduler!.auditStore.list({ agentId })[0]);
      return found.every((r) => r?.state === 'queued') ? found : undefined;
    }, 30_000, 'every trigger written after the restart');
    expect(records.map((r) => r!.playbook)).toEqual(['cpu-fix', 'restart-svc', 'cpu-fix']);

    // Results written after the restart are applied too (the results cursor is not past them).
    const record = records[0]!;
    await xaddJson(h.redis, remediationResultsStream(keys), { remediationId: record.id, agentId: 'after-1', state: 'succeeded', attempt: 1, atMillis: Date.now(), ok: true, message: 'after restart' });
    const done = await eventually(() => (scheduler!.auditStore.get(record.id)?.state === 'succeeded' ? scheduler!.auditStore.get(record.id) : undefined), 10_000, 'result applied');
    expect(done.message).toBe('after restart');

    const groups = (await h.redis.xinfo('GROUPS', keys.anomalies)) as unknown[][];
    expect(groups.map((g) => g[g.indexOf('name') + 1])).toContain('scheduler');
    const pending = (await h.redis.xpending(keys.anomalies, 'scheduler')) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
    expect(await h.redis.xlen(deadLetterStream(keys))).toBe(0);
    expect(scheduler.auditStore.list()).toHaveLength(4);
  });

  it('dead-letters a malformed trigger with its reason and acknowledges it', async () => {
    scheduler = await startScheduler(h, [testPlaybook('cpu-fix', cpuAnomaly)]);
    const keys = scheduler.keys;
    const bad = await h.redis.xadd(keys.anomalies, '*', 'data', '{not json');
    await xaddJson(h.redis, keys.anomalies, anomaly('good'));
    await eventually(() => scheduler!.auditStore.list({ agentId: 'good' })[0], 10_000, 'the good trigger');
    const dead = await eventually(async () => {
      const entries = await h.redis.xrange(deadLetterStream(keys), '-', '+');
      return entries.length > 0 ? entries : undefined;
    }, 10_000, 'the dead-letter entry');
    const fields = dead[0]![1];
    expect(fields[fields.indexOf('entryId') + 1]).toBe(bad);
    expect(fields[fields.indexOf('error') + 1]).toMatch(/malformed/);
    const pending = (await h.redis.xpending(keys.anomalies, 'scheduler')) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
  });
});
