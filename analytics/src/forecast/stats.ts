/** Small numeric helpers shared by the forecasting models. */

export function mean(values: ArrayLike<number>, start = 0, end = values.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += values[i] as number;
  return end > start ? sum / (end - start) : Number.NaN;
}

/** Quantile by linear interpolation between order statistics (type 7, as R and NumPy default). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  return quantileSorted(sorted, q);
}

export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export function median(values: ArrayLike<number>): number {
  return quantile(values, 0.5);
}

export function standardDeviation(values: ArrayLike<number>): number {
  const m = mean(values);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += ((values[i] as number) - m) ** 2;
  return values.length > 1 ? Math.sqrt(sum / (values.length - 1)) : 0;
}

/** Sample autocorrelation at `lag` of the given values. */
export function autocorrelation(values: ArrayLike<number>, lag: number): number {
  const n = values.length;
  if (lag <= 0 || lag >= n) return 0;
  const m = mean(values);
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const d = (values[i] as number) - m;
    den += d * d;
    if (i >= lag) num += d * ((values[i - lag] as number) - m);
  }
  return den > 0 ? num / den : 0;
}

/** Mean absolute error of the seasonal-naive one-step forecast inside `values` (the MASE denominator). */
export function seasonalNaiveScale(values: ArrayLike<number>, seasonSteps: number, start = 0, end = values.length): number {
  const m = Math.max(1, seasonSteps);
  let sum = 0;
  let count = 0;
  for (let i = start + m; i < end; i++) {
    sum += Math.abs((values[i] as number) - (values[i - m] as number));
    count++;
  }
  return count > 0 ? sum / count : Number.NaN;
}

/** Symmetric absolute percentage error of one forecast, in percent; 0 when both are 0. */
export function smapeTerm(actual: number, forecast: number): number {
  const den = Math.abs(actual) + Math.abs(forecast);
  return den === 0 ? 0 : (200 * Math.abs(actual - forecast)) / den;
}

/** A small deterministic PRNG (mulberry32) for reproducible shuffles and initialisations. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Minimises `f` over R^d with the Nelder–Mead simplex method (enough for 1–4 smoothing parameters). */
export function nelderMead(f: (x: number[]) => number, start: number[], options: { maxIterations?: number; step?: number; tolerance?: number } = {}): number[] {
  const d = start.length;
  const maxIterations = options.maxIterations ?? 200 * d;
  const step = options.step ?? 0.5;
  const tolerance = options.tolerance ?? 1e-7;
  let simplex: Array<{ x: number[]; v: number }> = [{ x: [...start], v: f(start) }];
  for (let i = 0; i < d; i++) {
    const x = [...start];
    x[i] = (x[i] as number) + step;
    simplex.push({ x, v: f(x) });
  }
  for (let it = 0; it < maxIterations; it++) {
    simplex.sort((a, b) => a.v - b.v);
    const best = simplex[0] as { x: number[]; v: number };
    const worst = simplex[d] as { x: number[]; v: number };
    if (Math.abs(worst.v - best.v) <= tolerance * (Math.abs(best.v) + 1e-12)) break;
    const centroid = new Array<number>(d).fill(0);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) centroid[j] = (centroid[j] as number) + ((simplex[i] as { x: number[] }).x[j] as number) / d;
    const along = (t: number): number[] => centroid.map((c, j) => c + t * ((worst.x[j] as number) - c));
    const xr = along(-1);
    const vr = f(xr);
    const second = simplex[d - 1] as { v: number };
    if (vr < best.v) {
      const xe = along(-2);
      const ve = f(xe);
      simplex[d] = ve < vr ? { x: xe, v: ve } : { x: xr, v: vr };
    } else if (vr < second.v) {
      simplex[d] = { x: xr, v: vr };
    } else {
      const xc = vr < worst.v ? along(-0.5) : along(0.5);
      const vc = f(xc);
      if (vc < Math.min(vr, worst.v)) {
        simplex[d] = { x: xc, v: vc };
      } else {
        simplex = simplex.map((p, i) => {
          if (i === 0) return p;
          const x = p.x.map((v, j) => (best.x[j] as number) + 0.5 * (v - (best.x[j] as number)));
          return { x, v: f(x) };
        });
      }
    }
  }
  simplex.sort((a, b) => a.v - b.v);
  return (simplex[0] as { x: number[] }).x;
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function logit(p: number): number {
  return Math.log(p / (1 - p));
}

/** The sampling interval: the median spacing, so a few gaps do not distort it. */
export function inferStepMillis(timestampsMillis: readonly number[]): number {
  const diffs = new Float64Array(timestampsMillis.length - 1);
  for (let i = 1; i < timestampsMillis.length; i++) diffs[i - 1] = (timestampsMillis[i] as number) - (timestampsMillis[i - 1] as number);
  diffs.sort();
  return Math.round(quantileSorted(diffs, 0.5));
}
