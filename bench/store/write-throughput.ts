/**
 * Write throughput of the collector's SQLite store (no HTTP, no decoding).
 *
 *   npx tsc -b collector && nice -n 10 npx tsx bench/store/write-throughput.ts [--points N] [--series N] [--batch N] [--requests-per-write N] [--histograms FRACTION] [--worker]
 *
 * Builds MetricPoint batches of `--batch` points (one OTLP request's worth)
 * in advance, then times `store.write()` with `--requests-per-write` batches
 * per transaction, as the ingest pipeline groups them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { seriesId } from '@sloth/core';

interface StoreLike {
  write(batches: readonly unknown[], checkpoint: number): void;
  seriesCount(): number;
  close(): void;
}
interface StoreModule {
  SqliteStore: { open(options: { dataDir: string; retentionMillis: number; pruneIntervalMillis?: number }): StoreLike };
}
interface AsyncStoreLike {
  write(batches: readonly unknown[], checkpoint: number): Promise<void>;
  seriesCount(): number;
  close(): Promise<void>;
}
interface WriterModule {
  StoreWriter: { open(options: { dataDir: string; retentionMillis: number; pruneIntervalMillis?: number }): Promise<AsyncStoreLike> };
}

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '600000' },
    series: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '1000' },
    'requests-per-write': { type: 'string', default: '8' },
    histograms: { type: 'string', default: '0' },
    worker: { type: 'boolean', default: false },
  },
});
const totalPoints = Number(values.points);
const seriesTotal = Number(values.series);
const batchSize = Number(values.batch);
const requestsPerWrite = Number(values['requests-per-write']);
const histogramFraction = Number(values.histograms);

// The store is loaded from the built collector, so the bench does not depend on what collector/src/index.ts exports.
const modulePath = resolve('collector/dist/src/store/sqlite-store.js');
const { SqliteStore } = (await import(pathToFileURL(modulePath).href)) as StoreModule;
const { StoreWriter } = (await import(pathToFileURL(resolve('collector/dist/src/store/store-writer.js')).href)) as WriterModule;

function makeSeries(i: number) {
  const agentId = `host-${i % 20}`;
  const histogram = i < seriesTotal * histogramFraction;
  const name = histogram ? 'http.server.duration' : `system.metric_${i % 50}`;
  const labels = { agent: agentId, cpu: String(i % 8), state: `s${Math.floor(i / 400)}`, idx: String(i) };
  return { key: seriesId(name, labels), name, labels, agentId, histogram };
}

const series = Array.from({ length: seriesTotal }, (_, i) => makeSeries(i));
const startMillis = Date.now() - 3_600_000;
const batches: unknown[] = [];
let made = 0;
while (made < totalPoints) {
  const metrics = [];
  for (let j = 0; j < batchSize && made < totalPoints; j += 1, made += 1) {
    const s = series[made % seriesTotal]!;
    const t = startMillis + Math.floor(made / seriesTotal) * 1_000;
    metrics.push(
      s.histogram
        ? { seriesKey: s.key, name: s.name, labels: s.labels, agentId: s.agentId, kind: 'histogram', unit: 'ms', description: '', monotonic: false, timestampMillis: t, count: made, sum: made * 3, bounds: [5, 10, 25, 50, 100, 250], bucketCounts: [1, 2, 3, 4, 5, 6, 7] }
        : { seriesKey: s.key, name: s.name, labels: s.labels, agentId: s.agentId, kind: 'gauge', unit: '1', description: '', monotonic: false, timestampMillis: t, value: Math.random() },
    );
  }
  batches.push({ resources: [{ agentId: 'host-0', principal: 'bench', attributes: { 'host.name': 'host-0' } }], metrics, spans: [], logs: [] });
}

const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-store-'));
const options = { dataDir: dir, retentionMillis: 7 * 86_400_000, pruneIntervalMillis: 0 };
const store: StoreLike | AsyncStoreLike = values.worker ? await StoreWriter.open(options) : SqliteStore.open(options);
const eluStart = performance.eventLoopUtilization();
const started = process.hrtime.bigint();
let checkpoint = 0;
const writeMillis: number[] = [];
for (let i = 0; i < batches.length; i += requestsPerWrite) {
  const t0 = process.hrtime.bigint();
  // With --worker, write() returns once the worker committed; the main thread is free meanwhile (see mainThreadBusy).
  await Promise.resolve(store.write(batches.slice(i, i + requestsPerWrite), (checkpoint += 1)));
  writeMillis.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const elu = performance.eventLoopUtilization(eluStart);
writeMillis.sort((a, b) => a - b);
const p = (q: number) => writeMillis[Math.min(writeMillis.length - 1, Math.floor(q * writeMillis.length))]!.toFixed(1);
console.log(
  JSON.stringify({
    points: totalPoints,
    series: store.seriesCount(),
    batchSize,
    requestsPerWrite,
    histogramFraction,
    worker: values.worker,
    seconds: Number(seconds.toFixed(2)),
    pointsPerSecond: Math.round(totalPoints / seconds),
    writeP50Millis: Number(p(0.5)),
    writeP99Millis: Number(p(0.99)),
    mainThreadBusy: Number(elu.utilization.toFixed(2)),
    rssMb: Math.round(process.memoryUsage().rss / 1e6),
  }),
);
await Promise.resolve(store.close());
rmSync(dir, { recursive: true, force: true });
