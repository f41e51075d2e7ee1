import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJsonMessage, forecastMessageSchema, freePort, redisKeys, sleep } from '@sloth/core';
import { SampleFreshness } from '../../src/service/forecast-staleness.js';
import { addSamples, cpuSeries, makeService, seasonalValue, startTestBed, waitFor, type TestBed } from './helpers.js';

describe('SampleFreshness (which series stopped reporting)', () => {
  const everyMinute = Array.from({ length: 100 }, (_, i) => i * 60_000);

  it('counts a series as stopped after its own intervals without a new sample, not before', () => {
    const rule = new SampleFreshness({ staleIntervals: 10, staleMinMillis: 0 });
    const series = { lastTimestampMillis: 5_000_000 };
    rule.observe(series, 1_000);
    expect(rule.allowedSilenceMillis(everyMinute)).toBe(600_000);
    expect(rule.isStale(series, everyMinute, 1_000 + 600_000)).toBe(false);
    expect(rule.isStale(series, everyMinute, 1_000 + 600_001)).toBe(true);
    // A new sample: fresh again, the silence counted from when it was seen.
    const resumed = { lastTimestampMillis: 5_060_000 };
    Object.assign(series, resumed);
    expect(rule.isStale(series, everyMinute, 700_000)).toBe(false);
    expect(rule.isStale(series, everyMinute, 700_000 + 600_001)).toBe(true);
  });

  it('waits at least the configured minimum for a series sampled every second', () => {
    const rule = new SampleFreshness({ staleIntervals: 10, staleMinMillis: 300_000 });
    const everySecond = Array.from({ length: 100 }, (_, i) => i * 1_000);
    const series = { lastTimestampMillis: 99_000 };
    rule.observe(series, 0);
    expect(rule.allowedSilenceMillis(everySecond)).toBe(300_000);
    expect(rule.isStale(series, everySecond, 299_000)).toBe(false);
    expect(rule.isStale(series, everySecond, 300_001)).toBe(true);
  });

  it('measures silence in wall time: old sample timestamps (a replay, a slow clock) do not make a reporting series stale', () => {
    const rule = new SampleFreshness({ staleIntervals: 10, staleMinMillis: 0 });
    const series = { lastTimestampMillis: Date.UTC(2020, 0, 1) };
    for (let now = 0; now <= 3_600_000; now += 60_000) {
      series.lastTimestampMillis += 60_000;
      expect(rule.isStale(series, everyMinute, now)).toBe(false);
    }
  });
});

let bed: TestBed;
beforeAll(async () => {
  bed = await startTestBed();
});
afterAll(async () => {
  await bed.close();
});

