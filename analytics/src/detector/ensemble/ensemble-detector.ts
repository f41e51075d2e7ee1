import { InputError } from '@sloth/core';
import type { DetectorOptions, DetectorOutput, DetectorSnapshot, SeriesDetector, TrainedModel, TrainingRequest } from '../contract.js';
import { logNormalTail } from '../gaussian-tail.js';
import { freshLikelihood, updateLikelihood, type LikelihoodConstants, type LikelihoodState } from './likelihood.js';
import { RobustWindow } from './robust-window.js';

/**
 * Every constant of the ensemble, each set a priori (reasons in docs/anomaly-detection.md
 * "Ensemble detector"); none was searched on NAB data.
 */
export const ensembleConstants = Object.freeze({
  /** Rows in the robust baseline windows: HTM's learning period (one day at 5-minute sampling). */
  windowRows: 288,
  /** Fewest baseline rows before raw scores start (HTM/NAB's averaging window). */
  minWindowRows: 10,
  likelihood: Object.freeze({
    /** NAB's numenta detector averages the last 10 raw scores. */
    averagingRows: 10,
    /** HTM's historic window: 8,640 rows (30 days at 5 minutes). */
    historicRows: 8640,
    /** HTM's estimation samples: means seen before any likelihood is reported. */
    estimationRows: 100,
    /** The three-sigma rule: how far one row can move the long-run estimate. */
    winsorSigmas: 3,
  }) satisfies LikelihoodConstants,
  /** Three-sigma rule: a row this many robust sigmas off the baseline counts towards a level shift. */
  shiftSigmas: 3,
  /** A shift persisting this many rows (the averaging window) re-baselines the value window to them. */
  shiftRows: 10,
  /** Quantile bins of the contextual detector (octiles) and its context length (3 rows → 512 contexts). */
  bins: 8,
  /** ln(1e10): HTM's log-likelihood saturates at a tail of 1e-10 (score 1). */
  maxSurprise: Math.log(1e10),
  /**
   * A z no finite spread explains (a change on a flat line) counts as this surprise: that of
   * z = 1,000 (≈ z²/2). Finite surprises are not capped: the likelihood's winsorising already keeps
   * one incident from inflating the long run, and a capped spike would look like mild noise.
   */
  infiniteSurprise: 500_000,
  /** Detectors combined (Bonferroni factor on the smallest tail). */
  detectors: 3,
  /** Raw values kept for the same-time-yesterday difference: one day at 1-minute sampling. */
  historyRows: 1440,
  /** Intervals kept to find the typical sampling interval (median). */
  intervalRows: 31,
});

const c = ensembleConstants;
const dayMillis = 86_400_000;
/** 1/Φ⁻¹(3/4): MAD → Gaussian sigma. */
const madToSigma = 1.482_6;
/** √(π/2): mean absolute deviation → Gaussian sigma. */
const meanAbsToSigma = 1.253_3;
const contexts = c.bins * c.bins * c.bins;
const prefixes = c.bins * c.bins;

/** Plain-data state (JSON in snapshots). */
interface EnsembleState {
  rows: number;
  /** All values so far are non-negative integers: scored on √value (variance-stabilised counts). */
  countLike: boolean;
  lastMillis: number | null;
  lastRaw: number | null;
  shiftRun: number;
  shiftSign: number;
  /** Evidence (score before echo removal) of the last `averagingRows` rows. */
  recentEvidence: number[];
  values: number[];
  raws: number[];
  seasonal: number[];
  /**
   * Ring of the last `historyRows` transformed values; `historyHead` is the next write position; entries before row `historyFrom` are not comparable.
   */
  history: number[];
  historyHead: number;
  historyFrom: number;
  diffs: number[];
  intervals: number[];
  contextCounts: number[];
  prefixCounts: number[];
  contextTotal: number;
  /** Bins of the two previous rows (−1 before they exist). */
  bin1: number;
  bin2: number;
  likelihoods: LikelihoodState[];
}

