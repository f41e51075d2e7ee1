import { InputError } from '@sloth/core';

/**
 * The TF.js model's per-row outputs for one series, as the legacy detector used them. The model's
 * forecasts depend only on the series' values, the model options and `historyRows`/`intervalProbeRows`
 * (its training windows and seasonal lag), never on the constants that post-process the errors
 * (likelihood, gates, suppression, level predictor…). So a trace recorded once lets a search over those
 * constants re-score the series without training (`sloth bench nab --cv --nested`), with the same scores.
 */
export interface ModelTrace {
  /** Version of the model installed when row i was scored; 0 before the first model. */
  versions: number[];
  /** The model's forecast of row i (NaN without a model or when its inputs were missing). */
  predictions: number[];
  /** The model's normalisation scale at row i (its error floor is 1 % of it); NaN without a model. */
  scales: number[];
}

/** An empty trace for a detector to record into. */
export function emptyModelTrace(): ModelTrace {
  return { versions: [], predictions: [], scales: [] };
}

/** A trace as one Float64Array: rows, then versions, predictions and scales (NaN kept, unlike JSON). */
export function encodeModelTrace(trace: ModelTrace): Float64Array {
  const n = trace.versions.length;
  if (trace.predictions.length !== n || trace.scales.length !== n) throw new InputError(`model trace arrays differ in length (${n}, ${trace.predictions.length}, ${trace.scales.length})`);
  const out = new Float64Array(1 + 3 * n);
  out[0] = n;
  out.set(trace.versions, 1);
  out.set(trace.predictions, 1 + n);
  out.set(trace.scales, 1 + 2 * n);
  return out;
}

/** Inverse of {@link encodeModelTrace}; `source` names the data in errors. */
export function decodeModelTrace(data: Float64Array, source: string): ModelTrace {
  const n = data[0];
  if (n === undefined || !Number.isInteger(n) || n < 0 || data.length !== 1 + 3 * n) throw new InputError(`${source}: not a model trace (length ${data.length}, rows ${String(n)})`);
  return {
    versions: Array.from(data.subarray(1, 1 + n)),
    predictions: Array.from(data.subarray(1 + n, 1 + 2 * n)),
    scales: Array.from(data.subarray(1 + 2 * n, 1 + 3 * n)),
  };
}
