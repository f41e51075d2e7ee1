import { createReadStream, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { InputError } from '@sloth/core/errors';
import type { BackwardsPolicy } from '@sloth/analytics';
import { checkDistinctFiles, checkInputFile, checkOutputFile, withStandardOutput, writesToStandardOutput } from '../input-files.js';
import { addDetectorOptions, detectorOptionsOf, type DetectorFlags } from '../options.js';
import { progressLine } from '../progress.js';

/** Lines in a regular file (newlines, plus a last line without one); undefined for a pipe or a FIFO, which one pass would use up. */
async function countLines(path: string): Promise<number | undefined> {
  if (!statSync(path).isFile()) return undefined;
  let lines = 0;
  let last = 10;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
    if (chunk.length > 0) last = chunk[chunk.length - 1] as number;
  }
  return last === 10 ? lines : lines + 1;
}

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
    .option('--no-progress', 'no progress line (it is shown only when standard error is a terminal)')
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
    .action(async (flags: { input: string; output?: string; onBackwards: BackwardsPolicy; progress: boolean } & DetectorFlags) => {
      const detectorOptions = detectorOptionsOf(flags);
      const output = flags.output;
      checkInputFile(flags.input, '--input');
      if (!writesToStandardOutput(output)) {
        if (flags.input === output) throw new InputError('--output must differ from --input');
        checkOutputFile(output, '--output');
        checkDistinctFiles(flags.input, '--input', output, '--output');
      }
      const { detectFile, detectorTuning } = await import('@sloth/analytics');
      // Scores written to a terminal would be interleaved with the line: no progress then.
      const progress = progressLine(flags.progress && !(writesToStandardOutput(output) && process.stdout.isTTY), { label: 'sloth detect', unit: 'rows' });
      // The total is counted first, in a pass that reads at disk speed (a header counts as a row: an upper bound).
      progress?.update(0, undefined, 'counting the rows');
      const totalRows = progress === undefined ? undefined : await countLines(flags.input).catch(() => undefined);
      const options = { backwards: flags.onBackwards, detectorOptions, ...(progress === undefined ? {} : { onProgress: (rows: number) => progress.update(rows, totalRows) }) };
      let result: Awaited<ReturnType<typeof detectFile>> | undefined;
      try {
        result = writesToStandardOutput(output)
          ? await withStandardOutput((stdout) => detectFile(flags.input, stdout, options))
          : await detectFile(flags.input, output, options);
      } finally {
        progress?.finish();
      }
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
