import { nabProfiles, type NabProfile, type NabProfileName } from './profiles.js';
import { sweepFile, type FileSweep, type NabFile } from './sweep.js';

/** Raw NAB score of the corpus when every row with anomalyScore ≥ threshold is a detection. */
export interface ThresholdScore {
  threshold: number;
  score: number;
  tp: number;
  tn: number;
  fp: number;
  fn: number;
}

/** Result of one profile. */
export interface NabProfileScore {
  profile: NabProfileName;
  /** Corpus-wide threshold chosen by the sweep (NAB's optimiser). */
  threshold: number;
  rawScore: number;
  /** Raw score of the null detector (never fires). */
  nullScore: number;
  /** Raw score of the perfect detector: windows × A_TP. */
  perfectScore: number;
  /** 100·(raw − null)/(perfect − null). */
  normalizedScore: number;
  counts: { tp: number; tn: number; fp: number; fn: number };
  perFile: Array<{ name: string; score: number }>;
}

/**
 * NAB's threshold sweep over scorable points of one or many files: starting above every score
 * (1.1, nothing detected: every window a false negative), lowers the threshold through each
 * distinct anomaly score; a window scores the best (earliest) detection in it, else −A_FN;
 * false positives add their (negative) sweep scores.
 */
export function scoresByThreshold(sweeps: readonly FileSweep[], profile: NabProfile): ThresholdScore[] {
  const points = sweeps.flatMap((s) => s.points).sort((a, b) => b.anomalyScore - a.anomalyScore);
  const windowBest = new Map<number, number>();
  for (const s of sweeps) for (const id of s.windowIds) windowBest.set(id, -profile.fnWeight);
  let windowsTotal = -profile.fnWeight * windowBest.size;
  let fpTotal = 0;
  let tn = 0;
  let fn = 0;
  for (const p of points) {
    if (p.window < 0) tn += 1;
    else fn += 1;
  }
  let tp = 0;
  let fp = 0;
  const out: ThresholdScore[] = [];
  let threshold = 1.1;
  for (const p of points) {
    if (p.anomalyScore !== threshold) {
      out.push({ threshold, score: fpTotal + windowsTotal, tp, tn, fp, fn });
      threshold = p.anomalyScore;
    }
    if (p.window < 0) {
      fp += 1;
      tn -= 1;
      fpTotal += p.sweepScore;
    } else {
      tp += 1;
      fn -= 1;
      const best = windowBest.get(p.window) ?? -profile.fnWeight;
      if (p.sweepScore > best) {
        windowBest.set(p.window, p.sweepScore);
        windowsTotal += p.sweepScore - best;
      }
    }
  }
  out.push({ threshold, score: fpTotal + windowsTotal, tp, tn, fp, fn });
  return out;
}

/** NAB's optimiser: the threshold of the best corpus score (the highest such threshold on ties). */
export function optimizeThreshold(sweeps: readonly FileSweep[], profile: NabProfile): ThresholdScore {
  const all = scoresByThreshold(sweeps, profile);
  let best = all[0] as ThresholdScore;
  for (const s of all) if (s.score > best.score) best = s;
  return best;
}

/** Score of one file at a threshold: detections are rows with anomalyScore ≥ threshold. */
export function scoreAtThreshold(sweep: FileSweep, profile: NabProfile, threshold: number): ThresholdScore {
  const best = new Map<number, number>();
  for (const id of sweep.windowIds) best.set(id, -profile.fnWeight);
  let fpTotal = 0;
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  for (const p of sweep.points) {
    const detected = p.anomalyScore >= threshold;
    if (p.window < 0) {
      if (detected) {
        fp += 1;
        fpTotal += p.sweepScore;
      } else tn += 1;
    } else if (detected) {
      tp += 1;
      best.set(p.window, Math.max(best.get(p.window) ?? -profile.fnWeight, p.sweepScore));
    } else fn += 1;
  }
  let score = fpTotal;
  for (const v of best.values()) score += v;
  return { threshold, score, tp, tn, fp, fn };
}

/**
 * Scores a corpus for one profile exactly as NAB v1.1 does: sweep, corpus-wide threshold,
 * per-file scores summed at that threshold, normalised against the null detector (never fires:
 * −A_FN per window) and the perfect detector (windows × A_TP).
 */
export function scoreNabProfile(files: readonly NabFile[], profile: NabProfile): NabProfileScore {
  let nextWindow = 0;
  const sweeps = files.map((f) => {
    const s = sweepFile(f, profile, nextWindow);
    nextWindow += f.windows.length;
    return s;
  });
  const best = optimizeThreshold(sweeps, profile);
  const perFile = files.map((f, i) => ({ name: f.name, score: scoreAtThreshold(sweeps[i] as FileSweep, profile, best.threshold) }));
  const rawScore = perFile.reduce((sum, f) => sum + f.score.score, 0);
  const counts = { tp: 0, tn: 0, fp: 0, fn: 0 };
  for (const f of perFile) {
    counts.tp += f.score.tp;
    counts.tn += f.score.tn;
    counts.fp += f.score.fp;
    counts.fn += f.score.fn;
  }
  // The null detector never fires: every window with scorable rows is a false negative. (NAB runs
  // its constant-output null detector through the optimiser; on any realistic corpus that also
  // picks "never fire", but on a tiny corpus "fire everywhere" could win, which is no baseline.)
  const nullScore = -profile.fnWeight * sweeps.reduce((sum, s) => sum + s.windowIds.length, 0);
  const perfectScore = nextWindow * profile.tpWeight;
  return {
    profile: profile.name,
    threshold: best.threshold,
    rawScore,
    nullScore,
    perfectScore,
    normalizedScore: (100 * (rawScore - nullScore)) / (perfectScore - nullScore),
    counts,
    perFile: perFile.map((f) => ({ name: f.name, score: f.score.score })),
  };
}

/** Scores all three NAB profiles. */
export function scoreNabCorpus(files: readonly NabFile[], profiles: readonly NabProfile[] = nabProfiles): NabProfileScore[] {
  return profiles.map((p) => scoreNabProfile(files, p));
}
