import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer, redisKeys, sleep } from '@sloth/core';
import { AnalyticsService, loadAnalyticsConfig } from '../../src/index.js';
import { addSamples, cpuSeries, waitFor } from './helpers.js';

let dir: string;
let redis: RedisServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-analytics-outage-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: true });
});
afterAll(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Redis outage', () => {
  it('survives Redis going away and coming back, then scores new samples', async () => {
    const keys = redisKeys('outage');
    const config = loadAnalyticsConfig({ env: {}, flags: { dataDir: join(dir, 'data'), redisUrl: redis.url, redisPrefix: 'outage', metricsPort: 0, blockMillis: 100, logLevel: 'silent' } });
    const service = new AnalyticsService(config, { detectorOptions: { useModel: false } });
    await service.start();
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    client.on('error', () => undefined);
    try {
      const id = cpuSeries('outage-1');
      const batch = (from: number) => Array.from({ length: 50 }, (_, i) => ({ seriesId: id, agentId: 'o', timestampMillis: (from + i) * 1_000, value: i % 9 }));
      await addSamples(client, keys.samples, batch(1));
      await waitFor('first samples scored', () => service.metrics.samplesScored === 50);
      await sleep(1_200); // let the AOF (fsync every second) catch up
      redis.kill();
      await sleep(1_500);
      await redis.restart();
      await addSamples(client, keys.samples, batch(100));
      await waitFor('samples after the outage scored', () => service.metrics.samplesScored === 100, 90_000);
      expect(service.metrics.badEntries).toBe(0);
    } finally {
      client.disconnect();
      await service.shutdown();
    }
  }, 150_000);
});
