import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { queueNames, redisKeys } from '@sloth/core';
import { loadAnalyticsConfig } from '../../src/index.js';
import { addSamples, cpuSeries, makeService, seasonalValue, smallModelOptions, startTestBed, stepMillis, waitFor, type TestBed } from './helpers.js';

/**
 * Rule M (bench/detector/nested-cv-rule.md): the detector's TF.js model is opt-in. By default the
 * service scores with statistics only and trains nothing; `detectorModel: true` trains each series'
 * model as before. Real Redis, real compute pool.
 */
let bed: TestBed;
beforeAll(async () => {
  bed = await startTestBed();
});
afterAll(async () => {
  await bed.close();
});

// The test-sized model (trained after 150 rows) without a `useModel`: the setting decides.
const { useModel: _decidedBySetting, ...modelSizes } = smallModelOptions;
const base = Date.UTC(2026, 1, 1);
const rows = 250;

async function feed(prefix: string, host: string): Promise<void> {
  await addSamples(bed.client, redisKeys(prefix).samples, Array.from({ length: rows }, (_, i) => ({ seriesId: cpuSeries(host), agentId: host, timestampMillis: base + i * stepMillis, value: seasonalValue(i, 0) })));
}

describe('detectorModel setting', () => {
  it('trains no detector model by default, past the rows that would start a training', async () => {
    const service = makeService(bed, { redisPrefix: 'stats-default' }, { detectorOptions: modelSizes });
    await service.start();
    try {
      await feed('stats-default', 'h-stats');
      await waitFor('every sample scored', () => service.metrics.samplesScored >= rows);
      // A training is asked for at row 150: with the model it would be a job on the training queue by now.
      const queue = new Queue(queueNames.training, { connection: { url: bed.redis.url }, prefix: 'stats-default' });
      try {
        const jobs = await queue.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized']);
        expect(jobs.filter((j) => j.name === 'train-detector')).toEqual([]);
      } finally {
        await queue.close();
      }
      expect(service.metrics.modelsTrained).toBe(0);
    } finally {
      await service.shutdown();
    }
  }, 60_000);

  it('trains each series’ model with detectorModel: true', async () => {
    const service = makeService(bed, { redisPrefix: 'with-model', detectorModel: true }, { detectorOptions: modelSizes });
    await service.start();
    try {
      await feed('with-model', 'h-model');
      await waitFor('the model trained', () => service.metrics.modelsTrained === 1, 60_000);
      expect(service.metrics.samplesScored).toBeGreaterThanOrEqual(150);
    } finally {
      await service.shutdown();
    }
  }, 90_000);

  it('refuses a detectorModel that is not a boolean, naming the key', () => {
    expect(() => loadAnalyticsConfig({ env: {}, flags: { dataDir: bed.dir, detectorModel: 'yes' } })).toThrow(/detectorModel/);
    expect(loadAnalyticsConfig({ env: {}, flags: { dataDir: bed.dir } }).detectorModel).toBe(false);
  });
});
