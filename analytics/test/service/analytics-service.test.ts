import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anomalyEventSchema, decodeJsonMessage, forecastMessageSchema, freePort, redisKeys, type ForecastMessage } from '@sloth/core';
import { addSampleBatches, addSamples, cpuSeries, makeService, seasonalValue, startTestBed, stepMillis, waitFor, type TestBed } from './helpers.js';

let bed: TestBed;
beforeAll(async () => {
  bed = await startTestBed();
});
afterAll(async () => {
  await bed.close();
});

describe('AnalyticsService end to end', () => {
  it('scores samples from the stream, publishes an anomaly for a spike (and none for normal series), a forecast, and valid Prometheus metrics', async () => {
    const keys = redisKeys('e2e');
    const metricsPort = await freePort();
    const service = makeService(bed, {
      redisPrefix: 'e2e',
      dataDir: join(bed.dir, 'e2e'),
      metricsPort,
      metricsHost: '127.0.0.1',
      anomalyThreshold: 0.5,
      forecastIntervalMillis: 500,
      forecastMinPoints: 200,
      forecastHorizonSteps: 6,
    }, { detectorOptions: { useModel: false }, forecastOptions: { models: ['seasonal-naive', 'holt-winters'] } });
    await service.start();
    try {
      const base = Date.UTC(2026, 0, 1);
      const series = ['web-1', 'web-2', 'web-3'].map((host) => ({ host, id: cpuSeries(host) }));
      const spikeIndex = 600;
      const samples = [];
      for (let i = 0; i < 700; i += 1) {
        for (const [k, s] of series.entries()) {
          const spike = k === 0 && i === spikeIndex ? 60 : 0;
          samples.push({ seriesId: s.id, agentId: s.host, timestampMillis: base + i * stepMillis, value: seasonalValue(i, k) + spike });
        }
      }
      // Batch entries as the collector writes them, several series in each.
      expect(await addSampleBatches(bed.client, keys.samples, samples, 50)).toBe(42);
      await waitFor('every sample scored', () => service.metrics.samplesScored === samples.length);
      expect(service.metrics.badEntries).toBe(0);
      expect(await bed.client.xpending(keys.samples, 'analytics')).toEqual([0, null, null, null]);

      const anomalies = (await bed.client.xrange(keys.anomalies, '-', '+')).map(([, fields]) => decodeJsonMessage(fields, anomalyEventSchema));
      const spikeEvents = anomalies.filter((a) => a.seriesId === series[0]!.id);
      expect(spikeEvents.map((a) => a.timestampMillis)).toContain(base + spikeIndex * stepMillis);
      const event = spikeEvents.find((a) => a.timestampMillis === base + spikeIndex * stepMillis)!;
      expect(event).toMatchObject({ agentId: 'web-1', metric: 'system.cpu.utilization', modelVersion: 'stats' });
      expect(event.score).toBeGreaterThanOrEqual(0.5);
      expect(event.value).toBeCloseTo(seasonalValue(spikeIndex, 0) + 60, 6);
      expect(event.expectedHigh).not.toBeNull();
      expect(event.value).toBeGreaterThan(event.expectedHigh!);
      // The normal series raise at most a stray event each, never a flood.
      for (const s of series.slice(1)) expect(anomalies.filter((a) => a.seriesId === s.id).length).toBeLessThanOrEqual(1);

      const readForecasts = async (): Promise<ForecastMessage[]> => (await bed.client.xrange(keys.forecasts, '-', '+')).map(([, fields]) => decodeJsonMessage(fields, forecastMessageSchema));
      // Forecasts run while samples arrive; wait for one per series made from the whole history.
      const nextStep = base + 700 * stepMillis;
      const complete = async (): Promise<ForecastMessage[]> => (await readForecasts()).filter((f) => f.points[0]?.timestampMillis === nextStep);
      await waitFor('a forecast of the full history of every series', async () => new Set((await complete()).map((f) => f.seriesId)).size === 3);
      const forecasts = (await complete()).filter((f, i, all) => all.findIndex((g) => g.seriesId === f.seriesId) === i);
      expect(new Set(forecasts.map((f) => f.seriesId))).toEqual(new Set(series.map((s) => s.id)));
      for (const f of forecasts) {
        expect(f.stepMillis).toBe(stepMillis);
        expect(f.points).toHaveLength(6);
        for (const p of f.points) {
          expect(p.p10).toBeLessThanOrEqual(p.p50);
          expect(p.p50).toBeLessThanOrEqual(p.p90);
          // The signal stays within 50 ± 22: a sane forecast does too.
          expect(p.p50).toBeGreaterThan(20);
          expect(p.p50).toBeLessThan(80);
        }
        expect(f.modelVersion).toMatch(/^forecast-v\d+$/);
        expect(f.model).toMatch(/seasonal-naive|holt-winters/);
      }

      const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      const text = await response.text();
      expect(text).toContain(`sloth_anomaly_score{series="system.cpu.utilization{host=\\"web-1\\"}",agent="web-1",metric="system.cpu.utilization"}`);
      expect(text).toMatch(/sloth_forecast\{series="system\.cpu\.utilization\{host=\\"web-2\\"\}",agent="web-2",metric="system\.cpu\.utilization",percentile="p90",horizon_steps="6"\} [\d.]+/);
      expect(text).toContain(`sloth_analytics_samples_scored_total ${samples.length}`);
      expect(text).toMatch(/^sloth_analytics_stream_backlog_entries \d+$/m);
      expect(text).toMatch(/^sloth_analytics_lag_seconds [\d.e-]+$/m);
      const file = join(bed.dir, 'e2e-metrics.txt');
      writeFileSync(file, text);
      // promtool exits non-zero on invalid exposition or lint problems.
      const promtool = execFileSync('/bin/sh', ['-c', `promtool check metrics < "${file}" 2>&1; echo "exit=$?"`], { encoding: 'utf8' });
      expect(promtool.trim()).toBe('exit=0');
    } finally {
      await service.shutdown();
    }
  });

  it('acknowledges, counts and skips bad stream entries without stopping', async () => {
    const keys = redisKeys('bad');
    const service = makeService(bed, { redisPrefix: 'bad', dataDir: join(bed.dir, 'bad') }, { detectorOptions: { useModel: false } });
    await service.start();
    try {
      const id = cpuSeries('db-1');
      const bad: string[][] = [
        ['a', 'db-1', 't', '1000', 'v', '1'], // no series
        ['s', id, 'a', 'db-1', 't', '1000'], // no value
        ['s', id, 'a', 'db-1', 't', '1000', 'v', 'NaN'],
        ['s', id, 'a', 'db-1', 't', '1000', 'v', 'abc'],
        ['s', id, 'a', 'db-1', 't', 'yesterday', 'v', '1'],
        ['s', id, 'a', 'db-1', 't', '1000', 'v', 'Infinity'],
        ['s', 'cpu{host="x', 'a', 'db-1', 't', '1000', 'v', '1'], // malformed series id
        ['garbage', 'x'],
      ];
      for (const fields of bad) await bed.client.xadd(keys.samples, '*', ...fields);
      await addSamples(bed.client, keys.samples, Array.from({ length: 50 }, (_, i) => ({ seriesId: id, agentId: 'db-1', timestampMillis: 10_000 + i * 1_000, value: i % 7 })));
      await waitFor('good samples scored', () => service.metrics.samplesScored === 50);
      expect(service.metrics.badEntries).toBe(bad.length);
      expect(await bed.client.xpending(keys.samples, 'analytics')).toEqual([0, null, null, null]);
      // A duplicate or older sample of a known series is skipped too.
      await addSamples(bed.client, keys.samples, [{ seriesId: id, agentId: 'db-1', timestampMillis: 10_000, value: 3 }]);
      await waitFor('the stale sample counted', () => service.metrics.outOfOrderSamples === 1);
      expect(service.metrics.samplesScored).toBe(50);
    } finally {
      await service.shutdown();
    }
  });

  it('scores the good samples of a batch entry and counts its bad ones, and counts an unreadable entry once', async () => {
    const keys = redisKeys('bad-batch');
    const service = makeService(bed, { redisPrefix: 'bad-batch', dataDir: join(bed.dir, 'bad-batch') }, { detectorOptions: { useModel: false } });
    await service.start();
    try {
      const a = cpuSeries('a');
      const b = cpuSeries('b');
      const batch = { s: [a, b, '', a, 'cpu{host="x', b, a], a: 'ab', t: [1_000, 1_000, 1_000, 2_000, 2_000, null, 3_000], v: [1, 2, 3, 'NaN', 5, 6, 7] };
      await bed.client.xadd(keys.samples, '*', 'b', JSON.stringify(batch));
      await bed.client.xadd(keys.samples, '*', 'b', '{"s":[');
      await bed.client.xadd(keys.samples, '*', 'b', JSON.stringify({ s: [a], a: 'ab', t: 1, v: [1, 2] }));
      await addSampleBatches(bed.client, keys.samples, [{ seriesId: b, agentId: 'ab', timestampMillis: 4_000, value: 8 }], 10);
      await waitFor('good samples scored', () => service.metrics.samplesScored === 4);
      await waitFor('bad samples counted', () => service.metrics.badEntries === 6);
      // Per series, in order: a at 1,000 and 3,000; b at 1,000 and 4,000.
      expect(service.metrics.outOfOrderSamples).toBe(0);
      expect(service.trackedSeries).toBe(2);
      expect(await bed.client.xpending(keys.samples, 'analytics')).toEqual([0, null, null, null]);
      await new Promise((r) => setTimeout(r, 200));
      expect(service.metrics.badEntries).toBe(6);
    } finally {
      await service.shutdown();
    }
  });

  it('shares the stream between two consumers of one group: every entry scored exactly once', async () => {
    const keys = redisKeys('pair');
    const dataDir = join(bed.dir, 'pair');
    const a = makeService(bed, { redisPrefix: 'pair', dataDir, consumer: 'a', batchSize: 20 }, { detectorOptions: { useModel: false } });
    const b = makeService(bed, { redisPrefix: 'pair', dataDir, consumer: 'b', batchSize: 20 }, { detectorOptions: { useModel: false } });
    await a.start();
    await b.start();
    try {
      const total = 2_000;
      const samples = Array.from({ length: total }, (_, i) => ({ seriesId: cpuSeries(`h${i % 10}`), agentId: `h${i % 10}`, timestampMillis: 1_000_000 + Math.floor(i / 10) * 1_000, value: seasonalValue(i, 0) }));
      for (let i = 0; i < total; i += 100) {
        // Single-sample entries, then batch entries of 10: both layouts are shared out the same way.
        if (i < total / 2) await addSamples(bed.client, keys.samples, samples.slice(i, i + 100));
        else await addSampleBatches(bed.client, keys.samples, samples.slice(i, i + 100), 10);
        await new Promise((r) => setTimeout(r, 20));
      }
      await waitFor('every entry scored', () => a.metrics.samplesScored + b.metrics.samplesScored >= total);
      await new Promise((r) => setTimeout(r, 300));
      expect(a.metrics.samplesScored + b.metrics.samplesScored).toBe(total);
      expect(a.metrics.outOfOrderSamples + b.metrics.outOfOrderSamples).toBe(0);
      expect(a.metrics.samplesScored).toBeGreaterThan(0);
      expect(b.metrics.samplesScored).toBeGreaterThan(0);
      expect(await bed.client.xpending(keys.samples, 'analytics')).toEqual([0, null, null, null]);
      const consumers = (await bed.client.xinfo('CONSUMERS', keys.samples, 'analytics')) as unknown[][];
      expect(consumers.map((c) => c[1]).sort()).toEqual(['a', 'b']);
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
    }
  });

  it('claims the pending entries of a dead consumer', async () => {
    const keys = redisKeys('claim');
    await bed.client.xgroup('CREATE', keys.samples, 'analytics', '0', 'MKSTREAM');
    const id = cpuSeries('cache-1');
    await addSamples(bed.client, keys.samples, Array.from({ length: 30 }, (_, i) => ({ seriesId: id, agentId: 'cache-1', timestampMillis: 1_000 * (i + 1), value: i })));
    await addSampleBatches(bed.client, keys.samples, Array.from({ length: 30 }, (_, i) => ({ seriesId: id, agentId: 'cache-1', timestampMillis: 1_000 * (i + 31), value: i })), 10);
    // A consumer reads everything, then dies without acknowledging.
    const read = (await bed.client.xreadgroup('GROUP', 'analytics', 'dead', 'COUNT', 100, 'STREAMS', keys.samples, '>')) as Array<[string, unknown[]]>;
    expect(read[0]![1]).toHaveLength(33);
    const service = makeService(bed, { redisPrefix: 'claim', dataDir: join(bed.dir, 'claim'), consumer: 'alive', claimIdleMillis: 200, claimIntervalMillis: 200 }, { detectorOptions: { useModel: false } });
    await service.start();
    try {
      await waitFor('claimed entries scored', () => service.metrics.samplesScored === 60);
      expect(service.metrics.entriesClaimed).toBe(33);
      expect(service.metrics.outOfOrderSamples).toBe(0);
      expect(await bed.client.xpending(keys.samples, 'analytics')).toEqual([0, null, null, null]);
    } finally {
      await service.shutdown();
    }
  });

  it('bounds the series in memory: the least recently seen is snapshotted, evicted and restored when it comes back', async () => {
    const keys = redisKeys('lru');
    const service = makeService(bed, { redisPrefix: 'lru', dataDir: join(bed.dir, 'lru'), maxSeries: 2 }, { detectorOptions: { useModel: false } });
    await service.start();
    try {
      const ids = ['l1', 'l2', 'l3'].map((h) => cpuSeries(h));
      const samples = ids.flatMap((id, k) => Array.from({ length: 20 }, (_, i) => ({ seriesId: id, agentId: 'lru', timestampMillis: (k * 100 + i + 1) * 1_000, value: i })));
      await addSamples(bed.client, keys.samples, samples);
      await waitFor('all scored', () => service.metrics.samplesScored === 60);
      expect(service.trackedSeries).toBe(2);
      expect(service.metrics.seriesEvicted).toBe(1);
      expect(service.detectorModelVersion(ids[0]!)).toBeUndefined();
      // l1 comes back from its snapshot: an old sample is recognised as already seen, a new one is scored.
      await addSamples(bed.client, keys.samples, [
        { seriesId: ids[0]!, agentId: 'lru', timestampMillis: 5_000, value: 1 },
        { seriesId: ids[0]!, agentId: 'lru', timestampMillis: 21_000, value: 1 },
      ]);
      await waitFor('l1 back', () => service.metrics.samplesScored === 61);
      expect(service.metrics.outOfOrderSamples).toBe(1);
      expect(service.trackedSeries).toBe(2);
      expect(service.metrics.seriesEvicted).toBe(2);
    } finally {
      await service.shutdown();
    }
  });
});
