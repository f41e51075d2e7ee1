import { readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { InputError } from '@sloth/core';
import { readSeriesCsv, type SeriesRow } from '../csv-series.js';
import { forecastSeries, inferStepMillis } from './forecastSeries.js';
import { fitHoltWinters } from './models/holtWinters.js';
import { seasonalNaive } from './models/seasonalNaive.js';
import { fitSes } from './models/ses.js';
import { maseSeasonSteps } from './period.js';
import { quantile, seasonalNaiveScale, smapeTerm } from './stats.js';
import type { ForecastOptions } from './types.js';

/** The methods every benchmark compares. */
export const benchMethods = ['sloth', 'seasonal-naive', 'ses', 'holt-winters'] as const;
export type BenchMethod = (typeof benchMethods)[number];

/** Settings of the rolling-origin forecast benchmark. */
export interface ForecastBenchSettings {
  /** @defaultValue 12 */
  horizon: number;
  /** Forecast origins per series, evenly spaced over its second half. @defaultValue 10 */
  origins: number;
  /** Most recent points each method may train on at an origin. @defaultValue 4032 */
  maxHistoryPoints: number;
  options?: Partial<ForecastOptions>;
}

/** Scores of one method on one series, averaged over its origins. */
export interface MethodScore {
  mase: number;
  smape: number;
  /** Share of actuals inside [p10, p90] (Sloth only; baselines have no intervals). */
  coverage?: number;
}

/** Result of one series. */
export interface SeriesBenchResult {
  file: string;
  points: number;
  stepMillis: number;
  /** Season (in steps) of the seasonal-naive baseline, of Holt–Winters and of the MASE scale: one day, or 1. */
  seasonSteps: number;
  originsUsed: number;
  scores: Record<BenchMethod, MethodScore>;
  /** Model Sloth chose at each origin. */
  selectedModels: string[];
  /** Mean wall time of Sloth's fit + selection + forecast per origin. */
  slothFitMillis: number;
  /** Sloth's quantiles and the actuals at each scored origin (for interval calibration out of fold). */
  slothOrigins: OriginForecast[];
}

/** Sloth's forecast from one origin next to what happened. */
export interface OriginForecast {
  actual: number[];
  p10: number[];
  p50: number[];
  p90: number[];
}

/** Backtests every method on one series from `settings.origins` origins. */
export async function benchSeries(file: string, settings: ForecastBenchSettings): Promise<SeriesBenchResult> {
  // NAB's real series repeat the hour of the spring DST change and one goes back in time: keep the first
  // row of each timestamp so every method sees the same strictly increasing series.
  const rows = (await readSeriesCsv(file, { backwards: 'skip' })).filter((r, i, all) => i === 0 || r.timestampMillis > (all[i - 1] as SeriesRow).timestampMillis);
  const timestamps = rows.map((r) => r.timestampMillis);
  const values = Float64Array.from(rows.map((r) => r.value));
  const n = values.length;
  const h = settings.horizon;
  const stepMillis = inferStepMillis(timestamps);
  const firstOrigin = Math.floor(n / 2);
  const lastOrigin = n - 1 - h;
  if (lastOrigin < firstOrigin) throw new InputError(`${file}: ${n} rows are too few for horizon ${h}`);
  const originIndices = new Set<number>();
  const k = Math.max(1, settings.origins);
  for (let i = 0; i < k; i++) originIndices.add(k === 1 ? lastOrigin : firstOrigin + Math.round((i * (lastOrigin - firstOrigin)) / (k - 1)));
  const sums: Record<BenchMethod, { mase: number; smape: number; covered: number; count: number }> = {
    sloth: { mase: 0, smape: 0, covered: 0, count: 0 },
    'seasonal-naive': { mase: 0, smape: 0, covered: 0, count: 0 },
    ses: { mase: 0, smape: 0, covered: 0, count: 0 },
    'holt-winters': { mase: 0, smape: 0, covered: 0, count: 0 },
  };
  const slothOrigins: OriginForecast[] = [];
  const selectedModels: string[] = [];
  let seasonSteps = 1;
  let originsUsed = 0;
  let slothMillis = 0;
  for (const origin of originIndices) {
    const start = Math.max(0, origin + 1 - settings.maxHistoryPoints);
    const train = values.subarray(start, origin + 1);
    const actual = values.subarray(origin + 1, origin + 1 + h);
    seasonSteps = maseSeasonSteps(stepMillis, train.length);
    const scale = seasonalNaiveScale(train, seasonSteps);
    // A flat training window makes MASE undefined; such origins are left out for every method alike.
    if (!(scale > 0)) continue;
    originsUsed++;
    const last = train.length - 1;
    const forecasts: Record<BenchMethod, ArrayLike<number>> = {
      'seasonal-naive': seasonalNaive(seasonSteps).forecastFrom(train, [last], h)[0] as Float64Array,
      ses: fitSes(train, train.length).forecastFrom(train, [last], h)[0] as Float64Array,
      'holt-winters': fitHoltWinters(train, train.length, seasonSteps).forecastFrom(train, [last], h)[0] as Float64Array,
      sloth: [],
    };
    const began = performance.now();
    const sloth = await forecastSeries(timestamps.slice(start, origin + 1), Array.from(train), h, { ...settings.options, maxHistoryPoints: settings.maxHistoryPoints });
    slothMillis += performance.now() - began;
    selectedModels.push(sloth.model);
    forecasts.sloth = sloth.points.map((p) => p.p50);
    slothOrigins.push({ actual: Array.from(actual), p10: sloth.points.map((p) => p.p10), p50: sloth.points.map((p) => p.p50), p90: sloth.points.map((p) => p.p90) });
    for (const method of benchMethods) {
      const f = forecasts[method];
      let abs = 0;
      let smape = 0;
      for (let j = 0; j < h; j++) {
        abs += Math.abs((actual[j] as number) - (f[j] as number));
        smape += smapeTerm(actual[j] as number, f[j] as number);
      }
      const s = sums[method];
      s.mase += abs / h / scale;
      s.smape += smape / h;
      s.count++;
    }
    sloth.points.forEach((p, j) => {
      const a = actual[j] as number;
      if (a >= p.p10 && a <= p.p90) sums.sloth.covered++;
    });
  }
  const score = (method: BenchMethod): MethodScore => {
    const s = sums[method];
    const base = { mase: s.count > 0 ? s.mase / s.count : Number.NaN, smape: s.count > 0 ? s.smape / s.count : Number.NaN };
    return method === 'sloth' ? { ...base, coverage: s.count > 0 ? s.covered / (s.count * h) : Number.NaN } : base;
  };
  return {
    file,
    points: n,
    stepMillis,
    seasonSteps,
    originsUsed,
    scores: { sloth: score('sloth'), 'seasonal-naive': score('seasonal-naive'), ses: score('ses'), 'holt-winters': score('holt-winters') },
    selectedModels,
    slothOrigins,
    slothFitMillis: originsUsed > 0 ? slothMillis / originsUsed : Number.NaN,
  };
}

/**
 * Per-series MASE below this counts as this in the geometric mean: a series that is flat over every test
 * window (forecast exactly) would otherwise send the geometric mean towards 0. Same floor for every method.
 */
export const MASE_FLOOR = 0.01;

/** Corpus-level summary of one method. */
export interface MethodSummary {
  /** Geometric mean over series of each series' MASE (each floored at `MASE_FLOOR`). */
  geometricMeanMase: number;
  meanMase: number;
  medianMase: number;
  meanSmape: number;
  coverage?: number;
}

export interface ForecastBenchReport {
  settings: ForecastBenchSettings;
  series: SeriesBenchResult[];
  summary: Record<BenchMethod, MethodSummary>;
  /** Series that could not be scored, with the reason. */
  skipped: Array<{ file: string; reason: string }>;
}

/** Lists the CSV files of the NAB "real" categories (realAWSCloudwatch, realKnownCause, …) under `dataDir`. */
export async function realNabFiles(dataDir: string): Promise<string[]> {
  const entries = await readdir(dataDir, { withFileTypes: true });
  const files: string[] = [];
  for (const dir of entries.filter((e) => e.isDirectory() && e.name.startsWith('real')).map((e) => e.name).sort()) {
    for (const f of (await readdir(join(dataDir, dir))).filter((f) => f.endsWith('.csv')).sort()) files.push(join(dataDir, dir, f));
  }
  if (files.length === 0) throw new InputError(`no real* category folders with .csv files under ${dataDir} (expected NAB's data/ folder)`);
  return files;
}

/**
 * Runs `benchSeries` over `files` with up to `concurrency` worker threads (1 = in this thread),
 * calling `onSeriesDone` after each series.
 */
export async function runForecastBench(
  files: readonly string[],
  settings: ForecastBenchSettings,
  concurrency = Math.min(2, availableParallelism()),
  onSeriesDone: (file: string) => void = () => undefined,
): Promise<ForecastBenchReport> {
  const results: SeriesBenchResult[] = [];
  const skipped: Array<{ file: string; reason: string }> = [];
  const queue = [...files];
  const record = (file: string, outcome: { result?: SeriesBenchResult; error?: string }): void => {
    if (outcome.result !== undefined) results.push(outcome.result);
    else skipped.push({ file, reason: outcome.error ?? 'unknown error' });
    onSeriesDone(file);
  };
  if (concurrency <= 1) {
    for (const file of queue) {
      try {
        record(file, { result: await benchSeries(file, settings) });
      } catch (error) {
        record(file, { error: error instanceof Error ? error.message : String(error) });
      }
    }
  } else {
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, async () => runWorker(queue, settings, record)));
  }
  results.sort((a, b) => a.file.localeCompare(b.file));
  return { settings, series: results, summary: summarise(results), skipped };
}

