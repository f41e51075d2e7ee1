/**
 * Time to fit, select and forecast one series of ~4,000 points (what the analytics service pays per
 * training job), single-threaded: wall and CPU time of `forecastSeries` on the last `--points` rows of
 * every NAB real* series, with and without the TensorFlow.js model.
 *
 *   npx tsc -b analytics && nice -n 10 npx tsx bench/forecast/fit-time.ts --data ../shared/datasets/nab/data [--points 4000] [--horizon 12]
 */
import { parseArgs } from 'node:util';
import { forecastSeries, readSeriesCsv, realNabFiles, seriesLabel, statisticalForecastOptions } from '@sloth/analytics';

const { values: flags } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/datasets/nab/data' },
    points: { type: 'string', default: '4000' },
    horizon: { type: 'string', default: '12' },
  },
});
const points = Number(flags.points);
const horizon = Number(flags.horizon);

interface Timing {
  wallMillis: number;
  cpuMillis: number;
}

async function time(run: () => Promise<unknown>): Promise<Timing> {
  const cpu = process.cpuUsage();
  const began = performance.now();
  await run();
  const used = process.cpuUsage(cpu);
  return { wallMillis: performance.now() - began, cpuMillis: (used.user + used.system) / 1000 };
}

const rows: string[] = ['| series | points | full: wall ms | full: CPU ms | statistical only: wall ms | statistical only: CPU ms |', '|---|---|---|---|---|---|'];
const full: Timing[] = [];
const stat: Timing[] = [];
// Warm up TensorFlow.js (WASM compile) so the first series does not pay for it.
await forecastSeries([0, 1, 2, 3], [1, 2, 3, 4], 1);
for (const file of await realNabFiles(flags.data)) {
  const series = (await readSeriesCsv(file, { backwards: 'skip' })).filter((r, i, all) => i === 0 || r.timestampMillis > (all[i - 1]?.timestampMillis ?? -Infinity)).slice(-points);
  const timestamps = series.map((r) => r.timestampMillis);
  const values = series.map((r) => r.value);
  const a = await time(() => forecastSeries(timestamps, values, horizon, { maxHistoryPoints: points }));
  const b = await time(() => forecastSeries(timestamps, values, horizon, { maxHistoryPoints: points, ...statisticalForecastOptions }));
  full.push(a);
  stat.push(b);
  rows.push(`| ${seriesLabel(file)} | ${series.length} | ${a.wallMillis.toFixed(0)} | ${a.cpuMillis.toFixed(0)} | ${b.wallMillis.toFixed(0)} | ${b.cpuMillis.toFixed(0)} |`);
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length === 0 ? Number.NaN : ((s[(s.length - 1) >> 1] as number) + (s[s.length >> 1] as number)) / 2;
};
rows.push(
  `| **median** | | ${median(full.map((t) => t.wallMillis)).toFixed(0)} | ${median(full.map((t) => t.cpuMillis)).toFixed(0)} | ${median(stat.map((t) => t.wallMillis)).toFixed(0)} | ${median(stat.map((t) => t.cpuMillis)).toFixed(0)} |`,
);
process.stdout.write(`${rows.join('\n')}\n`);
