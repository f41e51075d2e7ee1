/**
 * End-to-end throughput of the analytics service: samples XADDed to the
 * samples stream → read through the consumer group → scored → acknowledged,
 * and the memory each tracked series costs.
 *
 *   npx tsc -b analytics && nice -n 10 node --expose-gc --import tsx bench/analytics/service-throughput.ts \
 *     [--series 1000] [--points 100] [--trained] [--warm-points 300] [--batch 500] [--threads 1] [--drain] [--shards 1]
 *
 * Phases: (1) warm-up — `--warm-points` samples per series, so every series
 * is tracked and (with `--trained`) has a TF.js model trained in the worker
 * threads and installed; (2) measured — `--points` more samples per series,
 * produced with pipelined XADDs by a separate process while the service
 * consumes; the clock stops when the last one is scored. `samplesPerCpuSecond`
 * divides by the service process's CPU time, so it is the per-core rate and
 * does not depend on how busy the machine is. With `--drain` the service is
 * stopped after the warm-up, the measured samples are queued in the stream,
 * and a new instance (restoring every series from the registry) is timed
 * draining them: wall-clock XADD-to-scored throughput not bounded by the
 * producer. Memory per series is the growth of the heap
 * plus array buffers (after GC) from before the first sample to after the
 * warm-up, divided by the series count.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { RedisServer, redisKeys, seriesId, sleep } from '@sloth/core';
import { AnalyticsService, loadAnalyticsConfig } from '@sloth/analytics';

const { values } = parseArgs({
  options: {
    series: { type: 'string', default: '1000' },
    points: { type: 'string', default: '100' },
    'warm-points': { type: 'string', default: '300' },
    trained: { type: 'boolean', default: false },
    batch: { type: 'string', default: '500' },
    threads: { type: 'string', default: '1' },
    drain: { type: 'boolean', default: false },
    shards: { type: 'string', default: '1' },
  },
});
const seriesCount = Number(values.series);
const points = Number(values.points);
const warmPoints = Number(values['warm-points']);
const trained = values.trained;
const stepMillis = 60_000;
const base = Date.UTC(2026, 0, 1);

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run with node --expose-gc');
  collect();
  collect();
}

function memoryBytes(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-analytics-'));
const redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
const keys = redisKeys('bench');
const ids = Array.from({ length: seriesCount }, (_, s) => seriesId('bench.metric', { host: `h${s % 50}`, idx: String(s) }));

/**
 * Producer in a child process, as the collector would be: pipelined XADDs of rows `from`..`to` of
 * every series. Being another process, its CPU is not counted in the service's.
 */
const producerSource = `
const workerData = JSON.parse(process.env.SLOTH_BENCH_PRODUCER);
const { Redis } = require(workerData.ioredis);
const { url, stream, ids, from, to, base, stepMillis } = workerData;
const client = new Redis(url);
function value(series, i) {
  const noise = Math.sin(i * 12.9898 + series * 78.233) * 43758.5453;
  return 50 + 20 * Math.sin((2 * Math.PI * i) / 60 + series) + 2 * (noise - Math.floor(noise) - 0.5);
}
(async () => {
  let pipeline = client.pipeline();
  let queued = 0;
  for (let i = from; i < to; i += 1) {
    for (let s = 0; s < ids.length; s += 1) {
      pipeline.xadd(stream, '*', 's', ids[s], 'a', 'h' + (s % 50), 't', String(base + i * stepMillis), 'v', String(value(s, i)));
      if (++queued === 2000) { await pipeline.exec(); pipeline = client.pipeline(); queued = 0; }
    }
  }
  await pipeline.exec();
  client.disconnect();
})();
`;

