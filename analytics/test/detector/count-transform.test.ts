import { afterEach, describe, expect, it } from 'vitest';
import type { DetectorSnapshot, SeriesDetector } from '../../src/detector/contract.js';
import { applyTuningOverrides, createDetector, restoreDetector } from '../../src/detector/index.js';
import { generatedSeries } from './series.js';

/** Deterministic counts at 5 minutes: a daily rate from ~2 to ~200 with multiplicative noise, whole and ≥ 0. */
function dailyCounts(rows: number): Array<{ timestampMillis: number; value: number }> {
  let seed = 5;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const start = Date.UTC(2024, 0, 1);
  return Array.from({ length: rows }, (_, i) => {
    const rate = Math.exp(Math.log(2) + (Math.log(200) - Math.log(2)) * (0.5 + 0.5 * Math.sin((2 * Math.PI * i) / 288)));
    return { timestampMillis: start + i * 300_000, value: Math.round(rate * (0.7 + 0.6 * random())) };
  });
}

/** A detector that has seen the first `at` rows, and a JSON snapshot of another that saw the same rows. */
function twoDetectorsAt(rows: ReadonlyArray<{ timestampMillis: number; value: number }>, at: number): { whole: SeriesDetector; snapshot: DetectorSnapshot } {
  const whole = createDetector({ useModel: false });
  const first = createDetector({ useModel: false });
  for (const r of rows.slice(0, at)) {
    whole.update(r.timestampMillis, r.value);
    first.update(r.timestampMillis, r.value);
  }
  return { whole, snapshot: JSON.parse(JSON.stringify(first.snapshot())) as DetectorSnapshot };
}

function scores(rows: ReadonlyArray<{ timestampMillis: number; value: number }>): Array<{ score: number; low: number | null; high: number | null }> {
  const detector = createDetector({ useModel: false });
  return rows.map((r) => {
    const out = detector.update(r.timestampMillis, r.value);
    return { score: out.score, low: out.expectedLow, high: out.expectedHigh };
  });
}

describe('countTransform (counts scored on √ or ln(1 + v); an option, rule V)', () => {
  afterEach(() => applyTuningOverrides(undefined));

  it('leaves a series with fractions in its first 32 rows exactly as it scores raw', () => {
    const rows = generatedSeries(600);
    const raw = scores(rows);
    applyTuningOverrides(JSON.stringify({ countTransform: 2 }));
    expect(scores(rows)).toEqual(raw);
  });

  it('scores a count series on the log scale: other scores, and an expected range in raw units that widens with the level', () => {
    const rows = dailyCounts(2000);
    const raw = scores(rows);
    applyTuningOverrides(JSON.stringify({ countTransform: 2 }));
    const logged = scores(rows);
    expect(logged.slice(0, 32)).toEqual(raw.slice(0, 32));
    expect(logged.slice(200)).not.toEqual(raw.slice(200));
    // The range is mapped back to counts: around the daily peak (row 72 of each day) it is wider than at the trough (row 216).
    const width = (i: number): number => (logged[i]!.high as number) - (logged[i]!.low as number);
    expect(width(1800)).toBeGreaterThan(3 * width(1944));
    expect(logged[1800]!.low as number).toBeGreaterThan(0);
  });

  it('a restored detector keeps the scale it started on, whatever the setting at restore', () => {
    applyTuningOverrides(JSON.stringify({ countTransform: 2 }));
    const rows = dailyCounts(800);
    const { whole, snapshot } = twoDetectorsAt(rows, 400);
    applyTuningOverrides(undefined);
    const restored = restoreDetector(snapshot);
    applyTuningOverrides(JSON.stringify({ countTransform: 2 }));
    for (const r of rows.slice(400)) expect(restored.update(r.timestampMillis, r.value)).toEqual(whole.update(r.timestampMillis, r.value));
  });

  it('a snapshot taken without the transform goes on raw when restored under it (no change of scale mid-series)', () => {
    const rows = dailyCounts(800);
    const { whole, snapshot } = twoDetectorsAt(rows, 400);
    applyTuningOverrides(JSON.stringify({ countTransform: 2 }));
    const restored = restoreDetector(snapshot);
    applyTuningOverrides(undefined);
    const rawRest = rows.slice(400).map((r) => whole.update(r.timestampMillis, r.value));
    applyTuningOverrides(JSON.stringify({ countTransform: 2 }));
    expect(rows.slice(400).map((r) => restored.update(r.timestampMillis, r.value))).toEqual(rawRest);
  });

  it('a count near the largest number keeps a finite expected range', () => {
    applyTuningOverrides(JSON.stringify({ countTransform: 2 }));
    const detector = createDetector({ useModel: false });
    const start = Date.UTC(2024, 0, 1);
    let out = detector.update(start, 0);
    for (let i = 1; i < 300; i += 1) out = detector.update(start + i * 60_000, i % 2 === 0 ? 0 : Number.MAX_VALUE);
    expect(Number.isFinite(out.expectedHigh)).toBe(true);
    expect(Number.isFinite(out.score)).toBe(true);
  });
});
