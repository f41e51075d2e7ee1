import type { DetectorOutput, DetectorSnapshot } from '../../src/detector/contract.js';
import { createDetector, restoreDetector } from '../../src/detector/index.js';

/** A generated daily-seasonal series with noise and one spike (deterministic). */
export function generatedSeries(length: number, spikeAt = Math.floor(length * 0.8)): Array<{ timestampMillis: number; value: number }> {
  let seed = 7;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const start = Date.UTC(2024, 0, 1);
  return Array.from({ length }, (_, i) => ({
    timestampMillis: start + i * 3_600_000,
    value: 50 + 20 * Math.sin((2 * Math.PI * i) / 24) + 2 * (random() - 0.5) + (i === spikeAt ? 60 : 0),
  }));
}

/** Small, fast model settings so tests train several times within a few hundred rows. */
export const fastModel = { algorithm: 'legacy', useModel: true, minTrainRows: 100, retrainEveryRows: 120, trainWindowRows: 240, lagRows: 6, hiddenUnits: 4, epochs: 2 } as const;

/**
 * Scores `rows` twice with statistics-only detectors: once uninterrupted, once snapshotted as JSON after `at` rows and
 * restored. Returns the restored detector's outputs from row `at` on, the uninterrupted one's, and the snapshot's JSON.
 */
export function restoredAndUninterrupted(rows: ReadonlyArray<{ t: number; v: number }>, at: number): { restored: DetectorOutput[]; uninterrupted: DetectorOutput[]; json: string } {
  const uninterrupted = createDetector({ useModel: false });
  const first = createDetector({ useModel: false });
  for (const r of rows.slice(0, at)) {
    uninterrupted.update(r.t, r.v);
    first.update(r.t, r.v);
  }
  const json = JSON.stringify(first.snapshot());
  const restored = restoreDetector(JSON.parse(json) as DetectorSnapshot);
  return { restored: rows.slice(at).map((r) => restored.update(r.t, r.v)), uninterrupted: rows.slice(at).map((r) => uninterrupted.update(r.t, r.v)), json };
}
