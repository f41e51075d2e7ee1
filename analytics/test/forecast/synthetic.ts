/** Deterministic synthetic series for the forecasting tests. */

export function gaussianNoise(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

export const HOUR_MILLIS = 3_600_000;
export const START_MILLIS = Date.UTC(2024, 0, 1);

/** `count` hourly points: level + a daily sine of `amplitude` + Gaussian noise of `noise` std. */
export function dailySeasonal(count: number, options: { level?: number; amplitude?: number; noise?: number; seed?: number } = {}): { timestamps: number[]; values: number[] } {
  const random = gaussianNoise(options.seed ?? 1);
  const timestamps: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    timestamps.push(START_MILLIS + i * HOUR_MILLIS);
    values.push((options.level ?? 100) + (options.amplitude ?? 20) * Math.sin((2 * Math.PI * i) / 24) + (options.noise ?? 0) * random());
  }
  return { timestamps, values };
}
