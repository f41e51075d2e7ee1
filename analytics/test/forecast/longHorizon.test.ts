import { describe, expect, it } from 'vitest';
import { backtestHorizonFor, extendBeyondBacktest, forecastSeries, maxForecastHistoryPoints, statisticalForecastOptions } from '../../src/forecast/forecastSeries.js';
import { HOUR_MILLIS, START_MILLIS, gaussianNoise } from './synthetic.js';

const statsModels = ['seasonal-naive', 'holt-winters', 'ets', 'seasonal-profile'] as const;

describe('horizons longer than the history supports', () => {
  it('keeps a 2,000-step forecast of a daily-seasonal series within its historic range widened by a tenth of it', async () => {
    // Two weeks of 5-minute points (4,032, the default --max-history) ending on the rising half of the day, and a
    // horizon too long for a backtest of its own: the review saw such forecasts leave the historic range.
    const random = gaussianNoise(1);
    const stepMillis = 300_000;
    const timestamps = Array.from({ length: 4032 }, (_, i) => START_MILLIS + i * stepMillis);
    const values = timestamps.map((_, i) => 100 + 20 * Math.sin((2 * Math.PI * (i + 36)) / 288) + 2 * random());
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const margin = (hi - lo) / 10;
    for (const options of [{ models: statsModels }, statisticalForecastOptions]) {
      const result = await forecastSeries(timestamps, values, 2000, options);
      expect(result.points).toHaveLength(2000);
      for (const p of result.points) {
        expect(p.p50).toBeGreaterThanOrEqual(lo - margin);
        expect(p.p50).toBeLessThanOrEqual(hi + margin);
      }
      // The season is kept: the last day of the forecast still swings by most of the daily amplitude.
      const lastDay = result.points.slice(-288).map((p) => p.p50);
      expect(Math.max(...lastDay) - Math.min(...lastDay)).toBeGreaterThan(30);
      expect(result.warnings?.join('\n')).toMatch(new RegExp(`beyond step ${backtestHorizonFor(4032)} the forecast holds the level`));
      expect(result.points.every((p) => p.p10 <= p.p50 && p.p50 <= p.p90)).toBe(true);
    }
  });

  it('holds the level beyond the supported steps even for a steep trend, and widens the intervals', async () => {
    const random = gaussianNoise(8);
    const n = 600;
    const timestamps = Array.from({ length: n }, (_, i) => START_MILLIS + i * HOUR_MILLIS);
    const values = timestamps.map((_, i) => 10 + 0.5 * i + random());
    const result = await forecastSeries(timestamps, values, 1000, { models: statsModels });
    const supported = backtestHorizonFor(n);
    const atSupported = result.points[supported - 1]!;
    // Up to the supported step the trend is followed; after it the p50 stays where it was.
    expect(atSupported.p50).toBeGreaterThan(values[n - 1]! + 0.5 * supported * 0.8);
    for (const p of result.points.slice(supported)) expect(p.p50).toBeCloseTo(atSupported.p50, 6);
    const last = result.points[999]!;
    expect(last.p90 - last.p10).toBeGreaterThan(atSupported.p90 - atSupported.p10);
  });

  it('holds a short history’s damped trend flat beyond a quarter of it', async () => {
    const timestamps = Array.from({ length: 30 }, (_, i) => START_MILLIS + i * HOUR_MILLIS);
    const values = timestamps.map((_, i) => 5 + 2 * i);
    const result = await forecastSeries(timestamps, values, 200, { models: statsModels });
    expect(result.model).toBe('ets');
    const held = result.points[6]!.p50; // step 7 = floor(30 / 4)
    for (const p of result.points.slice(7)) expect(p.p50).toBe(held);
    expect(held).toBeLessThan(values[29]! + 2 * 7 + 1);
    expect(result.warnings?.join('\n')).toMatch(/beyond step 7 the forecast holds the level/);
  });

  it('repeats the last supported season without its trend', () => {
    // Steps 1–8 backtested: a season of 4 (0, 10, 0, −10) on a trend of +1 a step.
    const steps = [1, 12, 3, -6, 5, 16, 7, -2].map((p50) => ({ p10: p50 - 1, p50, p90: p50 + 2 }));
    const out = extendBeyondBacktest(steps, 16, 4);
    expect(out.slice(0, 8)).toEqual(steps);
    // Step 8's level (without its season) is 8: the season repeats around it.
    expect(out.slice(8).map((p) => p.p50)).toEqual([8, 18, 8, -2, 8, 18, 8, -2]);
    expect(out[15]!.p90 - out[15]!.p50).toBeCloseTo(2 * Math.sqrt(16 / 8), 12);
    expect(out[15]!.p50 - out[15]!.p10).toBeCloseTo(Math.sqrt(16 / 8), 12);
  });
});

describe('history limit', () => {
  it('refuses more history than it trains on, naming the limit and why, before any work', async () => {
    const timestamps = [0, 1000, 2000];
    const values = [1, 2, 3];
    await expect(forecastSeries(timestamps, values, 2, { maxHistoryPoints: 1_000_000 })).rejects.toMatchObject({
      code: 'SLOTH_ERR_INPUT',
      message: expect.stringMatching(/maxHistoryPoints 1000000 .*at most 50,000 points: fitting time grows with the history/),
    });
    await expect(forecastSeries(timestamps, values, 2, { maxHistoryPoints: maxForecastHistoryPoints })).resolves.toMatchObject({ model: 'naive' });
  });
});
