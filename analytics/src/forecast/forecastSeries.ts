import { InputError } from '@sloth/core';
import type { FittedModel } from './models/fittedModel.js';
import { fitComb } from './models/comb.js';
import { fitHoltWinters } from './models/holtWinters.js';
import { trainMlp } from './models/mlp.js';
import { fitSeasonalProfile } from './models/seasonalProfile.js';
import { seasonalNaive } from './models/seasonalNaive.js';
import { deseasonalise, fitSeasonalAdjustment, seasonallyAdjusted } from './models/seasonalAdjustment.js';
import { fitSes } from './models/ses.js';
import { fitTheta } from './models/theta.js';
import { detectSeasonPeriodSteps, maseSeasonSteps } from './period.js';
import { inferStepMillis, quantileSorted, seasonalNaiveScale, smapeTerm } from './stats.js';
import type { ForecastModelName, ForecastOptions, ForecastPoint, ForecastProgress, ForecastResult } from './types.js';
import { unpaced, type Pace } from '../pacer.js';

export { inferStepMillis };

/** Defaults of `ForecastOptions`. */
export const defaultForecastOptions: Readonly<ForecastOptions> = Object.freeze({
  // Not ses, theta, comb or triple averages: rule F1 (bench/forecast/RULES.md) adopted them without the MLP,
  // then reverted them because the MLP path lost (0.814× against 0.812×); they stay available as options.
  models: Object.freeze(['seasonal-naive', 'holt-winters', 'ets', 'seasonal-profile', 'mlp'] as ForecastModelName[]),
  seasonPeriodSteps: 'auto' as const,
  maxHistoryPoints: 4032,
  validationFraction: 0.2,
  seed: 42,
  mlpEpochs: 15,
  medianCorrection: true,
  stableMedianCorrection: true,
  tripleEnsembles: false,
  seasonalAdjustment: false,
  intervalScale: 1,
});

/**
 * The statistics-only configuration (`sloth forecast --no-mlp`): the one both folds of decision rule F2
 * chose in fold (bench/forecast/RULES.md): the classical models plus SES, Theta and Comb, the last three
 * on seasonally adjusted values when the series passes M4's seasonality test, with averages of three as
 * candidates too.
 */
export const statisticalForecastOptions: Readonly<Pick<ForecastOptions, 'models' | 'tripleEnsembles' | 'seasonalAdjustment'>> = Object.freeze({
  models: Object.freeze(['seasonal-naive', 'holt-winters', 'ets', 'seasonal-profile', 'ses', 'theta', 'comb'] as ForecastModelName[]),
  tripleEnsembles: true,
  seasonalAdjustment: true,
});

/** Points of history a backtest needs per step of its horizon, and the margin for its origins ({@link minPointsForSelection}). */
const historyPerBacktestStep = 4;
const backtestMarginPoints = 40;

/** Below this many points per horizon step (plus a margin) there is no room for a backtest: a simpler model is used. */
export function minPointsForSelection(horizon: number): number {
  return historyPerBacktestStep * horizon + backtestMarginPoints;
}

/**
 * The longest horizon a backtest fits in `points` of history (the inverse of {@link minPointsForSelection}):
 * a quarter of it, less the margin for the backtest's origins; 0 when there is no room for one.
 */
export function backtestHorizonFor(points: number): number {
  return Math.max(0, Math.floor((points - backtestMarginPoints) / historyPerBacktestStep));
}

/**
 * Most points of history `forecastSeries` trains on (`maxHistoryPoints` above it is refused). Fitting costs
 * grow with the history (Nelder–Mead passes over it, and the neural model trains on every window), and
 * forecasts of a few hundred steps need no more than this: 50,000 points are 174 days of 5-minute samples,
 * 5.7 years of hourly ones. At this size `sloth forecast` took 2.4 s without the neural model and 8.2 s with it
 * on an idle 2-core machine (docs/forecasting.md gives the command).
 */
export const maxForecastHistoryPoints = 50_000;

/** At most this many rolling origins in the backtest (the tail is subsampled evenly beyond that). */
const MAX_BACKTEST_ORIGINS = 400;