function freshState(): EnsembleState {
  return {
    rows: 0,
    countLike: true,
    lastMillis: null,
    lastRaw: null,
    shiftRun: 0,
    shiftSign: 0,
    recentEvidence: [],
    values: [],
    raws: [],
    seasonal: [],
    history: new Array<number>(c.historyRows).fill(0),
    historyHead: 0,
    historyFrom: 0,
    diffs: [],
    intervals: [],
    contextCounts: new Array<number>(contexts).fill(0),
    prefixCounts: new Array<number>(prefixes).fill(0),
    contextTotal: 0,
    bin1: -1,
    bin2: -1,
    likelihoods: Array.from({ length: c.detectors }, freshLikelihood),
  };
}

function isCount(value: number): boolean {
  return value >= 0 && Number.isInteger(value);
}

/** Robust z of `x` against a window; 0 when the window is too short. */
function robustZ(window: RobustWindow, x: number): { z: number; center: number; sigma: number } {
  if (window.count < c.minWindowRows) return { z: 0, center: Number.NaN, sigma: Number.NaN };
  const center = window.median();
  let sigma = madToSigma * window.medianAbsDeviation(center);
  // More than half the window ties (sparse counts, flat lines): the mean deviation still sees the rest.
  if (!(sigma > 0)) sigma = meanAbsToSigma * window.meanAbsDeviation(center);
  const off = x - center;
  if (!(sigma > 0)) return { z: off === 0 ? 0 : Number.POSITIVE_INFINITY * Math.sign(off), center, sigma: 0 };
  return { z: off / sigma, center, sigma };
}

/** −ln of the two-sided Gaussian tail of z, capped: a raw score with mean 1 on Gaussian noise. */
function surprise(z: number): number {
  const a = Math.abs(z);
  if (!Number.isFinite(a)) return c.infiniteSurprise;
  return Math.max(0, Math.min(c.infiniteSurprise, -(Math.LN2 + logNormalTail(a))));
}

/**
 * The ensemble anomaly detector: three simple, diverse raw detectors (robust z of the value against
 * the recent baseline or the same time yesterday, whichever explains it better; robust z of the
 * time-scaled first difference; surprise of the recent quantile pattern), each turned into
 * a per-series tail probability by HTM's anomaly likelihood, combined by the smallest tail with a
 * Bonferroni correction and reported on HTM's log scale (score 0.5 ≈ tail 10⁻⁵).
 */
export class EnsembleDetector implements SeriesDetector {
  private readonly values = new RobustWindow(c.windowRows);
  private readonly raws = new RobustWindow(c.windowRows);
  private readonly diffs = new RobustWindow(c.windowRows);
  private readonly intervals = new RobustWindow(c.intervalRows);
  private readonly seasonal = new RobustWindow(c.windowRows);

  constructor(
    private readonly options: DetectorOptions,
    private readonly state: EnsembleState = freshState(),
  ) {
    for (const v of state.values) this.values.push(v);
    for (const v of state.raws) this.raws.push(v);
    for (const v of state.diffs) this.diffs.push(v);
    for (const v of state.intervals) this.intervals.push(v);
    for (const v of state.seasonal) this.seasonal.push(v);
  }

  readonly modelVersion = 'ensemble';

  private transform(value: number): number {
    return this.state.countLike ? Math.sqrt(value) : value;
  }

