import { describe, expect, it } from 'vitest';
import { categoryOf, crossValidateNab, falseAlarmRates, leaveOneCategoryOut, nabProfiles, scoreNabProfile, scoreWithThreshold, type NabFile } from '../../src/nab/index.js';

const minute = 60_000;

/** A 100-row file with one window at rows 60..69 (or none); `detectAt` rows get score 1, others `base`. */
function file(name: string, withWindow: boolean, detectAt: number[], base = 0): NabFile {
  const timestampsMillis = Array.from({ length: 100 }, (_, i) => Date.UTC(2024, 0, 1) + i * minute);
  const anomalyScores = timestampsMillis.map((_, i) => (detectAt.includes(i) ? 1 : base));
  const windows: Array<[number, number]> = withWindow ? [[timestampsMillis[60] as number, timestampsMillis[69] as number]] : [];
  return { name, timestampsMillis, anomalyScores, windows };
}

describe('leave-one-category-out splitter', () => {
  const names = ['b/x.csv', 'a/1.csv', 'c/q.csv', 'a/2.csv', 'b/y.csv', 'd/only.csv'];

  it('never puts a file of the held-out category into its training set, and covers every file once', () => {
    const folds = leaveOneCategoryOut(names);
    expect(folds.map((f) => f.category)).toEqual(['a', 'b', 'c', 'd']);
    for (const fold of folds) {
      expect(fold.test.length).toBeGreaterThan(0);
      expect(fold.test.every((n) => categoryOf(n) === fold.category)).toBe(true);
      expect(fold.train.some((n) => categoryOf(n) === fold.category)).toBe(false);
      expect([...fold.train, ...fold.test].sort()).toEqual([...names].sort());
    }
    expect(folds.flatMap((f) => f.test).sort()).toEqual([...names].sort());
  });

  it('rejects a single category and names without a category folder', () => {
    expect(() => leaveOneCategoryOut(['a/1.csv', 'a/2.csv'])).toThrow(/at least 2 categories/);
    expect(() => categoryOf('loose.csv')).toThrow(/no category folder/);
  });
});

describe('NAB cross-validation', () => {
  it('chooses the candidate on the training categories only, never on the held-out one', () => {
    // "early" detects every window at its first row; "late" fires only after the windows (false
    // positives) — except in category c, where "late" is perfect and "early" misses. Whatever is best
    // on c must not be chosen for the fold that holds c out, and vice versa.
    const cats = ['a', 'b', 'c'];
    const early = new Map(cats.map((c) => [`${c}/f.csv`, file(`${c}/f.csv`, true, c === 'c' ? [] : [60])]));
    const late = new Map(cats.map((c) => [`${c}/f.csv`, file(`${c}/f.csv`, true, c === 'c' ? [60] : [80])]));
    const result = crossValidateNab([
      { name: 'early', files: early },
      { name: 'late', files: late },
    ]);
    const standard = result.profiles[0];
    expect(standard?.folds.map((f) => [f.category, f.chosen])).toEqual([
      ['a', 'early'],
      ['b', 'early'],
      ['c', 'early'],
    ]);
    // Held out, c is scored with "early", which misses its window: normalised score 0 there.
    const c = standard?.folds[2];
    expect(c?.heldOut.normalizedScore).toBeCloseTo(0, 10);
    expect(result.outOfFold.map((f) => f.name)).toEqual(['a/f.csv', 'b/f.csv', 'c/f.csv']);
  });

  it('applies the training threshold to the held-out files instead of sweeping them', () => {
    // Scores 0.5 inside the window: a threshold of 0.9 (from elsewhere) misses, a sweep would catch it.
    const f = file('a/f.csv', true, [], 0);
    const scores = f.anomalyScores.map((s, i) => (i === 62 ? 0.5 : s));
    const held = { ...f, anomalyScores: scores };
    const standard = nabProfiles[0]!;
    expect(scoreWithThreshold([held], standard, 0.9).normalizedScore).toBeCloseTo(0, 10);
    expect(scoreWithThreshold([held], standard, 0.5).normalizedScore).toBeGreaterThan(80);
    expect(scoreNabProfile([held], standard).normalizedScore).toBeGreaterThan(80);
    // A category without windows has no normalised score, only its raw (false-positive) score.
    const quiet = scoreWithThreshold([file('q/f.csv', false, [50])], standard, 0.9);
    expect(Number.isNaN(quiet.normalizedScore)).toBe(true);
    expect(quiet.fp).toBe(1);
    expect(quiet.rawScore).toBeCloseTo(-standard.fpWeight, 10);
  });

  it('counts false-alarm onsets outside windows per series-day', () => {
    // 100 one-minute rows, probation 15 rows; two separate alarms (rows 20 and 30..32), one inside the window.
    const f = file('a/f.csv', true, [20, 30, 31, 32, 61]);
    const [rate] = falseAlarmRates([f], [0.5]);
    expect(rate?.onsets).toBe(2);
    // Quiet time: rows 15..59 (the window and the day after it are excluded) = 45 one-minute steps.
    expect(rate?.seriesDays).toBeCloseTo(45 / 1440, 10);
    expect(rate?.perSeriesDay).toBeCloseTo(2 / (45 / 1440), 6);
  });
});
