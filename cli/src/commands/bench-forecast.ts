import { writeFile } from 'node:fs/promises';
import { type Command } from 'commander';
import type { ForecastBenchReport, ForecastCvConfig, ForecastCvResult, ForecastHeldOut, benchMethods as BenchMethods, seriesLabel as SeriesLabel } from '@sloth/analytics';
import { InputError } from '@sloth/core/errors';
import { benchCommand, intFlag, workerThreadsFlag } from '../options.js';
import type * as Analytics from '@sloth/analytics';
import { loadCliProgress } from '../progress.js';

/** `sloth bench forecast --data DIR [--horizon 12] [--origins K] [--out FILE]`: rolling-origin backtest on the NAB real series. */
export function registerBenchForecast(program: Command): void {
  benchCommand(program)
    .command('forecast')
    .description('rolling-origin forecast backtest (MASE, sMAPE, p10–p90 coverage) of Sloth vs seasonal-naive and Holt–Winters on the NAB real* series')
    .requiredOption('--data <dir>', "NAB's data/ folder (e.g. ../shared/datasets/nab/data)")
    .option('--horizon <steps>', 'forecast horizon in steps', intFlag('--horizon'), 12)
    .option('--origins <k>', 'forecast origins per series, evenly spaced over its second half', intFlag('--origins'), 10)
    .option('--max-history <points>', 'latest points each method may train on', intFlag('--max-history'), 4032)
    .option('--workers <n>', 'worker threads (series run in parallel), 1 to twice the cores', workerThreadsFlag('--workers'), 2)
    .option('--no-mlp', "leave Sloth's TensorFlow.js model out (statistical models only)")
    .option('--out <file>', 'write the full report (per series and summary) as JSON')
    .option(
      '--cv',
      'leave-one-category-out: the configuration (statistical model sets with/without SES, Theta, Comb, triple averages and seasonal adjustment; with/without the TF.js model) and the interval width are chosen on the other categories and scored on the held-out one',
    )
    .action(async (flags: { data: string; horizon: number; origins: number; maxHistory: number; workers: number; mlp: boolean; out?: string; cv?: boolean }) => {
      if (flags.horizon <= 0) throw new InputError(`--horizon must be ≥ 1, got ${flags.horizon}`);
      if (flags.origins <= 0) throw new InputError(`--origins must be ≥ 1, got ${flags.origins}`);
      const analytics = await import('@sloth/analytics');
      if (flags.cv === true) {
        await runCv(flags, analytics);
        return;
      }
      const { realNabFiles, runForecastBench } = analytics;
      const files = await realNabFiles(flags.data);
      const cliProgress = loadCliProgress();
      const bar = new cliProgress.SingleBar({ format: 'forecast backtest [{bar}] {value}/{total} series | {duration_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic);
      bar.start(files.length, 0);
      const began = Date.now();
      let report: ForecastBenchReport;
      try {
        report = await runForecastBench(files, {
            horizon: flags.horizon,
            origins: flags.origins,
            maxHistoryPoints: flags.maxHistory,
            ...(flags.mlp ? {} : { options: analytics.statisticalForecastOptions }),
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
  lines.push(`| series | points | season | sloth MASE | SN MASE | SES MASE | HW MASE | sloth sMAPE | SN sMAPE | HW sMAPE | p10–p90 cover | fit ms | models chosen |`);
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of report.series) {
    const models = [...new Set(r.selectedModels)].map((m) => `${m}×${r.selectedModels.filter((x) => x === m).length}`).join(', ');
    lines.push(
      `| ${seriesLabel(r.file)} | ${r.points} | ${r.seasonSteps} | ${r.scores.sloth.mase.toFixed(3)} | ${r.scores['seasonal-naive'].mase.toFixed(3)} | ${r.scores.ses.mase.toFixed(3)} | ${r.scores['holt-winters'].mase.toFixed(3)} | ${r.scores.sloth.smape.toFixed(1)} | ${r.scores['seasonal-naive'].smape.toFixed(1)} | ${r.scores['holt-winters'].smape.toFixed(1)} | ${((r.scores.sloth.coverage ?? Number.NaN) * 100).toFixed(0)}% | ${r.slothFitMillis.toFixed(0)} | ${models} |`,
    );
  }
  lines.push('');
  lines.push(`| method | geometric-mean MASE | mean MASE | median MASE | mean sMAPE | p10–p90 coverage |`);
  lines.push('|---|---|---|---|---|---|');
  for (const m of benchMethods) {
    const s = report.summary[m];
    lines.push(`| ${m} | ${s.geometricMeanMase.toFixed(3)} | ${s.meanMase.toFixed(3)} | ${s.medianMase.toFixed(3)} | ${s.meanSmape.toFixed(2)} | ${s.coverage === undefined ? '—' : `${(s.coverage * 100).toFixed(1)}%`} |`);
  }
  const best = Math.min(...benchMethods.filter((m) => m !== 'sloth').map((m) => report.summary[m].geometricMeanMase));
  lines.push('');
  lines.push(`sloth / best classical baseline geometric-mean MASE: ${(report.summary.sloth.geometricMeanMase / best).toFixed(3)} (target ≤ 0.85; in-sample unless run with --cv)`);
  lines.push(`${report.series.length} series, horizon ${report.settings.horizon}, ${report.settings.origins} origins each, ${seconds.toFixed(0)} s`);
  for (const s of report.skipped) lines.push(`skipped ${s.file}: ${s.reason}`);
  return `${lines.join('\n')}\n`;
}

const classicalModels = ['seasonal-naive', 'holt-winters', 'ets', 'seasonal-profile'] as const;

/**
 * Statistical configurations `--cv` chooses from in fold, simplest first (the first of equal ones wins);
 * fixed by decision rules F1 and F2 in bench/forecast/RULES.md (F2 added the last). Each sets every option
 * it is about, so a change of the product default cannot change what a configuration means.
 */
export const statisticalCvConfigs: ReadonlyArray<{ name: string; options: Pick<Analytics.ForecastOptions, 'models' | 'tripleEnsembles' | 'seasonalAdjustment'> }> = [
  { name: 'statistical', options: { models: classicalModels, tripleEnsembles: false, seasonalAdjustment: false } },
  { name: 'statistical+ses', options: { models: [...classicalModels, 'ses'], tripleEnsembles: false, seasonalAdjustment: false } },
  { name: 'statistical+ses+theta', options: { models: [...classicalModels, 'ses', 'theta'], tripleEnsembles: false, seasonalAdjustment: false } },
  { name: 'statistical+ses+theta+comb', options: { models: [...classicalModels, 'ses', 'theta', 'comb'], tripleEnsembles: false, seasonalAdjustment: false } },
  { name: 'statistical+ses+theta+comb+triples', options: { models: [...classicalModels, 'ses', 'theta', 'comb'], tripleEnsembles: true, seasonalAdjustment: false } },
  { name: 'statistical+ses+theta+comb+triples+sa', options: { models: [...classicalModels, 'ses', 'theta', 'comb'], tripleEnsembles: true, seasonalAdjustment: true } },
];

type CvFlags = { data: string; horizon: number; origins: number; maxHistory: number; workers: number; mlp: boolean; out?: string };

async function runCv(flags: CvFlags, analytics: typeof Analytics): Promise<void> {
  const { realNabFiles, runForecastBench, crossValidateForecast } = analytics;
  const files = await realNabFiles(flags.data);
  const variants = [...statisticalCvConfigs, ...(flags.mlp ? [{ name: 'with-mlp', options: {} }] : [])];
  const began = Date.now();
  const configs: ForecastCvConfig[] = [];
  for (const v of variants) {
    process.stderr.write(`forecast cv: backtesting configuration ${v.name} on ${files.length} series\n`);
    // Width 1 here: the cross-validation chooses the interval scale itself.
    const report = await runForecastBench(files, { horizon: flags.horizon, origins: flags.origins, maxHistoryPoints: flags.maxHistory, options: { ...v.options, intervalScale: 1 } }, flags.workers);
    for (const s of report.skipped) process.stderr.write(`forecast cv: skipped ${s.file}: ${s.reason}\n`);
    configs.push({ name: v.name, report });
  }
  const result = crossValidateForecast(configs);
  const statistical = configs.slice(0, statisticalCvConfigs.length);
  const statsOnly = configs.length > statistical.length ? crossValidateForecast(statistical) : null;
  // The statistical configurations but the newest (the one the latest rule added): what offering it changes out of fold.
  const previous = crossValidateForecast(statistical.slice(0, -1));
  // The first configuration alone: what offering the others changes out of fold.
  const reference = crossValidateForecast(configs.slice(0, 1));
  process.stdout.write(formatCv('All configurations', result));
  if (statsOnly !== null) process.stdout.write(formatCv('Statistical models only (--no-mlp)', statsOnly));
  process.stdout.write(formatCv(`Without the newest statistical configuration (${statistical[statistical.length - 1]?.name ?? ''})`, previous));
  process.stdout.write(formatCv(`Reference: ${reference.folds[0]?.chosenConfig ?? 'the first configuration'} alone`, reference));
  process.stdout.write(`horizon ${flags.horizon}, ${flags.origins} origins per series, ${((Date.now() - began) / 1000).toFixed(0)} s\n`);
  if (flags.out !== undefined) await writeFile(flags.out, `${JSON.stringify({ result, statsOnly, previous, reference, configs }, null, 2)}\n`);
}

function formatCv(title: string, cv: ForecastCvResult): string {
  const row = (label: string, chosen: string, h: ForecastHeldOut): string =>
    `| ${label} | ${chosen} | ${h.series} | ${h.geometricMeanMase.sloth.toFixed(3)} | ${h.geometricMeanMase['seasonal-naive'].toFixed(3)} | ${h.geometricMeanMase.ses.toFixed(3)} | ${h.geometricMeanMase['holt-winters'].toFixed(3)} | ${h.ratioToBestBaseline.toFixed(3)} (vs ${h.bestBaseline}) | ${(h.coverage * 100).toFixed(1)}% |`;
  const lines = [`### ${title} (out of fold)`, '', '| held out | chosen on the other categories | series | sloth gm-MASE | SN | SES | HW | sloth ÷ best baseline | p10–p90 coverage |', '|---|---|---|---|---|---|---|---|---|'];
  for (const f of cv.folds) lines.push(row(f.category, `${f.chosenConfig}, interval ×${f.chosenIntervalScale} (train coverage ${(f.trainCoverageAtScale * 100).toFixed(1)}%)`, f.heldOut));
  lines.push(row('**pooled**', '', cv.pooled), '');
  return `${lines.join('\n')}\n`;
}
