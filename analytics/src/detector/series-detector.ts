import { InputError } from '@sloth/core';
import type { DetectorOptions, DetectorOutput, DetectorSnapshot, SeriesDetector, TrainedModel, TrainingRequest } from './contract.js';
import { logEmpiricalTail } from './empirical-tail.js';
import { logNormalTail } from './gaussian-tail.js';
import { EnsembleDetector, restoreEnsemble } from './ensemble/ensemble-detector.js';
import { MlpForecaster } from './mlp-forecaster.js';
import type { ModelTrace } from './model-trace.js';
import { tuning } from './tuning.js';

const dayMillis = 86_400_000;

/**
 * Defaults of {@link DetectorOptions}. The TF.js model is opt-in: out of fold with every choice made in
 * fold it scored below statistics only (bench/detector/nested-cv-rule.md, rule M).
 */
export const defaultDetectorOptions: Readonly<DetectorOptions> = Object.freeze({
  algorithm: 'legacy',
  useModel: false,
  minTrainRows: 400,
  retrainEveryRows: 2000,
  trainWindowRows: 2000,
  lagRows: 24,
  hiddenUnits: 16,
  epochs: 12,
  seed: 42,
});

/** Predictors whose errors are compared: previous value, EWMA level, same time yesterday, last week, the model. */
const predictorCount = 5;
/**
 * Rates of the EW levels a self-learned level chooses from (`levelLearn` 1): spans of about 3, 15, 63
 * and 255 rows, a geometric grid fixed a priori; the series' own errors pick among them.
 */
const learnedLevelRates: readonly number[] = [1 / 2, 1 / 8, 1 / 32, 1 / 128];
const modelPredictor = 4;
/**
 * Floor of the fitted tail's spread, in units of a predictor's mean absolute error: short-term scores
 * closer than 1 % of a typical error are the same score (a priori; keeps tied tails finite).
 */
const tailMinSpread = 0.01;

/**
 * Rows suppressed after a firing: `suppressRows`, capped at `suppressMaxMillis` of the series' median
 * sampling interval when both are known (rule S).
 */
export function suppressionRows(intervalMillis: number | null): number {
  if (tuning.suppressMaxMillis <= 0 || intervalMillis === null || !(intervalMillis > 0)) return tuning.suppressRows;
  return Math.min(tuning.suppressRows, Math.max(1, Math.round(tuning.suppressMaxMillis / intervalMillis)));
}

/** Everything that evolves with the series; plain data so a snapshot is JSON. */
interface DetectorState {
  rows: number;
  probeIntervals: number[];
  intervalMillis: number | null;
  lastMillis: number | null;
  /** Ring buffer of the last `historyRows` values; `historyHead` is the next write position. */
  history: number[];
  historyHead: number;
  /** Timestamps of the values in `history` (same positions), for day/week lags by time. */
  times?: number[];
  level: number | null;
  /** With `levelLearn` 1: EW levels at {@link learnedLevelRates} and each one's mean absolute one-step error. */
  levels?: number[];
  levelErrors?: number[];
  errorScale: number[];
  errorCount: number[];
  min: number | null;
  max: number | null;
  /**
   * `spatialRank` k ≥ 2: the k largest values seen so far, largest first, and the k smallest, smallest first;
   * the range runs from the k-th of one to the k-th of the other. Replaced, never changed in place, so a
   * snapshot never shares a changing array. Absent in snapshots taken without it.
   */
  highs?: number[];
  lows?: number[];
  /**
   * `grossHold` 1: a gross extreme above (below) the range that no second gross value has confirmed yet; it is not
   * part of the range. Absent: none (and in snapshots taken without the option).
   */
  pendingHigh?: number;
  pendingLow?: number;
  short: number[];
  longMean: number;
  longVar: number;
  longCount: number;
  suppressLeft: number;
  /** Consecutive calm rows while suppressed (`rearmRows`); absent in snapshots from before it. */
  calmRows?: number;
  /** Ring of the last `tailWindowRows` short-term scores (only with `tail` ≥ 1); `tailHead` is the next write position. */
  tailValues?: number[];
  tailHead?: number;
  /** Values written to `tailValues` so far, at most its length. */
  tailKept?: number;
  /**
   * `countTransform` ≥ 1: while the first `intervalProbeRows` values are being seen, whether all were
   * non-negative whole numbers so far; then the transform the series is scored on (0 raw, 1 √, 2 ln(1 + v)),
   * kept in the state so a restored detector goes on as it started. Absent: raw.
   */
  countsSoFar?: boolean;
  valueTransform?: number;
  rowsSinceTraining: number;
  nextModelVersion: number;
  trainingPending: boolean;
}

