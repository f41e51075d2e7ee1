import { describe, expect, it } from 'vitest';
import { falseAlarmTable, falseAlarmsPerSeriesDay, liveIncidentTable, thresholdForFalseAlarms } from '../../src/detector/calibration.js';
import { loadAnalyticsConfig } from '../../src/service/config.js';
import { createDetector, scoreSeries } from '../../src/detector/index.js';
import { fastModel, generatedSeries } from './series.js';

/** Seeded standard normal (not the seeds bench/detector/false-alarms.ts measured the table with). */
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

const fiveMinutes = 300_000;
const rowsPerDay = 288;

/** 40 days of a daily cycle with Gaussian noise: no anomaly, so every alarm is a false alarm. */
function quietSeries(seed: number, scale = 1, offset = 0): Array<{ timestampMillis: number; value: number }> {
  const noise = gaussian(seed);
  return Array.from({ length: 40 * rowsPerDay }, (_, i) => ({
    timestampMillis: Date.UTC(2024, 0, 1) + i * fiveMinutes,
    value: offset + scale * (50 + 10 * Math.sin((2 * Math.PI * i) / rowsPerDay) + 3 * noise()),
  }));
}

function onsetsPerDay(scores: readonly number[], threshold: number): number {
  let onsets = 0;
  let above = false;
  for (let i = 750; i < scores.length; i += 1) {
    const now = (scores[i] as number) >= threshold;
    if (now && !above) onsets += 1;
    above = now;
  }
  return onsets / ((scores.length - 750) / rowsPerDay);
}

