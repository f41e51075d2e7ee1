import { describe, expect, it } from 'vitest';
import { nabProfiles, pairedBootstrap, pooledNabScore, scoreWithThreshold, type FileAtThreshold, type NabFile } from '../../src/nab/index.js';

const minute = 60_000;
const standard = nabProfiles[0]!;

/** A 100-row file with one window at rows 60..69 (or none); `detectAt` rows get score 1, the rest 0. */
function file(name: string, withWindow: boolean, detectAt: number[]): NabFile {
  const timestampsMillis = Array.from({ length: 100 }, (_, i) => Date.UTC(2024, 0, 1) + i * minute);
  const anomalyScores = timestampsMillis.map((_, i) => (detectAt.includes(i) ? 1 : 0));
  const windows: Array<[number, number]> = withWindow ? [[timestampsMillis[60] as number, timestampsMillis[69] as number]] : [];
  return { name, timestampsMillis, anomalyScores, windows };
}

/** `hits` of 20 files detect their window at its first row, the rest miss it; `falseAt` adds a false positive to every file. */
function corpus(hits: number, falseAt: number[] = []): FileAtThreshold[] {
  const files = Array.from({ length: 20 }, (_, i) => file(`c/f${i}.csv`, true, [...(i < hits ? [60] : []), ...falseAt]));
  return scoreWithThreshold(files, standard, 0.5).files;
}

describe('per-file NAB scores at a fixed threshold', () => {
  it('sum to the corpus figures, and their pooled score is the corpus score', () => {
    const files = [file('a/1.csv', true, [60, 30]), file('a/2.csv', true, []), file('b/3.csv', false, [40, 80])];
    const whole = scoreWithThreshold(files, standard, 0.5);
    expect(whole.files.map((f) => f.name)).toEqual(['a/1.csv', 'a/2.csv', 'b/3.csv']);
    expect(whole.files.reduce((n, f) => n + f.rawScore, 0)).toBeCloseTo(whole.rawScore, 12);
    expect(whole.files.reduce((n, f) => n + f.fp, 0)).toBe(whole.fp);
    expect(whole.files[1]).toMatchObject({ rawScore: -1, nullScore: -1, perfectScore: 1, fp: 0 });
    expect(pooledNabScore(whole.files)).toBeCloseTo(whole.normalizedScore, 12);
    expect(pooledNabScore([whole.files[2]!])).toBeNaN();
  });
});

describe('paired bootstrap over files', () => {
  it('gives a zero-width interval when candidate and baseline score alike', () => {
    const a = corpus(10);
    const r = pairedBootstrap(a, a.map((f) => ({ ...f })), { resamples: 500 });
    expect(r).toMatchObject({ files: 20, difference: 0, low: 0, high: 0, resamples: 500, level: 0.95 });
  });

  it('resolves a gain on many files and not a gain on one', () => {
    const base = corpus(8);
    const broad = pairedBootstrap(base, corpus(16), { resamples: 2000 });
    expect(broad.difference).toBeGreaterThan(30);
    expect(broad.low).toBeGreaterThan(0);
    expect(broad.low).toBeLessThanOrEqual(broad.difference);
    expect(broad.high).toBeGreaterThanOrEqual(broad.difference);
    const one = pairedBootstrap(base, corpus(9), { resamples: 2000 });
    expect(one.difference).toBeGreaterThan(0);
    expect(one.low).toBe(0); // most resamples hold the changed file at most once; some miss it
    const worse = pairedBootstrap(base, corpus(8, [20]), { resamples: 2000 });
    expect(worse.high).toBeLessThan(0);
  });

  it('is deterministic for a seed and pairs files by name, not by position', () => {
    const base = corpus(8);
    const cand = corpus(12);
    const again = pairedBootstrap(base, [...cand].reverse(), { resamples: 1000, seed: 7 });
    expect(pairedBootstrap(base, cand, { resamples: 1000, seed: 7 })).toEqual(again);
  });

  it('refuses different files, duplicates and bad settings, naming what was wrong', () => {
    const base = corpus(8);
    expect(() => pairedBootstrap(base, base.slice(1))).toThrow(/same files.*only in baseline: c\/f0\.csv/);
    expect(() => pairedBootstrap(base, [...base.slice(1), { ...base[1]! }])).toThrow(/once per variant/);
    expect(() => pairedBootstrap([], [])).toThrow(/at least one file/);
    expect(() => pairedBootstrap(base, base, { resamples: 0 })).toThrow(/resamples must be a positive integer/);
    expect(() => pairedBootstrap(base, base, { level: 1 })).toThrow(/level must be between 0 and 1/);
    const quiet = scoreWithThreshold([file('q/1.csv', false, [5])], standard, 0.5).files;
    expect(() => pairedBootstrap(quiet, quiet)).toThrow(/no resample held a labelled window/);
  });
});
