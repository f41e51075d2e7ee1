import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer, redisKeys } from '@sloth/core';
import { AnalyticsService, loadAnalyticsConfig } from '../../src/index.js';
import { addSamples, cpuSeries, waitFor } from './helpers.js';

/**
 * Analytics survives a Redis restart that loses the stream and its consumer group (no persistence):
 * the group is recreated without skipping the samples written since, and every one is scored.
 */

let dir: string;
let redis: RedisServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-analytics-restart-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
});
afterAll(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('analytics across a Redis restart (real redis-server killed)', () => {
  it('recreates its consumer group and scores every sample written after the restart', async () => {
    const keys = redisKeys('restart');
    const config = loadAnalyticsConfig({ env: {}, flags: { dataDir: join(dir, 'data'), redisUrl: redis.url, redisPrefix: 'restart', metricsPort: 0, blockMillis: 100, logLevel: 'silent' } });
    const service = new AnalyticsService(config, { detectorOptions: { useModel: false } });
    await service.start();
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    client.on('error', () => undefined);
    try {
      const id = cpuSeries('restart-1');
      const batch = (from: number) => Array.from({ length: 50 }, (_, i) => ({ seriesId: id, agentId: 'r', timestampMillis: (from + i) * 1_000, value: i % 9 }));
      await addSamples(client, keys.samples, batch(1));
      await waitFor('first samples scored', () => service.metrics.samplesScored === 50);

      redis.kill();
      await redis.restart();
      // Written at once, before analytics noticed the restart: a group recreated at '$' would skip them.
      await addSamples(client, keys.samples, batch(100));
      await waitFor('samples written right after the restart scored', () => service.metrics.samplesScored === 100, 60_000);
      await addSamples(client, keys.samples, batch(200));
      await waitFor('later samples scored', () => service.metrics.samplesScored === 150, 60_000);
      expect(service.metrics.badEntries).toBe(0);
      expect(service.metrics.outOfOrderSamples).toBe(0);
      const groups = (await client.xinfo('GROUPS', keys.samples)) as unknown[][];
      expect(groups.map((g) => g[g.indexOf('name') + 1])).toEqual([config.group]);
      await waitFor('every entry acknowledged', async () => ((await client.xpending(keys.samples, config.group)) as [number])[0] === 0);
    } finally {
      client.disconnect();
      await service.shutdown();
    }
  }, 150_000);
});
