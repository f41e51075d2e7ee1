import { Option, type Command } from 'commander';
import { InputError } from '@sloth/core/errors';
import type { BackwardsPolicy } from '@sloth/analytics';
import { checkDistinctFiles, checkInputFile, checkOutputFile, withStandardOutput, writesToStandardOutput } from '../input-files.js';
import { addDetectorOptions, detectorOptionsOf, type DetectorFlags } from '../options.js';

/**
 * `sloth detect --input SERIES.csv --output SCORES.csv` (contract): streams `timestamp,value` rows
 * through the production anomaly detector, in order, and writes `timestamp,value,anomaly_score`
 * (to standard output when `--output` is not given or is `-`).
 */
export function registerDetect(program: Command): void {
  const command = program
    .command('detect')
    .description('score a timestamp,value CSV with the anomaly detector; writes timestamp,value,anomaly_score (scores in [0, 1], causal)')
    .requiredOption('--input <file>', 'timestamp,value CSV (header optional; timestamps "YYYY-MM-DD HH:MM:SS", ISO 8601 or epoch s/ms)')
    .option('--output <file>', 'where to write timestamp,value,anomaly_score (default, or -: standard output)')
    .addOption(
      new Option('--on-backwards <policy>', 'a timestamp earlier than the previous row: keep (score in file order, warn), skip (drop, warn) or error')
        .choices(['keep', 'skip', 'error'])
        .default('keep'),
    )
    .addHelpText(
      'after',
      `
Reading the score (the default detector; --algorithm ensemble differs): 0 is ordinary; a row fires (the
start of an alarm) at a score of about 0.52 or more. The first 150 rows of a series are its warm-up and
score 0. After a firing, the rows that follow are damped to 0 for 300 rows (at most 25 hours of the series'
own time), one alarm per incident, unless a value lies beyond the range seen so far by more than that whole
range. Expected false alarms per series-day at a threshold (0.3: 1.5, 0.5: 0.35, 0.7: 0.006) are in
docs/anomaly-detection.md, "What a score means". A cumulative counter is scored as its values: give its
rate per interval instead.
`,
    );
  addDetectorOptions(command)
    .action(async (flags: { input: string; output?: string; onBackwards: BackwardsPolicy } & DetectorFlags) => {
      const detectorOptions = detectorOptionsOf(flags);
      const output = flags.output;
      checkInputFile(flags.input, '--input');
      if (!writesToStandardOutput(output)) {
        if (flags.input === output) throw new InputError('--output must differ from --input');
        checkOutputFile(output, '--output');
        checkDistinctFiles(flags.input, '--input', output, '--output');
      }
      const { detectFile, detectorTuning } = await import('@sloth/analytics');
      const options = { backwards: flags.onBackwards, detectorOptions };
      const result = writesToStandardOutput(output)
        ? await withStandardOutput((stdout) => detectFile(flags.input, stdout, options))
        : await detectFile(flags.input, output, options);
      if (result === undefined) return; // the reader of standard output went away
      if (result.backwardsLines.length > 0) {
        const first = result.backwardsLines.slice(0, 5).join(', ');
        const verb = flags.onBackwards === 'skip' ? 'skipped' : 'scored in file order';
        process.stderr.write(`sloth detect: warning: ${result.backwardsLines.length} row(s) go back in time (line ${first}${result.backwardsLines.length > 5 ? ', …' : ''}); ${verb}\n`);
      }
      if (result.repeatedLines.length > 0) {
        const first = result.repeatedLines.slice(0, 5).join(', ');
        process.stderr.write(`sloth detect: warning: ${result.repeatedLines.length} row(s) repeat the previous row's timestamp (line ${first}${result.repeatedLines.length > 5 ? ', …' : ''}); scored in file order, each as a sample of its own\n`);
      }
      if (result.rows === 0) process.stderr.write(`sloth detect: warning: ${flags.input} has no data rows; wrote only the header\n`);
      else if (detectorOptions.algorithm !== 'ensemble' && result.rows <= detectorTuning.likelihoodWarmupRows) {
        process.stderr.write(`sloth detect: warning: ${result.rows} rows, all within the detector's warm-up of ${detectorTuning.likelihoodWarmupRows}: every score is 0\n`);
      }
      process.stderr.write(`sloth detect: ${result.rows} rows scored (model ${result.modelVersion}) → ${writesToStandardOutput(output) ? 'standard output' : output}\n`);
    });
}
