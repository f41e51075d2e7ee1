import { InputError } from '@sloth/core';
import { optimizeThreshold, scoreAtThreshold, scoreNabProfile } from './corpus-score.js';
import { nabProfiles, probationaryRows, type NabProfile, type NabProfileName } from './profiles.js';
import { sweepFile, type FileSweep, type NabFile } from './sweep.js';

/** One fold of leave-one-category-out: choices are made on `train`, scored on `test`. */
export interface CategoryFold {
  /** The held-out category (first path segment, e.g. `realKnownCause`). */
  category: string;
  train: string[];
  test: string[];
}

/** Category of a NAB relative path: its first segment (`realKnownCause/nyc_taxi.csv` → `realKnownCause`). */
export function categoryOf(name: string): string {
  const slash = name.indexOf('/');
  if (slash <= 0) throw new InputError(`NAB file ${JSON.stringify(name)} has no category folder; expected <category>/<file>.csv`);
  return name.slice(0, slash);
}

/** Leave-one-category-out folds over file names, one per category, in category order. */
export function leaveOneCategoryOut(names: readonly string[]): CategoryFold[] {
  const categories = [...new Set(names.map(categoryOf))].sort();
  if (categories.length < 2) throw new InputError(`cross-validation needs at least 2 categories, got ${categories.length} (${categories.join(', ')})`);
  return categories.map((category) => ({
    category,
    train: names.filter((n) => categoryOf(n) !== category),
    test: names.filter((n) => categoryOf(n) === category),
  }));
}

/** NAB score of a set of files at a threshold fixed beforehand (no sweep on these files). */
export interface FixedThresholdScore {
  threshold: number;
  rawScore: number;
  nullScore: number;
  perfectScore: number;
  /** 100·(raw − null)/(perfect − null); NaN when the files hold no window. */
  normalizedScore: number;
  windows: number;
  fp: number;
  /** The same per file (summing them gives the fields above), for a paired bootstrap over files. */
  files: FileAtThreshold[];
}

/** One file's NAB scores at a fixed threshold: pooled scores are 100·(Σraw − Σnull)/(Σperfect − Σnull). */
export interface FileAtThreshold {
  name: string;
  rawScore: number;
  nullScore: number;
  perfectScore: number;
  fp: number;
}

/** NAB's normalised score of files scored at fixed thresholds: 100·(Σraw − Σnull)/(Σperfect − Σnull); NaN without windows. */
export function pooledNabScore(files: readonly FileAtThreshold[]): number {
  let raw = 0;
  let nul = 0;
  let perfect = 0;
  for (const f of files) {
    raw += f.rawScore;
    nul += f.nullScore;
    perfect += f.perfectScore;
  }
  return perfect - nul > 0 ? (100 * (raw - nul)) / (perfect - nul) : Number.NaN;
}

function sweepAll(files: readonly NabFile[], profile: NabProfile): FileSweep[] {
  let next = 0;
  return files.map((f) => {
    const s = sweepFile(f, profile, next);
    next += f.windows.length;
    return s;
  });
}

/** Scores `files` with `threshold` chosen elsewhere: the honest held-out figure. */
export function scoreWithThreshold(files: readonly NabFile[], profile: NabProfile, threshold: number): FixedThresholdScore {
  const perFile = sweepAll(files, profile).map((sweep, i): FileAtThreshold => {
    const file = files[i] as NabFile;
    const r = scoreAtThreshold(sweep, profile, threshold);
    return { name: file.name, rawScore: r.score, nullScore: -profile.fnWeight * sweep.windowIds.length, perfectScore: file.windows.length * profile.tpWeight, fp: r.fp };
  });
  const sum = (key: 'rawScore' | 'nullScore' | 'perfectScore' | 'fp'): number => perFile.reduce((n, f) => n + f[key], 0);
  const windows = files.reduce((n, f) => n + f.windows.length, 0);
  return { threshold, rawScore: sum('rawScore'), nullScore: sum('nullScore'), perfectScore: sum('perfectScore'), normalizedScore: pooledNabScore(perFile), windows, fp: sum('fp'), files: perFile };
}

/** One detector configuration's result files, by relative path. */
export interface CvCandidate {
  name: string;
  files: ReadonlyMap<string, NabFile>;
}

/** What one fold chose and scored, for one profile. */
export interface FoldResult {
  category: string;
  /** Candidate chosen on the training categories (by their standard-profile NAB score). */
  chosen: string;
  /** Training-fold normalised score of the chosen candidate for this profile (NAB sweep on train). */
  trainScore: number;
  /** Held-out score at the threshold chosen on the training categories (the honest figure). */
  heldOut: FixedThresholdScore;
  /** Held-out score with NAB's own sweep on the held-out files (optimistic; comparable to published numbers). */
  heldOutSweep: number;
}

/** Out-of-fold result of one profile. */
export interface ProfileCv {
  profile: NabProfileName;
  folds: FoldResult[];
  /** Pooled held-out score, each fold at its own training threshold (sums of raw/null/perfect). */
  pooled: number;
  /** NAB's sweep over the pooled out-of-fold outputs (every file scored by its fold's chosen candidate). */
  pooledSweep: number;
}

