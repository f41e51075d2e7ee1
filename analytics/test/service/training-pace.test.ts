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

describe('model-work duty cycle (trainingDutyCycle)', () => {
  it('paces trainings in the compute pool: a training rests 1/d − 1 times its work, so two series reaching training together do not train back to back', async () => {
    const prefix = 'pace';
    const service = makeService(bed, { redisPrefix: prefix, trainingDutyCycle: 0.25 }, { detectorOptions });
    await service.start();
    try {
      await addSamples(bed.client, redisKeys(prefix).samples, samples(['pace-1', 'pace-2'], 200));
      const queue = new Queue(queueNames.training, { connection: { url: bed.redis.url }, prefix });
      try {
        const completed = async (): Promise<Awaited<ReturnType<typeof queue.getJobs>>> => (await queue.getJobs(['completed'])).filter((j) => j.name === 'train-detector');
        // A job completes once its training and the rests within it are over.
        await waitFor('both training jobs completed', async () => (await completed()).length === 2, 60_000);
        expect(service.metrics.modelsTrained).toBe(2);
        const jobs = (await completed()).sort((a, b) => (a.processedOn ?? 0) - (b.processedOn ?? 0));
        const [first, second] = jobs as [(typeof jobs)[number], (typeof jobs)[number]];
        // A job's time is its work w and its rests 3w (d = 0.25): the rests are ≥ 3/4 of it, less timer slack and the hand-over.
        const firstJobMillis = (first.finishedOn ?? 0) - (first.processedOn ?? 0);
        expect(service.metrics.computePauseMillis).toBeGreaterThanOrEqual(0.6 * firstJobMillis);
        expect(service.metrics.computePauseMillis).toBeGreaterThan(0);
        // One worker: the second training starts only once the first one's rests are over.
        expect(second.processedOn ?? 0).toBeGreaterThanOrEqual(first.finishedOn ?? Infinity);
      } finally {
        await queue.close();
      }
    } finally {
      await service.shutdown();
    }
  });

  it('does not rest by default, and a rest in progress ends at once on shutdown', async () => {
    const unpaced = makeService(bed, { redisPrefix: 'unpaced' }, { detectorOptions });
    await unpaced.start();
    try {
      await addSamples(bed.client, redisKeys('unpaced').samples, samples(['u-1'], 200));
      await waitFor('trained', () => unpaced.metrics.modelsTrained === 1, 60_000);
      expect(unpaced.metrics.computePauseMillis).toBe(0);
    } finally {
      await unpaced.shutdown();
    }

    // d = 0.0001: the rests within one training would last hours.
    const paced = makeService(bed, { redisPrefix: 'slow', trainingDutyCycle: 0.0001 }, { detectorOptions });
    await paced.start();
    await addSamples(bed.client, redisKeys('slow').samples, samples(['s-1', 's-2'], 200));
    // The first rest begins after the first slice of work (TF.js loads first).
    await waitFor('a training resting', () => paced.metrics.computeRestsStarted > 0, 60_000);
    expect(paced.metrics.modelsTrained).toBe(0);
    const stopping = Date.now();
    await paced.shutdown();
    expect(Date.now() - stopping).toBeLessThan(15_000);
    // The training in flight finished at full speed and installed its model; the BullMQ worker may already
    // hold the next job when it ends, which then runs at full speed too; nothing rests any more.
    expect(paced.metrics.modelsTrained).toBeGreaterThanOrEqual(1);
    expect(paced.metrics.modelsTrained).toBeLessThanOrEqual(2);
    expect(paced.metrics.computePauseMillis).toBeGreaterThan(0);
  });
});
