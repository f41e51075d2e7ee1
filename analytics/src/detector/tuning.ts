import { InputError } from '@sloth/core';

/**
 * Internal constants of the detector, the same for every series (no per-series tuning). Each is set
 * a priori (units, cost, a stated false-alarm rate), taken from HTM's published NAB detector, or chosen
 * per fold by `sloth bench nab --cv` on the three training categories (`detectorCandidates`); none is
 * a value searched on all four development categories any more (the table and how each was set:
 * docs/anomaly-detection.md, "Constants and how each was set"). Kept in one object so the benchmark
 * can report and explore them.
 */
export const tuning = {
  /** 1: a row's raw score is its smallest normalised error over the predictors; 0: their weighted mean. */
  combine: 0,
  /** 1: the rarity and model gates below damp the raw score; 0: off. Chosen per fold. */
  gates: 1,
  /** 1: the likelihood works on log(1 + raw score); 0: on the raw score. Chosen per fold. */
  logRaw: 0,
  /**
   * 1: the day-back and week-back predictors look the value up by timestamp; 0: by rows per day.
   * Off: it helps irregular synthetic series but lost 2.5 points out of fold on NAB with the model
   * (docs/anomaly-detection.md, "Generalisation yardstick").
   */
  timeLags: 0,
  /**
   * Tail of the short-term raw score that gives the surprise. 0: Gaussian (HTM's likelihood: long-run
   * EW mean and variance). 1: each series' own tail — the empirical share of its last `tailWindowRows`
   * short-term scores at least as high, and above their top 2 % (SPOT's peaks-over-threshold level)
   * an exponential tail fitted to those peaks — so a surprise s means a per-row false-alarm
   * probability of about e^-s on every series, bursty or not. 2: as 1, per series-day: the per-row
   * probability is scaled by rows per day / 288 (5-minute sampling is the reference), so a fixed score
   * is the same false-alarm rate per series-day whatever the sampling interval.
   */
  tail: 0,
  /** Short-term scores kept for `tail` 1 and 2 (one week at hourly, ~3.5 days at 5-minute sampling). */
  tailWindowRows: 1000,
  /** 1: rows of an incident (fired, or suppressed after a firing) are not learnt by the series' own tail; 0: every row is. */
  tailSkipIncidents: 0,
  /** Rows used to estimate the sampling interval. */
  intervalProbeRows: 32,
  /**
   * Memory, in rows, of everything the detector learns as "normal": each predictor's mean absolute
   * error and the long-run mean/variance of the short-term score (EW rate 1/historicRows after a
   * cumulative start). HTM's historic window: 8,640 rows, a month of 5-minute data.
   */
  historicRows: 8640,
  /** Rows before a predictor's error scale is trusted. */
  errorScaleWarmupRows: 50,
  /** The level predictor is an EW mean over this many days of the series' own sampling (span rowsPerDay·levelDays). */
  levelDays: 1,
  /** Weight of the TF.js model's normalised error in the mean over predictors: one predictor among equals. */
  modelWeight: 1,
  /** 1: a re-trained model keeps its predecessor's error scale; 0: every model starts afresh. */
  keepModelScale: 1,
  /** The model gate damps the raw score when the model's normalised error is below this: it forecast the value within its own mean absolute error. */
  modelGateZ: 1,
  /** Factor applied to the raw score by each gate that says "normal" (rarity, model). Chosen per fold from {0.25, 0.5}. */
  gateDamp: 0.5,
  /** A value is not rare when at least this share of the kept history is as extreme on its side (SPOT's 98 % level, as the own tail). */
  rarityShare: 0.02,
  /** Rows averaged for the short-term raw anomaly score (HTM's averaging window). */
  shortRows: 10,
  /** Rows before the likelihood is computed at all. */
  likelihoodWarmupRows: 150,
  /** Cap of a normalised error. */
  maxZ: 30,
  /**
   * Surprise (−ln tail probability) that counts as a firing, which starts the suppression: a stated
   * per-row rate of 10⁻⁵ (the midpoint of HTM's log-likelihood score scale, −log₁₀(1 − L)/10 = 0.5).
   */
  fireSurprise: Math.log(1e5),
  /** Rows of suppression after a firing: the score is 0 while suppressed (one alarm per incident). Chosen per fold. */
  suppressRows: 300,
  /** A value beyond the range seen so far by this fraction of the range is a spatial anomaly (HTM's spatial tolerance). */
  spatialMargin: 0.05,
  /** Surprise assigned to a spatial anomaly: above the firing level, so it always alarms. */
  spatialSurprise: 20,
  /** Surprise → score: s/(s + scoreHalf). */
  scoreHalf: 10,
  /** Values kept for seasonal lags and training. */
  historyRows: 2100,
};

export type Tuning = typeof tuning;

const defaults: Readonly<Tuning> = Object.freeze({ ...tuning });

/**
 * Sets the constants to their defaults plus overrides from a JSON object (SLOTH_DETECTOR_TUNING, or a
 * cross-validation candidate) — for the benchmark only; the defaults are the product.
 */
export function applyTuningOverrides(json: string | undefined): void {
  Object.assign(tuning, defaults);
  if (json === undefined || json === '') return;
  const parsed = JSON.parse(json) as Partial<Record<keyof Tuning, number>>;
  for (const [k, v] of Object.entries(parsed)) {
    if (!(k in tuning) || typeof v !== 'number') throw new InputError(`detector tuning override ${JSON.stringify(k)}: ${JSON.stringify(v)} is not a known constant with a number value (known: ${Object.keys(tuning).join(', ')})`);
    (tuning as Record<string, number>)[k] = v;
  }
}
