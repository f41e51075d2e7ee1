/**
 * A snapshot is a value: it must not change as the detector it came from goes on, and detectors restored from
 * one snapshot object must not share state (the analytics service keeps snapshots in memory between writes).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DetectorSnapshot, SeriesDetector } from '../../src/detector/contract.js';
import { applyTuningOverrides, createDetector, restoreDetector } from '../../src/detector/index.js';
import { generatedSeries } from './series.js';

const rows = generatedSeries(900, 700);
const other = rows.map((r, i) => ({ timestampMillis: r.timestampMillis, value: 200 - r.value + (i % 7) }));

function scoreAll(detector: SeriesDetector, part: ReadonlyArray<{ timestampMillis: number; value: number }>): number[] {
  return part.map((r) => detector.update(r.timestampMillis, r.value).score);
}

describe('detector snapshots', () => {
  afterEach(() => applyTuningOverrides(undefined));

  // levelLearn 1 also keeps the learned levels and their errors in the state.
  for (const tuningJson of ['{}', '{"levelLearn":1}']) {
    it(`do not change when the detector goes on scoring (tuning ${tuningJson})`, () => {
      applyTuningOverrides(tuningJson);
      const detector = createDetector({ useModel: false });
      // Row 20: the sampling interval is still being learnt (its probe list grows in place).
      scoreAll(detector, rows.slice(0, 20));
      const early = detector.snapshot();
      const earlyJson = JSON.stringify(early);
      scoreAll(detector, rows.slice(20, 400));
      const snapshot = detector.snapshot();
      const json = JSON.stringify(snapshot);
      scoreAll(detector, rows.slice(400));
      expect(JSON.parse(JSON.stringify(early))).toEqual(JSON.parse(earlyJson));
      expect(JSON.parse(JSON.stringify(snapshot))).toEqual(JSON.parse(json));
    });

    it(`restore detectors from one snapshot object that do not affect each other (tuning ${tuningJson})`, () => {
      applyTuningOverrides(tuningJson);
      const source = createDetector({ useModel: false });
      scoreAll(source, rows.slice(0, 400));
      const snapshot: DetectorSnapshot = source.snapshot();
      const json = JSON.stringify(snapshot);
      const first = restoreDetector(snapshot);
      const second = restoreDetector(snapshot);
      const firstScores: number[] = [];
      const secondScores: number[] = [];
      for (let i = 400; i < rows.length; i += 1) {
        const a = rows[i] as { timestampMillis: number; value: number };
        const b = other[i] as { timestampMillis: number; value: number };
        firstScores.push(first.update(a.timestampMillis, a.value).score);
        secondScores.push(second.update(b.timestampMillis, b.value).score);
      }
      expect(JSON.parse(JSON.stringify(snapshot))).toEqual(JSON.parse(json));
      // Each scores as a detector restored alone from its own copy of the snapshot.
      expect(firstScores).toEqual(scoreAll(restoreDetector(JSON.parse(json) as DetectorSnapshot), rows.slice(400)));
      expect(secondScores).toEqual(scoreAll(restoreDetector(JSON.parse(json) as DetectorSnapshot), other.slice(400)));
      expect(Math.max(...firstScores)).toBeGreaterThan(0.5);
    });
  }
});
