import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { processEnv } from '@sloth/core/config';
import { InputError } from '@sloth/core/errors';
import type { NabCvReport, NabProfileScore, CvResult, NestedCvReport, FoldSearch } from '@sloth/analytics';
import { checkInputFile, maxWholeFileBytes } from '../input-files.js';
import { addDetectorOptions, benchCommand, detectorOptionsOf, intFlag, workerThreadsFlag, type DetectorFlags } from '../options.js';
import { loadCliProgress } from '../progress.js';

interface BenchNabFlags extends DetectorFlags {
  data?: string;
  labels: string;
  out?: string;
  results?: string;
  detector: 'sloth' | 'none';
  scoreOnly?: boolean;
  workers?: number;
  cv?: boolean;
  reuse?: boolean;
  nested?: boolean;
  drop?: string;
  jointGates?: boolean;
  passes?: number;
}

/**
 * `sloth bench nab --data DIR --labels FILE --out DIR [--detector sloth|none] [--stats-only] [--workers N]`
 * runs the detector over every CSV and scores it; `--score-only --results DIR --labels FILE` scores
 * an existing NAB results directory (e.g. NAB's reference output).
 */
export function registerBenchNab(program: Command): void {
  const command = benchCommand(program)
    .command('nab')
    .description("run the anomaly detector over NAB data and score it with NAB v1.1's algorithm (standard, reward_low_FP_rate, reward_low_FN_rate)")
    .option('--data <dir>', "NAB data folder: every *.csv under it is a series (e.g. ../shared/datasets/nab/data)")
    .requiredOption('--labels <file>', "NAB's combined_windows.json")
    .option('--out <dir>', 'where result files (same relative paths) and scores.json are written')
    .option('--results <dir>', 'with --score-only: the results folder to score (it is only read; scores.json goes to --out when given)')
    .addOption(new Option('--detector <name>', 'sloth, or none (the null detector: always 0)').choices(['sloth', 'none']).default('sloth'));
  addDetectorOptions(command)
    .option('--score-only', 'do not run a detector; score the result files in --results (or --out)')
    .option('--workers <n>', 'worker threads, 1 to twice the cores (default: all cores)', workerThreadsFlag('--workers'))
    .option(
      '--cv',
      'leave-one-category-out cross-validation: runs every candidate configuration, per held-out category chooses one and the thresholds on the other categories and scores the held-out one (with --stats-only: statistics-only candidates)',
    )
    .option(
      '--nested',
      'with --cv: nested — per held-out category a coordinate search on the other three chooses the searched constants (bench/detector/nested-cv-rule.md); the model path replays each file\'s model forecasts, recorded once into --out',
    )
    .option('--drop <coordinates>', 'with --nested: comma-separated coordinates left out of the search (e.g. level, with SLOTH_DETECTOR_TUNING setting what replaces it)')
    .option('--joint-gates', 'with --nested: search gates, rarity, rarityDamp, modelGateZ and modelGateDamp as one joint coordinate (run 3 of bench/detector/nested-cv-rule.md)')
    .option('--passes <n>', 'with --nested: passes of the coordinate search (default 2)', intFlag('--passes'))
    .option('--reuse', "with --cv: reuse a candidate's results from an earlier --cv run into the same --out when it completed with the same settings")
    .action(async (flags: BenchNabFlags) => {
      if (flags.nested === true && flags.cv !== true) throw new InputError('--nested is a form of --cv: give both');
      if (flags.cv === true && flags.model === true) throw new InputError('--cv already runs both paths, with and without the TF.js model (--stats-only: without only); --model is for a single run');
      const detectorOptions = detectorOptionsOf(flags);
      // Read whole after the detection ran: a FIFO blocked for ever, a directory failed at the end (session F).
      checkInputFile(flags.labels, '--labels', { maxBytes: maxWholeFileBytes });
      if (flags.cv === true && flags.nested === true) {
        await runNested(flags);
        return;
      }
      if (flags.cv === true) {
        await runCv(flags);
        return;
      }
      const { applyTuningOverrides, runNabDetection, scoreNabResults } = await import('@sloth/analytics');
      const resultsDir = flags.results ?? flags.out;
      if (resultsDir === undefined) throw new InputError('give --out DIR (or --results DIR with --score-only)');
      const began = Date.now();
      let onlyFiles: string[] | undefined;
      if (flags.scoreOnly !== true) {
        if (flags.data === undefined) throw new InputError('give --data DIR (or --score-only to score existing results)');
        if (flags.results !== undefined && flags.results !== flags.out) throw new InputError('--results is for --score-only; detection writes to --out');
        // Parameter exploration only (documented in docs/benchmarks.md); the defaults are the product.
        const tuningOverrides = processEnv().SLOTH_DETECTOR_TUNING;
        applyTuningOverrides(tuningOverrides);
        const cliProgress = loadCliProgress();
        const bar = new cliProgress.SingleBar(
          // Off a terminal (CI logs) the bar prints a line every 10 s instead of redrawing.
          { format: 'nab detect [{bar}] {percentage}% | {value}/{total} rows | {duration_formatted} (eta {eta_formatted})', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 10_000 },
          cliProgress.Presets.shades_classic,
        );
        let started = false;
        try {
          onlyFiles = await runNabDetection({
            dataDir: flags.data,
            outDir: resultsDir,
            detector: flags.detector,
            detectorOptions,
            ...(flags.workers === undefined ? {} : { concurrency: flags.workers }),
            ...(tuningOverrides === undefined ? {} : { tuningOverrides }),
            onProgress: (done, total) => {
              if (!started) {
                bar.start(total, 0);
                started = true;
              }
              bar.update(done);
            },
          });
        } finally {
          if (started) bar.stop();
        }
      }
      const scores = await scoreNabResults(resultsDir, flags.labels, onlyFiles);
      const seconds = (Date.now() - began) / 1000;
      process.stdout.write(formatScores(scores, seconds));
      // Score-only never writes into the (possibly shared, read-only) results folder unless it is --out.
      const scoresDir = flags.out;
      if (scoresDir === undefined) return;
      await mkdir(scoresDir, { recursive: true });
      const summary = {
        detector: flags.scoreOnly === true ? 'results' : flags.detector,
        ...(flags.algorithm === undefined ? {} : { algorithm: flags.algorithm }),
        mode: flags.scoreOnly === true ? 'score-only' : flags.model === true ? 'model' : 'stats-only',
        seconds,
        scores: scores.map((s) => ({ ...s, perFile: undefined })),
        perFile: scores[0]?.perFile ?? [],
      };
      await writeFile(join(scoresDir, 'scores.json'), `${JSON.stringify(summary, null, 2)}\n`);
    });
}

