import { autocorrelation } from './stats.js';

const HOUR_MILLIS = 3_600_000;
const DAY_MILLIS = 24 * HOUR_MILLIS;
const WEEK_MILLIS = 7 * DAY_MILLIS;

/** Seasonal periods worth trying for a series sampled every `stepMillis`: hourly, daily, weekly, in steps. */
export function candidatePeriodsSteps(stepMillis: number): number[] {
  const periods = new Set<number>();
  for (const periodMillis of [HOUR_MILLIS, DAY_MILLIS, WEEK_MILLIS]) {
    const steps = Math.round(periodMillis / stepMillis);
    if (steps >= 2 && Math.abs(steps * stepMillis - periodMillis) <= 0.01 * periodMillis) periods.add(steps);
  }
  return [...periods];
}

/**
 * The daily period in steps, the seasonality used to scale MASE for every model,
 * or 1 (non-seasonal naive) when the history holds fewer than two days or a day is not a whole number of steps.
 */
export function maseSeasonSteps(stepMillis: number, historyPoints: number): number {
  const steps = Math.round(DAY_MILLIS / stepMillis);
  if (steps < 2 || Math.abs(steps * stepMillis - DAY_MILLIS) > 0.01 * DAY_MILLIS) return 1;
  return historyPoints >= 2 * steps + 1 ? steps : 1;
}

/** Autocorrelation needed at the period itself before a period counts as seasonal. */
const MIN_SEASONAL_ACF = 0.25;
/** How much higher the autocorrelation must be at the period than at half of it (a real cycle peaks there; mere smoothness decays). */
const MIN_PEAK_OVER_HALF = 0.1;

/**
 * Detects the seasonal period from the autocorrelation of the detrended values at the candidate
 * periods (hourly, daily, weekly); needs at least three cycles of history. Prefers the shortest
 * qualifying period unless a longer one correlates clearly better. Returns 0 when none qualifies.
 */
export function detectSeasonPeriodSteps(values: ArrayLike<number>, stepMillis: number): number {
  const detrended = removeMovingTrend(values, Math.max(3, Math.round(DAY_MILLIS / stepMillis)));
  let best = 0;
  let bestAcf = Number.NEGATIVE_INFINITY;
  for (const period of candidatePeriodsSteps(stepMillis).sort((a, b) => a - b)) {
    if (values.length < 3 * period) continue;
    const acf = autocorrelation(detrended, period);
    const half = autocorrelation(detrended, Math.max(1, Math.round(period / 2)));
    if (acf < MIN_SEASONAL_ACF || acf - half < MIN_PEAK_OVER_HALF) continue;
    if (best === 0 || acf > bestAcf + 0.1) {
      best = period;
      bestAcf = acf;
    }
  }
  return best;
}

/** Subtracts a trailing mean over a long window so slow trends and level shifts do not look like seasonality. */
function removeMovingTrend(values: ArrayLike<number>, windowSteps: number): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  const w = Math.min(windowSteps * 2, Math.max(1, Math.floor(n / 2)));
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += values[i] as number;
    if (i >= w) sum -= values[i - w] as number;
    const count = Math.min(i + 1, w);
    out[i] = (values[i] as number) - sum / count;
  }
  return out;
}