  update(timestampMillis: number, value: number): DetectorOutput {
    if (!Number.isFinite(value) || !Number.isFinite(timestampMillis)) {
      throw new InputError(`detector input must be finite numbers, got timestamp ${timestampMillis}, value ${value}`);
    }
    const s = this.state;
    if (s.countLike && !isCount(value)) this.leaveCountMode();
    const x = this.transform(value);

    // Random-walk scaling: a difference across a gap of k typical intervals has √k times the spread.
    let gapFactor = 1;
    if (s.lastMillis !== null) {
      const gap = timestampMillis - s.lastMillis;
      const typical = this.intervals.count > 0 ? this.intervals.median() : gap;
      if (gap > 0 && typical > 0) gapFactor = Math.sqrt(Math.max(1, gap / typical));
      if (gap > 0) this.intervals.push(gap);
    }
    const diff = s.lastRaw === null ? Number.NaN : (x - this.transform(s.lastRaw)) / gapFactor;
    // Same time yesterday (daily cycles are the commonest pattern of operational metrics).
    const rowsPerDay = this.intervals.count > 0 ? Math.round(dayMillis / this.intervals.median()) : 0;
    const comparable = rowsPerDay >= 2 && rowsPerDay <= c.historyRows && s.rows - rowsPerDay >= s.historyFrom;
    const dayAgo = comparable ? (s.history[(s.historyHead - rowsPerDay + c.historyRows) % c.historyRows] as number) : Number.NaN;

    // 1. Raw scores from rows before this one.
    const level = robustZ(this.values, x);
    const step = Number.isNaN(diff) ? { z: 0 } : robustZ(this.diffs, diff);
    const seasonalDiff = Number.isNaN(dayAgo) ? Number.NaN : x - dayAgo;
    const haveDaily = !Number.isNaN(seasonalDiff) && this.seasonal.count >= c.minWindowRows;
    const daily = haveDaily ? robustZ(this.seasonal, seasonalDiff) : { z: Number.POSITIVE_INFINITY };
    // A value is odd only if neither the recent baseline nor the same time yesterday explains it: the
    // daily cycle is then not an anomaly, and a level shift is not one again a day later.
    const levelZ = Math.min(Math.abs(level.z), Math.abs(daily.z));
    const bin = Math.min(c.bins - 1, Math.floor(this.values.rankFraction(x) * c.bins));
    let contextSurprise = 0;
    const haveContext = s.bin2 >= 0 && this.values.count >= c.minWindowRows;
    const prefix = s.bin2 * c.bins + s.bin1;
    const context = prefix * c.bins + bin;
    if (haveContext) {
      // Laplace-smoothed probability of this bin after the previous two.
      contextSurprise = Math.min(c.maxSurprise, -Math.log(((s.contextCounts[context] as number) + 1) / ((s.prefixCounts[prefix] as number) + c.bins)));
    }

    // 2. Likelihood of each (once its detector has a baseline), combined.
    let minLogTail = 0;
    if (this.values.count >= c.minWindowRows) {
      const raw = [surprise(levelZ), surprise(step.z), contextSurprise];
      for (let k = 0; k < c.detectors; k += 1) {
        if (k === 1 && (Number.isNaN(diff) || this.diffs.count < c.minWindowRows)) continue;
        if (k === 2 && !haveContext) continue;
        minLogTail = Math.min(minLogTail, updateLikelihood(s.likelihoods[k] as LikelihoodState, raw[k] as number, c.likelihood));
      }
    }
    const combinedLogTail = Math.min(0, Math.log(c.detectors) + minLogTail);
    const evidence = Number.isFinite(combinedLogTail) ? Math.min(1, combinedLogTail / -c.maxSurprise) : 1;
    // One incident, one alarm: a surprising row stays in the likelihood's average for
    // `averagingRows` rows, so only evidence above the previous `averagingRows` rows' is reported
    // (an escalation); its echo scores 0.
    const score = s.recentEvidence.every((e) => evidence > e) ? evidence : 0;
    s.recentEvidence.push(evidence);
    if (s.recentEvidence.length > c.likelihood.averagingRows) s.recentEvidence.shift();

    // 3. Learn this row.
    if (haveContext) {
      s.contextCounts[context] = (s.contextCounts[context] as number) + 1;
      s.prefixCounts[prefix] = (s.prefixCounts[prefix] as number) + 1;
      s.contextTotal += 1;
      // Forget slowly (HTM's historic window) so a changed pattern becomes the new normal.
      if (s.contextTotal >= c.likelihood.historicRows) this.halveContexts();
    }
    s.bin2 = s.bin1;
    s.bin1 = bin;
    this.values.push(x);
    this.raws.push(value);
    if (!Number.isNaN(diff)) this.diffs.push(diff);
    if (!Number.isNaN(seasonalDiff)) this.seasonal.push(seasonalDiff);
    s.history[s.historyHead] = x;
    s.historyHead = (s.historyHead + 1) % c.historyRows;
    this.trackShift(level.z);
    s.lastRaw = value;
    s.lastMillis = timestampMillis;
    s.rows += 1;

    if (Number.isNaN(level.center)) return { score, expectedLow: null, expectedHigh: null };
    const low = level.center - c.shiftSigmas * level.sigma;
    const high = level.center + c.shiftSigmas * level.sigma;
    return {
      score,
      expectedLow: s.countLike ? Math.max(0, low) ** 2 : low,
      expectedHigh: s.countLike ? Math.max(0, high) ** 2 : high,
    };
  }

