/**
 * The contextual-detector study (issue 12, "study what makes CAD OSE generalise"): Sloth's own
 * implementation of the Contextual Anomaly Detector idea, run over the NAB development subset with
 * the value range and the rest period either handed over from the whole file (as NAB hands them to
 * every detector: not causal) or learnt causally, scored in sample and out of fold (leave one
 * category out, the threshold chosen on the other three).
 */
import { join } from 'node:path';
import { crossValidateNab, listCsvFiles, readNabWindows, readSeriesCsv, scoreNabCorpus, type CvCandidate, type NabFile } from '@sloth/analytics';
import { BenchTool } from '../../tool-args.js';
import { ContextualScorer, type RangeSource, type RestSource } from './contextual-scorer.js';

const usage = `usage: node dist/bench/detector/contextual/study.js --data DIR --labels FILE [--variants LIST]
Runs the contextual detector (CAD OSE's design, Sloth's code) over every CSV under --data and scores each
variant with NAB's scorer: in sample (one threshold swept over all files) and out of fold (leave one
category out; the threshold chosen on the other three). Build first: npx tsc -b.
  --data DIR        NAB data folder (e.g. ../shared/datasets/nab/data)
  --labels FILE     NAB's combined_windows.json
  --variants LIST   comma-separated, from: file (range and rest from the whole file, NAB's look-ahead),
                    file-range (range from the file, rest causal), running (range of the rows so far),
                    warmup750 (range of the first 750 rows, then clipped) (default: all four)`;

const variantSources: Record<string, (values: readonly number[]) => { range: RangeSource; rest: RestSource }> = {
  file: (v) => ({ range: { kind: 'file', min: Math.min(...v), max: Math.max(...v) }, rest: { kind: 'file', rows: v.length } }),
  'file-range': (v) => ({ range: { kind: 'file', min: Math.min(...v), max: Math.max(...v) }, rest: { kind: 'seen' } }),
  running: () => ({ range: { kind: 'running' }, rest: { kind: 'seen' } }),
  warmup750: () => ({ range: { kind: 'warmup', rows: 750 }, rest: { kind: 'seen' } }),
};

const tool = new BenchTool('detector/contextual/study', usage);
const flags = tool.args({ data: { type: 'string' }, labels: { type: 'string' }, variants: { type: 'string', default: Object.keys(variantSources).join(',') } });
const dataDir = flags.data ?? tool.fail('--data is required');
const labelsPath = flags.labels ?? tool.fail('--labels is required');
const variants = flags.variants.split(',').map((v) => v.trim());
for (const v of variants) if (variantSources[v] === undefined) tool.fail(`--variants: unknown variant ${JSON.stringify(v)} (known: ${Object.keys(variantSources).join(', ')})`);

await tool.run(async () => {
  const windows = await readNabWindows(labelsPath);
  const names = await listCsvFiles(dataDir);
  const series = await Promise.all(names.map(async (name) => ({ name, rows: await readSeriesCsv(join(dataDir, name), { backwards: 'keep' }) })));
  process.stdout.write('| variant | causal | in sample (standard / low FP / low FN) | in sample, standard: TP / FP rows | out of fold (standard / low FP / low FN) | seconds |\n|---|---|---|---|---|---|\n');
  for (const variant of variants) {
    const began = process.hrtime.bigint();
    const files = new Map<string, NabFile>();
    for (const { name, rows } of series) {
      const values = rows.map((r) => r.value);
      const { range, rest } = (variantSources[variant] as (v: readonly number[]) => { range: RangeSource; rest: RestSource })(values);
      const scorer = new ContextualScorer(range, rest);
      files.set(name, { name, timestampsMillis: rows.map((r) => r.timestampMillis), anomalyScores: values.map((v) => scorer.update(v)), windows: windows.get(name) ?? [] });
    }
    const seconds = Number(process.hrtime.bigint() - began) / 1e9;
    const profiles = scoreNabCorpus([...files.values()]);
    const inSample = profiles.map((p) => p.normalizedScore.toFixed(2));
    const standard = profiles[0];
    const candidate: CvCandidate = { name: variant, files };
    const outOfFold = crossValidateNab([candidate]).profiles.map((p) => p.pooled.toFixed(2));
    const causal = variant === 'running' || variant === 'warmup750' ? 'yes' : 'no';
    process.stdout.write(`| ${variant} | ${causal} | ${inSample.join(' / ')} | ${standard?.counts.tp ?? '-'} / ${standard?.counts.fp ?? '-'} | ${outOfFold.join(' / ')} | ${seconds.toFixed(1)} |\n`);
  }
});
