import { afterEach, describe, expect, it } from 'vitest';
import { applyTuningOverrides, createDetector, restoreDetector } from '../../src/detector/index.js';

const dayMillis = 86_400_000;

/**
 * Irregularly sampled (3 or 7 minutes apart, so the median interval is not the typical one; about
 * one gap of 1–3 hours a day), about 10, with a daily blip to 100 at exactly 12:00. Only the value
 * at the same time yesterday explains the blip; a day's worth of rows back lands at another time.
 */
function irregularDailyBlips(days: number): Array<{ timestampMillis: number; value: number; blip: boolean }> {
  let seed = 11;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const rows: Array<{ timestampMillis: number; value: number; blip: boolean }> = [];
  const start = Date.UTC(2024, 0, 1);
  let t = start;
  for (let day = 0; day < days; day += 1) {
    const noon = start + day * dayMillis + 12 * 3_600_000;
    const end = start + (day + 1) * dayMillis;
    let noonDone = false;
    while (t < end) {
      if (!noonDone && t >= noon) {
        if (t > noon) rows.push({ timestampMillis: noon, value: 100, blip: true });
        noonDone = true;
      }
      const blip = t === noon;
      rows.push({ timestampMillis: t, value: blip ? 100 : 10 + 0.1 * (random() - 0.5), blip });
      t += random() < 0.5 ? 180_000 : 420_000;
      if (random() < 1 / 280) t += Math.round(3_600_000 * (1 + 2 * random()));
    }
  }
  return rows;
}

/** Expected ranges at the blips after day 3: how many contain the blip's value. */
function blipsExpected(rows: ReturnType<typeof irregularDailyBlips>): { blips: number; expected: number } {
  const detector = createDetector({ useModel: false });
  let blips = 0;
  let expected = 0;
  for (const r of rows) {
    const out = detector.update(r.timestampMillis, r.value);
    if (!r.blip || r.timestampMillis < rows[0]!.timestampMillis + 3 * dayMillis) continue;
    blips += 1;
    if ((out.expectedLow ?? Number.NaN) <= 100 && 100 <= (out.expectedHigh ?? Number.NaN)) expected += 1;
  }
  return { blips, expected };
}

describe('day and week lags by timestamp', () => {
  afterEach(() => applyTuningOverrides(undefined));

  it('an irregular series keeps its daily pattern explained by the same time yesterday (row-based lags lose it)', () => {
    const rows = irregularDailyBlips(12);
    applyTuningOverrides(JSON.stringify({ timeLags: 1 }));
    const byTime = blipsExpected(rows);
    expect(byTime.blips).toBe(9);
    expect(byTime.expected).toBe(9);
    applyTuningOverrides(JSON.stringify({ timeLags: 0 }));
    const byRows = blipsExpected(rows);
    expect(byRows.expected).toBeLessThanOrEqual(2);
  });

  it('a snapshot carries the row timestamps only when time-based lags read them, and a restored detector scores on unchanged', () => {
    const rows = irregularDailyBlips(6);
    const half = Math.floor(rows.length / 2);
    for (const timeLags of [1, 0]) {
      applyTuningOverrides(JSON.stringify({ timeLags }));
      const whole = createDetector({ useModel: false });
      const expected = rows.map((r) => whole.update(r.timestampMillis, r.value).score);
      const first = createDetector({ useModel: false });
      for (const r of rows.slice(0, half)) first.update(r.timestampMillis, r.value);
      const snapshot = JSON.parse(JSON.stringify(first.snapshot())) as ReturnType<typeof first.snapshot>;
      expect('times' in snapshot.state).toBe(timeLags === 1);
      const restored = restoreDetector(snapshot);
      expect(rows.slice(half).map((r) => restored.update(r.timestampMillis, r.value).score)).toEqual(expected.slice(half));
    }
  });
});
