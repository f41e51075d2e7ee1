import { autocorrelation } from '../stats.js';
import type { FittedModel } from './fittedModel.js';

/** One-sided 90 % normal quantile of M4's seasonality test. */
const CRITICAL_VALUE_90 = 1.645;

/** Seasonal indices of a classical decomposition: one per position `t mod period` of the series. */
export interface SeasonalIndices {
  /** Multiplicative (values divided by the index) for positive data, additive (index subtracted) otherwise. */
  kind: 'multiplicative' | 'additive';
  period: number;
  /** Normalised to mean 1 (multiplicative) or 0 (additive). */
  indices: Float64Array;
}

/**
 * M4's seasonality test (90 %) at lag `period` on `values[0, end)`: seasonal iff
 * |r_m| > 1.645 · sqrt((1 + 2 Σ_{k<m} r_k²) / n). False below three periods of data (as M4) or for period < 2.
 */
export function passesSeasonalityTest(values: ArrayLike<number>, period: number, end = values.length): boolean {
  if (!Number.isInteger(period) || period < 2 || end < 3 * period) return false;
  const window = Array.prototype.slice.call(values, 0, end) as number[];
  let sumSquares = 0;
  for (let k = 1; k < period; k++) sumSquares += autocorrelation(window, k) ** 2;
  return Math.abs(autocorrelation(window, period)) > CRITICAL_VALUE_90 * Math.sqrt((1 + 2 * sumSquares) / end);
}

/**
 * Classical decomposition's seasonal indices (as R's `decompose`) of `values[0, end)`: a centred moving
 * average of order `period` (2×period when even), each value's ratio to it (or difference from it),
 * averaged per position t mod period and normalised. Needs at least two periods of data.
 */
export function classicalSeasonalIndices(values: ArrayLike<number>, period: number, kind: SeasonalIndices['kind'], end = values.length): SeasonalIndices {
  if (!Number.isInteger(period) || period < 2) throw new RangeError(`seasonal period must be a whole number ≥ 2, got ${period}`);
  if (end < 2 * period + 1) throw new RangeError(`classical decomposition needs more than two periods (${2 * period} points), got ${end}`);
  const prefix = new Float64Array(end + 1);
  for (let t = 0; t < end; t++) prefix[t + 1] = (prefix[t] as number) + (values[t] as number);
  const half = Math.floor(period / 2);
  const sums = new Float64Array(period);
  const counts = new Float64Array(period);
  for (let t = half; t < end - half; t++) {
    let trend: number;
    if (period % 2 === 1) {
      trend = ((prefix[t + half + 1] as number) - (prefix[t - half] as number)) / period;
    } else {
      // Weights ½, 1, …, 1, ½ over t − m/2 … t + m/2.
      const inner = (prefix[t + half] as number) - (prefix[t - half + 1] as number);
      trend = (inner + 0.5 * ((values[t - half] as number) + (values[t + half] as number))) / period;
    }
    const v = values[t] as number;
    const p = t % period;
    sums[p] = (sums[p] as number) + (kind === 'multiplicative' ? v / trend : v - trend);
    counts[p] = (counts[p] as number) + 1;
  }
  const indices = new Float64Array(period);
  let mean = 0;
  for (let p = 0; p < period; p++) {
    indices[p] = (sums[p] as number) / (counts[p] as number);
    mean += (indices[p] as number) / period;
  }
  for (let p = 0; p < period; p++) indices[p] = kind === 'multiplicative' ? (indices[p] as number) / mean : (indices[p] as number) - mean;
  return { kind, period, indices };
}

/**
 * The seasonal adjustment M4 applies before SES, Theta and Comb, fitted on `values[0, fitEnd)`: undefined
 * (no adjustment) unless `period` ≥ 2 and the fit window passes `passesSeasonalityTest`; multiplicative
 * indices when every value of the fit window is positive, additive ones otherwise.
 */
export function fitSeasonalAdjustment(values: ArrayLike<number>, fitEnd: number, period: number): SeasonalIndices | undefined {
  const end = Math.min(fitEnd, values.length);
  if (!passesSeasonalityTest(values, period, end)) return undefined;
  let positive = true;
  for (let t = 0; t < end && positive; t++) positive = (values[t] as number) > 0;
  return classicalSeasonalIndices(values, period, positive ? 'multiplicative' : 'additive', end);
}

/** `values` with the seasonal indices taken out (index of position t mod period, from the series' start). */
export function deseasonalise(values: ArrayLike<number>, s: SeasonalIndices): Float64Array {
  const out = new Float64Array(values.length);
  for (let t = 0; t < values.length; t++) {
    const index = s.indices[t % s.period] as number;
    out[t] = s.kind === 'multiplicative' ? (values[t] as number) / index : (values[t] as number) - index;
  }
  return out;
}

/**
 * `model` (fitted on `deseasonalise(values, s)`) as a model of the raw series: it runs on the adjusted
 * series and its forecasts get the seasonal index of each forecast step's position back. Named `sa(name)`.
 */
export function seasonallyAdjusted(model: FittedModel, s: SeasonalIndices): FittedModel {
  return {
    name: `sa(${model.name})`,
    forecastFrom(series, origins, horizon) {
      const forecasts = model.forecastFrom(deseasonalise(series, s), origins, horizon);
      return forecasts.map((row, r) => {
        const origin = origins[r] as number;
        const out = new Float64Array(horizon);
        for (let k = 1; k <= horizon; k++) {
          const index = s.indices[(origin + k) % s.period] as number;
          out[k - 1] = s.kind === 'multiplicative' ? (row[k - 1] as number) * index : (row[k - 1] as number) + index;
        }
        return out;
      });
    },
  };
}
