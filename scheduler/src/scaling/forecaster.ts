import type { QuantileForecast } from './policy.js';

/** Options of {@link HorizonForecaster}. */
export interface HorizonForecasterOptions {
  /** Steps ahead the forecast is for (the target's startup time in steps, at least 1). */
  horizonSteps: number;
  /** Length of the daily season in steps; 0 disables the seasonal candidates. */
  seasonSteps: number;
  /** Matured errors each candidate's quantiles and ranking are computed from. @defaultValue 336 */
  errorWindow?: number;
  /** Run the periodic-naive candidate (an intra-day period found by the series' own autocorrelation). @defaultValue false */
  periodic?: boolean;
}

/** Values the period search looks back over: two days of 5-minute steps. */
const periodSearchSteps = 576;
/** Steps between period searches (the search costs O(window × lags)). */
const periodSearchEverySteps = 24;

interface Candidate {
  readonly name: string;
  /** Point forecast of the value `horizon` steps after the newest one, or undefined when history is too short. */
  predict(history: Float64Array, newest: number): number | undefined;
}

/**
 * A causal quantile forecaster for the demand of one scaling target, for one
 * horizon (the startup time). It runs three cheap candidates (persistence,
 * seasonal naive, persistence plus last season's change), ranks them by their
 * own matured errors at exactly this horizon and gives the best one's point
 * forecast plus the empirical p10/p90 of its recent errors (split conformal
 * intervals, so coverage calibrates itself on each series).
 *
 * Why not analytics' forecaster: the scheduler must not import analytics, and
 * `sloth scale plan` must replay a trace of thousands of steps in well under a
 * second; this one costs O(window) per step with no training. The controller
 * itself uses analytics' forecasts from `sloth:forecasts`.
 */
export class HorizonForecaster {
  private readonly horizon: number;
  private readonly season: number;
  private readonly window: number;
  private readonly history: Float64Array;
  private count = 0;
  private readonly candidates: Candidate[];
  /** Per candidate: predictions issued, indexed by the step they are for (ring of horizon+1). */
  private readonly issued: Float64Array[];
  /** Per candidate: signed errors (actual − predicted), ring of `window`. */
  private readonly errors: Float64Array[];
  private readonly errorCounts: number[];
  /** The intra-day period the periodic-naive candidate uses, 0 while none is significant. */
  private period = 0;
  private readonly periodic: boolean;

  constructor(options: HorizonForecasterOptions) {
    this.horizon = Math.max(1, Math.floor(options.horizonSteps));
    this.season = Math.max(0, Math.floor(options.seasonSteps));
    this.window = options.errorWindow ?? 336;
    this.periodic = options.periodic === true;
    // Enough history for two seasons back plus the horizon, and for the period search.
    this.history = new Float64Array(Math.max(2 * this.season + this.horizon + 2, 8, periodSearchSteps + 1));
    const h = this.horizon;
    const s = this.season;
    const at = (history: Float64Array, index: number): number => history[index % history.length] as number;
    this.candidates = [{ name: 'persistence', predict: (history, newest) => at(history, newest) }];
    if (s > h) {
      this.candidates.push(
        { name: 'seasonal-naive', predict: (history, newest) => (newest + h - s >= 0 && newest + h >= s ? at(history, newest + h - s) : undefined) },
        {
          name: 'seasonal-change',
          predict: (history, newest) => (newest >= s ? at(history, newest) + at(history, newest + h - s) - at(history, newest - s) : undefined),
        },
      );
    }
    if (options.periodic === true) {
      this.candidates.push({ name: 'periodic-naive', predict: (history, newest) => (this.period > 0 && newest + h - this.period >= 0 ? at(history, newest + h - this.period) : undefined) });
    }
    this.issued = this.candidates.map(() => new Float64Array(h + 1).fill(Number.NaN));
    this.errors = this.candidates.map(() => new Float64Array(this.window));
    this.errorCounts = this.candidates.map(() => 0);
  }

  /** Steps observed so far. */
  get observed(): number {
    return this.count;
  }

  /** Adds the value of the next step and scores the predictions that were issued for it. */
  observe(value: number): void {
    const index = this.count;
    this.history[index % this.history.length] = value;
    const slot = index % (this.horizon + 1);
    this.candidates.forEach((_, c) => {
      const issued = this.issued[c] as Float64Array;
      const predicted = issued[slot] as number;
      if (!Number.isNaN(predicted)) {
        const errors = this.errors[c] as Float64Array;
        errors[(this.errorCounts[c] as number) % this.window] = value - predicted;
        this.errorCounts[c] = (this.errorCounts[c] as number) + 1;
      }
      issued[slot] = Number.NaN;
    });
    this.count += 1;
    if (this.periodic && this.count >= periodSearchSteps && this.count % periodSearchEverySteps === 0) this.period = this.findPeriod();
    this.issueNext();
  }

