/**
 * `rearmRows` (tuning; 0 by default): after a firing, alarms are suppressed for `suppressRows` rows unless, with
 * `rearmRows` > 0, that many calm rows in a row end the suppression early, so a second, separate incident is seen.
 * `suppressMaxMillis` (rule S, the default since rule S2): the suppression lasts at most that long in the series' own time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { applyTuningOverrides, createDetector, restoreDetector } from '../../src/detector/index.js';
import { suppressionRows } from '../../src/detector/series-detector.js';

const hour = 3_600_000;
const start = Date.UTC(2024, 0, 1);

/** Noise around 100 every `stepMillis` (hourly by default) with spikes at the given rows (deterministic). */
function series(spikes: readonly number[], stepMillis = hour): Array<{ t: number; v: number }> {
  let seed = 11;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  return Array.from({ length: 700 }, (_, i) => ({ t: start + i * stepMillis, v: 100 + 4 * (random() - 0.5) + (spikes.includes(i) ? 80 : 0) }));
}

function scores(rows: ReadonlyArray<{ t: number; v: number }>): number[] {
  const detector = createDetector({ useModel: false });
  return rows.map((r) => detector.update(r.t, r.v).score);
}

describe('rearmRows', () => {
  // At 5-minute steps, where the suppression is its whole 300 rows (hourly it is capped at 25 h: suppressMaxMillis).
  const fiveMinutes = 300_000;
  afterEach(() => applyTuningOverrides(undefined));
  const rows = series([400, 480], fiveMinutes);

  it('is off by default: the second spike, 80 rows after the first, falls in the 300-row suppression', () => {
    const s = scores(rows);
    expect(s[400]).toBeGreaterThan(0.5);
    expect(Math.max(...s.slice(470, 490))).toBe(0);
  });

  it('with 12, the calm after the first spike re-arms the detector and the second spike scores', () => {
    applyTuningOverrides(JSON.stringify({ rearmRows: 12 }));
    const s = scores(rows);
    expect(s[400]).toBeGreaterThan(0.5);
    expect(Math.max(...s.slice(478, 490))).toBeGreaterThan(0.5);
    // An incident that goes on (a level that stays up) is not calm: it keeps the whole suppression.
    const shifted = series([], fiveMinutes).map((r, i) => ({ t: r.t, v: r.v + (i >= 400 ? 80 : 0) }));
    const sh = scores(shifted);
    expect(Math.max(...sh.slice(400, 410))).toBeGreaterThan(0.5);
    expect(sh.slice(411, 420).every((x) => x === 0)).toBe(true);
  });

  it('survives a snapshot mid-suppression (calm count included)', () => {
    applyTuningOverrides(JSON.stringify({ rearmRows: 12 }));
    // Where the calm after the spike at 400 re-arms the detector (its state's suppressLeft drops to 0 early).
    const probe = createDetector({ useModel: false });
    const left = series([400], fiveMinutes).map((r) => (probe.update(r.t, r.v), (probe.snapshot().state as { suppressLeft: number }).suppressLeft));
    const rearmed = left.findIndex((l, i) => i > 400 && l === 0);
    expect(rearmed).toBeGreaterThan(412);
    expect(rearmed).toBeLessThan(400 + 300);
    // A second spike the row after: seen only if the calm rows counted before a snapshot survive it.
    const twice = series([400, rearmed + 1], fiveMinutes);
    const whole = scores(twice);
    expect(whole[rearmed + 1]).toBeGreaterThan(0.5);
    const split = rearmed - 3;
    const first = createDetector({ useModel: false });
    const head = twice.slice(0, split).map((r) => first.update(r.t, r.v).score);
    expect((first.snapshot().state as { calmRows?: number }).calmRows).toBeGreaterThan(0);
    const second = restoreDetector(JSON.parse(JSON.stringify(first.snapshot())));
    const tail = twice.slice(split).map((r) => second.update(r.t, r.v).score);
    expect([...head, ...tail]).toEqual(whole);
  });
});

describe('suppressMaxMillis (rules S and S2; the default since S2)', () => {
  afterEach(() => applyTuningOverrides(undefined));
  const off = JSON.stringify({ suppressMaxMillis: 0 });

  it('caps the suppression in time by default: 25 rows at hourly steps, 300 rows at 5 minutes or faster, 300 when off', () => {
    expect(suppressionRows(hour)).toBe(25);
    expect(suppressionRows(600_000)).toBe(150);
    for (const step of [300_000, 60_000, 10_000, 1_000]) expect(suppressionRows(step)).toBe(300);
    expect(suppressionRows(null)).toBe(300);
    applyTuningOverrides(off);
    expect(suppressionRows(hour)).toBe(300);
  });

  it('lets an hourly series alarm again 80 rows after a firing, and leaves a 5-minute series unchanged', () => {
    const hourly = series([400, 480]);
    const fiveMinutes = series([400, 480], 300_000);
    const s = scores(hourly);
    const before = scores(fiveMinutes);
    expect(s[400]).toBeGreaterThan(0.5);
    expect(Math.max(...s.slice(478, 490))).toBeGreaterThan(0.5);
    applyTuningOverrides(off);
    expect(Math.max(...scores(hourly).slice(470, 490))).toBe(0);
    // At 5-minute steps 300 rows are the 25 h cap itself: every score is the same.
    expect(scores(fiveMinutes)).toEqual(before);
    expect(Math.max(...before.slice(470, 490))).toBe(0);
  });
});
