/**
 * Server-side aggregation (issue 18): the average of `--series` series over
 * one hour at a 10 s step, answered by `GET /api/v1/query` on a real HTTP
 * server (createApi, bearer token) over a real store, and by
 * `store.aggregate()` directly. The store holds `--hours` of points every
 * 10 s per series, written `--points-per-chunk` points per series per write
 * transaction (1 is what agents reporting every 10 s produce: each
 * transaction holds one point per series, so each point is its own chunk).
 * Then, unless `--compact false`, it merges the chunks older than one
 * minute as the collector's background compaction does (one chunk per
 * series per hour). Prints the median and p95 of `--rounds` timed queries
 * after a warm-up.
 *
 *   npx tsx bench/collector/aggregate.ts [--series 100] [--hours 2] [--points-per-chunk 1] [--compact true] [--rounds 50]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createApi, parseTokenSpec, seriesId, silentLogger, TokenSet } from '@sloth/core';
import { registerAggregateRoute } from '../../collector/src/query-aggregate-route.js';
import { metricColumns, type MetricPoint } from '../../collector/src/records.js';
import { SqliteStore } from '../../collector/src/store/sqlite-store.js';

const { values: args } = parseArgs({
  options: {
    series: { type: 'string', default: '100' },
    hours: { type: 'string', default: '2' },
    'points-per-chunk': { type: 'string', default: '1' },
    rounds: { type: 'string', default: '50' },
    compact: { type: 'string', default: 'true' },
  },
});
const seriesCount = Number(args.series);
const hours = Number(args.hours);
const perChunk = Number(args['points-per-chunk']);
const rounds = Number(args.rounds);
const intervalMillis = 10_000;
const endMillis = Date.UTC(2026, 0, 1, 12, 0, 0);
const startMillis = endMillis - hours * 3_600_000;
const token = 'bench-aggregate-token-0123456789abcdef';

const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-aggregate-'));
const store = SqliteStore.open({ dataDir: dir, retentionMillis: 3650 * 86_400_000, pruneIntervalMillis: 0 });
try {
  const loadStarted = performance.now();
  let checkpoint = 0;
  let points = 0;
  for (let t = startMillis; t < endMillis; t += intervalMillis * perChunk) {
    const batchPoints: MetricPoint[] = [];
    for (let s = 0; s < seriesCount; s += 1) {
      const agentId = `host-${String(s % 20).padStart(2, '0')}`;
      const labels = { agent: agentId, cpu: String(Math.floor(s / 20)) };
      for (let k = 0; k < perChunk && t + k * intervalMillis < endMillis; k += 1) {
        const ts = t + k * intervalMillis + (s % 7) * 100;
        batchPoints.push({ seriesKey: seriesId('system.cpu.utilization', labels), name: 'system.cpu.utilization', labels, agentId, kind: 'gauge', unit: '1', description: '', monotonic: false, timestampMillis: ts, value: ((s * 31 + ts / 1000) % 100) / 100 });
      }
    }
    points += batchPoints.length;
    store.write([{ resources: [], metrics: metricColumns(batchPoints), spans: [], logs: [] }], (checkpoint += 1));
  }
  console.log(`store: ${seriesCount} series, ${points} points in ${checkpoint} write transactions (${perChunk} point(s) per series per chunk), loaded in ${Math.round(performance.now() - loadStarted)} ms`);
  if (args.compact !== 'false') {
    const compactStarted = performance.now();
    const compacted = store.compactChunks(endMillis - 60_000);
    console.log(`compaction: ${compacted.chunksRemoved} chunks merged away in ${Math.round(performance.now() - compactStarted)} ms (the last minute stays in one-point chunks)`);
  }

  const app = createApi({ name: 'collector', tokens: new TokenSet([parseTokenSpec(`${token}:bench`)]), logger: silentLogger() });
  registerAggregateRoute(app, { store, nowMillis: () => endMillis });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `${address}/api/v1/query?name=system.cpu.utilization&agg=avg&from=-1h&to=now&step=10s`;
  const query = { name: 'system.cpu.utilization', agg: 'avg' as const, fromMillis: endMillis - 3_600_000, toMillis: endMillis, stepMillis: 10_000 };

  const time = async (what: string, run: () => Promise<number> | number): Promise<void> => {
    for (let i = 0; i < 5; i += 1) await run();
    const millis: number[] = [];
    let pointsOut = 0;
    for (let i = 0; i < rounds; i += 1) {
      const started = performance.now();
      pointsOut = await run();
      millis.push(performance.now() - started);
    }
    millis.sort((a, b) => a - b);
    const at = (q: number): string => (millis[Math.min(millis.length - 1, Math.floor(q * millis.length))] as number).toFixed(2);
    console.log(`${what}: median ${at(0.5)} ms, p95 ${at(0.95)} ms, min ${at(0)} ms over ${rounds} queries (${pointsOut} points out)`);
  };

  await time('GET /api/v1/query (HTTP, avg of all series, 1 h, 10 s step)', async () => {
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (response.status !== 200) throw new Error(`query failed: ${response.status} ${await response.text()}`);
    const body = (await response.json()) as { series: number; groups: Array<{ points: unknown[] }> };
    if (body.series !== seriesCount) throw new Error(`expected ${seriesCount} series, got ${body.series}`);
    return body.groups[0]?.points.length ?? 0;
  });
  await time('store.aggregate (in process)', () => store.aggregate(query).groups[0]?.points.length ?? 0);
  await time('store.aggregate by agent', () => store.aggregate({ ...query, by: ['agent'] }).groups.length);
  await app.close();
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
