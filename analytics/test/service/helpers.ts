import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { anomalyEventSchema, decodeJsonMessage, encodeSampleBatch, encodeSampleMessage, redisKeys, RedisServer, seededNormalNoise, seriesId, sleep, type AnomalyEvent, type SampleFields } from '@sloth/core';
import { AnalyticsService, loadAnalyticsConfig, type AnalyticsServiceOptions } from '../../src/index.js';

/** A private redis-server and temp directory for one test file. */
export interface TestBed {
  dir: string;
  redis: RedisServer;
  client: Redis;
  close(): Promise<void>;
}

export async function startTestBed(): Promise<TestBed> {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-analytics-'));
  const redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  return {
    dir,
    redis,
    client,
    async close() {
      client.disconnect();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A service with test-sized settings; `flags` override any config key. */
export function makeService(bed: TestBed, flags: Record<string, unknown>, options: AnalyticsServiceOptions = {}): AnalyticsService {
  const config = loadAnalyticsConfig({
    env: {},
    flags: {
      dataDir: join(bed.dir, 'data'),
      redisUrl: bed.redis.url,
      metricsPort: 0,
      blockMillis: 100,
      snapshotIntervalMillis: 60_000,
      forecastIntervalMillis: 3_600_000,
      trainingThreads: 1,
      // Tests feed samples the moment the service is up; start-up quiet is tested on its own.
      startupQuietMillis: 0,
      logLevel: 'silent',
      ...flags,
    },
  });
  return new AnalyticsService(config, options);
}

/** Polls `condition` until it holds (or fails with `what` after `timeoutMillis`). */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMillis = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}`);
}

export const stepMillis = 60_000;

/** A daily-looking seasonal signal (period 60 steps) with deterministic noise. */
export function seasonalValue(index: number, phase: number): number {
  const noise = Math.sin(index * 12.9898 + phase * 78.233) * 43758.5453;
  return 50 + 20 * Math.sin((2 * Math.PI * index) / 60 + phase) + 2 * (noise - Math.floor(noise) - 0.5);
}

export function cpuSeries(host: string): string {
  return seriesId('system.cpu.utilization', { host });
}

type TestSample = { seriesId: string; agentId: string; timestampMillis: number; value: number };

/** XADDs samples one per entry (the single-sample layout), in pipelined chunks. */
export async function addSamples(client: Redis, stream: string, samples: readonly TestSample[]): Promise<void> {
  for (let i = 0; i < samples.length; i += 500) {
    const pipeline = client.pipeline();
    for (const s of samples.slice(i, i + 500)) pipeline.xadd(stream, '*', ...encodeSampleMessage(s));
    await pipeline.exec();
  }
}

/** XADDs samples as batch entries of `perEntry` samples (the layout the collector writes); returns the entry count. */
export async function addSampleBatches(client: Redis, stream: string, samples: readonly TestSample[], perEntry: number): Promise<number> {
  const pipeline = client.pipeline();
  let entries = 0;
  for (let i = 0; i < samples.length; i += perEntry) {
    pipeline.xadd(stream, '*', ...encodeSampleBatch(samples.slice(i, i + perEntry)));
    entries += 1;
  }
  await pipeline.exec();
  return entries;
}

/** Detector settings with a small model, so a training takes well under a second. */
export const smallModelOptions = { useModel: true, minTrainRows: 150, retrainEveryRows: 100_000, trainWindowRows: 400, lagRows: 8, hiddenUnits: 4, epochs: 2 };

/** Seeded standard normal noise (core's, shared with bench/live). */
export const normalNoise = seededNormalNoise;

/** XADDs samples to the `prefix` samples stream as batch entries of 100, in one pipeline. */
export async function addToPrefix(bed: TestBed, prefix: string, samples: readonly SampleFields[]): Promise<void> {
  const pipeline = bed.client.pipeline();
  for (let i = 0; i < samples.length; i += 100) pipeline.xadd(redisKeys(prefix).samples, '*', ...encodeSampleBatch(samples.slice(i, i + 100)));
  await pipeline.exec();
}

/** Every transition published on the `prefix` anomalies stream so far. */
export async function publishedAnomalies(bed: TestBed, prefix: string): Promise<AnomalyEvent[]> {
  return (await bed.client.xrange(redisKeys(prefix).anomalies, '-', '+')).map(([, fields]) => decodeJsonMessage(fields, anomalyEventSchema));
}

/** Runs `body` against a started statistics-only service (no model) under `prefix`, then shuts it down. */
export async function withStatsService(bed: TestBed, prefix: string, flags: Record<string, unknown>, body: (service: AnalyticsService) => Promise<void>): Promise<void> {
  const service = makeService(bed, { redisPrefix: prefix, dataDir: join(bed.dir, prefix), ...flags }, { detectorOptions: { useModel: false } });
  await service.start();
  try {
    await body(service);
  } finally {
    await service.shutdown();
  }
}
