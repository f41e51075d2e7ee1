/**
 * `spatialRank` (rule X): the spatial test fires on a value outside "the range seen so far". With the plain extremes
 * (1, the default) one garbage value — 1e6 in a series of ~100 — widens that range for the rest of the series, so a
 * later real excursion (300) is never outside it again. With 2 the range runs between the second-smallest and the
 * second-largest values seen: an extreme counts once it has been seen more than once, and an isolated one is forgotten.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DetectorSnapshot } from '../../src/detector/contract.js';
import { applyTuningOverrides, createDetector, restoreDetector, tuning } from '../../src/detector/index.js';
import { restoredAndUninterrupted } from './series.js';

const fiveMinutes = 300_000;
const start = Date.UTC(2024, 0, 1);
const ranked = JSON.stringify({ spatialRank: 2 });

/** Noise in [97, 103] every 5 minutes (deterministic), with the given values at the given rows. */
function series(at: Readonly<Record<number, number>>, length = 1600): Array<{ t: number; v: number }> {
  let seed = 11;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  return Array.from({ length }, (_, i) => ({ t: start + i * fiveMinutes, v: at[i] ?? 97 + 6 * random() }));
}

function scores(rows: ReadonlyArray<{ t: number; v: number }>): number[] {
  const detector = createDetector({ useModel: false });
  return rows.map((r) => detector.update(r.t, r.v).score);
}

// Garbage at row 300 (its suppression ends at row 600), a real excursion at 1000, the same excursion again at 1400.
const garbage = series({ 300: 1e6, 1000: 300, 1400: 300 });

describe('spatialRank', () => {
  afterEach(() => applyTuningOverrides(undefined));

  it('is 1 by default: after one garbage value the 300 is inside the range seen so far and scores low (the bug)', () => {
    expect(tuning.spatialRank).toBe(1);
    const s = scores(garbage);
    expect(s[300]).toBeGreaterThan(0.5);
    expect(s[1000]).toBeLessThan(0.5);
  });

  it('with 2, the isolated 1e6 is forgotten: the 300 fires, and once seen it is part of the range', () => {
    applyTuningOverrides(ranked);
    const s = scores(garbage);
    expect(s[300]).toBeGreaterThan(0.5);
    // 0.667: the spatial test's surprise (20 / (20 + 10)).
    expect(s[1000]).toBeGreaterThan(0.5);
    expect(s[1400]).toBeLessThan(0.5);
    // Ordinary values between the garbage and the excursion fire nothing.
    expect(Math.max(...s.slice(601, 1000))).toBeLessThan(0.5);
  });

  it('with 2, forgets an isolated extreme below the range as well', () => {
    applyTuningOverrides(ranked);
    const s = scores(series({ 300: -1e6, 1000: -100 }));
    expect(s[1000]).toBeGreaterThan(0.5);
  });

  it('with 2, an extreme seen twice counts: a second 1e6 keeps the 300 inside the range', () => {
    applyTuningOverrides(ranked);
    const s = scores(series({ 300: 1e6, 620: 1e6, 1000: 300 }));
    expect(s[1000]).toBeLessThan(0.5);
  });

  it('with 2, is causal: the scores of a prefix do not change when the rest of the series is removed', () => {
    applyTuningOverrides(ranked);
    const whole = scores(garbage);
    expect(scores(garbage.slice(0, 1001))).toEqual(whole.slice(0, 1001));
  });

  it('with 2, round-trips through a JSON snapshot between the garbage and the excursion with identical outputs', () => {
    applyTuningOverrides(ranked);
    const { restored: outputs, uninterrupted, json } = restoredAndUninterrupted(garbage, 700);
    expect(json.length).toBeLessThan(100_000);
    expect(outputs).toEqual(uninterrupted);
    expect(outputs[300]?.score).toBeGreaterThan(0.5);
  });

  it('a snapshot taken without it restores under it with the range it had (its extremes taken as confirmed)', () => {
    const first = createDetector({ useModel: false });
    for (const r of garbage.slice(0, 700)) first.update(r.t, r.v);
    const snapshot = JSON.parse(JSON.stringify(first.snapshot())) as DetectorSnapshot;
    expect(snapshot.state.highs).toBeUndefined();
    applyTuningOverrides(ranked);
    const restored = restoreDetector(snapshot);
    const s = garbage.slice(700).map((r) => restored.update(r.t, r.v).score);
    expect(s.every((x) => Number.isFinite(x) && x >= 0 && x <= 1)).toBe(true);
    // The old 1e6 counts as seen twice: the restored detector does not start firing on ordinary values, and the
    // 300 stays blinded as it was before the option (a fresh series with the option on forgets it).
    expect(Math.max(...s.slice(0, 300))).toBeLessThan(0.5);
    expect(s[300]).toBeLessThan(0.5);
  });
});
