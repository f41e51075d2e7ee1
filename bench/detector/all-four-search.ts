/**
 * The nested rule's product-default check (bench/detector/nested-cv-rule.md): the same coordinate
 * search as one fold of `sloth bench nab --cv --nested`, run on all four development categories at
 * once. It decides defaults only: nothing is held out, so its training score is in-sample.
 *
 *   npx tsc -b && nice -n 10 node dist/bench/detector/all-four-search.js --data DIR --labels FILE --out DIR
 *     [--workers 1] [--passes 2] [--stats-only] [--drop level,...] [--tuning JSON]
 *
 * `--out` keeps the model traces (`OUT/nested/traces`, reused as by `--nested`) and writes
 * `all-four.json` (every step's scores); stdout lists, per coordinate, the value the search ended on
 * against the product default.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeConfig, detectorTuning, searchAllCategories } from '@sloth/analytics';
import { BenchTool } from '../tool-args.js';

const usage = `usage: node dist/bench/detector/all-four-search.js --data DIR --labels FILE --out DIR [--workers 1] [--passes 2] [--stats-only] [--drop a,b] [--tuning JSON]
The nested rule's coordinate search run on all four NAB development categories at once (in-sample: decides
defaults only); prints the value each coordinate ended on against the product default (build first: npx tsc -b).
  --data DIR        NAB data directory (required)
  --labels FILE     NAB combined windows JSON (required)
  --out DIR         model traces (OUT/nested/traces) and all-four.json go here (required)
  --workers N       parallel workers (default 1)
  --passes N        passes over the coordinates (default 2)
  --stats-only      without the TF.js model (default: with it)
  --drop a,b        coordinates left out of the search (default: none)
  --tuning JSON     detector constants the search starts from, as SLOTH_DETECTOR_TUNING (default: the product's)`;
const tool = new BenchTool('detector/all-four-search', usage);
const flags = tool.args({
  data: { type: 'string' },
  labels: { type: 'string' },
  out: { type: 'string' },
  workers: { type: 'string', default: '1' },
  passes: { type: 'string', default: '2' },
  'stats-only': { type: 'boolean', default: false },
  drop: { type: 'string' },
  tuning: { type: 'string' },
});
const data = flags.data ?? tool.fail('--data DIR is required');
const labels = flags.labels ?? tool.fail('--labels FILE is required');
const out = flags.out ?? tool.fail('--out DIR is required');
const tuning = flags.tuning;
const workers = tool.number('workers', flags.workers, { min: 1, integer: true });
const passes = tool.number('passes', flags.passes, { min: 1, integer: true });
if (tuning !== undefined) tool.check('tuning', () => JSON.parse(tuning) as unknown);

const began = Date.now();
const result = await searchAllCategories({
  dataDir: data,
  labelsPath: labels,
  outDir: out,
  withModel: !flags['stats-only'],
  concurrency: workers,
  passes,
  ...(flags.drop === undefined ? {} : { drop: flags.drop.split(',').map((d) => d.trim()).filter((d) => d !== '') }),
  ...(tuning === undefined ? {} : { base: tuning }),
  onProgress: (message) => process.stderr.write(`all-four: ${message} (${((Date.now() - began) / 1000).toFixed(0)} s)\n`),
});
const seconds = (Date.now() - began) / 1000;
const defaults = detectorTuning as unknown as Record<string, number>;
const lines = [`### Search on all four categories (${result.path} path, ${passes} passes; in-sample, decides defaults only)`, '', `chosen (train ${result.search.trainScore.toFixed(2)}, ${result.search.evaluated} configurations): ${describeConfig(result.search.chosen)}`, '', '| constant | chosen | product default |', '|---|---|---|'];
for (const [k, v] of Object.entries(result.search.chosen).sort(([a], [b]) => a.localeCompare(b))) lines.push(`| ${k} | ${Number(v.toPrecision(4))} | ${Number((defaults[k] as number).toPrecision(4))} |`);
lines.push('', 'Steps (pass, coordinate: value taken, training score; every value\'s score in grid order):', '');
for (const s of result.search.steps) lines.push(`- ${s.pass + 1}, ${s.coordinate}: ${describeConfig(s.value)} → ${s.trainScore.toFixed(2)} [${s.scores.map((x) => x.toFixed(2)).join(', ')}]`);
lines.push('', `(${seconds.toFixed(0)} s: model traces ${result.traceSeconds.toFixed(0)} s, search ${result.searchSeconds.toFixed(0)} s, ${result.evaluations} configurations scored over every file)`);
process.stdout.write(`${lines.join('\n')}\n`);
await mkdir(out, { recursive: true });
await writeFile(join(out, 'all-four.json'), `${JSON.stringify({ ...result, tuning: tuning ?? null, passes, seconds }, null, 2)}\n`);
