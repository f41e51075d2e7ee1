/** Pure numeric helpers of the report: fits, forecasts and their grades. No I/O. */

export interface TimedValue {
  readonly t: number;
  readonly v: number;
}

export interface ForecastPoint {
  readonly t: number;
  readonly p10: number;
  readonly p50: number;
  readonly p90: number;
}

/** A trend plus hour-of-day profile, with the 10th/90th residual percentiles as its band. */
export interface SeasonalTrend {
  readonly originMillis: number;
  readonly interceptValue: number;
  readonly slopePerMilli: number;
  /** 24 offsets, one per UTC hour of day (0 where the hour had no data). */
  readonly hourProfile: readonly number[];
  readonly residualP10: number;
  readonly residualP90: number;
  readonly points: number;
}

const hourMillis = 3_600_000;

export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Linear-interpolated quantile of unsorted values (q in [0, 1]). */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  const a = sorted[low] as number;
  const b = sorted[high] as number;
  return a + (b - a) * (at - low);
}

/** Means per whole hour (UTC), oldest first: the resolution capacity and scorecard work at. */
export function hourlyMeans(points: readonly TimedValue[]): TimedValue[] {
  const sums = new Map<number, { sum: number; n: number }>();
  for (const p of points) {
    const hour = Math.floor(p.t / hourMillis) * hourMillis;
    const entry = sums.get(hour) ?? { sum: 0, n: 0 };
    entry.sum += p.v;
    entry.n += 1;
    sums.set(hour, entry);
  }
  return [...sums]
    .sort((a, b) => a[0] - b[0])
    .map(([t, e]) => ({ t, v: e.sum / e.n }));
}

function hourOfDay(t: number): number {
  return Math.floor(t / hourMillis) % 24;
}

/** Least-squares trend, then the mean residual per hour of day, then the residual band. Needs ≥ 6 points. */
export function fitSeasonalTrend(points: readonly TimedValue[]): SeasonalTrend | undefined {
  if (points.length < 6) return undefined;
  const origin = (points[0] as TimedValue).t;
  const n = points.length;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    const x = p.t - origin;
    sx += x;
    sy += p.v;
    sxx += x * x;
    sxy += x * p.v;
  }
  const denominator = n * sxx - sx * sx;
  const slope = denominator === 0 ? 0 : (n * sxy - sx * sy) / denominator;
  const intercept = (sy - slope * sx) / n;
  const byHour = Array.from({ length: 24 }, () => [] as number[]);
  for (const p of points) byHour[hourOfDay(p.t)]?.push(p.v - (intercept + slope * (p.t - origin)));
  // A profile needs at least two days of an hour to be more than noise.
  const hourProfile = byHour.map((values) => (values.length >= 2 ? (mean(values) ?? 0) : 0));
  const residuals = points.map((p) => p.v - (intercept + slope * (p.t - origin) + (hourProfile[hourOfDay(p.t)] ?? 0)));
  return {
    originMillis: origin,
    interceptValue: intercept,
    slopePerMilli: slope,
    hourProfile,
    residualP10: quantile(residuals, 0.1) ?? 0,
    residualP90: quantile(residuals, 0.9) ?? 0,
    points: n,
  };
}

export function predict(model: SeasonalTrend, t: number): ForecastPoint {
  const p50 = model.interceptValue + model.slopePerMilli * (t - model.originMillis) + (model.hourProfile[hourOfDay(t)] ?? 0);
  return { t, p10: p50 + model.residualP10, p50, p90: p50 + model.residualP90 };
}

/** Hourly forecast points in `(fromMillis, fromMillis + horizonMillis]`. */
export function forecastHours(model: SeasonalTrend, fromMillis: number, horizonMillis: number): ForecastPoint[] {
  const out: ForecastPoint[] = [];
  const first = Math.floor(fromMillis / hourMillis) * hourMillis + hourMillis;
  for (let t = first; t <= fromMillis + horizonMillis; t += hourMillis) out.push(predict(model, t));
  return out;
}

/** Beyond ten years a trend says "not rising" (a flat series' rounding noise is a slope too). */
const maxDaysUntil = 3_650;

/**
 * Days until the trend reaches `limit` (1.0 for a utilization), from `atMillis`;
 * undefined when the trend is flat or falling, or further than ten years away.
 */
export function daysUntil(model: SeasonalTrend, limit: number, atMillis: number): number | undefined {
  if (model.slopePerMilli <= 0) return undefined;
  const now = model.interceptValue + model.slopePerMilli * (atMillis - model.originMillis);
  if (now >= limit) return 0;
  const days = (limit - now) / model.slopePerMilli / 86_400_000;
  return days > maxDaysUntil ? undefined : days;
}

export interface ForecastGrade {
  /** Share of actual points inside [p10, p90]. */
  readonly coverage: number;
  /** Mean absolute error of p50 over the in-sample mean absolute error of the seasonal-naive forecast. */
  readonly mase: number | null;
  readonly points: number;
}

/**
 * Grades forecasts against what happened: p10–p90 coverage and MASE, the
 * naive scale being the training series' seasonal-naive error (lag one day
 * for hourly data, else lag one).
 */
export function gradeForecast(training: readonly TimedValue[], forecast: readonly ForecastPoint[], actual: readonly TimedValue[]): ForecastGrade | undefined {
  const byTime = new Map(forecast.map((f) => [f.t, f]));
  let inside = 0;
  let absError = 0;
  let n = 0;
  for (const a of actual) {
    const f = byTime.get(a.t);
    if (f === undefined) continue;
    n += 1;
    if (a.v >= f.p10 && a.v <= f.p90) inside += 1;
    absError += Math.abs(a.v - f.p50);
  }
  if (n === 0) return undefined;
  const lag = training.length > 48 ? 24 : 1;
  const naive: number[] = [];
  for (let i = lag; i < training.length; i++) naive.push(Math.abs((training[i] as TimedValue).v - (training[i - lag] as TimedValue).v));
  const scale = mean(naive);
  return { coverage: inside / n, mase: scale === null || scale === 0 ? null : absError / n / scale, points: n };
}
