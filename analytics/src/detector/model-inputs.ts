/**
 * The model's input vector for the row after `past(1)`: the last `lagRows` values (oldest first)
 * and, when the series has a daily period, the values one day back (lags D+1, D, D−1), all
 * normalised. Returns false when a needed value is missing.
 */
export function fillModelInputs(
  out: Float64Array,
  past: (lag: number) => number,
  lagRows: number,
  seasonalLagRows: number,
  center: number,
  scale: number,
): boolean {
  for (let i = 0; i < lagRows; i += 1) {
    const v = past(lagRows - i);
    if (Number.isNaN(v)) return false;
    out[i] = (v - center) / scale;
  }
  for (let j = 0; j < 3; j += 1) {
    if (seasonalLagRows <= 1) {
      out[lagRows + j] = 0;
      continue;
    }
    const v = past(seasonalLagRows + 1 - j);
    if (Number.isNaN(v)) return false;
    out[lagRows + j] = (v - center) / scale;
  }
  return true;
}

/** Width of the model's input vector. */
export function modelInputWidth(lagRows: number): number {
  return lagRows + 3;
}