  /** A level shift that persists `shiftRows` rows becomes the new baseline: one change, one alarm. */
  private trackShift(z: number): void {
    const s = this.state;
    const sign = Math.abs(z) > c.shiftSigmas ? Math.sign(z) : 0;
    if (sign !== 0 && sign === s.shiftSign) s.shiftRun += 1;
    else s.shiftRun = sign === 0 ? 0 : 1;
    s.shiftSign = sign;
    if (s.shiftRun >= c.shiftRows) {
      this.values.keepLast(c.shiftRows);
      s.shiftRun = 0;
      s.shiftSign = 0;
    }
  }

  private halveContexts(): void {
    const s = this.state;
    s.contextTotal = 0;
    for (let i = 0; i < contexts; i += 1) {
      s.contextCounts[i] = Math.floor((s.contextCounts[i] as number) / 2);
      s.contextTotal += s.contextCounts[i] as number;
    }
    for (let i = 0; i < prefixes; i += 1) s.prefixCounts[i] = Math.floor((s.prefixCounts[i] as number) / 2);
  }

  /** The first non-count value: rebuild the value baseline on the raw scale (diffs re-learn). */
  private leaveCountMode(): void {
    this.state.countLike = false;
    this.values.clear();
    for (const v of this.raws.values()) this.values.push(v);
    const raws = this.raws.values();
    this.diffs.clear();
    for (let i = 1; i < raws.length; i += 1) this.diffs.push((raws[i] as number) - (raws[i - 1] as number));
    this.seasonal.clear();
    this.state.historyFrom = this.state.rows;
  }

  trainingRequest(): TrainingRequest | null {
    return null;
  }

  installModel(model: TrainedModel): void {
    throw new InputError(`the ensemble detector takes no trained model (got ${model.kind} v${model.version}); use detector "legacy" for the TF.js model`);
  }

  snapshot(): DetectorSnapshot {
    const state: EnsembleState = {
      ...this.state,
      values: this.values.values(),
      raws: this.raws.values(),
      diffs: this.diffs.values(),
      seasonal: this.seasonal.values(),
      history: [...this.state.history],
      recentEvidence: [...this.state.recentEvidence],
      intervals: this.intervals.values(),
      contextCounts: [...this.state.contextCounts],
      prefixCounts: [...this.state.prefixCounts],
      likelihoods: this.state.likelihoods.map((l) => ({ ...l, recent: [...l.recent] })),
    };
    return { format: 1, options: { ...this.options }, state: state as unknown as Record<string, unknown>, model: null };
  }
}

/** Rebuilds an ensemble detector from its snapshot state. */
export function restoreEnsemble(options: DetectorOptions, state: Record<string, unknown>): EnsembleDetector {
  const s = state as unknown as EnsembleState;
  if (!Array.isArray(s.values) || !Array.isArray(s.likelihoods) || s.likelihoods.length !== c.detectors) {
    throw new InputError('ensemble detector snapshot is missing its windows or likelihoods; it was not written by this version');
  }
  const copy: EnsembleState = { ...s, likelihoods: s.likelihoods.map((l) => ({ ...l, recent: [...l.recent] })), contextCounts: [...s.contextCounts], prefixCounts: [...s.prefixCounts], history: [...s.history], recentEvidence: [...s.recentEvidence] };
  return new EnsembleDetector(options, copy);
}
