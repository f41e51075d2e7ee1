import { logNormalTail } from '../gaussian-tail.js';

/**
 * HTM-style anomaly likelihood of one raw score stream: the (cube root of the) mean of the last
 * `averagingRows` raw scores is compared with the long-run distribution of that mean (exponentially weighted over
 * `historicRows`, Gaussian approximation), giving the log of its upper tail probability.
 */
export interface LikelihoodState {
  recent: number[];
  recentSum: number;
  mean: number;
  variance: number;
  count: number;
}

export function freshLikelihood(): LikelihoodState {
  return { recent: [], recentSum: 0, mean: 0, variance: 0, count: 0 };
}

/** Constants shared by every likelihood (see docs/anomaly-detection.md "Ensemble detector"). */
export interface LikelihoodConstants {
  averagingRows: number;
  historicRows: number;
  estimationRows: number;
  winsorSigmas: number;
}

/**
 * Adds `raw` and returns ln P(mean ≥ observed) under the long-run distribution (0 = unremarkable,
 * very negative = rare); 0 until `estimationRows` means have been seen.
 */
export function updateLikelihood(s: LikelihoodState, raw: number, c: LikelihoodConstants): number {
  s.recent.push(raw);
  s.recentSum += raw;
  if (s.recent.length > c.averagingRows) s.recentSum -= s.recent.shift() as number;
  // Recompute now and then: a running sum drifts with rounding over millions of rows.
  if (s.count % 1024 === 0) s.recentSum = s.recent.reduce((a, b) => a + b, 0);
  // Raw scores are surprises (−ln p, exponential under the null), so their mean is gamma-like and
  // right-skewed; its cube root is close to Gaussian (Wilson & Hilferty, 1931), which keeps the
  // Gaussian tail below honest instead of ~100× too small at 10⁻⁶.
  const shortMean = Math.cbrt(Math.max(0, s.recentSum / s.recent.length));
  let logTail = 0;
  // Lower bound on the spread (as HTM bounds its variance): the spread this statistic has when the
  // raw scores are calibrated surprises (cube root of a mean of n unit exponentials: ≈ 1/(3√n)).
  // A series more regular than that (flat lines, square waves) must not turn every blip into 10⁻³⁰.
  const sd = Math.max(Math.sqrt(s.variance), 1 / (3 * Math.sqrt(c.averagingRows)));
  if (s.count >= c.estimationRows) logTail = Math.min(0, logNormalTail((shortMean - s.mean) / sd));
  // One incident must not blind the detector for the next: the long run learns at most a
  // `winsorSigmas` excursion from each row (it still adapts, slowly, to a genuinely wilder regime).
  const learnt = s.count >= c.estimationRows ? Math.min(shortMean, s.mean + c.winsorSigmas * sd) : shortMean;
  const rate = Math.max(1 / c.historicRows, 1 / (s.count + 1));
  const delta = learnt - s.mean;
  s.mean += rate * delta;
  s.variance = (1 - rate) * (s.variance + rate * delta * delta);
  s.count += 1;
  return logTail;
}
