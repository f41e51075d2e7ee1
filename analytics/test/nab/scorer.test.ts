import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nabProfiles, probationaryRows, readNabWindows, readResultsCorpus, scaledSigmoid, scoreNabCorpus } from '../../src/nab/index.js';

const fixture = fileURLToPath(new URL('../fixtures/nab-small/', import.meta.url));

describe('NAB scorer on a hand-made fixture', () => {
  it('implements the scaled sigmoid and the probationary period', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(1)).toBeCloseTo(-0.98661, 5);
    expect(scaledSigmoid(3.5)).toBe(-1);
    expect(probationaryRows(20)).toBe(3);
    expect(probationaryRows(4032)).toBe(604);
    expect(probationaryRows(22695)).toBe(750);
  });

  it('sweeps the threshold, scores and normalises the three profiles', async () => {
    const windows = await readNabWindows(`${fixture}windows.json`);
    const files = await readResultsCorpus(`${fixture}results`, windows);
    const [standard, lowFp, lowFn] = scoreNabCorpus(files, nabProfiles);

    // By hand: a.csv detects its 4-row window (rows 8..11) at row 9: position −(11−9+1)/4 = −0.75,
    // weighted S(−0.75)/S(−1). Its FP at row 15 lies |15−11|/(4−1) = 4/3 window after it: S(4/3)·A_FP.
    // Its FP at row 5 precedes every window: −A_FP. b.csv: row 1 is probationary (ignored), the FP at
    // row 6 precedes the window: −A_FP; the detection at row 14 of window 12..15: S(−0.5)/S(−1).
    const tpA = scaledSigmoid(-0.75) / scaledSigmoid(-1); // 0.96699
    const tpB = scaledSigmoid(-0.5) / scaledSigmoid(-1); // 0.85979
    const afterA = scaledSigmoid(4 / 3); // −0.99746
    // Lowering the threshold 0.9 → 0.8 → 0.7 → 0.6 only adds FPs; 0.5 catches b's window (+1.86),
    // and 0 floods with FPs; so the best threshold is 0.5 with both windows detected and 3 FPs.
    const raw = (fpWeight: number): number => tpA + tpB + afterA * fpWeight - 2 * fpWeight;

    expect(standard?.threshold).toBe(0.5);
    expect(standard?.rawScore).toBeCloseTo(raw(0.11), 10);
    expect(standard?.nullScore).toBe(-2);
    expect(standard?.perfectScore).toBe(2);
    expect(standard?.normalizedScore).toBeCloseTo(87.4265, 4);
    expect(standard?.counts).toEqual({ tp: 2, fp: 3, tn: 23, fn: 6 });

    expect(lowFp?.threshold).toBe(0.5);
    expect(lowFp?.rawScore).toBeCloseTo(raw(0.22), 10);
    expect(lowFp?.normalizedScore).toBeCloseTo(79.1835, 4);

    expect(lowFn?.nullScore).toBe(-4);
    expect(lowFn?.normalizedScore).toBeCloseTo((100 * (raw(0.11) + 4)) / 6, 10);
    expect(lowFn?.normalizedScore).toBeCloseTo(91.6177, 4);
  });

  it('names a labelled file that has no results', async () => {
    const windows = await readNabWindows(`${fixture}windows.json`);
    windows.set('cat/missing.csv', []);
    await expect(readResultsCorpus(`${fixture}results`, windows)).rejects.toThrow(/cat\/missing\.csv/);
  });
});
