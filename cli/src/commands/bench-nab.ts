import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { InputError, processEnv } from '@sloth/core';
import type { NabProfileScore } from '@sloth/analytics';
import { benchCommand, intFlag } from '../options.js';

/** The part of cli-progress used here (the package ships no types). */
interface ProgressBar {
  start(total: number, value: number): void;
  update(value: number): void;
  stop(): void;
}
const cliProgress = createRequire(import.meta.url)('cli-progress') as {
  SingleBar: new (options: Record<string, unknown>, preset: unknown) => ProgressBar;
  Presets: { shades_classic: unknown };
};

interface BenchNabFlags {
  data?: string;
  labels: string;
  out?: string;
  results?: string;
  detector: 'sloth' | 'none';
  scoreOnly?: boolean;
  statsOnly?: boolean;
  workers?: number;
}

/**
 * `sloth bench nab --data DIR --labels FILE --out DIR [--detector sloth|none] [--stats-only] [--workers N]`
 * runs the detector over every CSV and scores it; `--score-only --results DIR --labels FILE` scores
 * an existing NAB results directory (e.g. NAB's reference output).
 */
export function registerBenchNab(program: Command): void {
  benchCommand(program)
    .command('nab')
    .description("run the anomaly detector over NAB data and score it with NAB v1.1's algorithm (standard, reward_low_FP_rate, reward_low_FN_rate)")
    .option('--data <dir>', "NAB data folder: every *.csv under it is a series (e.g. ../shared/datasets/nab/data)")
    .requiredOption('--labels <file>', "NAB's combined_windows.json")
    .option('--out <dir>', 'where result files (same relative paths) and scores.json are written')
    .option('--results <dir>', 'with --score-only: the results folder to score (it is only read; scores.json goes to --out when given)')
    .addOption(new Option('--detector <name>', 'sloth, or none (the null detector: always 0)').choices(['sloth', 'none']).default('sloth'))
    .option('--score-only', 'do not run a detector; score the result files in --results (or --out)')
    .option('--stats-only', 'fast mode: online statistics only, no TF.js model (for quick iteration)')
    .option('--workers <n>', 'worker threads (default: all cores)', intFlag('--workers'))
    .action(async (flags: BenchNabFlags) => {
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
            detectorOptions: flags.statsOnly === true ? { useModel: false } : {},
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
        mode: flags.scoreOnly === true ? 'score-only' : flags.statsOnly === true ? 'stats-only' : 'full',
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
