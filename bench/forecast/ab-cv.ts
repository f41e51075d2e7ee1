/**
 * Baseline and candidate of a forecast change at one build, in one process: the leave-one-category-out
 * cross-validation of `sloth bench forecast --cv --no-mlp` (the CLI's own six statistical configurations,
 * run the same way), once per arm, the arms differing only in `stableMedianCorrection` (rule F3,
 * bench/forecast/RULES.md). Prints each arm's pooled and per-fold figures.
 *
 *   npx tsc -b && nice -n 10 npx tsx bench/forecast/ab-cv.ts --data ../shared/datasets/nab/data [--horizon 12] [--origins 10] [--workers 2] [--out FILE]
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { crossValidateForecast, realNabFiles, runForecastBench, type ForecastCvConfig, type ForecastCvResult, type ForecastOptions } from '@sloth/analytics';

const { values: flags } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/datasets/nab/data' },
    horizon: { type: 'string', default: '12' },
    origins: { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    'max-history': { type: 'string', default: '4032' },
    out: { type: 'string' },
  },
});

type Config = { name: string; options: Partial<ForecastOptions> };
// The configurations `--cv` chooses from, from the built CLI itself (not a copy that could drift).
const cliModule = pathToFileURL(fileURLToPath(new URL('../../cli/dist/src/commands/bench-forecast.js', import.meta.url))).href;
const { statisticalCvConfigs } = (await import(cliModule)) as { statisticalCvConfigs: readonly Config[] };

const arms: ReadonlyArray<{ name: string; options: Partial<ForecastOptions> }> = [
  { name: 'baseline (stableMedianCorrection false)', options: { stableMedianCorrection: false } },
  { name: 'candidate (stableMedianCorrection true)', options: { stableMedianCorrection: true } },
];

const files = await realNabFiles(flags.data);
const settings = { horizon: Number(flags.horizon), origins: Number(flags.origins), maxHistoryPoints: Number(flags['max-history']) };
const results: Array<{ arm: string; cv: ForecastCvResult }> = [];
const began = Date.now();
for (const arm of arms) {
  const configs: ForecastCvConfig[] = [];
  for (const c of statisticalCvConfigs) {
    process.stderr.write(`ab-cv: ${arm.name}: ${c.name}\n`);
    // Width 1 as in the CLI: the cross-validation chooses the interval scale itself.
    const report = await runForecastBench(files, { ...settings, options: { ...c.options, intervalScale: 1, ...arm.options } }, Number(flags.workers));
    for (const s of report.skipped) process.stderr.write(`ab-cv: skipped ${s.file}: ${s.reason}\n`);
    configs.push({ name: c.name, report });
  }
  const cv = crossValidateForecast(configs);
  results.push({ arm: arm.name, cv });
  const p = cv.pooled;
  process.stdout.write(`${arm.name}: pooled gm-MASE ${p.geometricMeanMase.sloth.toFixed(4)}, ${p.ratioToBestBaseline.toFixed(4)}× ${p.bestBaseline} (${p.geometricMeanMase[p.bestBaseline].toFixed(4)}), coverage ${(p.coverage * 100).toFixed(1)} %\n`);
  for (const f of cv.folds) {
    process.stdout.write(`  ${f.category}: ${f.chosenConfig} ×${f.chosenIntervalScale}, gm-MASE ${f.heldOut.geometricMeanMase.sloth.toFixed(4)}, ${f.heldOut.ratioToBestBaseline.toFixed(4)}×, coverage ${(f.heldOut.coverage * 100).toFixed(1)} %\n`);
  }
}
process.stdout.write(`${files.length} series, horizon ${settings.horizon}, ${settings.origins} origins, ${((Date.now() - began) / 1000).toFixed(0)} s\n`);
if (flags.out !== undefined) await writeFile(flags.out, `${JSON.stringify(results, null, 2)}\n`);
