import type { FittedModel } from './fittedModel.js';
import { fitSes, levelForecasts } from './ses.js';

/**
 * The Theta method (θ = 2 line, Assimakopoulos & Nikolopoulos 2000; in the form of Hyndman & Billah
 * 2003, which shows it is SES with drift): the SES level at the origin plus half the least-squares
 * slope `b` of the values on time as drift, `ŷ(k) = ℓ + b/2 · (k − 1 + (1 − (1 − α)^n) / α)`, where
 * n is the number of points up to the origin. Alpha comes from the SES fit on `values[0, fitEnd)`; the
 * level and the slope are run forward over every point up to each origin, like the other models' state.
 * No seasonal adjustment of its own: `forecastSeries` wraps it in `seasonallyAdjusted` when the
 * `seasonalAdjustment` option is on.
 * `ses`: an SES fit of the same values to take alpha from (fitted here when not given).
 */
export function fitTheta(values: Float64Array, fitEnd: number, ses: { alpha: number } = fitSes(values, fitEnd)): FittedModel & { alpha: number } {
  const { alpha } = ses;
  return {
    name: 'theta',
    alpha,
    forecastFrom(series, origins, horizon) {
      // Welford-style running means and co-moments of (t, y): stable for long series of large values.
      let count = 0;
      let meanT = 0;
      let meanY = 0;
      let coTY = 0;
      let coTT = 0;
      const add = (t: number): void => {
        const y = series[t] as number;
        count++;
        const dt = t - meanT;
        meanT += dt / count;
        meanY += (y - meanY) / count;
        coTY += dt * (y - meanY);
        coTT += dt * (t - meanT);
      };
      const forecast = (level: number): Float64Array => {
        const halfSlope = coTT > 0 ? coTY / coTT / 2 : 0;
        const start = (1 - (1 - alpha) ** count) / alpha;
        const f = new Float64Array(horizon);
        for (let k = 1; k <= horizon; k++) f[k - 1] = level + halfSlope * (k - 1 + start);
        return f;
      };
      return levelForecasts(series, origins, alpha, forecast, add);
    },
  };
}
