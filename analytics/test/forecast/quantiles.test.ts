import { describe, expect, it } from 'vitest';
import { forecastSeries, shapeIntervals, statisticalForecastOptions } from '../../src/forecast/forecastSeries.js';
import { fitSes } from '../../src/forecast/models/ses.js';
import { HOUR_MILLIS, START_MILLIS, gaussianNoise } from './synthetic.js';

const statsModels = ['seasonal-naive', 'holt-winters', 'ets', 'seasonal-profile'] as const;

function ordered(points: ReadonlyArray<{ p10: number; p50: number; p90: number }>): boolean {
  return points.every((p) => p.p10 <= p.p50 && p.p50 <= p.p90);
}

describe('forecast quantiles', () => {
  it('does not add a level shift inside the backtest window to the p50 a second time', async () => {
    // 150 hourly points around 100, stepping to 140 at point 129: inside the backtest window (the last 32
    // points), before most origins' forecasts end. The models follow the new level; the backtest errors of
    // the origins before the step are +40 and must not be added on top of it.
    const random = gaussianNoise(7);
    const timestamps = Array.from({ length: 150 }, (_, i) => START_MILLIS + i * HOUR_MILLIS);
    const values = timestamps.map((_, i) => 100 + 2 * random() + (i >= 129 ? 40 : 0));
    for (const options of [{ models: statsModels }, statisticalForecastOptions]) {
      const result = await forecastSeries(timestamps, values, 12, options);
      for (const p of result.points) expect(Math.abs(p.p50 - 140)).toBeLessThan(8);
      expect(ordered(result.points)).toBe(true);
    }
  });

  it('still corrects a bias that every part of the backtest shows', async () => {
    // A steady rise the last-value model misses by the same amount from every origin: a bias all three
    // thirds of the backtest show, so the p50 is still corrected by it.
    const random = gaussianNoise(12);
    const timestamps = Array.from({ length: 400 }, (_, i) => START_MILLIS + i * HOUR_MILLIS);
    const values = timestamps.map((_, i) => 50 + 0.3 * i + 0.5 * random());
    const result = await forecastSeries(timestamps, values, 6, { models: ['seasonal-naive'], seasonPeriodSteps: 0 });
    const last = values[399]!;
    result.points.forEach((p, k) => expect(p.p50).toBeCloseTo(last + 0.3 * (k + 1), 0));
  });

  it('keeps p10 ≤ p50 ≤ p90 and never below zero for a sparse count series', async () => {
    // Mostly zeros with occasional bursts on a daily cycle: the errors are skewed and the lower
    // quantile of "point + error" falls below zero unless clamped.
    const random = gaussianNoise(5);
    const values = Array.from({ length: 24 * 30 }, (_, i) => Math.max(0, Math.round(1.5 * Math.sin((2 * Math.PI * i) / 24) + 1.2 * random())));
    const timestamps = values.map((_, i) => START_MILLIS + i * HOUR_MILLIS);
    expect(values.filter((v) => v === 0).length).toBeGreaterThan(values.length / 3);
    for (const intervalScale of [1, 2]) {
      const result = await forecastSeries(timestamps, values, 24, { models: statsModels, intervalScale });
      expect(result.points).toHaveLength(24);
      expect(ordered(result.points)).toBe(true);
      expect(Math.min(...result.points.map((p) => p.p10))).toBeGreaterThanOrEqual(0);
      expect(result.points.some((p) => p.p10 === 0)).toBe(true);
    }
    // The short-history path (no backtest) clamps as well.
    const short = await forecastSeries(timestamps.slice(0, 30), values.slice(0, 30), 12, { models: statsModels });
    expect(ordered(short.points)).toBe(true);
    expect(Math.min(...short.points.map((p) => p.p10))).toBeGreaterThanOrEqual(0);
  });

  it('does not clamp a series that goes below zero', async () => {
    const random = gaussianNoise(9);
    const values = Array.from({ length: 24 * 20 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * i) / 24) + random());
    const timestamps = values.map((_, i) => START_MILLIS + i * HOUR_MILLIS);
    const result = await forecastSeries(timestamps, values, 12, { models: statsModels });
    expect(ordered(result.points)).toBe(true);
    expect(Math.min(...result.points.map((p) => p.p10))).toBeLessThan(0);
  });

  it('scales the interval around the p50 and rejects a non-positive scale', () => {
    const points = [{ timestampMillis: 1, p10: 8, p50: 10, p90: 13 }];
    expect(shapeIntervals(points, 2, false)).toEqual([{ timestampMillis: 1, p10: 6, p50: 10, p90: 16 }]);
    expect(shapeIntervals(points, 6, true)).toEqual([{ timestampMillis: 1, p10: 0, p50: 10, p90: 28 }]);
    expect(() => shapeIntervals(points, 0, false)).toThrow(/intervalScale must be a positive number, got 0/);
  });
});

describe('simple exponential smoothing baseline', () => {
  it('forecasts a flat line at the smoothed level, reading only up to each origin', () => {
    const random = gaussianNoise(2);
    let level = 0;
    const walk = Float64Array.from({ length: 400 }, () => (level += random()));
    const model = fitSes(walk, 300);
    // On a random walk the best smoothing is (nearly) the last value.
    expect(model.alpha).toBeGreaterThan(0.8);
    const [f] = model.forecastFrom(walk, [299], 5);
    expect(f?.every((v) => v === f[0])).toBe(true);
    const cut = walk.slice(0, 300);
    expect(model.forecastFrom(cut, [299], 5)[0]).toEqual(f);
    const flat = fitSes(Float64Array.from({ length: 50 }, () => 7), 50);
    expect(flat.forecastFrom(Float64Array.from({ length: 50 }, () => 7), [49], 3)[0]).toEqual(Float64Array.from([7, 7, 7]));
  });
});