interface Candidate {
  name: string;
  parts: FittedModel[];
  /** Backtest point forecasts, one array of `horizon` values per origin. */
  backtest: Float64Array[];
  meanAbsoluteError: number;
}

/**
 * Forecasts `horizon` steps after the last point of a regularly sampled series, with p10/p50/p90.
 *
 * Every candidate model is fitted on the first part of the history and judged by a rolling-origin
 * backtest on the rest (forecasts from every origin of the held-out tail, fixed parameters); the
 * best model — or the average of the best pair — is chosen per series. Its backtest errors per
 * horizon step give the quantiles: p50 = point + the median error when every third of the backtest
 * shows it (see `residualQuantiles`), p10/p90 = point + 10th/90th percentile error. A horizon longer than
 * the history supports is backtested as far as it can be and extended without a trend beyond that (see
 * `extendBeyondBacktest`), with a warning. Throws `InputError` (SLOTH_ERR_INPUT) for unusable input, and
 * for `maxHistoryPoints` above {@link maxForecastHistoryPoints}. `pace` is asked between model fits and
 * at every batch of the neural model whether to rest; `onProgress` hears each model fitted, each epoch of
 * the neural model and the backtest.
 */
export async function forecastSeries(
  timestampsMillis: readonly number[],
  values: readonly number[],
  horizon: number,
  options: Partial<ForecastOptions> = {},
  pace: Pace = unpaced,
  onProgress: ForecastProgress = () => undefined,
): Promise<ForecastResult> {
  const o: ForecastOptions = { ...defaultForecastOptions, ...options };
  validateInput(timestampsMillis, values, horizon);
  if (!(o.maxHistoryPoints <= maxForecastHistoryPoints)) {
    throw new InputError(
      `maxHistoryPoints ${o.maxHistoryPoints} is more history than a forecast trains on (at most ${maxForecastHistoryPoints.toLocaleString('en-US')} points: fitting time grows with the history); use fewer points`,
      { maxHistoryPoints: o.maxHistoryPoints },
    );
  }
  const stepMillis = inferStepMillis(timestampsMillis);
  const start = Math.max(0, values.length - Math.max(2, Math.floor(o.maxHistoryPoints)));
  const series = Float64Array.from(values.slice(start));
  const lastTimestamp = timestampsMillis[timestampsMillis.length - 1] as number;
  const n = series.length;
  const timestampAt = (k: number): number => lastTimestamp + k * stepMillis;
  const warnings: string[] = [];

  // A series that never went below zero (counts, utilisation, bytes) keeps its quantiles at or above zero.
  const nonNegative = series.every((v) => v >= 0);
  const finish = (result: Omit<ForecastResult, 'stepMillis'>): ForecastResult => ({ ...result, stepMillis, points: shapeIntervals(result.points, o.intervalScale, nonNegative), warnings });
  // A horizon longer than a quarter of the history (and too long for a backtest of its own) is backtested as far
  // as the history allows; beyond that the trend is held flat (see extendBeyondBacktest).
  const longHorizon = n < minPointsForSelection(horizon) && horizon > n / 4 && backtestHorizonFor(n) >= 1;
  if (n < minPointsForSelection(horizon) && !longHorizon) {
    warnings.push(`only ${n} points (fewer than ${minPointsForSelection(horizon)} for horizon ${horizon}): no backtest, using a damped-trend model with widening intervals`);
    const trendSteps = Math.max(1, Math.floor(n / 4));
    // Below 4 points the fallback is the last value: no trend to hold.
    if (horizon > trendSteps && n >= 4) warnings.push(trendHeldWarning(horizon, n, trendSteps, 'a quarter of the history'));
    return finish(fallbackForecast(series, horizon, trendSteps, timestampAt));
  }
  const backtestHorizon = longHorizon ? backtestHorizonFor(n) : horizon;
  if (longHorizon) warnings.push(trendHeldWarning(horizon, n, backtestHorizon, 'the backtest the history allows'));
  const forecast = await selectAndForecast(series, backtestHorizon, o, stepMillis, pace, onProgress, warnings);
  const points: ForecastPoint[] = extendBeyondBacktest(forecast.steps, horizon, forecast.period).map((p, i) => ({ timestampMillis: timestampAt(i + 1), ...p }));
  return finish({ model: forecast.model, points, backtest: forecast.backtest });
}

