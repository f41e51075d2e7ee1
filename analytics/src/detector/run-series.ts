import type { DetectorOptions, DetectorOutput, SeriesDetector } from './contract.js';
import { createDetector } from './series-detector.js';
import { trainModel } from './train.js';

/** A row to score. */
export interface DetectorInputRow {
  timestampMillis: number;
  value: number;
}

/**
 * Feeds one row to a detector and, when it asks for (re)training, trains and installs the model
 * before the next row — the deterministic, causal order `sloth detect` and `sloth bench nab` use.
 */
export async function updateAndTrain(detector: SeriesDetector, row: DetectorInputRow): Promise<DetectorOutput> {
  const output = detector.update(row.timestampMillis, row.value);
  const request = detector.trainingRequest();
  if (request !== null) detector.installModel(await trainModel(request));
  return output;
}

/** Scores a whole series in order with a fresh detector. */
export async function scoreSeries(rows: readonly DetectorInputRow[], options: Partial<DetectorOptions> = {}): Promise<DetectorOutput[]> {
  const detector = createDetector(options);
  const out: DetectorOutput[] = [];
  for (const row of rows) out.push(await updateAndTrain(detector, row));
  return out;
}
