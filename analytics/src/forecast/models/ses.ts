import type { FittedModel } from './fittedModel.js';

/**
 * Simple exponential smoothing (ETS(A,N,N)): a flat forecast at the smoothed level. The smoothing
 * rate is the one of a fixed grid with the least one-step squared error on `values[0, fitEnd)`
 * (a grid, not an optimiser: the error is unimodal enough in alpha and the baseline must be cheap).
 */
export function fitSes(values: Float64Array, fitEnd: number): FittedModel & { alpha: number } {
  const end = Math.min(fitEnd, values.length);
  let bestAlpha = 0.5;
  let bestError = Number.POSITIVE_INFINITY;
  for (let a = 0.01; a <= 1.0001; a += 0.01) {
    let level = values[0] as number;
    let error = 0;
    for (let t = 1; t < end; t++) {
      const e = (values[t] as number) - level;
      error += e * e;
      level += a * e;
    }
    if (error < bestError) {
      bestError = error;
      bestAlpha = a;
    }
  }
  const alpha = Math.min(1, bestAlpha);
  return {
    name: 'ses',
    alpha,
    forecastFrom(series, origins, horizon) {
      return levelForecasts(series, origins, alpha, (level) => new Float64Array(horizon).fill(level));
    },
  };
}

/**
 * Runs the SES level (rate `alpha`, starting at the first value) over `series` up to each ascending origin and
 * returns `forecast(level)` for each; `visit` sees every index the level has passed, the first included, in order.
 */
export function levelForecasts(series: Float64Array, origins: readonly number[], alpha: number, forecast: (level: number) => Float64Array, visit?: (t: number) => void): Float64Array[] {
  const out: Float64Array[] = [];
  let level = series[0] as number;
  visit?.(0);
  let t = 1;
  for (const origin of origins) {
    for (; t <= origin; t++) {
      level += alpha * ((series[t] as number) - level);
      visit?.(t);
    }
    out.push(forecast(level));
  }
  return out;
}
