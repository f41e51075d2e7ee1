import { describe, expect, it } from 'vitest';
import { forecastSeries, minPointsForSelection } from '../../src/forecast/forecastSeries.js';
import { fitSes } from '../../src/forecast/models/ses.js';
import { fitTheta } from '../../src/forecast/models/theta.js';
import { classicalSeasonalIndices, deseasonalise, fitSeasonalAdjustment, passesSeasonalityTest, seasonallyAdjusted } from '../../src/forecast/models/seasonalAdjustment.js';
import { HOUR_MILLIS, START_MILLIS, dailySeasonal, gaussianNoise } from './synthetic.js';

/** A daily (24-step) multiplicative pattern with mean 1: high in the afternoon, low at night. */
const pattern = Float64Array.from({ length: 24 }, (_, p) => 1 + 0.5 * Math.sin((2 * Math.PI * (p - 6)) / 24));
const hourly = (count: number): number[] => Array.from({ length: count }, (_, i) => START_MILLIS + i * HOUR_MILLIS);

describe('M4 seasonality test', () => {
  it('passes a noisy daily-seasonal series at its period and fails white noise', () => {
    const seasonal = dailySeasonal(24 * 14, { amplitude: 10, noise: 5, seed: 2 }).values;
    expect(passesSeasonalityTest(seasonal, 24)).toBe(true);
    const random = gaussianNoise(5);
    const noise = Array.from({ length: 24 * 14 }, () => 100 + 5 * random());
    expect(passesSeasonalityTest(noise, 24)).toBe(false);
    expect(fitSeasonalAdjustment(noise, noise.length, 24)).toBeUndefined();
  });

  it('needs three periods of data, a period of at least 2, and reads only up to `end`', () => {
    // A daily spike: little autocorrelation below the period, so three periods are enough to pass.
    const spikes = dailySeasonal(24 * 10, { amplitude: 0, noise: 1, seed: 2 }).values.map((v, t) => (t % 24 === 5 ? v + 50 : v));
    expect(passesSeasonalityTest(spikes, 24, 71)).toBe(false);
    expect(passesSeasonalityTest(spikes, 24, 72)).toBe(true);
    // A smooth daily sine correlates at every lag, which widens the limit: three periods are not enough, ten are.
    const seasonal = dailySeasonal(24 * 10, { amplitude: 10, noise: 1, seed: 2 }).values;
    expect(passesSeasonalityTest(seasonal, 24, 72)).toBe(false);
    expect(passesSeasonalityTest(seasonal, 24)).toBe(true);
    expect(passesSeasonalityTest(seasonal, 1)).toBe(false);
    expect(passesSeasonalityTest(seasonal, 0)).toBe(false);
    // A series that is seasonal only after `end` is judged on its start.
    const random = gaussianNoise(9);
    const mixed = Array.from({ length: 24 * 12 }, (_, t) => 100 + 3 * random() + (t >= 24 * 6 ? 30 * Math.sin((2 * Math.PI * t) / 24) : 0));
    expect(passesSeasonalityTest(mixed, 24, 24 * 6)).toBe(false);
    expect(passesSeasonalityTest(mixed, 24)).toBe(true);
  });
});

