import { afterEach, describe, expect, it } from 'vitest';
import { applyTuningOverrides, createDetector, principledTuning, tuning } from '../../src/detector/index.js';

afterEach(() => applyTuningOverrides(undefined));

/** Scores of a statistics-only detector over `values` at `intervalMillis`. */
function scores(values: readonly number[], intervalMillis: number): number[] {
  const detector = createDetector({ useModel: false });
  const start = Date.UTC(2024, 0, 1);
  return values.map((v, i) => detector.update(start + i * intervalMillis, v).score);
}

/** Quiet alternating series (period 2) with a level step of `step` at row `at`. */
function stepSeries(n: number, at: number, step: number): number[] {
  return Array.from({ length: n }, (_, i) => 100 + (i % 2 === 0 ? 1 : -1) + (i >= at ? step : 0));
}

describe('principled constants (issue 12: the searched values replaced by stated principles, an option)', () => {
  it('are all known constants and leave the defaults untouched once cleared', () => {
    const defaults = { ...tuning };
    applyTuningOverrides(JSON.stringify(principledTuning));
    for (const [k, v] of Object.entries(principledTuning)) expect(tuning[k as keyof typeof tuning]).toBe(v);
    expect(tuning.fireSurprise).toBeCloseTo(Math.log(1e5), 12);
    applyTuningOverrides(undefined);
    expect({ ...tuning }).toEqual(defaults);
  });

  it('suppressFactor 0 (the default) silences every row of the suppression after a firing; 0.1 only damps', () => {
    expect(tuning.suppressFactor).toBe(0);
    const values = stepSeries(1200, 700, 40);
    applyTuningOverrides(JSON.stringify({ suppressFactor: 0 }));
    const silenced = scores(values, 300_000);
    const fired = silenced.findIndex((s, i) => i >= 700 && s / (1 - s) * tuning.scoreHalf >= tuning.fireSurprise);
    expect(fired).toBeGreaterThanOrEqual(700);
    expect(silenced.slice(fired + 1, fired + 1 + tuning.suppressRows).every((s) => s === 0)).toBe(true);
    applyTuningOverrides(JSON.stringify({ suppressFactor: 0.1 }));
    const damped = scores(values, 300_000);
    expect(damped.slice(fired + 1, fired + 1 + tuning.suppressRows).some((s) => s > 0)).toBe(true);
  });

  it('levelDays makes the level an EW mean over one day of the series own sampling: at 5 minutes it forgets an old level more slowly than levelRate 0.03', () => {
    // One day at 5 minutes is a span of 288 rows against ~66 for levelRate 0.03: after a step the
    // level predictor stays wrong for longer, so more rows keep a raised score.
    const values = stepSeries(1500, 900, 10);
    const raised = (s: number[]): number => s.slice(900, 1200).filter((x) => x > 0.1).length;
    // Both with the fixed-rate level (the self-learned one ignores levelRate and levelDays).
    applyTuningOverrides(JSON.stringify({ levelLearn: 0, levelDays: 0, suppressRows: 0 }));
    const byRate = raised(scores(values, 300_000));
    applyTuningOverrides(JSON.stringify({ levelLearn: 0, levelDays: 1, suppressRows: 0 }));
    const byDay = raised(scores(values, 300_000));
    expect(byDay).toBeGreaterThan(byRate);
  });

  it('rarityShare scales the rarity test with the kept history instead of a fixed count', () => {
    // The same step, once with a count no kept history reaches (never common: no damping) and once
    // with a 2 % share: the share damps the common values, so the scores differ.
    const values = stepSeries(1200, 700, 3);
    applyTuningOverrides(JSON.stringify({ rarityCount: 1e9 }));
    const neverCommon = scores(values, 300_000);
    applyTuningOverrides(JSON.stringify({ rarityCount: 1e9, rarityShare: 0.02 }));
    const share = scores(values, 300_000);
    expect(share).not.toEqual(neverCommon);
    expect(share.reduce((a, b) => a + b, 0)).toBeLessThan(neverCommon.reduce((a, b) => a + b, 0));
  });
});
