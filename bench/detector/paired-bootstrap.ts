/**
 * Candidate against baseline on the same files, with a paired bootstrap interval over files (rule S2 in
 * bench/detector/nested-cv-rule.md): reads two nested runs' `nested.json` or two `synthetic-nab.ts
 * --per-file-out` files and prints, per NAB profile, both pooled scores, their difference and its interval.
 *
 *   node --import tsx bench/detector/paired-bootstrap.ts --baseline A.json --candidate B.json [--path stats] [--resamples 10000] [--seed 1]
 */
import { readFileSync } from 'node:fs';
import { pairedBootstrap, type FileAtThreshold } from '@sloth/analytics';
import { BenchTool } from '../tool-args.js';
import { perFileScores, type NestedPath } from './per-file-scores.js';

const usage = `usage: node --import tsx bench/detector/paired-bootstrap.ts --baseline A.json --candidate B.json [--path stats] [--resamples 10000] [--seed 1] [--json]
Pooled NAB scores of two variants on the same files and a 95 % paired bootstrap interval of candidate − baseline
(files resampled with replacement, each variant's thresholds as it chose them; build first: npx tsc -b analytics).
  --baseline FILE    nested.json of sloth bench nab --cv --nested --out DIR, or synthetic-nab.ts --per-file-out FILE
  --candidate FILE   the same kind of file for the candidate
  --path NAME        for nested runs: stats, model or full (default stats)
  --resamples N      bootstrap resamples (default 10000)
  --seed N           resampling seed (default 1)
  --json             print the figures as JSON instead of a table`;
const tool = new BenchTool('detector/paired-bootstrap', usage);
const flags = tool.args({
  baseline: { type: 'string' },
  candidate: { type: 'string' },
  path: { type: 'string', default: 'stats' },
  resamples: { type: 'string', default: '10000' },
  seed: { type: 'string', default: '1' },
  json: { type: 'boolean', default: false },
});
const baselineFile = flags.baseline ?? tool.fail('give --baseline FILE and --candidate FILE');
const candidateFile = flags.candidate ?? tool.fail('give --baseline FILE and --candidate FILE');
const path = ['stats', 'model', 'full'].includes(flags.path) ? (flags.path as NestedPath) : tool.fail(`--path must be stats, model or full, got ${JSON.stringify(flags.path)}`);
const resamples = tool.number('resamples', flags.resamples, { min: 1, integer: true });
const seed = tool.number('seed', flags.seed, { min: 0, integer: true });

const load = (flag: string, file: string): Map<string, FileAtThreshold[]> =>
  tool.check(flag, () => perFileScores(JSON.parse(readFileSync(file, 'utf8')) as unknown, path, file));
const baseline = load('baseline', baselineFile);
const candidate = load('candidate', candidateFile);
const rows = [...baseline.keys()].map((profile) => {
  const b = baseline.get(profile) ?? [];
  const c = candidate.get(profile) ?? tool.fail(`--candidate has no ${profile} profile`);
  return { profile, ...tool.check('candidate', () => pairedBootstrap(b, c, { resamples, seed })) };
});
if (flags.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
else {
  const n = (v: number): string => (v >= 0 ? '+' : '') + v.toFixed(2);
  process.stdout.write(`paired bootstrap over files: ${baselineFile} → ${candidateFile}${path === 'stats' ? '' : ` (${path} path)`}; ${resamples} resamples, seed ${seed}\n\n`);
  process.stdout.write('| profile | files | baseline | candidate | difference | 95 % interval |\n|---|---|---|---|---|---|\n');
  for (const r of rows) process.stdout.write(`| ${r.profile} | ${r.files} | ${r.baseline.toFixed(2)} | ${r.candidate.toFixed(2)} | ${n(r.difference)} | [${n(r.low)}, ${n(r.high)}] |\n`);
}