/**
 * The `k` most extreme of `kept` and `value` on one side (`above`: the largest, largest first; else the
 * smallest, smallest first): `kept` itself when the value does not enter, else a new array.
 */
function keepExtremes(kept: number[], value: number, k: number, above: boolean): number[] {
  const last = kept[k - 1];
  if (last !== undefined && !(above ? value > last : value < last)) return kept.length > k ? kept.slice(0, k) : kept;
  let at = 0;
  while (at < kept.length && (above ? (kept[at] as number) >= value : (kept[at] as number) <= value)) at += 1;
  return [...kept.slice(0, at), value, ...kept.slice(at, k - 1)];
}

/** Transforms of a count series' values (`countTransform`), each odd and monotone on every real, so order-based tests (new extremes, rarity) are unchanged; and their inverses. */
const valueTransforms: ReadonlyArray<{ forward: (v: number) => number; inverse: (v: number) => number }> = [
  { forward: (v) => v, inverse: (v) => v },
  { forward: (v) => Math.sign(v) * Math.sqrt(Math.abs(v)), inverse: (v) => Math.sign(v) * v * v },
  // ln(1 + 1.8e308) + a few errors overflows back to Infinity: such a bound is the largest finite number.
  { forward: (v) => Math.sign(v) * Math.log1p(Math.abs(v)), inverse: (v) => Math.sign(v) * Math.min(Number.MAX_VALUE, Math.expm1(Math.abs(v))) },
];

function valueTransform(id: number | undefined): (typeof valueTransforms)[number] {
  const transform = valueTransforms[id ?? 0];
  if (transform === undefined) throw new InputError(`detector value transform ${String(id)} is unknown (known: 0 raw, 1 square root, 2 log)`);
  return transform;
}

/**
 * The arrays of {@link DetectorState} that `update` changes in place. `history`, `times` and `tailValues` are read
 * into typed arrays, and `highs`/`lows` are replaced, never changed: those are never shared with a live detector.
 */
const inPlaceArrays = ['probeIntervals', 'errorScale', 'errorCount', 'short', 'levels', 'levelErrors'] as const;

/** A shallow copy of `state` that shares no array the detector changes in place (small arrays: cheap to copy). */
function detached(state: DetectorState): DetectorState {
  const copy = { ...state };
  for (const key of inPlaceArrays) {
    const kept = state[key];
    if (kept !== undefined) copy[key] = kept.slice();
  }
  return copy;
}

function freshState(): DetectorState {
  return {
    rows: 0,
    probeIntervals: [],
    intervalMillis: null,
    lastMillis: null,
    history: new Array<number>(tuning.historyRows).fill(0),
    historyHead: 0,
    level: null,
    errorScale: new Array<number>(predictorCount).fill(0),
    errorCount: new Array<number>(predictorCount).fill(0),
    min: null,
    max: null,
    short: [],
    longMean: 0,
    longVar: 0,
    longCount: 0,
    suppressLeft: 0,
    rowsSinceTraining: 0,
    nextModelVersion: 1,
    trainingPending: false,
  };
}

/** The production anomaly detector (one instance per series); see docs/benchmarks.md "NAB". */
export class StreamingDetector implements SeriesDetector {
  private readonly options: DetectorOptions;
  private readonly state: DetectorState;
  private readonly history: Float64Array;
  private readonly times: Float64Array;
  /** The short-term scores kept for the series' own tail (`tail` ≥ 1); empty otherwise. */
  private readonly tailRing: Float64Array;
  private model: TrainedModel | null = null;
  private forecaster: MlpForecaster | null = null;
  private readonly predictions = new Float64Array(predictorCount);
  /** With `traceMode` record: the model's per-row outputs are appended; replay: they stand in for the model. */
  private trace: ModelTrace | null = null;
  private traceMode: 'record' | 'replay' = 'record';
  /** Replay: version of the model whose outputs the previous row used (0: none yet). */
  private replayVersion = 0;

