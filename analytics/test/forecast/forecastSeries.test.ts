import { describe, expect, it } from 'vitest';
import { forecastSeries, minPointsForSelection, type ForecastResult } from '@sloth/analytics';
import { detectSeasonPeriodSteps } from '../../src/forecast/period.js';
import { dailySeasonal, gaussianNoise, HOUR_MILLIS, START_MILLIS } from './synthetic.js';

const statisticalOnly = { models: ['seasonal-naive', 'holt-winters', 'ets', 'seasonal-profile'] as const };

function expectWellFormed(result: ForecastResult, horizon: number, lastTimestamp: number, stepMillis: number): void {
  expect(result.points).toHaveLength(horizon);
  expect(result.stepMillis).toBe(stepMillis);
  result.points.forEach((p, i) => {
    expect(p.timestampMillis).toBe(lastTimestamp + (i + 1) * stepMillis);
    expect(Number.isFinite(p.p50)).toBe(true);
    expect(p.p10).toBeLessThanOrEqual(p.p50);
    expect(p.p50).toBeLessThanOrEqual(p.p90);
  });
}

describe('forecastSeries', () => {
  it('forecasts a noisy daily-seasonal series: N points, correct timestamps, ordered quantiles, close to the truth', async () => {
    const { timestamps, values } = dailySeasonal(24 * 30, { noise: 2 });
    const result = await forecastSeries(timestamps, values, 24, { mlpEpochs: 10 });
    expectWellFormed(result, 24, timestamps[timestamps.length - 1] as number, HOUR_MILLIS);
    // The noise-free continuation; a seasonal model should be within a few noise σ of it at every step.
    result.points.forEach((p, i) => {
      const truth = 100 + 20 * Math.sin((2 * Math.PI * (24 * 30 + i)) / 24);
      expect(Math.abs(p.p50 - truth)).toBeLessThan(6);
    });
    expect(result.backtest.mase).toBeGreaterThan(0);
    expect(result.backtest.mase).toBeLessThan(1);
    expect(result.backtest.smape).toBeGreaterThan(0);
  });

  it('p10–p90 intervals cover roughly 80% of a noisy series from several origins', async () => {
    const { timestamps, values } = dailySeasonal(24 * 40, { noise: 5, seed: 7 });
    let inside = 0;
    let total = 0;
    for (const origin of [24 * 30, 24 * 32 + 5, 24 * 34 + 11, 24 * 36 + 17, 24 * 38]) {
      const result = await forecastSeries(timestamps.slice(0, origin), values.slice(0, origin), 12, statisticalOnly);
      result.points.forEach((p, k) => {
        const actual = values[origin + k] as number;
        if (actual >= p.p10 && actual <= p.p90) inside++;
        total++;
      });
    }
    expect(total).toBe(60);
    expect(inside / total).toBeGreaterThan(0.6);
    expect(inside / total).toBeLessThan(0.97);
  });

  it('extrapolates a pure linear trend', async () => {
    const timestamps = Array.from({ length: 300 }, (_, i) => START_MILLIS + i * 60_000);
    const values = timestamps.map((_, i) => 5 + 0.5 * i);
    const result = await forecastSeries(timestamps, values, 12, { mlpEpochs: 10 });
    expectWellFormed(result, 12, timestamps[299] as number, 60_000);
    result.points.forEach((p, k) => expect(Math.abs(p.p50 - (5 + 0.5 * (300 + k)))).toBeLessThan(0.05 * 0.5 * (k + 1) + 0.05));
  });

  it('forecasts a constant series as that constant, with zero-width intervals', async () => {
    const timestamps = Array.from({ length: 200 }, (_, i) => START_MILLIS + i * 300_000);
    const values = timestamps.map(() => 42);
    const result = await forecastSeries(timestamps, values, 6, { mlpEpochs: 5 });
    expectWellFormed(result, 6, timestamps[199] as number, 300_000);
    for (const p of result.points) {
      expect(p.p10).toBeCloseTo(42, 6);
      expect(p.p50).toBeCloseTo(42, 6);
      expect(p.p90).toBeCloseTo(42, 6);
    }
    expect(result.backtest.mase).toBe(0);
  });

  it('falls back to a damped-trend model with a warning when the history is too short for a backtest', async () => {
    const n = minPointsForSelection(12) - 1;
    const random = gaussianNoise(3);
    const timestamps = Array.from({ length: n }, (_, i) => START_MILLIS + i * HOUR_MILLIS);
    const values = timestamps.map(() => 10 + random());
    const result = await forecastSeries(timestamps, values, 12);
    expectWellFormed(result, 12, timestamps[n - 1] as number, HOUR_MILLIS);
    expect(result.model).toBe('ets');
    expect(result.warnings?.[0]).toMatch(/only \d+ points/);
    expect(Number.isNaN(result.backtest.mase)).toBe(true);
  });

  it('handles three points and two points', async () => {
    const three = await forecastSeries([0, 1000, 2000], [1, 2, 3], 2);
    expectWellFormed(three, 2, 2000, 1000);
    expect(three.model).toBe('naive');
    expect(three.points.map((p) => p.p50)).toEqual([3, 3]);
    const two = await forecastSeries([0, 1000], [5, 5], 1);
    expect(two.points).toEqual([{ timestampMillis: 2000, p10: 5, p50: 5, p90: 5 }]);
  });

  it('rejects bad input with messages naming the problem', async () => {
    await expect(forecastSeries([0, 1, 2], [1, 2, 3], 0)).rejects.toThrow(/horizon must be a positive whole number of steps, got 0/);
    await expect(forecastSeries([0, 1, 2], [1, 2, 3], 1.5)).rejects.toThrow(/horizon/);
    await expect(forecastSeries([0, 1, 2], [1, Number.NaN, 3], 2)).rejects.toThrow(/value #2 is NaN/);
    await expect(forecastSeries([0, 2, 1], [1, 2, 3], 2)).rejects.toThrow(/strictly increasing: #3/);
    await expect(forecastSeries([0, 1, 1], [1, 2, 3], 2)).rejects.toThrow(/strictly increasing/);
    await expect(forecastSeries([0], [1], 2)).rejects.toThrow(/at least 2 points/);
    await expect(forecastSeries([0, 1], [1], 2)).rejects.toThrow(/2 timestamps but 1 values/);
    await expect(forecastSeries([0, 1, 2], [1, 2, 3], 0)).rejects.toMatchObject({ code: 'SLOTH_ERR_INPUT' });
  });
});

describe('detectSeasonPeriodSteps', () => {
  it('finds a daily cycle in 5-minute data and none in white noise', () => {
    const random = gaussianNoise(11);
    const daily = Array.from({ length: 288 * 5 }, (_, i) => 10 * Math.sin((2 * Math.PI * i) / 288) + random());
    expect(detectSeasonPeriodSteps(daily, 300_000)).toBe(288);
    const noise = Array.from({ length: 288 * 5 }, () => random());
    expect(detectSeasonPeriodSteps(noise, 300_000)).toBe(0);
  });

  it('does not mistake a smooth random walk for an hourly cycle', () => {
    const random = gaussianNoise(5);
    let level = 0;
    const walk = Array.from({ length: 2000 }, () => (level += random()));
    expect(detectSeasonPeriodSteps(walk, 300_000)).toBe(0);
  });
});
