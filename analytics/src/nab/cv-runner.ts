import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DetectorAlgorithm } from '../detector/contract.js';
import { applyTuningOverrides, tuning, type Tuning } from '../detector/tuning.js';
import { readNabWindows, readResultsCorpus } from './corpus-files.js';
import { crossValidateNab, falseAlarmRates, type CvCandidate, type CvResult, type FalseAlarmRate } from './cross-validation.js';
import { runNabDetection } from './bench-runner.js';

/** One detector configuration that cross-validation may choose. */
export interface DetectorCandidate {
  name: string;
  useModel: boolean;
  overrides: Partial<Record<keyof Tuning, number>>;
  /** @defaultValue 'legacy' (the tuning overrides are the legacy detector's) */
  algorithm?: DetectorAlgorithm;
}

/**
 * The structural choices cross-validation picks from (each fold on its three training categories):
 * whether the rarity/model gates damp the raw score, whether the likelihood runs on log(1 + raw), and
 * how long alarms are suppressed after a firing. (A first exploration also offered the smallest
 * normalised error instead of the mean, and 600 suppressed rows: both scored 5–15 points lower on
 * every fold, so they were dropped to halve the run time; see docs/anomaly-detection.md.)
 */
export function detectorCandidates(withModel: boolean, algorithm: DetectorAlgorithm = 'legacy'): DetectorCandidate[] {
  // The ensemble has no structural choices and no model: cross-validation only picks its thresholds.
  if (algorithm === 'ensemble') return [{ name: 'ensemble', useModel: false, overrides: {}, algorithm: 'ensemble' }];
  const out: DetectorCandidate[] = [];
  for (const gates of [0, 1]) {
    for (const logRaw of [0, 1]) {
      for (const suppressRows of [150, 300]) out.push(candidate(false, gates, logRaw, suppressRows));
    }
  }
  // "prior": the likelihood's constants at the values HTM's published detector uses (NAB's
  // numenta detector: averaging window 10, historic window 8,640 rows, spatial tolerance 5 %) and no
  // gates, instead of the values an earlier search picked on this very subset.
  for (const logRaw of [0, 1]) {
    for (const suppressRows of [150, 300]) {
      out.push({ name: `prior-l${logRaw}-s${suppressRows}`, useModel: false, overrides: { gates: 0, logRaw, suppressRows, shortRows: 10, longRate: 1 / 8640, spatialMargin: 0.05 } });
    }
  }
  // The model costs ~100× the statistics per run (up to ~9 min per candidate on the loaded 2-core
  // machine): its candidates are the gated ones (the model gate is how the model acts on the score)
  // and one ungated for comparison.
  if (withModel) out.push(candidate(true, 1, 0, 150), candidate(true, 1, 0, 300), candidate(true, 1, 1, 300), candidate(true, 0, 0, 300));
  return out;
}

function candidate(useModel: boolean, gates: number, logRaw: number, suppressRows: number): DetectorCandidate {
  return { name: `${useModel ? 'model' : 'stats'}-g${gates}-l${logRaw}-s${suppressRows}`, useModel, overrides: { gates, logRaw, suppressRows } };
}

/** Options of {@link runNabCrossValidation}. */
export interface NabCvOptions {
  dataDir: string;
  labelsPath: string;
  /** Each candidate's result files go to `outDir/cv/<candidate>/`. */
  outDir: string;
  candidates: readonly DetectorCandidate[];
  /** Reuse a candidate's results from an earlier run into the same `outDir` when that run completed with the same settings. */
  reuse?: boolean;
  concurrency?: number;
  /** Called before each candidate runs (index from 0). */
  onCandidate?: (index: number, total: number, name: string) => void;
  /**
   * Constants set for every candidate (JSON, as `SLOTH_DETECTOR_TUNING`), under each candidate's own:
   * how a design switch such as `timeLags` is measured out of fold. Part of the reuse settings.
   */
  baseOverrides?: string;
}

/** Out-of-fold NAB figures: all candidates, statistics-only candidates, model candidates (when run). */
export interface NabCvReport {
  all: CvResult;
  statsOnly: CvResult;
  model: CvResult | null;
  /** Score threshold → false alarms per series-day, measured on the out-of-fold outputs of `all`. */
  falseAlarms: FalseAlarmRate[];
}

/** Score thresholds of the false-alarm table. */
export const falseAlarmThresholds: readonly number[] = [0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9];

/** Runs every candidate over the data and cross-validates leave-one-category-out. */
export async function runNabCrossValidation(options: NabCvOptions): Promise<NabCvReport> {
  const windows = await readNabWindows(options.labelsPath);
  const scored: Array<CvCandidate & { useModel: boolean }> = [];
  for (const [i, c] of options.candidates.entries()) {
    options.onCandidate?.(i, options.candidates.length, c.name);
    const outDir = join(options.outDir, 'cv', c.name);
    const base = options.baseOverrides === undefined || options.baseOverrides === '' ? {} : (JSON.parse(options.baseOverrides) as Record<string, number>);
    const overrides = JSON.stringify({ ...base, ...c.overrides });
    const marker = join(outDir, 'complete.json');
    const algorithm = c.algorithm ?? 'legacy';
    applyTuningOverrides(overrides);
    // The effective constants, not only the overrides: results made with other defaults (an older
    // tuning.ts) are never reused.
    const settings = JSON.stringify({ useModel: c.useModel, overrides: c.overrides, ...(Object.keys(base).length === 0 ? {} : { base }), dataDir: options.dataDir, ...(algorithm === 'legacy' ? {} : { algorithm }), tuning });
    try {
      const earlier = options.reuse === true && existsSync(marker) ? (JSON.parse(await readFile(marker, 'utf8')) as { settings: string; names: string[] }) : null;
      let names: string[];
      if (earlier !== null && earlier.settings === settings) {
        names = earlier.names;
      } else {
        names = await runNabDetection({
          dataDir: options.dataDir,
          outDir,
          detectorOptions: { useModel: c.useModel, algorithm },
          tuningOverrides: overrides,
          ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
        });
        await writeFile(marker, JSON.stringify({ settings, names }));
      }
      const keep = new Map([...windows].filter(([name]) => names.includes(name)));
      const files = await readResultsCorpus(outDir, keep);
      scored.push({ name: c.name, useModel: c.useModel, files: new Map(files.map((f) => [f.name, f])) });
    } finally {
      applyTuningOverrides(undefined);
    }
  }
  const all = crossValidateNab(scored);
  const stats = scored.filter((c) => !c.useModel);
  const model = scored.filter((c) => c.useModel);
  return {
    all,
    statsOnly: stats.length > 0 ? crossValidateNab(stats) : all,
    model: model.length > 0 ? crossValidateNab(model) : null,
    falseAlarms: falseAlarmRates(all.outOfFold, falseAlarmThresholds),
  };
}
