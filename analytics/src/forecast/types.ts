/** One forecast step: the time it is for and its 10th/50th/90th percentiles. */
export interface ForecastPoint {
  timestampMillis: number;
  p10: number;
  p50: number;
  p90: number;
}

/** Accuracy of the selected model on the held-out tail of the training data (rolling origins). */
export interface BacktestScore {
  /** Mean absolute error scaled by the in-sample seasonal-naive error (same seasonality for every model). */
  mase: number;
  /** Symmetric mean absolute percentage error, in percent (0–200). */
  smape: number;
}

/** What `forecastSeries` returns. */
export interface ForecastResult {
  /** Name of the model chosen by backtest, e.g. `holt-winters`, `mlp`, `ensemble(holt-winters+mlp)`. */
  model: string;
  /** Sampling interval of the series (median spacing of the timestamps). */
  stepMillis: number;
  points: ForecastPoint[];
  backtest: BacktestScore;
  /** Why a simpler path was taken (short history, the neural model failed to train); empty normally. */
  warnings?: string[];
}

/**
 * Names of the candidate models: `ses` is simple exponential smoothing, `theta` the Theta method (SES with
 * half the linear-regression slope as drift), `comb` the average of SES, Holt's linear and the damped trend.
 */
export type ForecastModelName = 'seasonal-naive' | 'holt-winters' | 'ets' | 'seasonal-profile' | 'ses' | 'theta' | 'comb' | 'mlp';

/** Tuning of `forecastSeries`; every field has a default. */
export interface ForecastOptions {
  /**
   * Models tried by the backtest; the best one (or the best average of two) is used.
   * @defaultValue seasonal-naive, holt-winters, ets, seasonal-profile, mlp (`ses`, `theta` and `comb` are
   * opt-in: see rule F1 in bench/forecast/RULES.md)
   */
  models: readonly ForecastModelName[];
  /**
   * Seasonal period in steps, or `auto` to detect it (autocorrelation at hourly, daily and weekly periods).
   * @defaultValue 'auto'
   */
  seasonPeriodSteps: number | 'auto';
  /**
   * At most this many of the most recent points are used (older history is dropped) to bound training time;
   * above `maxForecastHistoryPoints` (50,000) it is refused.
   * @defaultValue 4032 (two weeks of 5-minute samples)
   */
  maxHistoryPoints: number;
  /**
   * Fraction of the history held out for the rolling-origin backtest that selects the model and calibrates the intervals.
   * @defaultValue 0.2
   */
  validationFraction: number;
  /**
   * Seed for the neural model's initial weights and shuffling, so forecasts are reproducible.
   * @defaultValue 42
   */
  seed: number;
  /**
   * Epochs of training of the neural model (15 is within 0.01 geometric-mean MASE of 30 on NAB at half the time).
   * @defaultValue 15
   */
  mlpEpochs: number;
  /**
   * Shift the point forecast by the median backtest error per step, so the p50 is a median (what absolute-error metrics reward).
   * @defaultValue true
   */
  medianCorrection: boolean;
  /**
   * With `medianCorrection`, correct only a bias every third of the backtest origins shows (the one nearest
   * zero, when all three medians have one sign): a level shift inside the backtest window, which the models
   * already follow, is not added to the p50 a second time. False: the median error over all origins (before
   * rule F3 in bench/forecast/RULES.md).
   * @defaultValue true
   */
  stableMedianCorrection: boolean;
  /**
   * Also try averages of three models (not only single models and pairs).
   * @defaultValue false
   */
  tripleEnsembles: boolean;
  /**
   * Fit `ses`, `theta` and `comb` on seasonally adjusted values, as the M4 competition applies them: when the
   * fit window passes M4's 90 % autocorrelation test at the season period, its classical decomposition's
   * indices (multiplicative for positive data, additive otherwise) are taken out before the fit and put back
   * on the forecasts; those models are then named `sa(ses)`, `sa(theta)`, `sa(comb)`. See rule F2 in
   * bench/forecast/RULES.md.
   * @defaultValue false
   */
  seasonalAdjustment: boolean;
  /**
   * Multiplies the distances of p10 and p90 from the p50 (a conformal width factor: the backtest
   * quantiles come from models fitted before the held-out tail, which under-covers slightly on new data).
   * Chosen out of fold by `sloth bench forecast --cv`; see docs/forecasting.md.
   * @defaultValue 1
   */
  intervalScale: number;
}

/** Hears the progress of one forecast: `done` of `total` parts (model fits, epochs of the neural model, the backtest), and what is being done. */
export type ForecastProgress = (done: number, total: number, stage: string) => void;