function formatScores(scores: readonly NabProfileScore[], seconds: number): string {
  const lines = ['| profile | NAB score | threshold | raw | null | perfect | TP | FP | FN rows | TN |', '|---|---|---|---|---|---|---|---|---|---|'];
  for (const s of scores) {
    lines.push(
      `| ${s.profile} | ${s.normalizedScore.toFixed(4)} | ${s.threshold} | ${s.rawScore.toFixed(4)} | ${s.nullScore} | ${s.perfectScore} | ${s.counts.tp} | ${s.counts.fp} | ${s.counts.fn} | ${s.counts.tn} |`,
    );
  }
  lines.push(`(${seconds.toFixed(1)} s)`);
  return `${lines.join('\n')}\n`;
}

async function runCv(flags: BenchNabFlags): Promise<void> {
  if (flags.data === undefined || flags.out === undefined) throw new InputError('--cv needs --data DIR and --out DIR');
  if (flags.scoreOnly === true) throw new InputError('--cv runs the detector: it cannot be combined with --score-only');
  const { detectorCandidates, runNabCrossValidation } = await import('@sloth/analytics');
  const began = Date.now();
  const candidates = detectorCandidates(flags.statsOnly !== true, flags.algorithm ?? 'legacy');
  const report = await runNabCrossValidation({
    dataDir: flags.data,
    labelsPath: flags.labels,
    outDir: flags.out,
    candidates,
    reuse: flags.reuse === true,
    ...(flags.workers === undefined ? {} : { concurrency: flags.workers }),
    // Parameter exploration only (docs/anomaly-detection.md): constants set for every candidate.
    ...(processEnv().SLOTH_DETECTOR_TUNING === undefined ? {} : { baseOverrides: processEnv().SLOTH_DETECTOR_TUNING }),
    onCandidate: (i, total, name) => process.stderr.write(`nab cv: candidate ${i + 1}/${total} ${name}\n`),
  });
  process.stdout.write(formatCv(report, (Date.now() - began) / 1000));
  await mkdir(flags.out, { recursive: true });
  const strip = (r: CvResult | null): unknown => (r === null ? null : { profiles: r.profiles });
  await writeFile(join(flags.out, 'cv.json'), `${JSON.stringify({ all: strip(report.all), statsOnly: strip(report.statsOnly), model: strip(report.model), falseAlarms: report.falseAlarms }, null, 2)}\n`);
}

function formatCv(report: NabCvReport, seconds: number): string {
  const n = (v: number): string => (Number.isNaN(v) ? '—' : v.toFixed(2));
  const lines: string[] = [];
  const section = (title: string, result: CvResult): void => {
    lines.push(`### ${title}`, '', '| profile | fold (held out) | chosen on the other three | train score | held-out, train threshold | held-out FP rows | held-out, NAB sweep on it |', '|---|---|---|---|---|---|---|');
    for (const p of result.profiles) {
      for (const f of p.folds) {
        lines.push(`| ${p.profile} | ${f.category} | ${f.chosen} | ${n(f.trainScore)} | ${n(f.heldOut.normalizedScore)} (raw ${f.heldOut.rawScore.toFixed(2)}) | ${f.heldOut.fp} | ${n(f.heldOutSweep)} |`);
      }
      lines.push(`| **${p.profile}** | **pooled out of fold** | | | **${n(p.pooled)}** | | **${n(p.pooledSweep)}** (one sweep over all out-of-fold outputs) |`);
    }
    lines.push('');
  };
  section('All candidates (statistics and TF.js model)', report.all);
  if (report.model !== null) {
    section('Statistics-only candidates: the product default (--stats-only runs only these)', report.statsOnly);
    section('TF.js-model candidates (opt-in --model)', report.model);
  }
  lines.push('Score threshold → false alarms per series-day (alarm onsets outside windows, out of fold):', '', '| score ≥ | false alarms per series-day | onsets | series-days |', '|---|---|---|---|');
  for (const r of report.falseAlarms) lines.push(`| ${r.threshold} | ${r.perSeriesDay.toFixed(3)} | ${r.onsets} | ${r.seriesDays.toFixed(1)} |`);
  lines.push(`(${seconds.toFixed(0)} s)`);
  return `${lines.join('\n')}\n`;
}

