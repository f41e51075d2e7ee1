import { afterEach, describe, expect, it } from 'vitest';
import { logEmpiricalTail } from '../../src/detector/empirical-tail.js';
import { applyTuningOverrides, createDetector, restoreDetector } from '../../src/detector/index.js';
import { seededRandom } from '../../src/forecast/stats.js';

/** mulberry32 mapped into the open interval (0, 1), so `log(u)` is finite. */
function rng(seed: number): () => number {
  const random = seededRandom(seed);
  return () => (random() * 4294967296 + 0.5) / 4294967297;
}

/** Anomaly-free series: Gaussian noise around 100, or bursty Poisson counts (×4 bursts of 6 rows, p = 1/500 per row) with a daily cycle. */
function series(kind: 'noise' | 'bursty', n: number, seed: number): number[] {
  const u = rng(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  const out: number[] = [];
  let burst = 0;
  for (let i = 0; i < n; i += 1) {
    if (kind === 'noise') {
      out.push(100 + 5 * normal());
      continue;
    }
    if (burst === 0 && u() < 1 / 500) burst = 6;
    const rate = 5 * (burst > 0 ? 4 : 1) * (1 + 0.5 * Math.sin((2 * Math.PI * i) / 288));
    if (burst > 0) burst -= 1;
    let k = 0;
    let p = Math.exp(-rate);
    let cdf = p;
    const x = u();
    while (x > cdf) {
      k += 1;
      p *= rate / k;
      cdf += p;
    }
    out.push(k);
  }
  return out;
}

/** Share of rows (after the first 1,000) whose surprise (score = s / (s + 10)) is at least `level`, over three seeds. */
function exceedanceRate(kind: 'noise' | 'bursty', stepMillis: number, level: number): number {
  let rows = 0;
  let hits = 0;
  for (const seed of [1, 2, 3]) {
    const detector = createDetector({ useModel: false });
    series(kind, 8000, seed).forEach((value, i) => {
      const score = detector.update(Date.UTC(2024, 0, 1) + i * stepMillis, value).score;
      if (i < 1000) return;
      rows += 1;
      if ((10 * score) / (1 - score) >= level) hits += 1;
    });
  }
  return hits / rows;
}

describe('empirical tail (peaks over threshold)', () => {
  it('estimates P(X ≥ x) of exponential samples in the body and beyond the largest value', () => {
    const u = rng(5);
    const values = Array.from({ length: 5000 }, () => -Math.log(u()));
    for (const x of [1, 3, 6, 10, 14]) {
      // Exponential(1): ln P(X ≥ x) = −x; x = 10 and 14 lie beyond every sample (max ≈ ln 5000 ≈ 8.5).
      expect(Math.abs(logEmpiricalTail(values, values.length, x, 0.01) + x)).toBeLessThan(x <= 6 ? 0.3 : 1.5);
    }
    expect(logEmpiricalTail(values, values.length, -1, 0.01)).toBe(0);
  });

  it('stays finite on a tail of ties and uses only the first n values', () => {
    const values = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1e9];
    const logP = logEmpiricalTail(values, 10, 0.5, 0.01);
    expect(Number.isFinite(logP)).toBe(true);
    expect(logP).toBeCloseTo(Math.log(5 / 10) - 0.5 / 0.01, 9);
  });
});

describe('detector with the series-own tail (`tail` 2)', () => {
  afterEach(() => applyTuningOverrides(undefined));

  it('a surprise s is a false-alarm rate of about e^-s per 5-minute row on calm and bursty series alike (the Gaussian tail is not)', () => {
    applyTuningOverrides(JSON.stringify({ tail: 2, fireSurprise: 8 }));
    for (const kind of ['noise', 'bursty'] as const) {
      for (const level of [6, 8]) {
        const rate = exceedanceRate(kind, 300_000, level);
        expect(rate, `${kind} at ${level}`).toBeGreaterThan(Math.exp(-level) / 3);
        expect(rate, `${kind} at ${level}`).toBeLessThan(3 * Math.exp(-level));
      }
    }
    applyTuningOverrides(JSON.stringify({ tail: 0, fireSurprise: 8 }));
    expect(exceedanceRate('bursty', 300_000, 8)).toBeGreaterThan(3 * Math.exp(-8));
  });

  it('per series-day: an hourly series at surprise s raises the false alarms per day a 5-minute series does', () => {
    applyTuningOverrides(JSON.stringify({ tail: 2, fireSurprise: 8 }));
    // 24 rows a day instead of 288: each row's probability is 12 × e^-s for the same daily rate.
    const perDay = exceedanceRate('noise', 3_600_000, 6) * 24;
    expect(perDay).toBeGreaterThan((288 * Math.exp(-6)) / 3);
    expect(perDay).toBeLessThan(3 * 288 * Math.exp(-6));
  });

  it('is causal, deterministic, and a restored snapshot scores on unchanged', () => {
    applyTuningOverrides(JSON.stringify({ tail: 2, fireSurprise: 8 }));
    const values = series('bursty', 3000, 9);
    const at = (i: number): number => Date.UTC(2024, 0, 1) + i * 300_000;
    const whole = createDetector({ useModel: false });
    const full = values.map((v, i) => whole.update(at(i), v).score);
    expect(full.some((s) => s > 0.3)).toBe(true);
    const prefix = createDetector({ useModel: false });
    const head = values.slice(0, 1700).map((v, i) => prefix.update(at(i), v).score);
    expect(head).toEqual(full.slice(0, 1700));
    const restored = restoreDetector(JSON.parse(JSON.stringify(prefix.snapshot())));
    const tail = values.slice(1700).map((v, i) => restored.update(at(1700 + i), v).score);
    expect(tail).toEqual(full.slice(1700));
    expect(JSON.stringify(prefix.snapshot()).length).toBeLessThan(100_000);
  });

  it('with tailSkipIncidents an incident does not teach the tail: a second like it, 500 rows later, alarms as much', () => {
    const u = rng(21);
    const normal = (): number => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
    const inSecond = (i: number): boolean => i >= 2000 && i < 2006;
    const values = Array.from({ length: 2400 }, (_, i) => 100 + 5 * normal() + ((i >= 1500 && i < 1506) || inSecond(i) ? 30 : 0));
    const peaks = (skip: number): [number, number] => {
      applyTuningOverrides(JSON.stringify({ tail: 2, tailSkipIncidents: skip }));
      const d = createDetector({ useModel: false });
      const scores = values.map((v, i) => d.update(Date.UTC(2024, 0, 1) + i * 300_000, v).score);
      return [Math.max(...scores.slice(1500, 1512)), Math.max(...scores.slice(2000, 2012))];
    };
    const [firstSkip, secondSkip] = peaks(1);
    expect(firstSkip).toBeGreaterThan(0.5);
    expect(secondSkip).toBeGreaterThan(0.5);
    const [, secondLearnt] = peaks(0);
    expect(secondLearnt).toBeLessThan(secondSkip - 0.1);
  });
});
