/**
 * False alarms per series-day of the production detector on anomaly-free synthetic series (the
 * synthetic column of the score → false-alarm table in analytics/src/detector/calibration.ts):
 * Gaussian noise on a daily cycle (5-minute and hourly), sparse bursty counts, a random walk, and a
 * noisy series with a level shift. Every alarm onset after the first 750 rows is a false alarm.
 *
 *   npx tsc -b analytics && nice -n 10 node --import tsx bench/detector/false-alarms.ts [--days 60] [--seeds 5] [--model] [--algorithm ensemble|legacy]
 */
import { createDetector, falseAlarmThresholds, updateAndTrain } from '@sloth/analytics';
import { BenchTool } from '../tool-args.js';

const usage = `usage: node --import tsx bench/detector/false-alarms.ts [--days 60] [--seeds 5] [--model] [--algorithm legacy]
False alarms per series-day of the production detector on anomaly-free synthetic series (daily cycles, bursty
counts, a random walk), by score threshold (build first: npx tsc -b analytics).
  --days N              days per series (default 60)
  --seeds N             seeds per series family (default 5)
  --model               with the TF.js model (default: statistics only)
  --algorithm NAME      legacy or ensemble (default legacy)`;
const tool = new BenchTool('detector/false-alarms', usage);
const flags = tool.args({ days: { type: 'string', default: '60' }, seeds: { type: 'string', default: '5' }, model: { type: 'boolean', default: false }, algorithm: { type: 'string', default: 'legacy' } });
const algorithm = flags.algorithm === 'legacy' || flags.algorithm === 'ensemble' ? flags.algorithm : tool.fail(`--algorithm must be ensemble or legacy, got ${JSON.stringify(flags.algorithm)}`);
// An unparsable or non-positive value used to print a table of NaN (0 series-days) instead of failing.
const days = tool.number('days', flags.days, { min: 1, integer: true });
const seeds = tool.number('seeds', flags.seeds, { min: 1, integer: true });

function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

type Family = { name: string; stepMillis: number; value: (i: number, rowsPerDay: number, noise: () => number) => number };
let walk = 0;
const families: Family[] = [
  { name: 'daily cycle + noise, 5 min', stepMillis: 300_000, value: (i, d, n) => 50 + 10 * Math.sin((2 * Math.PI * i) / d) + 3 * n() },
  { name: 'daily cycle + noise, hourly', stepMillis: 3_600_000, value: (i, d, n) => 50 + 10 * Math.sin((2 * Math.PI * i) / d) + 3 * n() },
  { name: 'sparse bursty counts, 5 min', stepMillis: 300_000, value: (i, d, n) => Math.max(0, Math.round(2 + 2 * Math.sin((2 * Math.PI * i) / d) + 1.5 * n() * (1 + Math.abs(n())))) },
  { name: 'random walk, 5 min', stepMillis: 300_000, value: (_i, _d, n) => (walk += n()) },
];

const rows: Array<{ name: string; perDay: number[] }> = [];
for (const family of families) {
  const rowsPerDay = Math.round(86_400_000 / family.stepMillis);
  const n = Math.max(days * rowsPerDay, 2000);
  const onsets = falseAlarmThresholds.map(() => 0);
  let quietDays = 0;
  for (let seed = 1; seed <= seeds; seed += 1) {
    walk = 0;
    const noise = gaussian(1000 + seed);
    const detector = createDetector({ useModel: flags.model, algorithm });
    const above = falseAlarmThresholds.map(() => false);
    for (let i = 0; i < n; i += 1) {
      const row = { timestampMillis: Date.UTC(2024, 0, 1) + i * family.stepMillis, value: family.value(i, rowsPerDay, noise) };
      const { score } = flags.model ? await updateAndTrain(detector, row) : detector.update(row.timestampMillis, row.value);
      if (i < 750) continue;
      falseAlarmThresholds.forEach((t, k) => {
        const now = score >= t;
        if (now && !above[k]) onsets[k] = (onsets[k] as number) + 1;
        above[k] = now;
      });
    }
    quietDays += (n - 750) / rowsPerDay;
  }
  rows.push({ name: family.name, perDay: onsets.map((o) => o / quietDays) });
}
process.stdout.write(`| series (${seeds} seeds, ${days} days each${flags.model ? ', with the TF.js model' : ', statistics only'}, ${algorithm}) | ${falseAlarmThresholds.map((t) => `≥ ${t}`).join(' | ')} |\n`);
process.stdout.write(`|---|${falseAlarmThresholds.map(() => '---').join('|')}|\n`);
for (const r of rows) process.stdout.write(`| ${r.name} | ${r.perDay.map((v) => v.toFixed(3)).join(' | ')} |\n`);
const worst = falseAlarmThresholds.map((_, k) => Math.max(...rows.map((r) => r.perDay[k] as number)));
process.stdout.write(`| **largest** | ${worst.map((v) => `**${v.toFixed(3)}**`).join(' | ')} |\n`);