  /** The detected period in steps (0: none), for explaining which candidate plans. */
  get periodSteps(): number {
    return this.period;
  }

  /**
   * The lag, longer than the horizon and at most half a day (or a third of the
   * search window without a daily season), at which the first differences of
   * the last {@link periodSearchSteps} values correlate most, if that
   * correlation is significant for white noise at a family-wise 1 % over all
   * the lags tried (Bonferroni, with the Chernoff bound √(2 ln(lags / 0.01)) / √n
   * for the normal tail, which errs on the side of finding none); else 0. Differences, because a smooth series correlates most at the
   * shortest lag, while spikes that repeat every k steps correlate at k.
   */
  private findPeriod(): number {
    const n = periodSearchSteps - 1;
    const diffs = new Float64Array(n);
    const start = this.count - periodSearchSteps;
    const at = (i: number): number => this.history[i % this.history.length] as number;
    let mean = 0;
    for (let i = 0; i < n; i += 1) {
      diffs[i] = at(start + i + 1) - at(start + i);
      mean += diffs[i] as number;
    }
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i += 1) {
      diffs[i] = (diffs[i] as number) - mean;
      variance += (diffs[i] as number) ** 2;
    }
    if (!(variance > 0)) return 0;
    const maxLag = this.season > 0 ? Math.floor(this.season / 2) : Math.floor(n / 3);
    const lags = maxLag - this.horizon;
    if (lags < 1) return 0;
    let best = 0;
    let bestCorrelation = Math.sqrt(2 * Math.log(lags / 0.01)) / Math.sqrt(n);
    for (let lag = this.horizon + 1; lag <= maxLag; lag += 1) {
      let sum = 0;
      for (let i = lag; i < n; i += 1) sum += (diffs[i] as number) * (diffs[i - lag] as number);
      const correlation = sum / variance;
      if (correlation > bestCorrelation) {
        bestCorrelation = correlation;
        best = lag;
      }
    }
    return best;
  }

  private issueNext(): void {
    const newest = this.count - 1;
    const slot = (newest + this.horizon) % (this.horizon + 1);
    this.candidates.forEach((candidate, c) => {
      const value = candidate.predict(this.history, newest);
      (this.issued[c] as Float64Array)[slot] = value === undefined ? Number.NaN : value;
    });
  }

  /**
   * The forecast for `horizonSteps` after the newest observation, with the
   * name of the candidate used; undefined until a candidate has at least
   * 20 matured errors.
   */
  forecast(): (QuantileForecast & { model: string }) | undefined {
    if (this.count === 0) return undefined;
    let best = -1;
    let bestMae = Number.POSITIVE_INFINITY;
    this.candidates.forEach((_, c) => {
      const n = Math.min(this.errorCounts[c] as number, this.window);
      if (n < 20) return;
      const errors = this.errors[c] as Float64Array;
      let sum = 0;
      for (let i = 0; i < n; i += 1) sum += Math.abs(errors[i] as number);
      const mae = sum / n;
      if (mae < bestMae) {
        bestMae = mae;
        best = c;
      }
    });
    if (best < 0) return undefined;
    const candidate = this.candidates[best] as Candidate;
    const point = candidate.predict(this.history, this.count - 1);
    if (point === undefined) return undefined;
    const n = Math.min(this.errorCounts[best] as number, this.window);
    const sorted = Array.from((this.errors[best] as Float64Array).subarray(0, n)).sort((a, b) => a - b);
    const quantile = (q: number): number => sorted[Math.min(n - 1, Math.max(0, Math.round(q * (n - 1))))] as number;
    const p50 = Math.max(0, point + quantile(0.5));
    return { p10: Math.max(0, Math.min(p50, point + quantile(0.1))), p50, p90: Math.max(p50, point + quantile(0.9)), model: candidate.name };
  }
}

/** Steps in one day for a given step length, or 0 when the step does not divide into a usable daily season. */
export function dailySeasonSteps(stepMillis: number): number {
  if (!(stepMillis > 0)) return 0;
  const steps = Math.round((24 * 3600 * 1000) / stepMillis);
  return steps >= 4 && steps <= 2000 ? steps : 0;
}
