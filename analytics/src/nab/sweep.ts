import { InputError } from '@sloth/core';
import { probationaryRows, type NabProfile } from './profiles.js';
import { scaledSigmoid } from './scaled-sigmoid.js';

/** One detector output file, aligned with its labelled windows. */
export interface NabFile {
  /** Relative path, e.g. `realKnownCause/nyc_taxi.csv`. */
  name: string;
  timestampsMillis: readonly number[];
  anomalyScores: readonly number[];
  /** Window limits as timestamps that appear exactly in the file, in time order. */
  windows: ReadonlyArray<readonly [number, number]>;
}

/** A scorable (post-probation) row with the NAB score it would earn if detected. */
export interface SweepPoint {
  anomalyScore: number;
  /** Weighted score of a detection at this row: positive inside a window, negative outside. */
  sweepScore: number;
  /** Corpus-wide window id, or -1 outside every window. */
  window: number;
}

/** Per-file sweep: its scorable points and the ids of its windows that have scorable rows. */
export interface FileSweep {
  points: SweepPoint[];
  windowIds: number[];
}

/**
 * Computes, for every row after the probationary period, the score NAB gives a detection there
 * (NAB v1.1 sweeper): inside a window, scaledSigmoid(−(right − i + 1)/width)·A_TP/scaledSigmoid(−1);
 * outside, scaledSigmoid(|i − prevRight|/(prevWidth − 1))·A_FP after a window and −A_FP before any.
 * Window ids are `firstWindowId + k` for the file's k-th window.
 */
export function sweepFile(file: NabFile, profile: NabProfile, firstWindowId: number): FileSweep {
  const n = file.timestampsMillis.length;
  if (file.anomalyScores.length !== n) {
    throw new InputError(`${file.name}: ${n} timestamps but ${file.anomalyScores.length} anomaly scores`);
  }
  const indexOf = new Map<number, number>();
  file.timestampsMillis.forEach((t, i) => {
    if (!indexOf.has(t)) indexOf.set(t, i);
  });
  const spans = file.windows.map(([start, end], k) => {
    const left = indexOf.get(start);
    const right = indexOf.get(end);
    if (left === undefined || right === undefined || right < left) {
      throw new InputError(`${file.name}: window ${k} (${new Date(start).toISOString()} – ${new Date(end).toISOString()}) does not match timestamps of the file`);
    }
    return { left, right, id: firstWindowId + k };
  });
  const maxTp = scaledSigmoid(-1);
  const probation = probationaryRows(n);
  const points: SweepPoint[] = [];
  const windowIds = new Set<number>();
  let next = 0;
  let current: { left: number; right: number; id: number } | null = null;
  let previous: { left: number; right: number } | null = null;
  for (let i = 0; i < n; i += 1) {
    const span = spans[next];
    if (current === null && span !== undefined && i === span.left) {
      current = span;
      next += 1;
    }
    let sweepScore: number;
    if (current !== null) {
      const width = current.right - current.left + 1;
      sweepScore = (scaledSigmoid(-(current.right - i + 1) / width) * profile.tpWeight) / maxTp;
    } else if (previous === null) {
      sweepScore = -profile.fpWeight;
    } else {
      const width = previous.right - previous.left + 1;
      sweepScore = scaledSigmoid(Math.abs(previous.right - i) / (width - 1)) * profile.fpWeight;
    }
    if (i >= probation) {
      const window = current === null ? -1 : current.id;
      if (window >= 0) windowIds.add(window);
      points.push({ anomalyScore: file.anomalyScores[i] ?? 0, sweepScore, window });
    }
    if (current !== null && i === current.right) {
      previous = current;
      current = null;
    }
  }
  return { points, windowIds: [...windowIds] };
}
