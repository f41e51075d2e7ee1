/**
 * Cost of a `/metrics` scrape at many series: builds `--series` latest
 * values (20 metrics, four labels each, 1,000 series per agent), then
 * renders the exposition `--rounds` times through `seriesExposition`, timing
 * every step of the generator. The longest step is how long one scrape can
 * hold the collector's event loop; the first round also derives every
 * series' label text. Run with `node --trace-gc` to see the GC pauses.
 *
 *   npx tsx bench/collector/exposition.ts [--series 200000] [--rounds 3]
 */
import { parseArgs } from 'node:util';
import { seriesId } from '@sloth/core';
import { seriesExposition } from '../../collector/src/exposition.js';
import { LatestValues } from '../../collector/src/latest-values.js';
import type { MetricSeries } from '../../collector/src/records.js';

const { values: args } = parseArgs({ options: { series: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '3' } } });
const count = Number(args.series);
const rounds = Number(args.rounds);
const metrics = 20;
const states = ['user', 'system', 'idle', 'wait', 'nice'];

const series: MetricSeries[] = [];
for (let i = 0; i < count; i += 1) {
  const agent = `agent-${String(Math.floor(i / 1_000)).padStart(3, '0')}`;
  const name = `system.metric.number${i % metrics}`;
  const labels = { cpu: String(i % 8), state: states[i % 5] as string, slot: String(Math.floor(i / 40) % 25), agent };
  series.push({ key: seriesId(name, labels), name, labels, agentId: agent, kind: 'gauge', unit: '1', description: 'a metric', monotonic: false });
}
const latest = new LatestValues();
latest.update({ length: count, series, timestamps: new Float64Array(count).fill(1_764_000_000_000), values: Float64Array.from({ length: count }, (_, i) => i), histograms: new Map() });

const results = [];
for (let round = 1; round <= rounds; round += 1) {
  let total = 0;
  let longest = 0;
  let steps = 0;
  let chars = 0;
  const scrape = seriesExposition(latest);
  for (;;) {
    const started = performance.now();
    const step = scrape.next();
    const millis = performance.now() - started;
    total += millis;
    longest = Math.max(longest, millis);
    steps += 1;
    if (step.done === true) break;
    chars += step.value.length;
  }
  results.push({ round, totalMillis: Math.round(total), steps, longestStepMillis: Number(longest.toFixed(1)), megabytes: Number((chars / 1e6).toFixed(1)) });
}
console.log(JSON.stringify({ series: latest.size, rounds: results }, null, 2));