  constructor(options: DetectorOptions, state: DetectorState = freshState(), model: TrainedModel | null = null) {
    this.options = options;
    this.state = state;
    this.history = Float64Array.from(state.history);
    // Snapshots from before time-based lags have no timestamps: those rows are never matched by time.
    this.times = state.times === undefined ? new Float64Array(this.history.length).fill(Number.NaN) : Float64Array.from(state.times);
    this.tailRing = tuning.tail >= 1 ? new Float64Array(tuning.tailWindowRows) : new Float64Array(0);
    if (tuning.tail >= 1 && state.tailValues !== undefined) this.tailRing.set(state.tailValues.slice(0, this.tailRing.length));
    if (model !== null) {
      // Restoring: the model's error statistics are part of the state already.
      this.forecaster = MlpForecaster.fromTrainedModel(model);
      this.model = model;
    }
  }

  get modelVersion(): string {
    if (this.trace !== null && this.traceMode === 'replay') return this.replayVersion === 0 ? 'stats' : `mlp-v${this.replayVersion} (replayed)`;
    return this.model === null ? 'stats' : `mlp-v${this.model.version}`;
  }

  /**
   * Before the first row: `record` appends the model's forecast, scale and version of every row to
   * `trace`; `replay` uses a recorded trace instead of training and running the model (no training
   * requests). Replaying under other post-processing constants gives the scores a direct run with
   * those constants gives (analytics/test/detector/model-trace.test.ts).
   */
  attachModelTrace(trace: ModelTrace, mode: 'record' | 'replay'): void {
    if (this.state.rows > 0 || this.model !== null) throw new InputError('a model trace is attached to a fresh detector, before its first row');
    this.trace = trace;
    this.traceMode = mode;
  }

  /** Value `lag` rows before the row being scored (lag ≥ 1), or NaN if not kept. */
  private past(lag: number): number {
    if (lag < 1 || lag > this.state.rows || lag > this.history.length) return Number.NaN;
    const size = this.history.length;
    return this.history[(((this.state.historyHead - lag) % size) + size) % size] as number;
  }

