import { InputError } from '@sloth/core';
import { leaveOneCategoryOut } from '../nab/cross-validation.js';
import { MASE_FLOOR, benchMethods, seriesLabel, type BenchMethod, type ForecastBenchReport, type SeriesBenchResult } from './benchmark.js';

/** One forecaster configuration's backtest over every series. */
export interface ForecastCvConfig {
  name: string;
  report: ForecastBenchReport;
}

/** Interval width factors cross-validation chooses from (1 = the backtest quantiles as they are). */
export const intervalScales: readonly number[] = [0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.4, 1.6, 1.8, 2];

/** Held-out figures of one fold (or of all folds pooled). */
export interface ForecastHeldOut {
  series: number;
  /** Geometric-mean MASE per method on the held-out series. */
  geometricMeanMase: Record<BenchMethod, number>;
  /** The classical baseline with the lowest geometric-mean MASE on these held-out series. */
  bestBaseline: BenchMethod;
  /** Sloth's geometric-mean MASE ÷ the best baseline's. */
  ratioToBestBaseline: number;
  /** Share of actuals inside Sloth's [p10, p90] at the interval scale chosen on the training categories. */
  coverage: number;
}

export interface ForecastFold {
  category: string;
  chosenConfig: string;
  chosenIntervalScale: number;
  trainCoverageAtScale: number;
  heldOut: ForecastHeldOut;
}

export interface ForecastCvResult {
  folds: ForecastFold[];
  pooled: ForecastHeldOut;
}

function gmMase(series: readonly SeriesBenchResult[], method: BenchMethod): number {
  const scored = series.filter((r) => r.originsUsed > 0);
  return Math.exp(scored.reduce((s, r) => s + Math.log(Math.max(r.scores[method].mase, MASE_FLOOR)), 0) / Math.max(1, scored.length));
}

function coverageCounts(series: readonly SeriesBenchResult[], scale: number): { covered: number; total: number } {
  let covered = 0;
  let total = 0;
  for (const r of series) {
    for (const o of r.slothOrigins) {
      o.actual.forEach((a, k) => {
        const p50 = o.p50[k] as number;
        const low = p50 - scale * (p50 - (o.p10[k] as number));
        const high = p50 + scale * ((o.p90[k] as number) - p50);
        if (a >= low && a <= high) covered++;
        total++;
      });
    }
  }
  return { covered, total };
}

function heldOut(series: readonly SeriesBenchResult[], covered: number, total: number): ForecastHeldOut {
  const geometricMeanMase = Object.fromEntries(benchMethods.map((m) => [m, gmMase(series, m)])) as Record<BenchMethod, number>;
  const baselines = benchMethods.filter((m) => m !== 'sloth');
  const bestBaseline = baselines.reduce((a, b) => (geometricMeanMase[b] < geometricMeanMase[a] ? b : a));
  return {
    series: series.length,
    geometricMeanMase,
    bestBaseline,
    ratioToBestBaseline: geometricMeanMase.sloth / geometricMeanMase[bestBaseline],
    coverage: total > 0 ? covered / total : Number.NaN,
  };
}

/**
 * Leave-one-category-out over the series: per fold, the configuration with the lowest geometric-mean
 * MASE and the interval scale whose p10–p90 coverage is nearest 80 % are chosen on the other
 * categories, then scored on the held-out one. The best baseline is picked on the held-out series
 * themselves, which can only favour the baseline.
 */
export function crossValidateForecast(configs: readonly ForecastCvConfig[]): ForecastCvResult {
  const first = configs[0];
  if (first === undefined) throw new InputError('forecast cross-validation needs at least one configuration');
  const byConfig = configs.map((c) => ({ name: c.name, series: new Map(c.report.series.map((r) => [seriesLabel(r.file), r])) }));
  const names = [...(byConfig[0] as (typeof byConfig)[number]).series.keys()].sort();
  const folds: ForecastFold[] = [];
  const pooledSeries: SeriesBenchResult[] = [];
  let pooledCovered = 0;
  let pooledTotal = 0;
  for (const fold of leaveOneCategoryOut(names)) {
    const pick = (c: (typeof byConfig)[number], list: readonly string[]): SeriesBenchResult[] =>
      list.map((n) => {
        const r = c.series.get(n);
        if (r === undefined) throw new InputError(`configuration ${c.name} has no backtest for ${n}`);
        return r;
      });
    const chosen = byConfig.reduce((a, b) => (gmMase(pick(b, fold.train), 'sloth') < gmMase(pick(a, fold.train), 'sloth') ? b : a));
    const train = pick(chosen, fold.train);
    let scale = 1;
    let bestGap = Number.POSITIVE_INFINITY;
    let trainCoverage = Number.NaN;
    for (const s of intervalScales) {
      const { covered, total } = coverageCounts(train, s);
      const gap = Math.abs(covered / Math.max(1, total) - 0.8);
      if (gap < bestGap - 1e-12) {
        bestGap = gap;
        scale = s;
        trainCoverage = covered / Math.max(1, total);
      }
    }
    const test = pick(chosen, fold.test);
    const { covered, total } = coverageCounts(test, scale);
    pooledSeries.push(...test);
    pooledCovered += covered;
    pooledTotal += total;
    folds.push({ category: fold.category, chosenConfig: chosen.name, chosenIntervalScale: scale, trainCoverageAtScale: trainCoverage, heldOut: heldOut(test, covered, total) });
  }
  return { folds, pooled: heldOut(pooledSeries, pooledCovered, pooledTotal) };
}