describe('classical decomposition', () => {
  it('recovers a multiplicative pattern exactly on a constant level and an additive one on data around zero', () => {
    const multiplicative = Array.from({ length: 24 * 5 }, (_, t) => 50 * (pattern[t % 24] as number));
    const m = classicalSeasonalIndices(multiplicative, 24, 'multiplicative');
    Array.from(m.indices).forEach((v, p) => expect(v).toBeCloseTo(pattern[p] as number, 10));
    const additive = Array.from({ length: 7 * 6 }, (_, t) => [-3, -1, 0, 1, 2, 4, -3][t % 7] as number);
    const a = classicalSeasonalIndices(additive, 7, 'additive');
    Array.from(a.indices).forEach((v, p) => expect(v).toBeCloseTo([-3, -1, 0, 1, 2, 4, -3][p] as number, 10));
  });

  it('is multiplicative for positive data and additive when the fit window holds a zero', () => {
    const random = gaussianNoise(11);
    const positive = Array.from({ length: 24 * 10 }, (_, t) => 50 * (pattern[t % 24] as number) * (1 + 0.02 * random()));
    expect(fitSeasonalAdjustment(positive, positive.length, 24)?.kind).toBe('multiplicative');
    const withZeros = positive.map((v, t) => (t % 24 < 3 ? 0 : v));
    expect(fitSeasonalAdjustment(withZeros, withZeros.length, 24)?.kind).toBe('additive');
    // A zero after the fit window does not change the kind.
    const laterZero = positive.map((v, t) => (t === positive.length - 1 ? 0 : v));
    expect(fitSeasonalAdjustment(laterZero, positive.length - 24, 24)?.kind).toBe('multiplicative');
  });

  it('refuses a period below 2 or fewer than two periods of data, naming the value', () => {
    expect(() => classicalSeasonalIndices([1, 2, 3, 4, 5], 1, 'additive')).toThrow(/got 1/);
    expect(() => classicalSeasonalIndices([1, 2, 3, 4, 5], 3, 'additive')).toThrow(/got 5/);
  });
});

describe('seasonally adjusted SES and Theta', () => {
  it("reproduce a pure multiplicative seasonal series' pattern from any origin", () => {
    const values = Float64Array.from({ length: 24 * 12 }, (_, t) => 200 * (pattern[t % 24] as number));
    const fitEnd = 24 * 9;
    const adjustment = fitSeasonalAdjustment(values, fitEnd, 24);
    expect(adjustment?.kind).toBe('multiplicative');
    if (adjustment === undefined) return;
    const base = deseasonalise(values, adjustment);
    const ses = seasonallyAdjusted(fitSes(base, fitEnd), adjustment);
    const theta = seasonallyAdjusted(fitTheta(base, fitEnd), adjustment);
    expect(ses.name).toBe('sa(ses)');
    expect(theta.name).toBe('sa(theta)');
    const origins = [fitEnd + 5, values.length - 30];
    for (const model of [ses, theta]) {
      model.forecastFrom(values, origins, 30).forEach((row, r) => {
        Array.from(row).forEach((v, i) => expect(v).toBeCloseTo(200 * (pattern[((origins[r] as number) + i + 1) % 24] as number), 6));
      });
    }
    // The unadjusted SES is flat: it cannot follow the pattern.
    const flat = fitSes(values, fitEnd).forecastFrom(values, [values.length - 30], 24)[0] as Float64Array;
    expect(Math.max(...flat) - Math.min(...flat)).toBeLessThan(1e-9);
  });

  it('read the series only up to each origin', () => {
    const random = gaussianNoise(13);
    const values = Float64Array.from({ length: 24 * 10 }, (_, t) => 80 * (pattern[t % 24] as number) + random());
    const adjustment = fitSeasonalAdjustment(values, 24 * 8, 24);
    if (adjustment === undefined) throw new Error('the test series should pass the seasonality test');
    const model = seasonallyAdjusted(fitTheta(deseasonalise(values, adjustment), 24 * 8), adjustment);
    const changedAfter = Float64Array.from(values, (v, t) => (t > 24 * 9 ? v * 10 : v));
    expect(model.forecastFrom(changedAfter, [24 * 9], 12)).toEqual(model.forecastFrom(values, [24 * 9], 12));
  });
});