function trendHeldWarning(horizon: number, points: number, steps: number, what: string): string {
  return `horizon ${horizon} is longer than ${what} (${steps} steps of ${points} points): beyond step ${steps} the forecast holds the level (and season) of step ${steps} without a trend, and its intervals widen with the square root of the steps; train on more history or forecast fewer steps`;
}

/** One forecast step before its timestamp is attached. */
type Quantiles = Omit<ForecastPoint, 'timestampMillis'>;

/**
 * Fits the candidate models, chooses one by a rolling-origin backtest of `horizon` steps, and forecasts
 * `horizon` steps after the last point with quantiles from the backtest errors.
 */
async function selectAndForecast(
  series: Float64Array,
  horizon: number,
  o: ForecastOptions,
  stepMillis: number,
  pace: Pace,
  onProgress: ForecastProgress,
  warnings: string[],
): Promise<{ model: string; steps: Quantiles[]; period: number; backtest: ForecastResult['backtest'] }> {
  const n = series.length;
  const validationPoints = Math.max(horizon + 20, Math.round(o.validationFraction * n));
  const fitEnd = n - validationPoints;
  const period = o.seasonPeriodSteps === 'auto' ? detectSeasonPeriodSteps(series.subarray(0, fitEnd), stepMillis) : Math.max(0, Math.round(o.seasonPeriodSteps));
  const origins = backtestOrigins(fitEnd - 1, n - 1 - horizon);
  const maseM = maseSeasonSteps(stepMillis, fitEnd);
  const scale = seasonalNaiveScale(series, maseM, 0, fitEnd);

  const fitted: FittedModel[] = [];
  const wanted = new Set(o.models);
  // Progress in parts: one per statistical model, one per epoch of the neural model, one for the backtest.
  const statistical = [...wanted].filter((m) => m !== 'mlp').length;
  const totalParts = statistical + (wanted.has('mlp') ? o.mlpEpochs : 0) + 1;
  const rest = async (): Promise<void> => {
    onProgress(Math.min(statistical, fitted.length), totalParts, 'fitting the statistical models');
    await pace.breathe();
  };
  if (wanted.has('seasonal-naive')) fitted.push(seasonalNaive(period > 0 ? period : 1));
  await rest();
  if (wanted.has('holt-winters') && period > 0) fitted.push(fitHoltWinters(series, fitEnd, period));
  await rest();
  const damped = wanted.has('ets') ? fitHoltWinters(series, fitEnd, 0) : undefined;
  if (damped !== undefined) fitted.push(damped);
  await rest();
  if (wanted.has('seasonal-profile')) fitted.push(fitSeasonalProfile(series, fitEnd, period, horizon));
  await rest();
  // Pace points only where these (later) models are fitted, so a list without them rests as before.
  // SES is fitted once for the three models built on it; with the seasonal adjustment all three see the adjusted values.
  const smoothing = wanted.has('ses') || wanted.has('theta') || wanted.has('comb');
  const adjustment = smoothing && o.seasonalAdjustment ? fitSeasonalAdjustment(series, fitEnd, period) : undefined;
  const base = adjustment === undefined ? series : deseasonalise(series, adjustment);
  const onRawScale = (model: FittedModel): FittedModel => (adjustment === undefined ? model : seasonallyAdjusted(model, adjustment));
  const ses = smoothing ? fitSes(base, fitEnd) : undefined;
  if (ses !== undefined && wanted.has('ses')) fitted.push(onRawScale(ses));
  if (ses !== undefined && wanted.has('theta')) fitted.push(onRawScale(fitTheta(base, fitEnd, ses)));
  if (wanted.has('ses') || wanted.has('theta')) await rest();
  if (wanted.has('comb')) {
    // The `ets` candidate's damped trend was fitted on the raw values: only reusable without the adjustment.
    fitted.push(onRawScale(fitComb(base, fitEnd, { ses, damped: adjustment === undefined ? damped : undefined })));
    await rest();
  }
  const disposables: Array<{ dispose(): void }> = [];
  try {
    if (wanted.has('mlp')) {
      try {
        const mlp = await trainMlp(series, fitEnd, period, horizon, { seed: o.seed, epochs: o.mlpEpochs }, pace, (epoch) =>
          onProgress(statistical + epoch, totalParts, `training the neural model, epoch ${epoch} of ${o.mlpEpochs}`),
        );
        if (mlp !== undefined) {
          fitted.push(mlp);
          disposables.push(mlp);
        }
      } catch (error) {
        warnings.push(`the neural model could not be trained (${error instanceof Error ? error.message : String(error)}); using the statistical models only`);
      }
    }
    if (fitted.length === 0) fitted.push(seasonalNaive(1));
    onProgress(totalParts - 1, totalParts, 'backtesting the models');

    const singles: Candidate[] = fitted.map((model) => {
      const backtest = model.forecastFrom(series, origins, horizon);
      return { name: model.name, parts: [model], backtest, meanAbsoluteError: meanAbsoluteError(series, origins, backtest) };
    });
    const candidates = [...singles];
    for (let i = 0; i < singles.length; i++) {
      for (let j = i + 1; j < singles.length; j++) {
        const a = singles[i] as Candidate;
        const b = singles[j] as Candidate;
        const backtest = a.backtest.map((fa, r) => average([fa, b.backtest[r] as Float64Array]));
        candidates.push({ name: `ensemble(${a.name}+${b.name})`, parts: [a.parts[0] as FittedModel, b.parts[0] as FittedModel], backtest, meanAbsoluteError: meanAbsoluteError(series, origins, backtest) });
      }
    }
    if (o.tripleEnsembles) {
      for (let i = 0; i < singles.length; i++) {
        for (let j = i + 1; j < singles.length; j++) {
          for (let l = j + 1; l < singles.length; l++) {
            const group = [singles[i], singles[j], singles[l]] as Candidate[];
            const backtest = group[0]!.backtest.map((_, r) => average(group.map((c) => c.backtest[r] as Float64Array)));
            candidates.push({ name: `ensemble(${group.map((c) => c.name).join('+')})`, parts: group.map((c) => c.parts[0] as FittedModel), backtest, meanAbsoluteError: meanAbsoluteError(series, origins, backtest) });
          }
        }
      }
    }
    const best = candidates.reduce((x, y) => (y.meanAbsoluteError < x.meanAbsoluteError - 1e-12 ? y : x));

    const residuals = residualQuantiles(series, origins, best.backtest, horizon, o.medianCorrection, o.stableMedianCorrection);
    const point = average(best.parts.map((p) => p.forecastFrom(series, [n - 1], horizon)[0] as Float64Array));
    const steps: Quantiles[] = [];
    for (let k = 1; k <= horizon; k++) {
      const base = point[k - 1] as number;
      const r = residuals[k - 1] as [number, number, number];
      steps.push({ p10: base + r[0], p50: base + r[1], p90: base + r[2] });
    }
    onProgress(totalParts, totalParts, 'done');
    return { model: best.name, steps, period, backtest: backtestScore(series, origins, best.backtest, residuals, scale) };
  } finally {
    for (const d of disposables) d.dispose();
  }
}