async function produce(from: number, to: number): Promise<void> {
  const data = { ioredis: createRequire(import.meta.url).resolve('ioredis'), url: redis.url, stream: keys.samples, ids, from, to, base, stepMillis };
  const child = spawn(process.execPath, ['-e', producerSource], { env: { ...process.env, SLOTH_BENCH_PRODUCER: JSON.stringify(data) }, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`producer exited with code ${code}`);
}

const config = loadAnalyticsConfig({
  env: {},
  flags: {
    dataDir: join(dir, 'data'),
    redisUrl: redis.url,
    redisPrefix: 'bench',
    metricsPort: 0,
    batchSize: Number(values.batch),
    trainingThreads: Number(values.threads),
    forecastIntervalMillis: 86_400_000,
    snapshotIntervalMillis: 86_400_000,
    maxSeries: seriesCount + 1,
    shards: Number(values.shards),
    leaseRenewMillis: 500,
    logLevel: 'silent',
  },
});
const detectorOptions = trained
  ? { useModel: true, minTrainRows: Math.min(200, warmPoints - 10), retrainEveryRows: 1_000_000, trainWindowRows: 2000 }
  : { useModel: false };
const service = new AnalyticsService(config, { detectorOptions });
const before = memoryBytes();
await service.start();
while (service.heldShards.length < (Number(values.shards) > 1 ? Number(values.shards) : 0)) await sleep(20);

// (1) warm-up
const warmStart = performance.now();
await produce(0, warmPoints);
while (service.metrics.samplesScored < seriesCount * warmPoints) await sleep(20);
const warmScoredMillis = performance.now() - warmStart;
if (trained) {
  while (service.metrics.modelsTrained + service.metrics.trainingFailures < seriesCount) await sleep(100);
}
const warmMillis = performance.now() - warmStart;
const after = memoryBytes();

// (2) measured
const total = seriesCount * points;
let scoring = service;
let producedMillis = 0;
let restoreMillis = 0;
if (values.drain) {
  // Catch-up after a restart: stop the service (snapshots saved), let the backlog build up, start a
  // new instance (same consumer and data dir) and time how fast it drains the backlog.
  await service.shutdown();
  const produceStart = performance.now();
  await produce(warmPoints, warmPoints + points);
  producedMillis = performance.now() - produceStart;
  scoring = new AnalyticsService(config, { detectorOptions });
}
const scoredBefore = scoring.metrics.samplesScored;
const start = performance.now();
const eluStart = performance.eventLoopUtilization();
const cpuStart = process.cpuUsage();
if (values.drain) {
  await scoring.start();
  while (scoring.heldShards.length < (Number(values.shards) > 1 ? Number(values.shards) : 0)) await sleep(20);
  restoreMillis = performance.now() - start;
} else {
  await produce(warmPoints, warmPoints + points);
  producedMillis = performance.now() - start;
}
while (scoring.metrics.samplesScored - scoredBefore < total) await sleep(5);
const elapsedMillis = performance.now() - start;
const elu = performance.eventLoopUtilization(eluStart);
const cpu = process.cpuUsage(cpuStart);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;

const report = {
  series: seriesCount,
  shards: Number(values.shards),
  warmPointsPerSeries: warmPoints,
  measuredSamples: total,
  mode: values.drain ? 'drain a backlog after a restart' : 'live (producer and service concurrently)',
  trainedModels: service.metrics.modelsTrained,
  trainingFailures: service.metrics.trainingFailures,
  modelsRetrainedAfterRestart: values.drain ? scoring.metrics.modelsTrained : undefined,
  warmupScoredSeconds: +(warmScoredMillis / 1000).toFixed(2),
  warmupWithTrainingSeconds: +(warmMillis / 1000).toFixed(2),
  producedSeconds: +(producedMillis / 1000).toFixed(2),
  serviceStartSeconds: values.drain ? +(restoreMillis / 1000).toFixed(2) : undefined,
  endToEndSeconds: +(elapsedMillis / 1000).toFixed(2),
  samplesPerSecond: Math.round(total / (elapsedMillis / 1000)),
  /** CPU time of the service process (all its threads; the producer is another process) and samples per CPU second (= per core). */
  serviceCpuSeconds: +cpuSeconds.toFixed(2),
  samplesPerCpuSecond: Math.round(total / cpuSeconds),
  /** Busy fraction of the main thread (inflated when the machine is oversubscribed). */
  mainThreadUtilization: +elu.utilization.toFixed(3),
  memoryPerSeriesKb: +((after - before) / seriesCount / 1024).toFixed(1),
  modelVersionOfFirstSeries: scoring.detectorModelVersion(ids[0] as string),
};
await scoring.shutdown();
await redis.stop();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
