import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { type Command } from 'commander';
import type { ForecastBenchReport, benchMethods as BenchMethods, seriesLabel as SeriesLabel } from '@sloth/analytics';
import { benchCommand, intFlag } from '../options.js';

/** The part of cli-progress used here (the package ships no types). */
interface ProgressBar {
  start(total: number, value: number): void;
  increment(): void;
  stop(): void;
}
const cliProgress = createRequire(import.meta.url)('cli-progress') as {
  SingleBar: new (options: Record<string, unknown>, preset: unknown) => ProgressBar;
  Presets: { shades_classic: unknown };
};

/** `sloth bench forecast --data DIR [--horizon 12] [--origins K] [--out FILE]`: rolling-origin backtest on the NAB real series. */
export function registerBenchForecast(program: Command): void {
  benchCommand(program)
    .command('forecast')
    .description('rolling-origin forecast backtest (MASE, sMAPE, p10–p90 coverage) of Sloth vs seasonal-naive and Holt–Winters on the NAB real* series')
    .requiredOption('--data <dir>', "NAB's data/ folder (e.g. ../shared/datasets/nab/data)")
    .option('--horizon <steps>', 'forecast horizon in steps', intFlag('--horizon'), 12)
    .option('--origins <k>', 'forecast origins per series, evenly spaced over its second half', intFlag('--origins'), 10)
    .option('--max-history <points>', 'latest points each method may train on', intFlag('--max-history'), 4032)
    .option('--workers <n>', 'worker threads (series run in parallel)', intFlag('--workers'), 2)
    .option('--no-mlp', "leave Sloth's TensorFlow.js model out (statistical models only)")
    .option('--out <file>', 'write the full report (per series and summary) as JSON')
    .action(async (flags: { data: string; horizon: number; origins: number; maxHistory: number; workers: number; mlp: boolean; out?: string }) => {
      if (flags.horizon <= 0) throw new Error(`--horizon must be ≥ 1, got ${flags.horizon}`);
      if (flags.origins <= 0) throw new Error(`--origins must be ≥ 1, got ${flags.origins}`);
      const analytics = await import('@sloth/analytics');
      const { realNabFiles, runForecastBench } = analytics;
      const files = await realNabFiles(flags.data);
      const bar = new cliProgress.SingleBar({ format: 'forecast backtest [{bar}] {value}/{total} series | {duration_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic);
      bar.start(files.length, 0);
      const began = Date.now();
      let report: ForecastBenchReport;
      try {
        report = await runForecastBench(files, {
            horizon: flags.horizon,
            origins: flags.origins,
            maxHistoryPoints: flags.maxHistory,
            ...(flags.mlp ? {} : { options: { models: ['seasonal-naive', 'holt-winters', 'ets', 'seasonal-profile'] } }),
          }, flags.workers, () => bar.increment());
      } finally {
        bar.stop();
      }
      process.stdout.write(formatReport(report, (Date.now() - began) / 1000, analytics));
      if (flags.out !== undefined) await writeFile(flags.out, `${JSON.stringify(report, null, 2)}\n`);
    });
}

function formatReport(report: ForecastBenchReport, seconds: number, { benchMethods, seriesLabel }: { benchMethods: typeof BenchMethods; seriesLabel: typeof SeriesLabel }): string {
  const lines: string[] = [];
  lines.push(`| series | points | season | sloth MASE | SN MASE | HW MASE | sloth sMAPE | SN sMAPE | HW sMAPE | p10–p90 cover | fit ms | models chosen |`);
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of report.series) {
    const models = [...new Set(r.selectedModels)].map((m) => `${m}×${r.selectedModels.filter((x) => x === m).length}`).join(', ');
    lines.push(
      `| ${seriesLabel(r.file)} | ${r.points} | ${r.seasonSteps} | ${r.scores.sloth.mase.toFixed(3)} | ${r.scores['seasonal-naive'].mase.toFixed(3)} | ${r.scores['holt-winters'].mase.toFixed(3)} | ${r.scores.sloth.smape.toFixed(1)} | ${r.scores['seasonal-naive'].smape.toFixed(1)} | ${r.scores['holt-winters'].smape.toFixed(1)} | ${((r.scores.sloth.coverage ?? Number.NaN) * 100).toFixed(0)}% | ${r.slothFitMillis.toFixed(0)} | ${models} |`,
    );
  }
  lines.push('');
  lines.push(`| method | geometric-mean MASE | mean MASE | median MASE | mean sMAPE | p10–p90 coverage |`);
  lines.push('|---|---|---|---|---|---|');
  for (const m of benchMethods) {
    const s = report.summary[m];
    lines.push(`| ${m} | ${s.geometricMeanMase.toFixed(3)} | ${s.meanMase.toFixed(3)} | ${s.medianMase.toFixed(3)} | ${s.meanSmape.toFixed(2)} | ${s.coverage === undefined ? '—' : `${(s.coverage * 100).toFixed(1)}%`} |`);
  }
  const ratio = report.summary.sloth.geometricMeanMase / report.summary['seasonal-naive'].geometricMeanMase;
  lines.push('');
  lines.push(`sloth / seasonal-naive geometric-mean MASE: ${ratio.toFixed(3)} (target ≤ 0.8); sloth vs holt-winters: ${report.summary.sloth.geometricMeanMase.toFixed(3)} vs ${report.summary['holt-winters'].geometricMeanMase.toFixed(3)}`);
  lines.push(`${report.series.length} series, horizon ${report.settings.horizon}, ${report.settings.origins} origins each, ${seconds.toFixed(0)} s`);
  for (const s of report.skipped) lines.push(`skipped ${s.file}: ${s.reason}`);
  return `${lines.join('\n')}\n`;
}