/**
 * Extends `steps` (forecast and backtested up to `steps.length`) to `horizon` steps without extrapolating a
 * trend further: step k beyond the last supported step T repeats the phase of the last season before T (one
 * season of `periodSteps`, when T holds one) with that season's trend taken out, so it stays at step T's
 * level; without a season, step T's value. The distances of p10 and p90 from the p50 grow as √(k / T), the
 * growth of a random walk's spread, since no backtest measured them.
 */
export function extendBeyondBacktest(steps: readonly Quantiles[], horizon: number, periodSteps: number): Quantiles[] {
  const supported = steps.length;
  if (horizon <= supported) return steps.slice(0, horizon);
  const last = steps[supported - 1] as Quantiles;
  const m = periodSteps >= 2 && periodSteps <= supported ? periodSteps : 0;
  // The trend per step over the last season, from the seasonal difference of the p50 (0 without two seasons).
  const trend = m > 0 && supported > m ? (last.p50 - (steps[supported - 1 - m] as Quantiles).p50) / m : 0;
  const out = steps.slice();
  for (let k = supported + 1; k <= horizon; k++) {
    // 1-based step of the same phase within the last supported season, and how far before T it lies.
    const same = m > 0 ? supported - m + 1 + ((k - supported - 1) % m) : supported;
    const p50 = (steps[same - 1] as Quantiles).p50 + trend * (supported - same);
    const widen = Math.sqrt(k / supported);
    out.push({ p10: p50 - (last.p50 - last.p10) * widen, p50, p90: p50 + (last.p90 - last.p50) * widen });
  }
  return out;
}