  /**
   * Kept value whose timestamp is closest to `targetMillis` (binary search over the ring, oldest
   * first), or NaN when none lies within half the sampling interval of it: irregular series with gaps
   * then compare with the same time yesterday, not with whatever came a day's worth of rows ago.
   */
  private pastAt(targetMillis: number, intervalMillis: number): number {
    const kept = Math.min(this.state.rows, this.history.length);
    const size = this.history.length;
    const at = (k: number): number => (((this.state.historyHead - kept + k) % size) + size) % size;
    let lo = 0;
    let hi = kept - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.times[at(mid)] as number) < targetMillis) lo = mid + 1;
      else hi = mid;
    }
    let best = Number.NaN;
    let bestGap = intervalMillis / 2;
    for (const k of [lo - 1, lo]) {
      if (k < 0 || k >= kept) continue;
      const gap = Math.abs((this.times[at(k)] as number) - targetMillis);
      if (gap <= bestGap) {
        bestGap = gap;
        best = this.history[at(k)] as number;
      }
    }
    return best;
  }

  update(timestampMillis: number, value: number): DetectorOutput {
    if (!Number.isFinite(value) || !Number.isFinite(timestampMillis)) {
      throw new InputError(`detector input must be finite numbers, got timestamp ${timestampMillis}, value ${value}`);
    }
    const s = this.state;
    this.trackInterval(timestampMillis);
    if (tuning.countTransform !== 0 || this.state.valueTransform !== undefined) value = this.countScaled(value);

    // 1. Predictions from rows before this one.
    const p = this.predictions;
    p.fill(Number.NaN);
    p[0] = this.past(1);
    p[1] = tuning.levelLearn === 1 ? this.learnedLevel() : (s.level ?? Number.NaN);
    const rowsPerDay = s.intervalMillis === null ? 0 : Math.round(dayMillis / s.intervalMillis);
    if (rowsPerDay >= 2 && s.intervalMillis !== null) {
      p[2] = tuning.timeLags === 1 ? this.pastAt(timestampMillis - dayMillis, s.intervalMillis) : this.past(rowsPerDay);
      p[3] = tuning.timeLags === 1 ? this.pastAt(timestampMillis - 7 * dayMillis, s.intervalMillis) : this.past(rowsPerDay * 7);
    }
    let modelScale = this.model === null ? Number.NaN : this.model.scale;
    if (this.trace !== null && this.traceMode === 'replay') {
      const t = this.trace;
      const r = s.rows;
      const version = t.versions[r];
      if (version === undefined) throw new InputError(`model trace has ${t.versions.length} rows; the series has more`);
      if (version !== this.replayVersion) {
        // A model was installed after the previous row: the error-scale reset `installModel` does.
        if (this.replayVersion === 0 || tuning.keepModelScale === 0) {
          s.errorScale[modelPredictor] = 0;
          s.errorCount[modelPredictor] = 0;
        }
        this.replayVersion = version;
      }
      modelScale = version === 0 ? Number.NaN : (t.scales[r] as number);
      if (version !== 0) p[modelPredictor] = t.predictions[r] as number;
    } else if (this.forecaster !== null) p[modelPredictor] = this.forecaster.predict((lag) => this.past(lag), timestampMillis);
    if (this.trace !== null && this.traceMode === 'record') {
      this.trace.versions.push(this.model === null ? 0 : this.model.version);
      this.trace.predictions.push(p[modelPredictor] as number);
      this.trace.scales.push(modelScale);
    }

    // The range seen so far: between the extremes, or with `spatialRank` k ≥ 2 between the k-th most extreme
    // values on each side (an extreme seen fewer than k times does not widen it).
    const rank = tuning.spatialRank;
    if (rank >= 2) this.padRanked(rank);
    else if (s.highs !== undefined || s.lows !== undefined) {
      // Kept only while ranked: a later switch back starts again from the extremes, not from stale values.
      delete s.highs;
      delete s.lows;
    }
    const low = s.lows === undefined ? s.min : (s.lows[Math.min(rank, s.lows.length) - 1] ?? null);
    const high = s.highs === undefined ? s.max : (s.highs[Math.min(rank, s.highs.length) - 1] ?? null);
    // `grossHold` 1: values beyond these lines are gross extremes (rule W's, so only after the warm-up); they do not teach.
    let grossAbove = Number.POSITIVE_INFINITY;
    let grossBelow = Number.NEGATIVE_INFINITY;
    if (tuning.grossHold === 1) {
      if (tuning.escapeSpan > 0 && s.rows >= tuning.likelihoodWarmupRows && low !== null && high !== null) {
        grossAbove = high + tuning.escapeSpan * (high - low);
        grossBelow = low - tuning.escapeSpan * (high - low);
      }
    } else if (s.pendingHigh !== undefined || s.pendingLow !== undefined) {
      // Kept only while holding: a later switch back does not confirm a stale value.
      delete s.pendingHigh;
      delete s.pendingLow;
    }
    const grossValue = value > grossAbove || value < grossBelow;

    // 2. Normalised errors: each predictor's error over its own mean absolute error. `combine` 1 takes
    // the smallest (a row is odd only if no predictor explains it: seasonality and level shifts are
    // explained by one of them); 0 the (weighted) mean.
    const range = low === null || high === null ? 0 : high - low;
    const floor = Math.max(1e-9, 1e-4 * range, 1e-9 * Math.abs(value));
    let zSum = 0;
    let modelZ = Number.NaN;
    let weightSum = 0;
    let bestZ = Number.POSITIVE_INFINITY;
    let bestPrediction = Number.NaN;
    let bestScale = 0;
    for (let k = 0; k < predictorCount; k += 1) {
      const pred = p[k] as number;
      if (Number.isNaN(pred)) continue;
      const error = Math.abs(value - pred);
      const count = s.errorCount[k] as number;
      const scale = s.errorScale[k] as number;
      if (count >= tuning.errorScaleWarmupRows) {
        // The model's float32 fit is never exact: errors under 1 % of the data's spread are noise
        // (this keeps a constant series quiet once a model is installed).
        const floorK = k === modelPredictor && !Number.isNaN(modelScale) ? Math.max(floor, 0.01 * modelScale) : floor;
        const z = error <= floorK ? 0 : Math.min(tuning.maxZ, error / Math.max(scale, floorK));
        const weight = k === modelPredictor ? tuning.modelWeight : 1;
        if (k === modelPredictor) modelZ = z;
        zSum += weight * z;
        weightSum += weight;
        if (z < bestZ) {
          bestZ = z;
          bestPrediction = pred;
          bestScale = Math.max(scale, floor);
        }
      }
      const rate = Math.max(tuning.errorScaleRate, 1 / (count + 1));
      // A gross value, or a prediction made from one, teaches at most the error that gives the `maxZ` cap.
      const taught = grossValue || pred > grossAbove || pred < grossBelow ? Math.min(error, tuning.maxZ * Math.max(scale, floor)) : error;
      s.errorScale[k] = scale + rate * (taught - scale);
      s.errorCount[k] = count + 1;
    }
    let raw = weightSum === 0 ? 0 : tuning.combine === 1 ? bestZ : zSum / weightSum;
    if (tuning.gates === 1) {
      if (raw > 0 && s.rows >= tuning.likelihoodWarmupRows && this.isCommonValue(value)) raw *= tuning.rarityDamp;
      // A value the per-series model forecast well is less likely an anomaly, however odd it looks to
      // the simple predictors (the model has learnt the series' own patterns).
      if (!Number.isNaN(modelZ) && modelZ < tuning.modelGateZ) raw *= tuning.modelGateDamp;
    }
    // Normalised errors of bursty and count series are heavy-tailed; on a log scale their short-term
    // average is closer to the Gaussian the likelihood assumes.
    if (tuning.logRaw === 1) raw = Math.log1p(raw);

    // 3. Likelihood of the short-term average raw score under its long-term distribution.
    s.short.push(raw);
    if (s.short.length > tuning.shortRows) s.short.shift();
    const shortMean = s.short.reduce((a, b) => a + b, 0) / s.short.length;
    let surprise = 0;
    const delta = shortMean - s.longMean;
    if (tuning.tail >= 1) {
      // The series' own tail: a surprise s is a per-row (tail 2: per 5-minute-equivalent row, i.e. per
      // series-day) false-alarm probability of about e^-s on every series.
      const kept = s.tailKept ?? 0;
      if (s.rows >= tuning.likelihoodWarmupRows && kept > 0) {
        if (tuning.tail === 3) {
          // The Gaussian likelihood, capped by the series' own record: a short-term score reached c
          // times in the last n rows is at most ln(n / c) surprising; beyond all of them, Gaussian.
          let atLeast = 0;
          for (let i = 0; i < kept; i += 1) if ((this.tailRing[i] as number) >= shortMean) atLeast += 1;
          surprise = s.longCount > 0 ? -logNormalTail(delta / (Math.sqrt(s.longVar) + 1e-6)) : 0;
          if (atLeast > 0) surprise = Math.min(surprise, Math.log(kept / atLeast));
        } else {
          let logP = logEmpiricalTail(this.tailRing, kept, shortMean, tailMinSpread);
          if (tuning.tail === 2 && rowsPerDay >= 1) logP += Math.log(rowsPerDay / 288);
          surprise = Math.max(0, -logP);
        }
      }
    } else if (s.rows >= tuning.likelihoodWarmupRows && s.longCount > 0) {
      const sd = Math.sqrt(s.longVar) + 1e-6;
      surprise = -logNormalTail(delta / sd);
    }
    const longRate = Math.max(tuning.longRate, 1 / (s.longCount + 1));
    s.longMean += longRate * delta;
    s.longVar = (1 - longRate) * (s.longVar + longRate * delta * delta);
    s.longCount += 1;

    // 4. A value far outside everything seen so far.
    let spatialOnly = false;
    // Beyond the range by more than `escapeSpan` ranges: an extreme no suppression may hide.
    let escapes = false;
    if (s.rows >= tuning.likelihoodWarmupRows && low !== null && high !== null) {
      const span = high - low;
      const margin = tuning.spatialMargin * span;
      if (value > high + margin || value < low - margin) {
        spatialOnly = surprise < tuning.fireSurprise;
        surprise = Math.max(surprise, tuning.spatialSurprise);
        escapes = tuning.escapeSpan > 0 && (value > high + tuning.escapeSpan * span || value < low - tuning.escapeSpan * span);
      }
    }
    let held = false;
    if (!grossValue) this.widenRange(value, rank);
    else {
      const above = value > grossAbove;
      const pending = above ? s.pendingHigh : s.pendingLow;
      if (pending === undefined) {
        held = true;
        if (above) s.pendingHigh = value;
        else s.pendingLow = value;
      } else {
        // Confirmed: a second gross value on the same side; the range takes in both.
        if (above) delete s.pendingHigh;
        else delete s.pendingLow;
        this.widenRange(pending, rank);
        this.widenRange(value, rank);
      }
    }

    // 5. After a firing, damp further alarms for a while (one alarm per incident).
    if (s.suppressLeft > 0 && !escapes) {
      s.suppressLeft -= 1;
      if (tuning.rearmRows > 0) {
        // An incident that is over re-arms the detector: enough calm rows in a row end the suppression early.
        s.calmRows = surprise < tuning.fireSurprise / 2 ? (s.calmRows ?? 0) + 1 : 0;
        if (s.calmRows >= tuning.rearmRows) s.suppressLeft = 0;
      }
      surprise *= tuning.suppressFactor;
    } else if (surprise >= tuning.fireSurprise) {
      // A firing on a new extreme alone (the likelihood did not fire) is a one-row event: with
      // `spatialShortSuppress` it silences only the short-term window it lifts, not a whole incident's span.
      s.suppressLeft = spatialOnly && tuning.spatialShortSuppress === 1 ? tuning.shortRows : suppressionRows(s.intervalMillis);
      s.calmRows = 0;
    }
    if (!Number.isFinite(surprise) || surprise < 0) surprise = surprise > 0 ? 1e6 : 0;
    // The series' own tail learns this row's short-term score unless the row is part of an incident
    // (it fired, or alarms are suppressed after one) and `tailSkipIncidents` is 1: an incident must not
    // teach the tail that incidents are normal (the same reason the error scales adapt slowly).
    if (tuning.tail >= 1 && !(tuning.tailSkipIncidents === 1 && s.suppressLeft > 0)) {
      const head = s.tailHead ?? 0;
      this.tailRing[head] = shortMean;
      s.tailHead = (head + 1) % this.tailRing.length;
      s.tailKept = Math.min(this.tailRing.length, (s.tailKept ?? 0) + 1);
    }
    const score = surprise / (surprise + tuning.scoreHalf);

    // 6. Remember this row.
    // A held gross extreme does not move the level: its errors would teach the error scales for hundreds of rows.
    if (!held) {
      s.level = s.level === null ? value : s.level + this.levelRate() * (value - s.level);
      if (tuning.levelLearn === 1) this.learnLevels(value);
    }
    this.history[s.historyHead] = value;
    this.times[s.historyHead] = timestampMillis;
    s.historyHead = (s.historyHead + 1) % this.history.length;
    s.rows += 1;
    s.rowsSinceTraining += 1;

    const haveRange = !Number.isNaN(bestPrediction);
    const back = valueTransform(s.valueTransform).inverse;
    return {
      score,
      expectedLow: haveRange ? back(bestPrediction - 4 * bestScale) : null,
      expectedHigh: haveRange ? back(bestPrediction + 4 * bestScale) : null,
    };
  }

  /**
   * `countTransform` ≥ 1: the value the detector works on. The first `intervalProbeRows` rows are scored
   * raw while it watches whether they are counts; if they are, what was learnt from them moves to the
   * transformed scale (kept values, level, range) and the error scales and likelihood start afresh (both
   * are still warming up then: `errorScaleWarmupRows` and `likelihoodWarmupRows` are longer).
   */
  private countScaled(value: number): number {
    const s = this.state;
    if (s.valueTransform !== undefined) return valueTransform(s.valueTransform).forward(value);
    if (s.rows < tuning.intervalProbeRows) {
      s.countsSoFar = (s.countsSoFar ?? true) && value >= 0 && Number.isInteger(value);
      return value;
    }
    s.valueTransform = s.countsSoFar === false ? 0 : tuning.countTransform;
    delete s.countsSoFar;
    const { forward } = valueTransform(s.valueTransform);
    if (s.valueTransform === 0) return value;
    const size = this.history.length;
    for (let lag = 1; lag <= Math.min(s.rows, size); lag += 1) {
      const at = (((s.historyHead - lag) % size) + size) % size;
      this.history[at] = forward(this.history[at] as number);
    }
    if (s.level !== null) s.level = forward(s.level);
    if (s.levels !== undefined) s.levels = s.levels.map(forward);
    if (s.levelErrors !== undefined) s.levelErrors = s.levelErrors.map(() => 0);
    if (s.min !== null) s.min = forward(s.min);
    if (s.max !== null) s.max = forward(s.max);
    // Monotone: the ranked extremes keep their order.
    if (s.highs !== undefined) s.highs = s.highs.map(forward);
    if (s.lows !== undefined) s.lows = s.lows.map(forward);
    if (s.pendingHigh !== undefined) s.pendingHigh = forward(s.pendingHigh);
    if (s.pendingLow !== undefined) s.pendingLow = forward(s.pendingLow);
    s.errorScale.fill(0);
    s.errorCount.fill(0);
    s.short = [];
    s.longMean = 0;
    s.longVar = 0;
    s.longCount = 0;
    return forward(value);
  }

  /** Takes `value` into the range seen so far (the extremes, and with `spatialRank` k ≥ 2 the k most extreme on each side). */
  private widenRange(value: number, rank: number): void {
    const s = this.state;
    s.min = s.min === null ? value : Math.min(s.min, value);
    s.max = s.max === null ? value : Math.max(s.max, value);
    if (rank >= 2) {
      s.highs = keepExtremes(s.highs ?? [], value, rank, true);
      s.lows = keepExtremes(s.lows ?? [], value, rank, false);
    }
  }

  /**
   * `spatialRank` k ≥ 2: makes sure `highs` and `lows` hold k values once k rows have been seen. A snapshot
   * taken without it (or with a smaller k) knows only the extremes: they are taken as seen k times, so the
   * restored detector's range is the one it had (as before the option), never narrower than what it saw.
   */
  private padRanked(rank: number): void {
    const s = this.state;
    const known = Math.min(rank, s.rows);
    if ((s.highs?.length ?? 0) >= known && (s.lows?.length ?? 0) >= known) return;
    const pad = (kept: number[] | undefined, extreme: number | null): number[] | undefined => {
      if (extreme === null) return kept;
      const list = kept === undefined || kept.length === 0 ? [extreme] : kept;
      return list.length >= known ? list : [...list, ...new Array<number>(known - list.length).fill(list[list.length - 1] as number)];
    };
    s.highs = pad(s.highs, s.max);
    s.lows = pad(s.lows, s.min);
  }

  /**
   * Rate of the level predictor: `levelRate`, or with `levelDays` > 0 an EW mean with a span of that
   * many days of the series' own sampling (cumulative until the interval is known and while fewer rows
   * than the span have been seen).
   */
  private levelRate(): number {
    const s = this.state;
    if (tuning.levelDays <= 0) return tuning.levelRate;
    const span = s.intervalMillis === null ? Number.POSITIVE_INFINITY : Math.max(1, (tuning.levelDays * dayMillis) / s.intervalMillis);
    return Math.min(1, Math.max(2 / (span + 1), 1 / (s.rows + 1)));
  }

  /** The self-learned level: of the EW levels, the one with the smallest mean absolute one-step error so far. */
  private learnedLevel(): number {
    const levels = this.state.levels;
    const errors = this.state.levelErrors;
    if (levels === undefined || errors === undefined) return Number.NaN;
    let best = 0;
    for (let k = 1; k < levels.length; k += 1) if ((errors[k] as number) < (errors[best] as number)) best = k;
    return levels[best] as number;
  }

  /**
   * Updates each EW level's error on this row (at the predictors' error-scale rate: the same memory of
   * "normal"), then the level itself.
   */
  private learnLevels(value: number): void {
    const s = this.state;
    if (s.levels === undefined || s.levelErrors === undefined) {
      s.levels = learnedLevelRates.map(() => value);
      s.levelErrors = learnedLevelRates.map(() => 0);
      return;
    }
    const rate = Math.max(tuning.errorScaleRate, 1 / (s.rows + 1));
    for (let k = 0; k < learnedLevelRates.length; k += 1) {
      const level = s.levels[k] as number;
      const error = s.levelErrors[k] as number;
      s.levelErrors[k] = error + rate * (Math.abs(value - level) - error);
      s.levels[k] = level + (learnedLevelRates[k] as number) * (value - level);
    }
  }

  /** True when at least `rarityCount` (or a `rarityShare` of the) kept values are as extreme as `value` on its side. */
  private isCommonValue(value: number): boolean {
    const kept = Math.min(this.state.rows, this.history.length);
    let above = 0;
    let below = 0;
    for (let i = 0; i < kept; i += 1) {
      const v = this.history[i] as number;
      if (v >= value) above += 1;
      if (v <= value) below += 1;
    }
    const needed = tuning.rarityShare > 0 ? tuning.rarityShare * kept : tuning.rarityCount;
    return kept > 0 && Math.min(above, below) >= needed;
  }

  private trackInterval(timestampMillis: number): void {
    const s = this.state;
    if (s.lastMillis !== null && s.intervalMillis === null) {
      const gap = timestampMillis - s.lastMillis;
      if (gap > 0) s.probeIntervals.push(gap);
      if (s.probeIntervals.length >= tuning.intervalProbeRows) {
        const sorted = [...s.probeIntervals].sort((a, b) => a - b);
        s.intervalMillis = sorted[Math.floor(sorted.length / 2)] ?? null;
        s.probeIntervals = [];
      }
    }
    s.lastMillis = timestampMillis;
  }

  trainingRequest(): TrainingRequest | null {
    const s = this.state;
    const o = this.options;
    if (!o.useModel || s.trainingPending || (this.trace !== null && this.traceMode === 'replay')) return null;
    const due = this.model === null ? s.rows >= o.minTrainRows : s.rowsSinceTraining >= o.retrainEveryRows;
    if (!due) return null;
    const count = Math.min(s.rows, o.trainWindowRows, this.history.length);
    const values: number[] = [];
    for (let lag = count; lag >= 1; lag -= 1) values.push(this.past(lag));
    s.trainingPending = true;
    const rowsPerDay = s.intervalMillis === null ? 0 : Math.round(dayMillis / s.intervalMillis);
    const seasonalLagRows = rowsPerDay >= 2 && rowsPerDay + 1 < this.history.length && count >= rowsPerDay + o.lagRows + 200 ? rowsPerDay : 0;
    return {
      kind: 'mlp-forecaster',
      version: s.nextModelVersion,
      values,
      lagRows: o.lagRows,
      seasonalLagRows,
      hiddenUnits: o.hiddenUnits,
      epochs: o.epochs,
      seed: o.seed,
    };
  }

  installModel(model: TrainedModel): void {
    const hadModel = this.model !== null;
    this.forecaster = MlpForecaster.fromTrainedModel(model);
    this.model = model;
    const s = this.state;
    s.trainingPending = false;
    s.rowsSinceTraining = 0;
    s.nextModelVersion = Math.max(s.nextModelVersion, model.version + 1);
    // The first model's error scale is learnt afresh; a re-trained model starts from its predecessor's.
    if (!hadModel || tuning.keepModelScale === 0) {
      s.errorScale[modelPredictor] = 0;
      s.errorCount[modelPredictor] = 0;
    }
  }

  snapshot(): DetectorSnapshot {
    // Row timestamps are read only by time-based lags; without them a snapshot does not carry them
    // (a restored detector marks its rows unmatched by time, as for snapshots from before them).
    const { times: _restored, tailValues: _tail, ...rest } = this.state;
    // Detached: a snapshot kept in memory must not change as this detector goes on.
    const state: DetectorState = { ...detached(rest), history: Array.from(this.history), ...(tuning.timeLags === 1 ? { times: Array.from(this.times) } : {}), ...(tuning.tail >= 1 ? { tailValues: Array.from(this.tailRing) } : {}) };
    return { format: 1, options: { ...this.options }, state: state as unknown as Record<string, unknown>, model: this.model };
  }
}

