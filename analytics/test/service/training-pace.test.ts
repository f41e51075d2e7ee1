import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { queueNames, redisKeys } from '@sloth/core';
import { addSamples, cpuSeries, makeService, seasonalValue, startTestBed, stepMillis, waitFor, smallModelOptions, type TestBed } from './helpers.js';

let bed: TestBed;
beforeAll(async () => {
  bed = await startTestBed();
});
afterAll(async () => {
  await bed.close();
});

const detectorOptions = smallModelOptions;
const base = Date.UTC(2026, 1, 1);

function samples(hosts: readonly string[], rows: number): Array<{ seriesId: string; agentId: string; timestampMillis: number; value: number }> {
  return hosts.flatMap((host, h) => Array.from({ length: rows }, (_, i) => ({ seriesId: cpuSeries(host), agentId: host, timestampMillis: base + i * stepMillis, value: seasonalValue(i, h) })));
}

describe('training duty cycle (trainingDutyCycle)', () => {
  it('paces trainings: after a training of t ms the next waits t·(1/d − 1) ms, so two series reaching training together do not train back to back', async () => {
    const prefix = 'pace';
    const service = makeService(bed, { redisPrefix: prefix, trainingDutyCycle: 0.25 }, { detectorOptions });
    await service.start();
    try {
      await addSamples(bed.client, redisKeys(prefix).samples, samples(['pace-1', 'pace-2'], 200));
      const queue = new Queue(queueNames.training, { connection: { url: bed.redis.url }, prefix });
      try {
        const completed = async (): Promise<Awaited<ReturnType<typeof queue.getJobs>>> => (await queue.getJobs(['completed'])).filter((j) => j.name === 'train-detector');
        // A job completes once its pause is over (the model is installed before it).
        await waitFor('both training jobs completed', async () => (await completed()).length === 2, 60_000);
        expect(service.metrics.modelsTrained).toBe(2);
        const jobs = (await completed()).sort((a, b) => (a.processedOn ?? 0) - (b.processedOn ?? 0));
        const [first, second] = jobs as [(typeof jobs)[number], (typeof jobs)[number]];
        // The first job's time is its training t and its pause 3t (d = 0.25): the pause is ≥ 3/4 of it, less timer slack.
        const firstJobMillis = (first.finishedOn ?? 0) - (first.processedOn ?? 0);
        expect(service.metrics.trainingPauseMillis).toBeGreaterThanOrEqual(0.7 * firstJobMillis);
        expect(service.metrics.trainingPauseMillis).toBeGreaterThan(0);
        // One worker: the second training starts only once the first one's pause is over.
        expect(second.processedOn ?? 0).toBeGreaterThanOrEqual(first.finishedOn ?? Infinity);
      } finally {
        await queue.close();
      }
    } finally {
      await service.shutdown();
    }
  });

  it('does not pause by default, and a pause in progress ends at once on shutdown', async () => {
    const unpaced = makeService(bed, { redisPrefix: 'unpaced' }, { detectorOptions });
    await unpaced.start();
    try {
      await addSamples(bed.client, redisKeys('unpaced').samples, samples(['u-1'], 200));
      await waitFor('trained', () => unpaced.metrics.modelsTrained === 1, 60_000);
      expect(unpaced.metrics.trainingPauseMillis).toBe(0);
    } finally {
      await unpaced.shutdown();
    }

    // d = 0.0001: the pause after one training would last minutes.
    const paced = makeService(bed, { redisPrefix: 'slow', trainingDutyCycle: 0.0001 }, { detectorOptions });
    await paced.start();
    await addSamples(bed.client, redisKeys('slow').samples, samples(['s-1', 's-2'], 200));
    await waitFor('first trained', () => paced.metrics.modelsTrained === 1, 60_000);
    const stopping = Date.now();
    await paced.shutdown();
    expect(Date.now() - stopping).toBeLessThan(15_000);
    // The worker may already hold the next job when the pause ends; shutdown lets a training in flight finish.
    expect(paced.metrics.modelsTrained).toBeLessThanOrEqual(2);
  });
});