/** Widens or narrows p10/p90 around the p50 by `scale`; clamps at zero for non-negative series (order is kept). */
export function shapeIntervals(points: readonly ForecastPoint[], scale: number, nonNegative: boolean): ForecastPoint[] {
  if (!(scale > 0)) throw new InputError(`intervalScale must be a positive number, got ${scale}`);
  const floor = (v: number): number => (nonNegative ? Math.max(0, v) : v);
  return points.map((p) => ({
    timestampMillis: p.timestampMillis,
    p10: floor(p.p50 - scale * (p.p50 - p.p10)),
    p50: floor(p.p50),
    p90: floor(p.p50 + scale * (p.p90 - p.p50)),
  }));
}

function validateInput(timestampsMillis: readonly number[], values: readonly number[], horizon: number): void {
  if (!Number.isInteger(horizon) || horizon <= 0) throw new InputError(`horizon must be a positive whole number of steps, got ${horizon}`, { horizon });
  if (timestampsMillis.length !== values.length) throw new InputError(`got ${timestampsMillis.length} timestamps but ${values.length} values; they must pair up`);
  if (values.length < 2) throw new InputError(`need at least 2 points to infer the sampling interval, got ${values.length}`, { points: values.length });
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    const t = timestampsMillis[i] as number;
    if (!Number.isFinite(v)) throw new InputError(`value #${i + 1} is ${v}, not a finite number`, { index: i });
    if (!Number.isFinite(t)) throw new InputError(`timestamp #${i + 1} is ${t}, not a finite number of milliseconds`, { index: i });
    if (i > 0 && t <= (timestampsMillis[i - 1] as number)) {
      throw new InputError(`timestamps must be strictly increasing: #${i + 1} (${new Date(t).toISOString()}) is not after #${i} (${new Date(timestampsMillis[i - 1] as number).toISOString()})`, { index: i });
    }
  }
}


function backtestOrigins(first: number, last: number): number[] {
  const origins: number[] = [];
  const count = last - first + 1;
  if (count <= 0) return origins;
  const stride = Math.max(1, Math.ceil(count / MAX_BACKTEST_ORIGINS));
  for (let o = last; o >= first; o -= stride) origins.push(o);
  return origins.reverse();
}

function average(forecasts: Float64Array[]): Float64Array {
  const out = new Float64Array((forecasts[0] as Float64Array).length);
  for (const f of forecasts) for (let k = 0; k < out.length; k++) out[k] = (out[k] as number) + (f[k] as number) / forecasts.length;
  return out;
}

function meanAbsoluteError(series: Float64Array, origins: readonly number[], forecasts: Float64Array[]): number {
  let sum = 0;
  let count = 0;
  origins.forEach((origin, r) => {
    const f = forecasts[r] as Float64Array;
    for (let k = 1; k <= f.length; k++) {
      sum += Math.abs((series[origin + k] as number) - (f[k - 1] as number));
      count++;
    }
  });
  return count > 0 ? sum / count : Number.POSITIVE_INFINITY;
}

/**
 * Per horizon step: the 10th, 50th and 90th percentiles of (actual − forecast) over the backtest origins, the
 * 50th being the bias correction of the p50 (0 without `medianCorrection`). With `stable`, the correction is
 * a bias only if every third of the origins (in time) shows it: the median error of each third, all of one
 * sign, the one nearest zero; otherwise none. A level shift inside the backtest window makes the forecasts
 * from origins before it miss by the shift, while the models (which follow the level) start the final
 * forecast from the new level: the plain median of those errors would add the shift a second time.
 */