async function runWorker(queue: string[], settings: ForecastBenchSettings, record: (file: string, outcome: { result?: SeriesBenchResult; error?: string }) => void): Promise<void> {
  const worker = new Worker(new URL('./benchmarkWorker.js', import.meta.url));
  try {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const current = file;
      const outcome = await new Promise<{ result?: SeriesBenchResult; error?: string }>((resolve, reject) => {
        const onMessage = (message: { result?: SeriesBenchResult; error?: string }): void => {
          worker.off('error', onError);
          resolve(message);
        };
        const onError = (error: Error): void => {
          worker.off('message', onMessage);
          reject(error);
        };
        worker.once('message', onMessage);
        worker.once('error', onError);
        worker.postMessage({ file: current, settings });
      });
      record(current, outcome);
    }
  } finally {
    await worker.terminate();
  }
}

/** Corpus summary per method (geometric-mean MASE over series, coverage weighted by origins). */
export function summarise(results: readonly SeriesBenchResult[]): Record<BenchMethod, MethodSummary> {
  const scored = results.filter((r) => r.originsUsed > 0);
  const one = (method: BenchMethod): MethodSummary => {
    const mases = scored.map((r) => r.scores[method].mase);
    const geometricMeanMase = Math.exp(mases.reduce((s, v) => s + Math.log(Math.max(v, MASE_FLOOR)), 0) / Math.max(1, mases.length));
    const meanMase = mases.reduce((s, v) => s + v, 0) / Math.max(1, mases.length);
    const medianMase = quantile(mases, 0.5);
    const meanSmape = scored.reduce((s, r) => s + r.scores[method].smape, 0) / Math.max(1, scored.length);
    if (method !== 'sloth') return { geometricMeanMase, meanMase, medianMase, meanSmape };
    const weights = scored.reduce((s, r) => s + r.originsUsed, 0);
    const coverage = scored.reduce((s, r) => s + (r.scores.sloth.coverage ?? 0) * r.originsUsed, 0) / Math.max(1, weights);
    return { geometricMeanMase, meanMase, medianMase, meanSmape, coverage };
  };
  return { sloth: one('sloth'), 'seasonal-naive': one('seasonal-naive'), ses: one('ses'), 'holt-winters': one('holt-winters') };
}

/** Short name of a series file for tables: `category/file.csv`. */
export function seriesLabel(file: string): string {
  const parts = file.split(/[\\/]/);
  return parts.length >= 2 ? `${parts[parts.length - 2]}/${basename(file)}` : basename(file);
}
