import type { FittedModel } from './fittedModel.js';

/** Repeats the last observed season (period 1 = the last value). */
export function seasonalNaive(periodSteps: number): FittedModel {
  const m = Math.max(1, Math.round(periodSteps));
  return {
    name: 'seasonal-naive',
    forecastFrom(values, origins, horizon) {
      return origins.map((origin) => {
        const out = new Float64Array(horizon);
        for (let k = 1; k <= horizon; k++) {
          // The value one (or more) whole seasons before origin + k, never after the origin.
          let idx = origin + k - m * Math.ceil(k / m);
          if (idx < 0) idx = Math.max(0, Math.min(origin, idx + m * Math.ceil(-idx / m)));
          if (idx > origin) idx = origin;
          out[k - 1] = values[idx] as number;
        }
        return out;
      });
    },
  };
}