function residualQuantiles(series: Float64Array, origins: readonly number[], forecasts: Float64Array[], horizon: number, medianCorrection: boolean, stable: boolean): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  const thirds = [0, 1, 2].map((i) => [Math.floor((i * origins.length) / 3), Math.floor(((i + 1) * origins.length) / 3)] as const);
  for (let k = 1; k <= horizon; k++) {
    const inOrder = new Float64Array(origins.length);
    origins.forEach((origin, r) => {
      inOrder[r] = (series[origin + k] as number) - ((forecasts[r] as Float64Array)[k - 1] as number);
    });
    const errors = Float64Array.from(inOrder).sort();
    let p50 = medianCorrection ? quantileSorted(errors, 0.5) : 0;
    if (medianCorrection && stable) {
      const medians = thirds.map(([from, to]) => quantileSorted(inOrder.slice(from, to).sort(), 0.5));
      const sameSign = medians.every((v) => v > 0) || medians.every((v) => v < 0);
      p50 = sameSign ? medians.reduce((a, b) => (Math.abs(b) < Math.abs(a) ? b : a)) : 0;
    }
    out.push([Math.min(p50, quantileSorted(errors, 0.1)), p50, Math.max(p50, quantileSorted(errors, 0.9))]);
  }
  return out;
}

function backtestScore(series: Float64Array, origins: readonly number[], forecasts: Float64Array[], residuals: Array<[number, number, number]>, scale: number): { mase: number; smape: number } {
  let absSum = 0;
  let smapeSum = 0;
  let count = 0;
  origins.forEach((origin, r) => {
    const f = forecasts[r] as Float64Array;
    for (let k = 1; k <= f.length; k++) {
      // Scored as returned to callers: the p50, i.e. the point plus the median backtest error.
      const p50 = (f[k - 1] as number) + ((residuals[k - 1] as [number, number, number])[1]);
      const actual = series[origin + k] as number;
      absSum += Math.abs(actual - p50);
      smapeSum += smapeTerm(actual, p50);
      count++;
    }
  });
  const mae = count > 0 ? absSum / count : Number.NaN;
  const mase = scale > 0 ? mae / scale : mae === 0 ? 0 : Number.POSITIVE_INFINITY;
  return { mase, smape: count > 0 ? smapeSum / count : Number.NaN };
}

/**
 * Few points: a damped-trend fit (or the last value) with intervals from one-step errors widened by √k. With
 * no backtest to check it, the trend is followed for `trendSteps` at most, then held flat.
 */
function fallbackForecast(series: Float64Array, horizon: number, trendSteps: number, timestampAt: (k: number) => number): Omit<ForecastResult, 'stepMillis'> {
  const n = series.length;
  const model: FittedModel = n >= 4 ? fitHoltWinters(series, n, 0) : seasonalNaive(1);
  const oneStepOrigins: number[] = [];
  for (let t = Math.min(2, n - 2); t < n - 1; t++) oneStepOrigins.push(t);
  const oneStep = model.forecastFrom(series, oneStepOrigins, 1);
  const errors = Float64Array.from(oneStepOrigins.map((t, r) => (series[t + 1] as number) - ((oneStep[r] as Float64Array)[0] as number))).sort();
  const low = errors.length > 0 ? quantileSorted(errors, 0.1) : 0;
  const high = errors.length > 0 ? quantileSorted(errors, 0.9) : 0;
  const point = model.forecastFrom(series, [n - 1], Math.min(horizon, trendSteps))[0] as Float64Array;
  const points: ForecastPoint[] = [];
  for (let k = 1; k <= horizon; k++) {
    const base = point[Math.min(k, point.length) - 1] as number;
    const widen = Math.sqrt(k);
    points.push({ timestampMillis: timestampAt(k), p10: base + Math.min(0, low) * widen, p50: base, p90: base + Math.max(0, high) * widen });
  }
  return { model: model.name === 'seasonal-naive' ? 'naive' : model.name, points, backtest: { mase: Number.NaN, smape: Number.NaN } };
}