describe('score calibration (score → false alarms per series-day)', () => {
  it('the table is monotone and its inverse picks the matching threshold', () => {
    for (let i = 1; i < falseAlarmTable.length; i += 1) {
      expect((falseAlarmTable[i] as readonly [number, number])[0]).toBeGreaterThan((falseAlarmTable[i - 1] as readonly [number, number])[0]);
      expect((falseAlarmTable[i] as readonly [number, number])[1]).toBeLessThanOrEqual((falseAlarmTable[i - 1] as readonly [number, number])[1]);
    }
    const week = thresholdForFalseAlarms(1 / 7);
    expect(falseAlarmsPerSeriesDay(week)).toBeLessThanOrEqual(1 / 7);
    expect(week).toBeGreaterThan(0.3);
    expect(week).toBeLessThan(1);
  });

  it('interpolates log-linearly between entries and keeps the bound outside the grid', () => {
    const entry = (i: number): readonly [number, number] => falseAlarmTable[i] as readonly [number, number];
    // Every tabulated threshold maps to its own entry.
    for (const [t, r] of falseAlarmTable) expect(falseAlarmsPerSeriesDay(t)).toBeCloseTo(r, 12);
    // Halfway between two positive entries: their geometric mean (linear in log rate), strictly between them when they differ.
    for (let i = 1; i < falseAlarmTable.length; i += 1) {
      const [t0, r0] = entry(i - 1);
      const [t1, r1] = entry(i);
      const mid = falseAlarmsPerSeriesDay((t0 + t1) / 2);
      expect(mid).toBeCloseTo(Math.sqrt(r0 * r1), 12);
      if (r0 > r1) {
        expect(mid).toBeLessThan(r0);
        expect(mid).toBeGreaterThan(r1);
      }
    }
    // Below the grid: the first entry; above it: the last (an upper estimate never drops to 0).
    expect(falseAlarmsPerSeriesDay(0)).toBe(entry(0)[1]);
    expect(falseAlarmsPerSeriesDay(1)).toBe(entry(falseAlarmTable.length - 1)[1]);
    expect(entry(falseAlarmTable.length - 1)[1]).toBeGreaterThan(0);
    // Non-increasing on a fine grid of thresholds.
    let previous = Number.POSITIVE_INFINITY;
    for (let k = 0; k <= 1000; k += 1) {
      const rate = falseAlarmsPerSeriesDay(k / 1000);
      expect(rate).toBeLessThanOrEqual(previous);
      previous = rate;
    }
    // The inverse: the lowest tabulated threshold meeting the rate; none meets a rate below the last entry.
    for (const [t, r] of falseAlarmTable) expect(thresholdForFalseAlarms(r)).toBeLessThanOrEqual(t);
    expect(thresholdForFalseAlarms(entry(0)[1] * 10)).toBe(entry(0)[0]);
    expect(thresholdForFalseAlarms(entry(falseAlarmTable.length - 1)[1] / 2)).toBe(1);
  });

  it('on an anomaly-free series, alerting at the "one false alarm per week" score raises at most about that many, at any scale', () => {
    const threshold = thresholdForFalseAlarms(1 / 7);
    const seeds = [11, 12, 13];
    const perSeed = seeds.map((seed) => {
      const d = createDetector({ useModel: false });
      const scores = quietSeries(seed).map((r) => d.update(r.timestampMillis, r.value).score);
      // Scale and offset do not change what is anomalous: the scores are the same (to rounding).
      const scaled = createDetector({ useModel: false });
      const scaledScores = quietSeries(seed, 1e6, 1e9).map((r) => scaled.update(r.timestampMillis, r.value).score);
      scaledScores.forEach((s, i) => expect(s).toBeCloseTo(scores[i] as number, 6));
      return scores;
    });
    const measuredAt = (t: number): number => perSeed.reduce((sum, scores) => sum + onsetsPerDay(scores, t), 0) / seeds.length;
    const measured = measuredAt(threshold);
    // The table is an upper estimate; 1.5× leaves room for the sampling error of 3 × 37 series-days.
    expect(measured).toBeLessThanOrEqual(1.5 * falseAlarmsPerSeriesDay(threshold));
    // The same bound at every tabulated threshold, not only the one-per-week one.
    for (const [t, rate] of falseAlarmTable) {
      const atT = measuredAt(t);
      expect(atT, `score ≥ ${t}: measured ${atT.toFixed(3)} per series-day against the table's ${rate}`).toBeLessThanOrEqual(1.5 * rate);
    }
    // A much lower threshold really does alarm more: the mapping is not vacuous.
    expect(measuredAt(0.3)).toBeGreaterThan(measured);
  }, 60_000);

  it('is deterministic for a seed: the same series and seed give identical scores, model included', async () => {
    const rows = generatedSeries(360);
    const a = await scoreSeries(rows, { ...fastModel, seed: 5 });
    const b = await scoreSeries(rows, { ...fastModel, seed: 5 });
    expect(b.map((o) => o.score)).toEqual(a.map((o) => o.score));
    const c = await scoreSeries(rows, { ...fastModel, seed: 6 });
    // Another seed trains other weights, so some expected range differs.
    expect(c.map((o) => o.expectedHigh)).not.toEqual(a.map((o) => o.expectedHigh));
  }, 60_000);
});

describe('live incident calibration (peak score → false incidents per series-day at 1 s)', () => {
  it('starts at the score where analytics opens an incident and covers the scores a trigger may ask for', () => {
    const opensAt = loadAnalyticsConfig({ env: {}, flags: { dataDir: '.' } }).anomalyThreshold;
    expect(liveIncidentTable.map((r) => r.minScore)).toEqual([opensAt, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99]);
  });

  it('is a measured upper bound: never 0, at least what its count allows, and never rising with the score', () => {
    liveIncidentTable.forEach((row, i) => {
      expect(row.seriesDays).toBeGreaterThan(0);
      // The one-sided 95 % Poisson bound is 2.996 for 0 events and rises by more than 1 for each further one.
      expect(row.perSeriesDay * row.seriesDays).toBeGreaterThanOrEqual(2.99 + row.incidents);
      if (i === 0) return;
      const before = liveIncidentTable[i - 1]!;
      expect(row.incidents).toBeLessThanOrEqual(before.incidents);
      expect(row.perSeriesDay).toBeLessThanOrEqual(before.perSeriesDay);
    });
  });
});
