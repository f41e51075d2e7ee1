/**
 * `grossHold` (rule Y): a gross extreme — beyond the range seen so far by more than `escapeSpan` times that range —
 * does not teach. With the default (0) one garbage value, 1e6 in a series of ~100, widens the spatial test's range and
 * the predictors' error scales for weeks, so a later real excursion (300) scores low. With 1 the garbage is held out of
 * the range until a second gross value confirms it, and its errors enter the error scales clipped at the `maxZ` cap.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DetectorSnapshot } from '../../src/detector/contract.js';
import { applyTuningOverrides, createDetector, restoreDetector, tuning } from '../../src/detector/index.js';
import { restoredAndUninterrupted } from './series.js';

const fiveMinutes = 300_000;
const start = Date.UTC(2024, 0, 1);
const holding = JSON.stringify({ grossHold: 1 });

type Row = { t: number; v: number };

/** Noise in [97, 103] every 5 minutes (deterministic), with the given values at the given rows. */
function series(at: Readonly<Record<number, number>>, length = 1200): Row[] {
  let seed = 11;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  return Array.from({ length }, (_, i) => ({ t: start + i * fiveMinutes, v: at[i] ?? 97 + 6 * random() }));
}

function scores(rows: readonly Row[]): number[] {
  const detector = createDetector({ useModel: false });
  return rows.map((r) => detector.update(r.t, r.v).score);
}

/** The detector's state after `rows` (snapshots are plain data). */
function stateAfter(rows: readonly Row[]): Record<string, unknown> {
  const detector = createDetector({ useModel: false });
  for (const r of rows) detector.update(r.t, r.v);
  return detector.snapshot().state;
}

// Garbage at row 300 (it fires; its suppression ends at row 600), a real excursion at row 1000.
const garbage = series({ 300: 1e6, 1000: 300 });

describe('grossHold', () => {
  afterEach(() => applyTuningOverrides(undefined));

  it('is 0 by default: after one garbage value the 300 scores low and the error scales are in the thousands (the bug)', () => {
    expect(tuning.grossHold).toBe(0);
    const s = scores(garbage);
    expect(s[300]).toBeGreaterThan(0.5);
    expect(s[1000]).toBeLessThan(0.5);
    expect(Math.min(...(stateAfter(garbage.slice(0, 700)).errorScale as number[]).slice(0, 3))).toBeGreaterThan(1000);
  });

  it('with 1, the 1e6 fires but does not teach: the range and error scales stay, and the 300 fires', () => {
    applyTuningOverrides(holding);
    const s = scores(garbage);
    expect(s[300]).toBeGreaterThan(0.5);
    expect(s[1000]).toBeGreaterThan(0.5);
    // Ordinary values between the garbage and the excursion fire nothing.
    expect(Math.max(...s.slice(601, 1000))).toBeLessThan(0.5);
    const state = stateAfter(garbage.slice(0, 700));
    expect(state.max).toBeLessThan(104);
    expect(state.pendingHigh).toBe(1e6);
    // Mean absolute errors of the previous value, the level and the day-back value: ~2 before the garbage.
    expect(Math.max(...(state.errorScale as number[]).slice(0, 3))).toBeLessThan(10);
  });

  it('with 1, holds a gross value below the range as well', () => {
    applyTuningOverrides(holding);
    const rows = series({ 300: -1e6, 1000: -100 });
    expect(scores(rows)[1000]).toBeGreaterThan(0.5);
    expect(stateAfter(rows.slice(0, 700)).min).toBeGreaterThan(96);
  });

  it('with 1, a second gross value on the same side confirms the first: the range takes in both', () => {
    applyTuningOverrides(holding);
    const rows = series({ 300: 1e6, 650: 2e5, 1000: 300 });
    const before = stateAfter(rows.slice(0, 651));
    expect(before.max).toBe(1e6);
    expect(before.min).toBeGreaterThan(96);
    expect(before.pendingHigh).toBeUndefined();
    const s = scores(rows);
    expect(s[650]).toBeGreaterThan(0.5);
    // The 300 is inside the confirmed range: no spatial firing.
    expect(s[1000]).toBeLessThan(0.5);
  });

  it('with 1, is causal: the scores of a prefix do not change when the rest of the series is removed', () => {
    applyTuningOverrides(holding);
    const rows = series({ 300: 1e6, 700: 5e5, 900: -1e6, 1000: 300 });
    const whole = scores(rows);
    for (const end of [301, 701, 1001]) expect(scores(rows.slice(0, end))).toEqual(whole.slice(0, end));
  });

  it('with 1, round-trips through a JSON snapshot while a value is held, with identical outputs', () => {
    applyTuningOverrides(holding);
    const { restored: outputs, uninterrupted, json } = restoredAndUninterrupted(garbage, 700);
    expect((JSON.parse(json) as DetectorSnapshot).state.pendingHigh).toBe(1e6);
    expect(outputs).toEqual(uninterrupted);
    expect(outputs[300]?.score).toBeGreaterThan(0.5);
  });

  it('a snapshot taken without it restores under it and goes on scoring', () => {
    const first = createDetector({ useModel: false });
    for (const r of garbage.slice(0, 200)) first.update(r.t, r.v);
    const snapshot = JSON.parse(JSON.stringify(first.snapshot())) as DetectorSnapshot;
    expect(snapshot.state.pendingHigh).toBeUndefined();
    applyTuningOverrides(holding);
    const restored = restoreDetector(snapshot);
    const s = garbage.slice(200).map((r) => restored.update(r.t, r.v).score);
    expect(s).toEqual(scores(garbage).slice(200));
  });

  it('with 1, ordinary values and ordinary new extremes score exactly as with 0', () => {
    // A daily cycle on a rising trend (new maxima every day) with a spike of less than the range above it.
    let seed = 3;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      t: start + i * fiveMinutes,
      v: 50 + 20 * Math.sin((2 * Math.PI * i) / 288) + 0.01 * i + 2 * (random() - 0.5) + (i === 2500 ? 30 : 0),
    }));
    const plain = scores(rows);
    applyTuningOverrides(holding);
    const held = scores(rows);
    expect(held).toEqual(plain);
    // Something fired, and the held state never came into play.
    expect(Math.max(...plain)).toBeGreaterThan(0.5);
    expect(stateAfter(rows).pendingHigh).toBeUndefined();
  });
});
