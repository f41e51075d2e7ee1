/**
 * `rearmRows` (tuning; 0 by default): after a firing, alarms are suppressed for `suppressRows` rows unless, with
 * `rearmRows` > 0, that many calm rows in a row end the suppression early, so a second, separate incident is seen.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { applyTuningOverrides, createDetector, restoreDetector } from '../../src/detector/index.js';

const hour = 3_600_000;
const start = Date.UTC(2024, 0, 1);

/** Hourly noise around 100 with spikes at the given rows (deterministic). */
function series(spikes: readonly number[]): Array<{ t: number; v: number }> {
  let seed = 11;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  return Array.from({ length: 700 }, (_, i) => ({ t: start + i * hour, v: 100 + 4 * (random() - 0.5) + (spikes.includes(i) ? 80 : 0) }));
}

function scores(rows: ReadonlyArray<{ t: number; v: number }>): number[] {
  const detector = createDetector({ useModel: false });
  return rows.map((r) => detector.update(r.t, r.v).score);
}

describe('rearmRows', () => {
  afterEach(() => applyTuningOverrides(undefined));
  const rows = series([400, 480]);

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
    const shifted = series([]).map((r, i) => ({ t: r.t, v: r.v + (i >= 400 ? 80 : 0) }));
    const sh = scores(shifted);
    expect(Math.max(...sh.slice(400, 410))).toBeGreaterThan(0.5);
    expect(sh.slice(411, 420).every((x) => x === 0)).toBe(true);
  });

  it('survives a snapshot mid-suppression (calm count included)', () => {
    applyTuningOverrides(JSON.stringify({ rearmRows: 12 }));
    // Where the calm after the spike at 400 re-arms the detector (its state's suppressLeft drops to 0 early).
    const probe = createDetector({ useModel: false });
    const left = series([400]).map((r) => (probe.update(r.t, r.v), (probe.snapshot().state as { suppressLeft: number }).suppressLeft));
    const rearmed = left.findIndex((l, i) => i > 400 && l === 0);
    expect(rearmed).toBeGreaterThan(412);
    expect(rearmed).toBeLessThan(400 + 300);
    // A second spike the row after: seen only if the calm rows counted before a snapshot survive it.
    const twice = series([400, rearmed + 1]);
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