/** Out-of-fold results: per profile, and every file as scored by its own fold's chosen candidate. */
export interface CvResult {
  profiles: ProfileCv[];
  outOfFold: NabFile[];
}

function pick(candidate: CvCandidate, names: readonly string[]): NabFile[] {
  return names.map((n) => {
    const f = candidate.files.get(n);
    if (f === undefined) throw new InputError(`candidate ${candidate.name} has no results for ${n}`);
    return f;
  });
}

/**
 * Leave-one-category-out over the union of files: per fold, the candidate with the best
 * standard-profile score on the other categories is chosen and, per profile, the threshold that
 * NAB's optimiser picks on those categories is applied to the held-out one. Nothing of the held-out
 * category takes part in any choice.
 */
export function crossValidateNab(candidates: readonly CvCandidate[], profiles: readonly NabProfile[] = nabProfiles): CvResult {
  const first = candidates[0];
  if (first === undefined) throw new InputError('cross-validation needs at least one candidate configuration');
  const names = [...first.files.keys()].sort();
  const folds = leaveOneCategoryOut(names);
  const standard = nabProfiles[0] as NabProfile;
  const chosenByFold = folds.map((fold) => {
    let best = first;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const c of candidates) {
      const score = scoreNabProfile(pick(c, fold.train), standard).normalizedScore;
      if (score > bestScore) {
        best = c;
        bestScore = score;
      }
    }
    return best;
  });
  return scoreChosenPerFold(folds, chosenByFold, profiles);
}

/**
 * The held-out scoring of leave-one-category-out once each fold has its candidate (chosen on its
 * training categories alone): per profile, the threshold NAB's optimiser picks on the training
 * categories is applied to the held-out one; folds are pooled by summing raw, null and perfect scores
 * ({@link pooledNabScore} of every held-out file).
 */
export function scoreChosenPerFold(folds: readonly CategoryFold[], chosenByFold: readonly CvCandidate[], profiles: readonly NabProfile[] = nabProfiles): CvResult {
  if (chosenByFold.length !== folds.length) throw new InputError(`${folds.length} folds but ${chosenByFold.length} chosen candidates`);
  const outOfFold = folds.flatMap((fold, i) => pick(chosenByFold[i] as CvCandidate, fold.test));
  const byProfile = profiles.map((profile): ProfileCv => {
    const results: FoldResult[] = [];
    const pooledFiles: NabFile[] = [];
    folds.forEach((fold, i) => {
      const chosen = chosenByFold[i] as CvCandidate;
      const train = pick(chosen, fold.train);
      const test = pick(chosen, fold.test);
      const trainSweeps = sweepAll(train, profile);
      const threshold = optimizeThreshold(trainSweeps, profile).threshold;
      const heldOut = scoreWithThreshold(test, profile, threshold);
      pooledFiles.push(...test);
      results.push({
        category: fold.category,
        chosen: chosen.name,
        trainScore: scoreNabProfile(train, profile).normalizedScore,
        heldOut,
        heldOutSweep: heldOut.windows > 0 ? scoreNabProfile(test, profile).normalizedScore : Number.NaN,
      });
    });
    return {
      profile: profile.name,
      folds: results,
      pooled: pooledNabScore(results.flatMap((r) => r.heldOut.files)),
      pooledSweep: scoreNabProfile(pooledFiles, profile).normalizedScore,
    };
  });
  return { profiles: byProfile, outOfFold };
}

/** Measured false alarms at one score threshold. */
export interface FalseAlarmRate {
  threshold: number;
  /** Alarm onsets (score crosses the threshold upwards) outside labelled windows, per series-day. */
  perSeriesDay: number;
  onsets: number;
  seriesDays: number;
}

/**
 * Alarm onsets outside every labelled window (after NAB's probationary period) per series-day, for
 * each threshold: the score → false-alarm-rate mapping. Rows inside windows and the day after each
 * window are excluded (alarms there are late detections, not false alarms of a quiet series).
 */
export function falseAlarmRates(files: readonly NabFile[], thresholds: readonly number[]): FalseAlarmRate[] {
  const dayMillis = 86_400_000;
  const onsets = new Array<number>(thresholds.length).fill(0);
  let quietMillis = 0;
  for (const f of files) {
    const n = f.timestampsMillis.length;
    const excluded = (t: number): boolean => f.windows.some(([a, b]) => t >= a && t <= b + dayMillis);
    const above = new Array<boolean>(thresholds.length).fill(false);
    for (let i = probationaryRows(n); i < n; i += 1) {
      const t = f.timestampsMillis[i] as number;
      const score = f.anomalyScores[i] as number;
      const quiet = !excluded(t);
      if (quiet && i + 1 < n) quietMillis += Math.max(0, (f.timestampsMillis[i + 1] as number) - t);
      thresholds.forEach((thr, k) => {
        const now = score >= thr;
        if (now && !above[k] && quiet) onsets[k] = (onsets[k] as number) + 1;
        above[k] = now;
      });
    }
  }
  const seriesDays = quietMillis / dayMillis;
  return thresholds.map((threshold, k) => ({ threshold, onsets: onsets[k] as number, seriesDays, perSeriesDay: seriesDays > 0 ? (onsets[k] as number) / seriesDays : Number.NaN }));
}
