import type { FittedModel } from './fittedModel.js';
import { fitHoltWinters } from './holtWinters.js';
import { fitSes } from './ses.js';

/**
 * M4's "Comb" benchmark (Makridakis et al. 2018), on the values it is given (`seasonallyAdjusted` adds M4's
 * seasonal adjustment around it when the `seasonalAdjustment` option is on): the average of simple
 * exponential smoothing, Holt's linear trend (φ = 1) and the damped trend (`ets`), each fitted by one-step
 * squared error on `values[0, fitEnd)`. `fits` hands over SES and damped-trend fits of the same values
 * already made (the candidates `ses` and `ets`), so they are not fitted twice.
 */
export function fitComb(values: Float64Array, fitEnd: number, fits: { ses?: FittedModel; damped?: FittedModel } = {}): FittedModel {
  const parts: FittedModel[] = [fits.ses ?? fitSes(values, fitEnd), fitHoltWinters(values, fitEnd, 0, 1), fits.damped ?? fitHoltWinters(values, fitEnd, 0)];
  return {
    name: 'comb',
    forecastFrom(series, origins, horizon) {
      const forecasts = parts.map((p) => p.forecastFrom(series, origins, horizon));
      return origins.map((_, r) => {
        const out = new Float64Array(horizon);
        for (const f of forecasts) {
          const row = f[r] as Float64Array;
          for (let k = 0; k < horizon; k++) out[k] = (out[k] as number) + (row[k] as number) / parts.length;
        }
        return out;
      });
    },
  };
}
