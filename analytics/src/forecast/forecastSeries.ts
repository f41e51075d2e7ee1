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
import { quantileSorted, seasonalNaiveScale, smapeTerm } from './stats.js';
import type { ForecastModelName, ForecastOptions, ForecastPoint, ForecastResult } from './types.js';
import { unpaced, type Pace } from '../pacer.js';

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

/** Below this many points per horizon step (plus a margin) there is no room for a backtest: a simpler model is used. */
export function minPointsForSelection(horizon: number): number {
  return 4 * horizon + 40;
}

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
 * horizon step give the quantiles: p50 = point + median error, p10/p90 = point + 10th/90th
 * percentile error. Throws `InputError` (SLOTH_ERR_INPUT) for unusable input. `pace` is asked between
 * model fits and at every batch of the neural model whether to rest.
 */
export async function forecastSeries(timestampsMillis: readonly number[], values: readonly number[], horizon: number, options: Partial<ForecastOptions> = {}, pace: Pace = unpaced): Promise<ForecastResult> {
  const o: ForecastOptions = { ...defaultForecastOptions, ...options };
  validateInput(timestampsMillis, values, horizon);
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
  if (n < minPointsForSelection(horizon)) {
    warnings.push(`only ${n} points (fewer than ${minPointsForSelection(horizon)} for horizon ${horizon}): no backtest, using a damped-trend model with widening intervals`);
    return finish(fallbackForecast(series, horizon, timestampAt));
  }

  const validationPoints = Math.max(horizon + 20, Math.round(o.validationFraction * n));
  const fitEnd = n - validationPoints;
  const period = o.seasonPeriodSteps === 'auto' ? detectSeasonPeriodSteps(series.subarray(0, fitEnd), stepMillis) : Math.max(0, Math.round(o.seasonPeriodSteps));
  const origins = backtestOrigins(fitEnd - 1, n - 1 - horizon);
  const maseM = maseSeasonSteps(stepMillis, fitEnd);
  const scale = seasonalNaiveScale(series, maseM, 0, fitEnd);

  const fitted: FittedModel[] = [];
  const wanted = new Set(o.models);
  if (wanted.has('seasonal-naive')) fitted.push(seasonalNaive(period > 0 ? period : 1));
  await pace.breathe();
  if (wanted.has('holt-winters') && period > 0) fitted.push(fitHoltWinters(series, fitEnd, period));
  await pace.breathe();
  const damped = wanted.has('ets') ? fitHoltWinters(series, fitEnd, 0) : undefined;
  if (damped !== undefined) fitted.push(damped);
  await pace.breathe();
  if (wanted.has('seasonal-profile')) fitted.push(fitSeasonalProfile(series, fitEnd, period, horizon));
  await pace.breathe();
  // Pace points only where these (later) models are fitted, so a list without them rests as before.
  // SES is fitted once for the three models built on it; with the seasonal adjustment all three see the adjusted values.
  const smoothing = wanted.has('ses') || wanted.has('theta') || wanted.has('comb');
  const adjustment = smoothing && o.seasonalAdjustment ? fitSeasonalAdjustment(series, fitEnd, period) : undefined;
  const base = adjustment === undefined ? series : deseasonalise(series, adjustment);
  const onRawScale = (model: FittedModel): FittedModel => (adjustment === undefined ? model : seasonallyAdjusted(model, adjustment));
  const ses = smoothing ? fitSes(base, fitEnd) : undefined;
  if (ses !== undefined && wanted.has('ses')) fitted.push(onRawScale(ses));
  if (ses !== undefined && wanted.has('theta')) fitted.push(onRawScale(fitTheta(base, fitEnd, ses)));
  if (wanted.has('ses') || wanted.has('theta')) await pace.breathe();
  if (wanted.has('comb')) {
    // The `ets` candidate's damped trend was fitted on the raw values: only reusable without the adjustment.
    fitted.push(onRawScale(fitComb(base, fitEnd, { ses, damped: adjustment === undefined ? damped : undefined })));
    await pace.breathe();
  }
  const disposables: Array<{ dispose(): void }> = [];
  try {
    if (wanted.has('mlp')) {
      try {
        const mlp = await trainMlp(series, fitEnd, period, horizon, { seed: o.seed, epochs: o.mlpEpochs }, pace);
        if (mlp !== undefined) {
          fitted.push(mlp);
          disposables.push(mlp);
        }
      } catch (error) {
        warnings.push(`the neural model could not be trained (${error instanceof Error ? error.message : String(error)}); using the statistical models only`);
      }
    }
    if (fitted.length === 0) fitted.push(seasonalNaive(1));

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

    const residuals = residualQuantiles(series, origins, best.backtest, horizon, o.medianCorrection);
    const point = average(best.parts.map((p) => p.forecastFrom(series, [n - 1], horizon)[0] as Float64Array));
    const points: ForecastPoint[] = [];
    for (let k = 1; k <= horizon; k++) {
      const base = point[k - 1] as number;
      const r = residuals[k - 1] as [number, number, number];
      points.push({ timestampMillis: timestampAt(k), p10: base + r[0], p50: base + r[1], p90: base + r[2] });
    }
    return finish({ model: best.name, points, backtest: backtestScore(series, origins, best.backtest, residuals, scale) });
  } finally {
    for (const d of disposables) d.dispose();
  }
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

/** The sampling interval: the median spacing, so a few gaps do not distort it. */
export function inferStepMillis(timestampsMillis: readonly number[]): number {
  const diffs = new Float64Array(timestampsMillis.length - 1);
  for (let i = 1; i < timestampsMillis.length; i++) diffs[i - 1] = (timestampsMillis[i] as number) - (timestampsMillis[i - 1] as number);
  diffs.sort();
  return Math.round(quantileSorted(diffs, 0.5));
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

/** Per horizon step: the 10th, 50th and 90th percentiles of (actual − forecast) over the backtest origins. */
function residualQuantiles(series: Float64Array, origins: readonly number[], forecasts: Float64Array[], horizon: number, medianCorrection: boolean): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let k = 1; k <= horizon; k++) {
    const errors = new Float64Array(origins.length);
    origins.forEach((origin, r) => {
      errors[r] = (series[origin + k] as number) - ((forecasts[r] as Float64Array)[k - 1] as number);
    });
    errors.sort();
    const p50 = medianCorrection ? quantileSorted(errors, 0.5) : 0;
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

/** Few points: a damped-trend fit (or the last value) with intervals from one-step errors widened by √k. */
function fallbackForecast(series: Float64Array, horizon: number, timestampAt: (k: number) => number): Omit<ForecastResult, 'stepMillis'> {
  const n = series.length;
  const model: FittedModel = n >= 4 ? fitHoltWinters(series, n, 0) : seasonalNaive(1);
  const oneStepOrigins: number[] = [];
  for (let t = Math.min(2, n - 2); t < n - 1; t++) oneStepOrigins.push(t);
  const oneStep = model.forecastFrom(series, oneStepOrigins, 1);
  const errors = Float64Array.from(oneStepOrigins.map((t, r) => (series[t + 1] as number) - ((oneStep[r] as Float64Array)[0] as number))).sort();
  const low = errors.length > 0 ? quantileSorted(errors, 0.1) : 0;
  const high = errors.length > 0 ? quantileSorted(errors, 0.9) : 0;
  const point = model.forecastFrom(series, [n - 1], horizon)[0] as Float64Array;
  const points: ForecastPoint[] = [];
  for (let k = 1; k <= horizon; k++) {
    const base = point[k - 1] as number;
    const widen = Math.sqrt(k);
    points.push({ timestampMillis: timestampAt(k), p10: base + Math.min(0, low) * widen, p50: base, p90: base + Math.max(0, high) * widen });
  }
  return { model: model.name === 'seasonal-naive' ? 'naive' : model.name, points, backtest: { mase: Number.NaN, smape: Number.NaN } };
}
