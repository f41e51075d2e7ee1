/**
 * `escapeSpan` (rule W, 1 by default): a firing damps the next `suppressRows` rows (one alarm per incident), but a
 * value beyond the range seen so far by more than `escapeSpan` times that range is not damped: an alarm, even a false
 * one, never hides a gross extreme that follows it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { applyTuningOverrides, createDetector, tuning } from '../../src/detector/index.js';

const fiveMinutes = 300_000;
const start = Date.UTC(2024, 0, 1);

/** Noise in [97, 103] every 5 minutes (deterministic), with the given values at the given rows. */
function series(at: Readonly<Record<number, number>>): Array<{ t: number; v: number }> {
  let seed = 7;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  return Array.from({ length: 700 }, (_, i) => ({ t: start + i * fiveMinutes, v: at[i] ?? 97 + 6 * random() }));
}

function scores(rows: ReadonlyArray<{ t: number; v: number }>): number[] {
  const detector = createDetector({ useModel: false });
  return rows.map((r) => detector.update(r.t, r.v).score);
}

describe('escapeSpan', () => {
  afterEach(() => applyTuningOverrides(undefined));
  // A mild new extreme at 400 fires; 1000 (hundreds of ranges beyond) follows 100 rows later, inside the suppression.
  const rows = series({ 400: 110, 450: 112, 500: 1000 });

  it('is 1 by default: the 1000 fires although a firing 100 rows before suppresses alarms', () => {
    expect(tuning.escapeSpan).toBe(1);
    const s = scores(rows);
    expect(s[400]).toBeGreaterThan(0.5);
    expect(s[500]).toBeGreaterThan(0.5);
    // A new extreme within one range of the old ones (112 against 97–110) is part of the incident: still damped.
    expect(s[450]).toBe(0);
    // The escape starts the suppression afresh: the rows after it are damped as after any firing.
    expect(Math.max(...s.slice(501, 520))).toBe(0);
  });

  it('with 0, every row of the suppression is damped, the 1000 included', () => {
    applyTuningOverrides(JSON.stringify({ escapeSpan: 0 }));
    const s = scores(rows);
    expect(s[400]).toBeGreaterThan(0.5);
    expect(s[500]).toBe(0);
  });

  it('escapes below the range as well as above it', () => {
    const s = scores(series({ 400: 110, 500: -1000 }));
    expect(s[500]).toBeGreaterThan(0.5);
  });
});