describe('forecastSeries with seasonalAdjustment', () => {
  it('chooses an adjusted model on a noisy multiplicative seasonal series and forecasts its pattern', async () => {
    const random = gaussianNoise(17);
    const values = Array.from({ length: 24 * 30 }, (_, t) => 300 * (pattern[t % 24] as number) * (1 + 0.01 * random()));
    const result = await forecastSeries(hourly(values.length), values, 24, { models: ['ses', 'theta', 'comb'], seasonalAdjustment: true, seasonPeriodSteps: 'auto' });
    expect(result.model).toMatch(/sa\((ses|theta|comb)\)/);
    result.points.forEach((p, i) => expect(Math.abs(p.p50 / (300 * (pattern[(values.length + i) % 24] as number)) - 1)).toBeLessThan(0.03));
    const without = await forecastSeries(hourly(values.length), values, 24, { models: ['ses', 'theta', 'comb'], seasonalAdjustment: false });
    expect(without.model).not.toMatch(/sa\(/);
    expect(result.backtest.mase).toBeLessThan(without.backtest.mase / 3);
  });

  it('keeps non-negative quantiles on non-negative data with zeros (additive adjustment)', async () => {
    const random = gaussianNoise(19);
    const values = Array.from({ length: 24 * 30 }, (_, t) => Math.max(0, (t % 24 < 8 ? 0 : 40 * Math.sin((Math.PI * ((t % 24) - 8)) / 16)) + 3 * random()));
    expect(values.some((v) => v === 0)).toBe(true);
    const result = await forecastSeries(hourly(values.length), values, 24, { models: ['ses', 'theta', 'comb'], seasonalAdjustment: true, tripleEnsembles: true, intervalScale: 2 });
    expect(result.model).toMatch(/sa\(/);
    for (const p of result.points) {
      expect(p.p10).toBeGreaterThanOrEqual(0);
      expect(p.p10).toBeLessThanOrEqual(p.p50);
      expect(p.p50).toBeLessThanOrEqual(p.p90);
    }
    // The night hours are forecast near zero, the afternoon near the peak.
    const hourOf = (i: number): number => (values.length + i) % 24;
    const night = result.points.filter((_, i) => hourOf(i) < 7).map((p) => p.p50);
    const peak = result.points.filter((_, i) => hourOf(i) === 16).map((p) => p.p50);
    expect(Math.max(...night)).toBeLessThan(6);
    expect(Math.min(...peak)).toBeGreaterThan(30);
  });

  it('keeps every quantile finite on hostile values: a denormal season position, values near the largest double, large negatives', async () => {
    const n = 24 * 40;
    const sine = (t: number): number => Math.sin((2 * Math.PI * t) / 24);
    const hostile: Record<string, number[]> = {
      // A multiplicative index of 5e-324 / 100 underflows to 0.
      denormal: Array.from({ length: n }, (_, t) => (t % 24 === 3 ? 5e-324 : 100 + 30 * sine(t))),
      // Running sums of the decomposition's moving average overflow.
      huge: Array.from({ length: n }, (_, t) => 1e306 * (2 + sine(t))),
      negative: Array.from({ length: n }, (_, t) => -1e6 + 3e5 * sine(t)),
    };
    for (const [name, values] of Object.entries(hostile)) {
      const result = await forecastSeries(hourly(n), values, 12, { models: ['seasonal-naive', 'ses', 'theta', 'comb'], seasonalAdjustment: true, tripleEnsembles: true });
      expect(result.points, name).toHaveLength(12);
      for (const p of result.points) expect([p.p10, p.p50, p.p90].every(Number.isFinite), `${name}: ${JSON.stringify(p)}`).toBe(true);
    }
  });

  it('falls back without error on short series', async () => {
    // Too short for a backtest: the damped-trend fallback, as without the option.
    const short = dailySeasonal(minPointsForSelection(6) - 1, { noise: 1 });
    const fallback = await forecastSeries(short.timestamps, short.values, 6, { models: ['ses', 'theta', 'comb'], seasonalAdjustment: true });
    expect(fallback.points).toHaveLength(6);
    expect(fallback.warnings?.[0]).toMatch(/no backtest/);
    // Long enough for a backtest, but the fit window holds fewer than three periods: no adjustment, F1 names.
    const medium = dailySeasonal(80, { noise: 1 });
    const unadjusted = await forecastSeries(medium.timestamps, medium.values, 6, { models: ['ses', 'theta', 'comb'], seasonalAdjustment: true, seasonPeriodSteps: 24 });
    expect(unadjusted.model).not.toMatch(/sa\(/);
    expect(unadjusted.points).toHaveLength(6);
    for (const p of unadjusted.points) expect(Number.isFinite(p.p50)).toBe(true);
  });
});
