import { describe, expect, it } from 'vitest';
import { createDetector, restoreDetector } from '../../src/detector/index.js';
import type { DetectorSnapshot } from '../../src/detector/contract.js';
import { generatedSeries } from './series.js';

type Row = { timestampMillis: number; value: number };
const fiveMinutes = 300_000;
const start = Date.UTC(2024, 0, 1);

/** Deterministic uniform(0, 1) stream (mulberry32). */
function uniforms(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussians(seed: number): () => number {
  const u = uniforms(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

function poisson(mean: number, u: () => number): number {
  // Knuth's method: fine for the small means used here.
  const limit = Math.exp(-mean);
  let k = 0;
  let p = u();
  while (p > limit) {
    k += 1;
    p *= u();
  }
  return k;
}

function scores(rows: readonly Row[]): number[] {
  const detector = createDetector({ algorithm: 'ensemble' });
  return rows.map((r) => detector.update(r.timestampMillis, r.value).score);
}

/** Rows where the score first reaches `threshold` after being below it. */
function onsets(values: readonly number[], threshold: number, from = 0): number[] {
  const out: number[] = [];
  for (let i = Math.max(1, from); i < values.length; i += 1) if ((values[i] as number) >= threshold && (values[i - 1] as number) < threshold) out.push(i);
  return out;
}

function noisyDaily(length: number, seed: number): Row[] {
  const n = gaussians(seed);
  return Array.from({ length }, (_, i) => ({ timestampMillis: start + i * fiveMinutes, value: 40 + 8 * Math.sin((2 * Math.PI * i) / 288) + 2 * n() }));
}

describe('ensemble detector', () => {
  it('is causal and deterministic: a prefix scores the same as the whole, and two runs agree', () => {
    const rows = noisyDaily(3000, 1);
    const whole = scores(rows);
    expect(scores(rows.slice(0, 1700))).toEqual(whole.slice(0, 1700));
    expect(scores(rows)).toEqual(whole);
    for (const s of whole) {
      expect(Number.isNaN(s)).toBe(false);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1);
    }
  });

  it('does not depend on scale or offset: value × 10⁶ + 10⁹ gives the same scores', () => {
    const rows = noisyDaily(2500, 2);
    rows[2000] = { timestampMillis: (rows[2000] as Row).timestampMillis, value: 90 };
    const base = scores(rows);
    const scaled = scores(rows.map((r) => ({ timestampMillis: r.timestampMillis, value: r.value * 1e6 + 1e9 })));
    for (let i = 0; i < base.length; i += 1) expect(scaled[i]).toBeCloseTo(base[i] as number, 6);
    // The spike itself is found, so the equality above is not two flat lines.
    expect(Math.max(...base.slice(2000, 2010))).toBeGreaterThanOrEqual(0.5);
  });

  it('finds a spike in an hourly seasonal series and gives an expected range around normal rows', () => {
    const rows = generatedSeries(600, 500);
    const detector = createDetector({ algorithm: 'ensemble' });
    const out = rows.map((r) => detector.update(r.timestampMillis, r.value));
    const spike = out[500]?.score ?? 0;
    expect(spike).toBeGreaterThanOrEqual(0.5);
    expect(spike).toBeGreaterThan(Math.max(...out.slice(200, 500).map((o) => o.score)));
    const normal = out[499];
    expect(normal?.expectedLow).not.toBeNull();
    expect((normal?.expectedLow ?? 0) <= (rows[499] as Row).value && (rows[499] as Row).value <= (normal?.expectedHigh ?? 0)).toBe(true);
  });

  it('raises few alarms on steady Poisson counts and on a steady counter rate (bursty integers)', () => {
    const days = 30;
    const u = uniforms(3);
    const counts = Array.from({ length: days * 288 }, (_, i) => ({ timestampMillis: start + i * fiveMinutes, value: poisson(1.5, u) }));
    const countScores = scores(counts);
    // Alarm onsets at score ≥ 0.5 (tail ≈ 10⁻⁵ per detector mean) after the first day.
    expect(onsets(countScores, 0.5, 288).length / (days - 1)).toBeLessThanOrEqual(0.2);
    const n = gaussians(4);
    let counter = 0;
    const rate = Array.from({ length: days * 288 }, (_, i) => {
      const before = counter;
      counter += Math.max(0, Math.round(1000 + 30 * n()));
      return { timestampMillis: start + i * fiveMinutes, value: counter - before };
    });
    expect(onsets(scores(rate), 0.5, 288).length / (days - 1)).toBeLessThanOrEqual(0.2);
  });

  it('turns a persistent level shift into one alarm episode, not a stream', () => {
    const n = gaussians(5);
    const rows = Array.from({ length: 5000 }, (_, i) => ({ timestampMillis: start + i * fiveMinutes, value: (i >= 2500 ? 30 : 10) + n() }));
    const out = scores(rows);
    expect(onsets(out, 0.5, 300).filter((i) => i < 2500)).toEqual([]);
    const after = onsets(out, 0.5, 2500);
    expect(after.length).toBe(1);
    expect(after[0]).toBeLessThan(2510);
    // The episode ends within a few averaging windows once the baseline moved.
    const high = out.slice(2500).filter((s) => s >= 0.5).length;
    expect(high).toBeLessThan(60);
  });

  it('copes with short irregular series: gaps scale the differences, scores stay finite', () => {
    const u = uniforms(6);
    let t = start;
    const rows: Row[] = [];
    for (let i = 0; i < 400; i += 1) {
      // Irregular sampling: 1 to 20 minutes, sometimes a 6-hour gap.
      t += (i % 97 === 0 ? 360 : 1 + Math.floor(u() * 20)) * 60_000;
      rows.push({ timestampMillis: t, value: 100 + 5 * (u() - 0.5) + (i === 350 ? 60 : 0) });
    }
    const out = scores(rows);
    // The spike row and the drop back after it (two surprising differences in the likelihood's
    // 10-row average) are the only rows that score; elsewhere, gaps included, nothing does.
    expect(Math.max(out[350] ?? 0, out[351] ?? 0)).toBeGreaterThanOrEqual(0.5);
    expect(out[350]).toBeGreaterThan(0.3);
    expect(Math.max(...out.slice(120).filter((_, i) => i + 120 !== 350 && i + 120 !== 351))).toBeLessThan(0.3);
    for (const s of out) expect(Number.isFinite(s)).toBe(true);
  });

  it('continues exactly after snapshot → JSON → restore, with a snapshot under 100 KB', () => {
    const rows = noisyDaily(4000, 7);
    rows[3500] = { timestampMillis: (rows[3500] as Row).timestampMillis, value: 120 };
    const whole = scores(rows);
    const first = createDetector({ algorithm: 'ensemble' });
    for (const r of rows.slice(0, 2000)) first.update(r.timestampMillis, r.value);
    const json = JSON.stringify(first.snapshot());
    expect(json.length).toBeLessThan(100_000);
    const restored = restoreDetector(JSON.parse(json) as DetectorSnapshot);
    expect(restored.modelVersion).toBe('ensemble');
    expect(restored.trainingRequest()).toBeNull();
    const rest = rows.slice(2000).map((r) => restored.update(r.timestampMillis, r.value).score);
    expect(rest).toEqual(whole.slice(2000));
  });

  it('restores a snapshot written before the algorithm option existed as the legacy detector', () => {
    const legacy = createDetector({ algorithm: 'legacy', useModel: false });
    for (const r of noisyDaily(300, 9)) legacy.update(r.timestampMillis, r.value);
    const old = JSON.parse(JSON.stringify(legacy.snapshot())) as DetectorSnapshot;
    delete old.options.algorithm;
    const restored = restoreDetector(old);
    expect(restored.modelVersion).toBe('stats');
    expect(restored.snapshot().options.algorithm).toBe('legacy');
  });

  it('switches a count series to the raw scale at the first non-integer without losing causality', () => {
    const u = uniforms(8);
    const rows = Array.from({ length: 1500 }, (_, i) => ({ timestampMillis: start + i * fiveMinutes, value: i < 1000 ? poisson(4, u) : poisson(4, u) + 0.5 }));
    const whole = scores(rows);
    expect(scores(rows.slice(0, 1000))).toEqual(whole.slice(0, 1000));
    for (const s of whole) expect(Number.isFinite(s)).toBe(true);
  });
});
