import { quantileSorted } from '../stats.js';
import type { FittedModel } from './fittedModel.js';

/**
 * A robust seasonal model for spiky operational metrics: a per-phase median profile (period from
 * detection, or none) plus the median of the last `window` deseasonalised values as the level.
 * Medians keep a single spike from dragging the forecast, which absolute-error metrics reward.
 */
export function fitSeasonalProfile(values: Float64Array, fitEnd: number, periodSteps: number, horizon: number): FittedModel & { windowSteps: number } {
  const m = periodSteps >= 2 && fitEnd >= 2 * periodSteps ? periodSteps : 0;
  const profile = new Float64Array(Math.max(1, m));
  if (m > 0) {
    const sortedAll = Float64Array.from(values.subarray(0, fitEnd)).sort();
    const overall = quantileSorted(sortedAll, 0.5);
    for (let phase = 0; phase < m; phase++) {
      const samples: number[] = [];
      for (let t = phase; t < fitEnd; t += m) samples.push(values[t] as number);
      profile[phase] = quantileSorted(Float64Array.from(samples).sort(), 0.5) - overall;
    }
  }
  const deseasonalised = (series: Float64Array, t: number): number => (series[t] as number) - (m > 0 ? (profile[t % m] as number) : 0);
  const forecast = (series: Float64Array, origin: number, horizon_: number, window: number): Float64Array => {
    const from = Math.max(0, origin - window + 1);
    const recent = new Float64Array(origin - from + 1);
    for (let t = from; t <= origin; t++) recent[t - from] = deseasonalised(series, t);
    recent.sort();
    const level = quantileSorted(recent, 0.5);
    const out = new Float64Array(horizon_);
    for (let k = 1; k <= horizon_; k++) out[k - 1] = level + (m > 0 ? (profile[(origin + k) % m] as number) : 0);
    return out;
  };
  // Choose the level window by in-sample absolute error at the horizon, on origins across the fit part.
  let bestWindow = 1;
  let bestError = Number.POSITIVE_INFINITY;
  const originStride = Math.max(1, Math.floor(fitEnd / 200));
  for (const window of [1, 3, 6, 12, 24, 48]) {
    let error = 0;
    for (let origin = Math.max(window, Math.floor(fitEnd / 4)); origin + horizon < fitEnd; origin += originStride) {
      const f = forecast(values, origin, horizon, window);
      for (let k = 1; k <= horizon; k++) error += Math.abs((values[origin + k] as number) - (f[k - 1] as number));
    }
    if (error < bestError) {
      bestError = error;
      bestWindow = window;
    }
  }
  return {
    name: 'seasonal-profile',
    windowSteps: bestWindow,
    forecastFrom(series, origins, horizon_) {
      return origins.map((origin) => forecast(series, origin, horizon_, bestWindow));
    },
  };
}
