import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { queueNames, redisKeys } from '@sloth/core';
import { ModelRegistry } from '../../src/index.js';
import { addSamples, cpuSeries, makeService, seasonalValue, startTestBed, stepMillis, waitFor, smallModelOptions, type TestBed } from './helpers.js';

let bed: TestBed;
beforeAll(async () => {
  bed = await startTestBed();
});
afterAll(async () => {
  await bed.close();
});

const detectorOptions = smallModelOptions;

describe('model registry and restart', () => {
  it('trains a detector model in a worker thread, stores it, and a restarted service resumes with the same model and state without retraining', async () => {
    const keys = redisKeys('restart');
    const dataDir = join(bed.dir, 'restart');
    const flags = { redisPrefix: 'restart', dataDir, consumer: 'c1', forecastMinPoints: 100, forecastIntervalMillis: 200 };
    const forecastOptions = { models: ['seasonal-naive' as const] };
    const series = cpuSeries('api-1');
    const base = Date.UTC(2026, 1, 1);
    const sample = (i: number): { seriesId: string; agentId: string; timestampMillis: number; value: number } => ({ seriesId: series, agentId: 'api-1', timestampMillis: base + i * stepMillis, value: seasonalValue(i, 0) });

    const first = makeService(bed, flags, { detectorOptions, forecastOptions });
    await first.start();
    try {
      await addSamples(bed.client, keys.samples, Array.from({ length: 300 }, (_, i) => sample(i)));
      await waitFor('samples scored', () => first.metrics.samplesScored === 300);
      await waitFor('a model trained and installed', () => first.detectorModelVersion(series) === 'mlp-v1', 60_000);
      await waitFor('a forecast published', () => first.metrics.forecastsPublished >= 1, 60_000);
      expect(first.metrics.modelsTrained).toBe(1);
      expect(first.metrics.trainingFailures).toBe(0);
      // Training runs through the BullMQ "training" queue under the Redis prefix, with the retrain sweep scheduled.
      const queue = new Queue(queueNames.training, { connection: { url: bed.redis.url }, prefix: 'restart' });
      try {
        const schedulers = await queue.getJobSchedulers();
        expect(schedulers.map((j) => j.key)).toContain('analytics-retrain-sweep');
        expect(schedulers.find((j) => j.key === 'analytics-retrain-sweep')?.every).toBe(3_600_000);
        expect((await queue.getJobs(['completed'])).map((j) => j.name)).toContain('train-detector');
      } finally {
        await queue.close();
      }
    } finally {
      await first.shutdown();
    }

    const registry = new ModelRegistry(join(dataDir, 'analytics', 'models.db'));
    try {
      const models = registry.listModels(series, 'detector');
      expect(models.map((m) => m.version)).toEqual([1]);
      expect(models[0]!.metadata).toMatchObject({ kind: 'mlp-forecaster', trainRows: 150 });
      expect(Number.isFinite(models[0]!.backtestScore)).toBe(true);
      expect((models[0]!.artifact as { weightDataBase64: string }).weightDataBase64.length).toBeGreaterThan(0);
      const forecasts = registry.listModels(series, 'forecast');
      expect(forecasts.length).toBeGreaterThanOrEqual(1);
      expect(forecasts[0]!.metadata).toMatchObject({ model: 'seasonal-naive', stepMillis });
      const snapshot = registry.loadSnapshot(series);
      expect(snapshot?.agentId).toBe('api-1');
      expect((snapshot?.snapshot as { lastTimestampMillis: number }).lastTimestampMillis).toBe(base + 299 * stepMillis);
    } finally {
      registry.close();
    }

    const second = makeService(bed, { ...flags, consumer: 'c2' }, { detectorOptions, forecastOptions });
    await second.start();
    try {
      // A replayed old sample is recognised from the restored state; a new one is scored by the stored model.
      await addSamples(bed.client, keys.samples, [sample(299), sample(300)]);
      await waitFor('new sample scored', () => second.metrics.samplesScored === 1);
      expect(second.metrics.outOfOrderSamples).toBe(1);
      expect(second.detectorModelVersion(series)).toBe('mlp-v1');
      // Restored history: the series is forecast again at once, with no retraining of the detector.
      await waitFor('a forecast from restored history', () => second.metrics.forecastsPublished >= 1, 60_000);
      expect(second.metrics.modelsTrained).toBe(0);
    } finally {
      await second.shutdown();
    }
  });
});