async function runNested(flags: BenchNabFlags): Promise<void> {
  if (flags.data === undefined || flags.out === undefined) throw new InputError('--cv --nested needs --data DIR and --out DIR');
  if (flags.scoreOnly === true || flags.reuse === true || flags.algorithm === 'ensemble') throw new InputError('--nested searches the legacy detector\'s constants: it cannot be combined with --score-only, --reuse or --algorithm ensemble');
  if (flags.passes !== undefined && flags.passes < 1) throw new InputError(`--passes must be at least 1, got ${flags.passes}`);
  const { runNestedNabCrossValidation } = await import('@sloth/analytics');
  const began = Date.now();
  const report = await runNestedNabCrossValidation({
    dataDir: flags.data,
    labelsPath: flags.labels,
    outDir: flags.out,
    withModel: flags.statsOnly !== true,
    jointGates: flags.jointGates === true,
    ...(flags.passes === undefined ? {} : { passes: flags.passes }),
    ...(flags.drop === undefined ? {} : { drop: flags.drop.split(',').map((d) => d.trim()).filter((d) => d !== '') }),
    // Parameter exploration only (docs/anomaly-detection.md): constants set under the searched ones.
    ...(processEnv().SLOTH_DETECTOR_TUNING === undefined ? {} : { base: processEnv().SLOTH_DETECTOR_TUNING }),
    ...(flags.workers === undefined ? {} : { concurrency: flags.workers }),
    onProgress: (message) => process.stderr.write(`nab nested: ${message} (${((Date.now() - began) / 1000).toFixed(0)} s)\n`),
  });
  const seconds = (Date.now() - began) / 1000;
  process.stdout.write(await formatNested(report, seconds));
  await mkdir(flags.out, { recursive: true });
  const strip = (r: CvResult): unknown => ({ profiles: r.profiles });
  await writeFile(
    join(flags.out, 'nested.json'),
    `${JSON.stringify({ statsOnly: { searches: report.statsOnly.searches, cv: strip(report.statsOnly.cv) }, model: report.model === null ? null : { searches: report.model.searches, cv: strip(report.model.cv) }, full: strip(report.full), fullPaths: report.fullPaths, evaluations: report.evaluations, traceSeconds: report.traceSeconds, searchSeconds: report.searchSeconds, seconds }, null, 2)}\n`,
  );
}

async function formatNested(report: NestedCvReport, seconds: number): Promise<string> {
  const { describeConfig } = await import('@sloth/analytics');
  const n = (v: number): string => (Number.isNaN(v) ? '—' : v.toFixed(2));
  const lines: string[] = [];
  const section = (title: string, result: CvResult, searches: readonly FoldSearch[] | null): void => {
    lines.push(`### ${title}`, '', '| profile | fold (held out) | train score | held-out, train threshold | held-out FP rows | held-out, NAB sweep on it |', '|---|---|---|---|---|---|');
    for (const p of result.profiles) {
      for (const f of p.folds) lines.push(`| ${p.profile} | ${f.category} | ${n(f.trainScore)} | ${n(f.heldOut.normalizedScore)} | ${f.heldOut.fp} | ${n(f.heldOutSweep)} |`);
      lines.push(`| **${p.profile}** | **pooled out of fold** | | **${n(p.pooled)}** | | **${n(p.pooledSweep)}** |`);
    }
    if (searches !== null) {
      lines.push('', 'Constants each fold chose on its three training categories:', '');
      for (const s of searches) lines.push(`- ${s.category} (train ${n(s.trainScore)}, ${s.evaluated} configurations): ${describeConfig(s.chosen)}`);
    }
    lines.push('');
  };
  if (report.model !== null) {
    section('Full: per fold the path with the better training score', report.full, null);
    lines.push(`(paths per fold: ${report.fullPaths.join(', ')})`, '');
    section('TF.js-model path, opt-in --model (model forecasts replayed from the trace)', report.model.cv, report.model.searches);
  }
  section('Statistics-only path: the product default (--stats-only runs only this path)', report.statsOnly.cv, report.statsOnly.searches);
  lines.push(`(${seconds.toFixed(0)} s: model traces ${report.traceSeconds.toFixed(0)} s, search and scoring ${report.searchSeconds.toFixed(0)} s, ${report.evaluations} configurations scored over every file)`);
  return `${lines.join('\n')}\n`;
}
