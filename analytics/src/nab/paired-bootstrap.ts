import { InputError } from '@sloth/core';
import { seededRandom } from '../forecast/stats.js';
import { pooledNabScore, type FileAtThreshold } from './cross-validation.js';

/** Candidate − baseline on the same files, with a percentile interval from resampling the files. */
export interface PairedBootstrap {
  files: number;
  baseline: number;
  candidate: number;
  difference: number;
  /** The interval's ends (2.5th and 97.5th percentiles for `level` 0.95) of candidate − baseline. */
  low: number;
  high: number;
  level: number;
  resamples: number;
}

/**
 * Paired bootstrap over files: each resample draws files with replacement and scores baseline and
 * candidate on the same draw, so what the two share (which files are hard) cancels. The thresholds stay
 * as each variant chose them; the interval leaves out the variability of that choice. Resamples
 * without any window (NaN) are skipped.
 */
export function pairedBootstrap(
  baseline: readonly FileAtThreshold[],
  candidate: readonly FileAtThreshold[],
  options: { resamples?: number; seed?: number; level?: number } = {},
): PairedBootstrap {
  const resamples = options.resamples ?? 10_000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) throw new InputError(`resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new InputError(`level must be between 0 and 1, got ${level}`);
  if (baseline.length === 0) throw new InputError('a paired bootstrap needs at least one file');
  const byName = new Map(candidate.map((f) => [f.name, f]));
  const baselineNames = new Set(baseline.map((f) => f.name));
  if (byName.size !== candidate.length || baselineNames.size !== baseline.length) throw new InputError('each file may appear once per variant');
  const missing = baseline.filter((f) => !byName.has(f.name)).map((f) => f.name);
  const extra = candidate.filter((f) => !baselineNames.has(f.name)).map((f) => f.name);
  if (missing.length > 0 || extra.length > 0) {
    throw new InputError(`baseline and candidate must score the same files (only in baseline: ${missing.slice(0, 5).join(', ') || 'none'}; only in candidate: ${extra.slice(0, 5).join(', ') || 'none'})`);
  }
  const pairs = baseline.map((b) => [b, byName.get(b.name) as FileAtThreshold] as const);
  const random = seededRandom(options.seed ?? 1);
  const differences: number[] = [];
  const drawnA: FileAtThreshold[] = new Array<FileAtThreshold>(pairs.length);
  const drawnB: FileAtThreshold[] = new Array<FileAtThreshold>(pairs.length);
  for (let r = 0; r < resamples; r += 1) {
    for (let i = 0; i < pairs.length; i += 1) {
      const [a, b] = pairs[Math.floor(random() * pairs.length)] as readonly [FileAtThreshold, FileAtThreshold];
      drawnA[i] = a;
      drawnB[i] = b;
    }
    const d = pooledNabScore(drawnB) - pooledNabScore(drawnA);
    if (!Number.isNaN(d)) differences.push(d);
  }
  if (differences.length === 0) throw new InputError('no resample held a labelled window: the files have none');
  differences.sort((x, y) => x - y);
  const at = (q: number): number => differences[Math.min(differences.length - 1, Math.max(0, Math.round(q * (differences.length - 1))))] as number;
  const base = pooledNabScore(baseline);
  const cand = pooledNabScore(candidate);
  return { files: pairs.length, baseline: base, candidate: cand, difference: cand - base, low: at((1 - level) / 2), high: at(1 - (1 - level) / 2), level, resamples };
}
