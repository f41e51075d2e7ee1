/**
 * Internal constants of the detector, chosen once on the NAB development subset and used for every
 * series (no per-series tuning). Kept in one object so the NAB benchmark can report them.
 */
export const tuning = {
  /** Rows used to estimate the sampling interval. */
  intervalProbeRows: 32,
  /** EWMA rate of each predictor's mean absolute error. */
  errorScaleRate: 0.002,
  /** Rows before a predictor's error scale is trusted. */
  errorScaleWarmupRows: 50,
  /** EWMA rate of the level predictor. */
  levelRate: 0.1,
  /** Rows averaged for the short-term raw anomaly score. */
  shortRows: 6,
  /** EW rate of the long-term mean/variance of the short-term raw score. */
  longRate: 0.0015,
  /** Rows before the likelihood is computed at all. */
  likelihoodWarmupRows: 150,
  /** Cap of a normalised error. */
  maxZ: 30,
  /** Surprise (−ln tail) that counts as a firing, which starts the suppression. */
  fireSurprise: 13,
  /** Rows of suppression after a firing. */
  suppressRows: 300,
  /** Factor applied to the surprise while suppressed. */
  suppressFactor: 0.3,
  /** A value beyond the range seen so far by this fraction of the range is a spatial anomaly. */
  spatialMargin: 0.1,
  /** Surprise assigned to a spatial anomaly. */
  spatialSurprise: 20,
  /** Surprise → score: s/(s + scoreHalf). */
  scoreHalf: 10,
  /** 0: fixed suppression after a firing; 1: output only the surprise above the recent (decaying) peak. */
  dedupeMode: 0,
  /** Weight of the recent peak subtracted in dedupe mode 1. */
  peakWeight: 1,
  /** A value with at least this many equally extreme values in the history is not rare. 0 disables. */
  rarityCount: 0,
  /** Factor applied to the raw score of a value that is not rare. */
  rarityDamp: 0.5,
  /** 0: Gaussian likelihood of the short score; 1: ratio of the short score to its recent decaying maximum. */
  scoreMode: 0,
  /** Time constant (rows) of the decaying maximum in score mode 1. */
  recordRows: 2000,
  /** How predictor errors combine: 0 min, 1 mean, 2 max, 3 geometric mean. */
  combineMode: 0,
  /** Rows an alarm is held back before it is reported (0 = immediately). */
  delayRows: 0,
  /** Values kept for seasonal lags and training. */
  historyRows: 2100,
};

export type Tuning = typeof tuning;

/** Overrides from SLOTH_DETECTOR_TUNING (JSON) — for the benchmark's parameter exploration only. */
export function applyTuningOverrides(json: string | undefined): void {
  if (json === undefined || json === '') return;
  const parsed = JSON.parse(json) as Partial<Record<keyof Tuning, number>>;
  for (const [k, v] of Object.entries(parsed)) {
    if (k in tuning && typeof v === 'number') (tuning as Record<string, number>)[k] = v;
  }
}
