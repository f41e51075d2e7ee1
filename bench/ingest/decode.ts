/**
 * Decode benchmark: the collector's CPU work per data point before any I/O
 * — protobuf decoding with the generated OTLP code, then normalising into
 * columns (series lookup, cardinality admission) — in this one process, on
 * the same requests as `bench/ingest/run.ts`. Reports data points per second
 * and the share of time spent in garbage collection.
 *
 *   npx tsx bench/ingest/decode.ts [--seconds 10] [--points 1000] [--agents 20] [--generic]
 *
 * `--generic` decodes through the generated message objects only, as before
 * the protobuf fast path (`collector/src/otlp-metrics-scan.ts`), to compare.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { decodeAndNormalise, decodeAndNormaliseGeneric } from '../../collector/src/ingest-pipeline.js';
import { SeriesCache } from '../../collector/src/series-cache.js';
import { buildTemplate } from './requests.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    points: { type: 'string', default: '1000' },
    agents: { type: 'string', default: '20' },
    generic: { type: 'boolean', default: false },
  },
});
const seconds = Number(args.seconds);
const pointsPerRequest = Number(args.points);
const agents = Number(args.agents);

const templates = Array.from({ length: agents }, (_, a) => buildTemplate(a, pointsPerRequest));
const decode = args.generic ? decodeAndNormaliseGeneric : decodeAndNormalise;
const series = { cache: new SeriesCache(), admit: () => true };

let gcMillis = 0;
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMillis += entry.duration;
});
observer.observe({ entryTypes: ['gc'] });

function run(untilMillis: number): { points: number; requests: number } {
  let points = 0;
  let requests = 0;
  let nanos = 1_764_000_000_000_000_000n;
  while (performance.now() < untilMillis) {
    for (const { body, offsets } of templates) {
      nanos += 1_000_000n;
      for (const at of offsets) body.writeBigUInt64LE(nanos, at);
      points += decode('metrics', 'protobuf', body, 'bench', series, 0).accepted;
      requests += 1;
    }
  }
  return { points, requests };
}

run(performance.now() + 2_000); // warm-up: JIT and the series cache
await new Promise((r) => setImmediate(r));
gcMillis = 0;
const start = performance.now();
const cpuAtStart = process.cpuUsage();
const { points, requests } = run(start + seconds * 1_000);
const elapsedMillis = performance.now() - start;
const cpu = process.cpuUsage(cpuAtStart);
await new Promise((r) => setTimeout(r, 50)); // let the observer deliver the last gc entries
observer.disconnect();
console.log(
  JSON.stringify(
    {
      path: args.generic ? 'generic' : 'fast',
      pointsPerRequest,
      requests,
      pointsPerSecond: Math.round(points / (elapsedMillis / 1_000)),
      microsPerPoint: Number(((elapsedMillis * 1_000) / points).toFixed(2)),
      // CPU of the whole process (GC helper threads included): robust to other load on the machine.
      cpuMicrosPerPoint: Number(((cpu.user + cpu.system) / points).toFixed(2)),
      gcShare: Number((gcMillis / elapsedMillis).toFixed(3)),
      heapUsedMb: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    },
    null,
    2,
  ),
);
