import { logit, mean, nelderMead, sigmoid } from '../stats.js';
import type { FittedModel } from './fittedModel.js';

/** Smoothing parameters of additive damped Holt–Winters (ETS(A,Ad,A), or ETS(A,Ad,N) without a season). */
export interface HoltWintersParams {
  alpha: number;
  beta: number;
  gamma: number;
  phi: number;
}

interface State {
  level: number;
  trend: number;
  season: Float64Array;
}

const MIN_PHI = 0.8;
// Up to 1 so a clean linear trend is extrapolated; the backtest guards against runaway trends.
const MAX_PHI = 1;

/**
 * Fits additive damped Holt–Winters to `values[0, fitEnd)` by minimising the one-step squared error
 * (Nelder–Mead over the logits of the smoothing parameters). `periodSteps` 0 or 1 fits the
 * non-seasonal damped-trend model (named `ets`). `fixedPhi` fixes the damping instead of fitting it
 * (1 = Holt's linear trend).
 */
export function fitHoltWinters(values: Float64Array, fitEnd: number, periodSteps: number, fixedPhi?: number): FittedModel & { params: HoltWintersParams; periodSteps: number } {
  const m = periodSteps >= 2 && fitEnd >= 2 * periodSteps + 2 ? periodSteps : 0;
  const initial = initialState(values, fitEnd, m);
  const decode = (x: number[]): HoltWintersParams => {
    const alpha = 0.001 + 0.998 * sigmoid(x[0] as number);
    const beta = alpha * 0.999 * sigmoid(x[1] as number);
    const gamma = m > 0 ? (1 - alpha) * 0.999 * sigmoid(x[2] as number) : 0;
    const phi = fixedPhi ?? MIN_PHI + (MAX_PHI - MIN_PHI) * sigmoid(x[3] as number);
    return { alpha, beta, gamma, phi };
  };
  const burnIn = Math.min(m, Math.floor(fitEnd / 4));
  const objective = (x: number[]): number => oneStepSse(values, fitEnd, m, initial, decode(x), burnIn);
  const start = [logit(0.3), logit(0.1), logit(0.1), logit(0.5)];
  const best = nelderMead(objective, start, { maxIterations: 300 });
  const params = decode(best);
  return {
    name: m > 0 ? 'holt-winters' : 'ets',
    params,
    periodSteps: m,
    forecastFrom(series, origins, horizon) {
      return forecastFromOrigins(series, origins, horizon, m, initial, params);
    },
  };
}

function initialState(values: Float64Array, fitEnd: number, m: number): State {
  if (m === 0) {
    const head = Math.min(fitEnd, 10);
    const level = mean(values, 0, Math.max(1, head));
    return { level, trend: 0, season: new Float64Array(0) };
  }
  const first = mean(values, 0, m);
  const second = mean(values, m, 2 * m);
  const trend = (second - first) / m;
  const season = new Float64Array(m);
  // Average of the two first cycles' deviations from their own (trend-adjusted) means.
  for (let i = 0; i < m; i++) {
    const a = (values[i] as number) - (first + (i - (m - 1) / 2) * trend);
    const b = (values[m + i] as number) - (second + (i - (m - 1) / 2) * trend);
    season[i] = (a + b) / 2;
  }
  // State "before" index 0: level at the start of the first cycle.
  return { level: first - ((m - 1) / 2) * trend - trend, trend, season };
}

function oneStepSse(values: Float64Array, end: number, m: number, initial: State, p: HoltWintersParams, burnIn: number): number {
  let level = initial.level;
  let trend = initial.trend;
  const season = Float64Array.from(initial.season);
  let sse = 0;
  for (let t = 0; t < end; t++) {
    const y = values[t] as number;
    const s = m > 0 ? (season[t % m] as number) : 0;
    const forecast = level + p.phi * trend + s;
    const error = y - forecast;
    if (t >= burnIn) sse += error * error;
    const newLevel = p.alpha * (y - s) + (1 - p.alpha) * (level + p.phi * trend);
    trend = p.beta * (newLevel - level) + (1 - p.beta) * p.phi * trend;
    if (m > 0) season[t % m] = p.gamma * (y - newLevel) + (1 - p.gamma) * s;
    level = newLevel;
  }
  return Number.isFinite(sse) ? sse : Number.MAX_VALUE;
}

function forecastFromOrigins(values: Float64Array, origins: readonly number[], horizon: number, m: number, initial: State, p: HoltWintersParams): Float64Array[] {
  const out: Float64Array[] = [];
  let level = initial.level;
  let trend = initial.trend;
  const season = Float64Array.from(initial.season);
  let t = 0;
  for (const origin of origins) {
    for (; t <= origin; t++) {
      const y = values[t] as number;
      const s = m > 0 ? (season[t % m] as number) : 0;
      const newLevel = p.alpha * (y - s) + (1 - p.alpha) * (level + p.phi * trend);
      trend = p.beta * (newLevel - level) + (1 - p.beta) * p.phi * trend;
      if (m > 0) season[t % m] = p.gamma * (y - newLevel) + (1 - p.gamma) * s;
      level = newLevel;
    }
    const f = new Float64Array(horizon);
    let damp = 0;
    let phiPower = 1;
    for (let k = 1; k <= horizon; k++) {
      phiPower *= p.phi;
      damp += phiPower;
      f[k - 1] = level + damp * trend + (m > 0 ? (season[(origin + k) % m] as number) : 0);
    }
    out.push(f);
  }
  return out;
}