describe('forecast scheduler and stopped series', () => {
  it('stops forecasting a series that stopped reporting and keeps forecasting one that reports', async () => {
    const prefix = 'stale';
    const keys = redisKeys(prefix);
    // Samples 100 ms apart in sample time, so 20 intervals are 2 s: the test need not wait minutes. Forecasts
    // run on the main thread (trainingThreads 0): the rule is the scheduler's, whichever thread forecasts.
    const stepMillis = 100;
    const service = makeService(bed, { redisPrefix: prefix, forecastIntervalMillis: 200, forecastMinPoints: 100, forecastHorizonSteps: 4, forecastStaleIntervals: 20, forecastStaleMinMillis: 0, trainingThreads: 0 }, {
      detectorOptions: { useModel: false },
      forecastOptions: { models: ['seasonal-naive'] },
    });
    await service.start();
    const live = cpuSeries('live-1');
    const stopped = cpuSeries('stopped-1');
    const base = Date.UTC(2026, 0, 1);
    const sample = (id: string, agentId: string, i: number): { seriesId: string; agentId: string; timestampMillis: number; value: number } => ({ seriesId: id, agentId, timestampMillis: base + i * stepMillis, value: seasonalValue(i, 0) });
    const countFor = async (id: string): Promise<number> => (await bed.client.xrange(keys.forecasts, '-', '+')).map(([, f]) => decodeJsonMessage(f, forecastMessageSchema)).filter((f) => f.seriesId === id).length;
    let feeding = true;
    let i = 150;
    try {
      await addSamples(bed.client, keys.samples, [...Array.from({ length: 150 }, (_, k) => sample(live, 'live-1', k)), ...Array.from({ length: 150 }, (_, k) => sample(stopped, 'stopped-1', k))]);
      await waitFor('a forecast of each series', async () => (await countFor(live)) > 0 && (await countFor(stopped)) > 0);
      // From here only the live series reports, a sample every 100 ms.
      const feeder = (async () => {
        while (feeding) {
          await addSamples(bed.client, keys.samples, [sample(live, 'live-1', i++)]);
          await sleep(stepMillis);
        }
      })();
      try {
        // Well past 2 s of silence (20 of its intervals): the stopped series is no longer forecast.
        await sleep(4_000);
        const stoppedBefore = await countFor(stopped);
        const liveBefore = await countFor(live);
        await sleep(2_000);
        expect(await countFor(stopped)).toBe(stoppedBefore);
        expect(await countFor(live)).toBeGreaterThan(liveBefore);
      } finally {
        feeding = false;
        await feeder;
      }
      // It reports again: forecast again.
      const stoppedBefore = await countFor(stopped);
      await addSamples(bed.client, keys.samples, [sample(stopped, 'stopped-1', i)]);
      await waitFor('a forecast of the series that reports again', async () => (await countFor(stopped)) > stoppedBefore);
    } finally {
      feeding = false;
      await service.shutdown();
    }
  }, 60_000);

  it('takes a stopped series\' forecast off /metrics once it is stale, keeps the live one\'s, and puts it back when it reports and is forecast again', async () => {
    const prefix = 'stale-metrics';
    const keys = redisKeys(prefix);
    const stepMillis = 100;
    const metricsPort = await freePort();
    const service = makeService(bed, {
      redisPrefix: prefix,
      dataDir: join(bed.dir, prefix),
      metricsPort,
      metricsHost: '127.0.0.1',
      forecastIntervalMillis: 200,
      forecastMinPoints: 100,
      forecastHorizonSteps: 12,
      forecastStaleIntervals: 20,
      forecastStaleMinMillis: 0,
      trainingThreads: 0,
    }, { detectorOptions: { useModel: false }, forecastOptions: { models: ['seasonal-naive'] } });
    await service.start();
    const hosts = ['live-2', 'stopped-2'] as const;
    const base = Date.UTC(2026, 0, 1);
    const sample = (host: string, i: number): { seriesId: string; agentId: string; timestampMillis: number; value: number } => ({ seriesId: cpuSeries(host), agentId: host, timestampMillis: base + i * stepMillis, value: seasonalValue(i, 0) });
    // The forecast lines of each host on the real endpoint: p10/p50/p90 at horizons 1, 6 and 12.
    const forecastLines = async (): Promise<Record<string, number>> => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const lines = text.split('\n').filter((l) => l.startsWith('sloth_forecast{'));
      return Object.fromEntries(hosts.map((host) => [host, lines.filter((l) => l.includes(`agent="${host}"`)).length]));
    };
    const scoreLine = async (host: string): Promise<boolean> => (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).split('\n').some((l) => l.startsWith('sloth_anomaly_score{') && l.includes(`agent="${host}"`));
    // After the first 150 samples, the hosts in `reporting` send a sample each every 100 ms until the test ends.
    let reporting: readonly string[] = ['live-2'];
    let running = true;
    let feeder: Promise<void> | undefined;
    try {
      await addSamples(bed.client, keys.samples, hosts.flatMap((host) => Array.from({ length: 150 }, (_, k) => sample(host, k))));
      await waitFor('the forecast of each series on /metrics', async () => {
        const lines = await forecastLines();
        return lines['live-2'] === 9 && lines['stopped-2'] === 9;
      });
      // From here only the live series reports; 20 of its intervals (2 s) later the other is stale.
      feeder = (async () => {
        for (let i = 150; running; i += 1) {
          await addSamples(bed.client, keys.samples, reporting.map((host) => sample(host, i)));
          await sleep(stepMillis);
        }
      })();
      await waitFor('the stopped series\' forecast gone from /metrics', async () => (await forecastLines())['stopped-2'] === 0, 15_000);
      expect((await forecastLines())['live-2']).toBe(9);
      // Only the forecast goes: the score stays (it ages out only when the series is evicted).
      expect(await scoreLine('stopped-2')).toBe(true);

      // It reports again: forecast again, and back on /metrics beside the live one.
      reporting = hosts;
      await waitFor('the forecast of the series that reports again back on /metrics', async () => (await forecastLines())['stopped-2'] === 9, 15_000);
      expect((await forecastLines())['live-2']).toBe(9);
    } finally {
      running = false;
      await feeder;
      await service.shutdown();
    }
  }, 60_000);
});
