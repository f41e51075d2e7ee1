import { InvalidArgumentError, Option, type Command } from 'commander';
import { checkDistinctFiles, checkInputFile, checkOutputFile, withStandardOutput, writesToStandardOutput } from '../input-files.js';
import { intFlag } from '../options.js';
import { progressLine } from '../progress.js';

/** `intFlag`, reported by commander as a usage error (message, no stack trace). */
function integerArgument(name: string): (value: string) => number {
  const parse = intFlag(name);
  return (value) => {
    try {
      return parse(value);
    } catch (error) {
      throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
    }
  };
}

/** {@link integerArgument} that must be ≥ 1 (0 or a negative count would train on nothing, silently). */
function atLeastOne(name: string): (value: string) => number {
  const parse = integerArgument(name);
  return (value) => {
    const n = parse(value);
    if (n < 1) throw new InvalidArgumentError(`${name} must be at least 1, got ${JSON.stringify(value)}`);
    return n;
  };
}

/**
 * Longest horizon `sloth forecast` accepts: the output is written as one string (V8 holds at most
 * 536,870,888 UTF-16 units in one) and its longest line, for a timestamp of millisecond precision,
 * is 130 characters (ISO 8601 with milliseconds and an offset, 29; four numbers of at most 24
 * characters; four commas and a newline). test/session-e-rules.md, F1.
 */
export const maxForecastHorizon = Math.floor(536_870_888 / 130);

/** --horizon: a whole number of steps from 1 to {@link maxForecastHorizon}, checked before the input is read. */
function horizonArgument(name: string): (value: string) => number {
  const parse = atLeastOne(name);
  return (value) => {
    const n = parse(value);
    if (n > maxForecastHorizon) {
      throw new InvalidArgumentError(`${name} ${value} is more steps than sloth forecast writes (at most ${maxForecastHorizon.toLocaleString('en-US')}); forecast fewer steps`);
    }
    return n;
  };
}

/**
 * Most history `sloth forecast` trains on: `maxForecastHistoryPoints` of @sloth/analytics (kept equal by
 * cli/test/commands/forecast.test.ts; not imported, so a bad flag is refused before TensorFlow.js loads).
 * `--max-history 1000000` ran for more than ten minutes with the neural model.
 */
export const maxHistoryFlagPoints = 50_000;

/** --max-history: a whole number of points from 1 to {@link maxHistoryFlagPoints}, checked before the input is read. */
function maxHistoryArgument(name: string): (value: string) => number {
  const parse = atLeastOne(name);
  return (value) => {
    const n = parse(value);
    if (n > maxHistoryFlagPoints) {
      throw new InvalidArgumentError(
        `${name} ${value} is more history than sloth forecast trains on (at most ${maxHistoryFlagPoints.toLocaleString('en-US')} points: fitting time grows with the history, to about half a minute at the limit with the neural model); give at most ${maxHistoryFlagPoints}`,
      );
    }
    return n;
  };
}

/** `sloth forecast --input SERIES.csv --train-until TIMESTAMP --horizon N --output OUT.csv` (contract, ARCHITECTURE.md). */
export function registerForecast(program: Command): void {
  program
    .command('forecast')
    .description('forecast a timestamp,value series: uses rows up to and including --train-until and writes exactly --horizon rows timestamp,value (the p50)')
    .requiredOption('-i, --input <file>', 'input CSV with timestamp,value rows (header optional)')
    .requiredOption('--train-until <timestamp>', 'timestamp of the last row to train on, as written in the file')
    .requiredOption('-n, --horizon <steps>', `number of steps to forecast after --train-until (1 to ${maxForecastHorizon})`, horizonArgument('--horizon'))
    .option('-o, --output <file>', 'output CSV: timestamp,value (default, or -: standard output)')
    .option('--quantiles', 'also write the 10th, 50th and 90th percentiles (timestamp,value,p10,p50,p90; value is the p50; p10–p90 is an 80 % interval calibrated out of fold)', false)
    .addOption(new Option('--max-history <points>', `train on at most this many of the latest rows (1 to ${maxHistoryFlagPoints})`).argParser(maxHistoryArgument('--max-history')).default(4032))
    .option('--no-mlp', 'skip the TensorFlow.js model (statistical models only; faster)')
    .option('-v, --verbose', 'print the chosen model and its backtest score to stderr', false)
    .option('--no-progress', 'no progress line (it is shown only when standard error is a terminal)')
    .action(async (flags: { input: string; trainUntil: string; horizon: number; output?: string; quantiles: boolean; maxHistory: number; mlp: boolean; verbose: boolean; progress: boolean }) => {
      // The input is streamed (no size cap); the output is written after training: check both first.
      const output = flags.output;
      checkInputFile(flags.input, '--input');
      if (!writesToStandardOutput(output)) {
        checkOutputFile(output, '--output');
        checkDistinctFiles(flags.input, '--input', output, '--output');
      }
      const progress = progressLine(flags.progress, { label: 'sloth forecast', unit: 'parts', rate: false });
      progress?.update(0, undefined, `reading ${flags.input}`);
      const { forecastCsv, statisticalForecastOptions } = await import('@sloth/analytics');
      const request = {
        inputPath: flags.input,
        trainUntil: flags.trainUntil,
        horizon: flags.horizon,
        quantiles: flags.quantiles,
        options: {
          maxHistoryPoints: flags.maxHistory,
          ...(flags.mlp ? {} : statisticalForecastOptions),
        },
        // Erased when the fit is done, before the forecast is written (perhaps to the same terminal).
        ...(progress === undefined ? {} : { onProgress: (done: number, total: number, stage: string) => (done >= total ? progress.finish() : progress.update(done, total, stage)) }),
      };
      let result: Awaited<ReturnType<typeof forecastCsv>> | undefined;
      try {
        result = writesToStandardOutput(output)
          ? await withStandardOutput((stdout) => forecastCsv({ ...request, output: stdout }))
          : await forecastCsv({ ...request, output });
      } finally {
        progress?.finish();
      }
      if (result === undefined) return; // the reader of standard output went away
      for (const warning of result.warnings ?? []) process.stderr.write(`sloth forecast: warning: ${warning}\n`);
      if (flags.verbose) {
        process.stderr.write(
          `sloth forecast: ${result.trainingRows} rows, step ${result.stepMillis} ms, model ${result.model}, backtest MASE ${result.backtest.mase.toFixed(3)} sMAPE ${result.backtest.smape.toFixed(2)}%\n`,
        );
      }
    });
}