/** Creates a detector for one series. */
export function createDetector(options: Partial<DetectorOptions> = {}): SeriesDetector {
  const full = { ...defaultDetectorOptions, ...options };
  return full.algorithm === 'ensemble' ? new EnsembleDetector(full) : new StreamingDetector(full);
}

/** Rebuilds a detector from {@link SeriesDetector.snapshot} output (e.g. after a restart). */
export function restoreDetector(snapshot: DetectorSnapshot): SeriesDetector {
  if (snapshot.format !== 1 || typeof snapshot.state !== 'object') {
    throw new InputError(`unsupported detector snapshot format ${String(snapshot.format)}`);
  }
  if (snapshot.options.algorithm === 'ensemble') return restoreEnsemble({ ...defaultDetectorOptions, ...snapshot.options }, snapshot.state);
  // Snapshots from before the ensemble existed carry no algorithm: they are the legacy detector's.
  // Detached: detectors restored from one snapshot object must not share state with it or with each other.
  const state = detached(snapshot.state as unknown as DetectorState);
  state.trainingPending = false;
  // A detector that scored rows without watching for counts (a snapshot from before `countTransform`, or
  // taken while it was 0) goes on with raw values: changing scale mid-series would restart its learning.
  if (state.valueTransform === undefined && state.countsSoFar === undefined && state.rows > 0) state.valueTransform = 0;
  return new StreamingDetector({ ...defaultDetectorOptions, ...snapshot.options, algorithm: 'legacy' }, state, snapshot.model);
}
