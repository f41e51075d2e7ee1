/**
 * Natural log of a series' own upper-tail probability P(X ≥ x), estimated from the `n` values it kept
 * (`values[0 … n-1]`, any order): the empirical share of values at least `x` while that share holds at
 * least `k` values, and beyond the k-th largest value (u) an exponential tail fitted to the peaks
 * above it — peaks-over-threshold as in SPOT (Siffer et al., KDD 2017), with the generalised Pareto's
 * shape fixed at 0 (an exponential: too few peaks per series to estimate a shape):
 *
 *   ln P(X ≥ x) = ln(k / n) − (x − u) / σ,  σ = mean excess of the k − 1 values above u.
 *
 * k is 2 % of the values (SPOT's initial threshold is the 98 % quantile), at least `minPeaks`. σ has
 * the floor `minSpread` (a tail of ties, e.g. a constant score, still gives a finite answer).
 * O(n) per call, O(n·k) only for the rare `x` beyond the top k.
 */
export function logEmpiricalTail(values: ArrayLike<number>, n: number, x: number, minSpread: number, minPeaks = 5, peakShare = 0.02): number {
  if (n <= 0) return 0;
  const k = Math.min(n, Math.max(minPeaks, Math.ceil(peakShare * n)));
  let atLeast = 0;
  for (let i = 0; i < n; i += 1) if ((values[i] as number) >= x) atLeast += 1;
  if (atLeast >= k) return Math.log(atLeast / n);
  // The k largest values, descending (insertion into a short sorted list).
  const top: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const v = values[i] as number;
    if (top.length === k && v <= (top[k - 1] as number)) continue;
    let j = top.length < k ? top.length : k - 1;
    if (top.length < k) top.push(v);
    while (j > 0 && (top[j - 1] as number) < v) {
      top[j] = top[j - 1] as number;
      j -= 1;
    }
    top[j] = v;
  }
  const u = top[k - 1] as number;
  let excess = 0;
  for (let j = 0; j < k - 1; j += 1) excess += (top[j] as number) - u;
  const spread = Math.max(minSpread, k > 1 ? excess / (k - 1) : 0);
  return Math.log(k / n) - (x - u) / spread;
}
