import { describe, expect, it } from 'vitest';
import { forecastSeries } from '../../src/forecast/forecastSeries.js';
import { fitComb } from '../../src/forecast/models/comb.js';
import { fitHoltWinters } from '../../src/forecast/models/holtWinters.js';
import { fitSes } from '../../src/forecast/models/ses.js';
import { fitTheta } from '../../src/forecast/models/theta.js';
import type { ForecastModelName } from '../../src/forecast/types.js';
import { HOUR_MILLIS, START_MILLIS, gaussianNoise } from './synthetic.js';

const classical: ForecastModelName[] = ['seasonal-naive', 'holt-winters', 'ets', 'seasonal-profile', 'ses', 'theta', 'comb'];

/** Least-squares slope of `values[0..last]` on the index, computed directly. */
function olsSlope(values: Float64Array, last: number): number {
  const n = last + 1;
  const meanT = (n - 1) / 2;
  let meanY = 0;
  for (let t = 0; t < n; t++) meanY += (values[t] as number) / n;
  let num = 0;
  let den = 0;
  for (let t = 0; t < n; t++) {
    num += (t - meanT) * ((values[t] as number) - meanY);
    den += (t - meanT) ** 2;
  }
  return num / den;
}

describe('SES as a candidate', () => {
  it('forecasts a constant series as the constant, and a level shift at the new level', async () => {
    const constant = Float64Array.from({ length: 100 }, () => 3.5);
    expect(Array.from(fitSes(constant, 80).forecastFrom(constant, [99], 4)[0] ?? [])).toEqual([3.5, 3.5, 3.5, 3.5]);
    const random = gaussianNoise(4);
    const values = Array.from({ length: 400 }, (_, i) => (i < 250 ? 10 : 30) + 0.1 * random());
    const timestamps = values.map((_, i) => START_MILLIS + i * HOUR_MILLIS);
    const result = await forecastSeries(timestamps, values, 6, { models: ['ses'] });
    expect(result.model).toBe('ses');
    for (const p of result.points) expect(Math.abs(p.p50 - 30)).toBeLessThan(0.3);
  });
});

describe('Theta method', () => {
  it('forecasts a clean linear trend at half its slope from the last value (alpha 1: the θ = 0 and θ = 2 lines averaged)', () => {
    const values = Float64Array.from({ length: 300 }, (_, t) => 5 + 0.5 * t);
    const model = fitTheta(values, 240);
    expect(model.alpha).toBe(1);
    const [f] = model.forecastFrom(values, [299], 6);
    Array.from(f ?? []).forEach((v, i) => expect(v).toBeCloseTo(5 + 0.5 * 299 + 0.25 * (i + 1), 9));
  });

  it('is SES plus half the regression slope as drift, from every origin, reading only up to it', () => {
    const random = gaussianNoise(8);
    const values = Float64Array.from({ length: 500 }, (_, t) => 1e9 + 2e5 * t + 5e6 * random());
    const model = fitTheta(values, 400);
    const ses = fitSes(values, 400);
    expect(model.alpha).toBe(ses.alpha);
    const origins = [50, 200, 399, 499];
    const forecasts = model.forecastFrom(values, origins, 5);
    const levels = ses.forecastFrom(values, origins, 1);
    origins.forEach((origin, r) => {
      const a = model.alpha;
      const n = origin + 1;
      const b = olsSlope(values, origin);
      Array.from(forecasts[r] ?? []).forEach((v, i) => {
        const expected = (levels[r]?.[0] as number) + (b / 2) * (i + (1 - (1 - a) ** n) / a);
        expect(Math.abs(v - expected) / expected).toBeLessThan(1e-9);
      });
      // Values after the origin are never read.
      const cut = values.slice(0, origin + 1);
      expect(model.forecastFrom(cut, [origin], 5)[0]).toEqual(forecasts[r]);
    });
  });
});

describe('Comb (SES, Holt, damped)', () => {
  it("averages SES, Holt's linear trend and the damped trend", () => {
    const random = gaussianNoise(12);
    const values = Float64Array.from({ length: 300 }, (_, t) => 50 + 0.2 * t + random());
    const comb = fitComb(values, 240);
    const holt = fitHoltWinters(values, 240, 0, 1);
    expect(holt.params.phi).toBe(1);
    const parts = [fitSes(values, 240), holt, fitHoltWinters(values, 240, 0)].map((m) => m.forecastFrom(values, [260, 299], 4));
    comb.forecastFrom(values, [260, 299], 4).forEach((f, r) => {
      Array.from(f).forEach((v, k) => expect(v).toBeCloseTo(parts.reduce((s, p) => s + (p[r]?.[k] as number), 0) / 3, 9));
    });
  });

  it("Holt's part extrapolates a clean linear trend exactly; a constant stays constant", () => {
    const trend = Float64Array.from({ length: 200 }, (_, t) => 5 + 0.5 * t);
    const [f] = fitHoltWinters(trend, 160, 0, 1).forecastFrom(trend, [199], 5);
    Array.from(f ?? []).forEach((v, i) => expect(v).toBeCloseTo(5 + 0.5 * (200 + i), 6));
    const constant = Float64Array.from({ length: 200 }, () => 42);
    Array.from(fitComb(constant, 160).forecastFrom(constant, [199], 3)[0] ?? []).forEach((v) => expect(v).toBeCloseTo(42, 9));
  });
});

describe('forecastSeries with the classical candidates', () => {
  it('is deterministic and keeps p10 ≤ p50 ≤ p90 ≥ 0 on a non-negative series with a falling trend', async () => {
    // A falling trend that reaches zero: the drift of Theta and Holt points below zero, the clamp must hold.
    const random = gaussianNoise(21);
    const values = Array.from({ length: 24 * 20 }, (_, i) => Math.max(0, 60 - 0.15 * i + 3 * random()));
    const timestamps = values.map((_, i) => START_MILLIS + i * HOUR_MILLIS);
    for (const tripleEnsembles of [false, true]) {
      const first = await forecastSeries(timestamps, values, 24, { models: classical, tripleEnsembles });
      const second = await forecastSeries(timestamps, values, 24, { models: classical, tripleEnsembles });
      expect(second).toEqual(first);
      expect(first.points).toHaveLength(24);
      for (const p of first.points) {
        expect(p.p10).toBeLessThanOrEqual(p.p50);
        expect(p.p50).toBeLessThanOrEqual(p.p90);
        expect(p.p10).toBeGreaterThanOrEqual(0);
      }
    }
    for (const model of ['ses', 'theta', 'comb'] as const) {
      const only = await forecastSeries(timestamps, values, 24, { models: [model] });
      expect(only.model).toBe(model);
      expect(Math.min(...only.points.map((p) => p.p10))).toBeGreaterThanOrEqual(0);
    }
  });
});
