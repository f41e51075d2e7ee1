/**
 * Write throughput of the collector's SQLite store (no HTTP, no decoding).
 *
 *   nice -n 10 npx tsx bench/store/write-throughput.ts [--points N] [--series N] [--batch N] [--requests-per-write N] [--histograms FRACTION] [--cache-mb N] [--worker]
 *
 * Builds batches of `--batch` points (one OTLP request's worth) as
 * `MetricColumns` before each write (outside the timing), then times
 * `store.write()` with `--requests-per-write` batches per transaction, as the
 * ingest pipeline groups them. Points go round-robin over the series, one
 * second apart per series. `quarterPointsPerSecond` is the rate of each
 * quarter of the run: it shows whether writes slow down as the store grows.
 * `--worker` (StoreWriter) loads the built collector: `npx tsc -b collector` first.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { seriesId } from '@sloth/core';
import type { HistogramValue, IngestBatch, MetricSeries } from '../../collector/src/records.js';
import { SqliteStore } from '../../collector/src/store/sqlite-store.js';

interface AsyncStoreLike {
  write(batches: readonly IngestBatch[], checkpoint: number): Promise<void>;
  seriesCount(): number;
  close(): Promise<void>;
}
interface WriterModule {
  StoreWriter: { open(options: { dataDir: string; retentionMillis: number; pruneIntervalMillis?: number; cacheMb?: number }): Promise<AsyncStoreLike> };
}

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '600000' },
    series: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '1000' },
    'requests-per-write': { type: 'string', default: '8' },
    histograms: { type: 'string', default: '0' },
    'cache-mb': { type: 'string', default: '32' },
    worker: { type: 'boolean', default: false },
  },
});
const totalPoints = Number(values.points);
const seriesTotal = Number(values.series);
const batchSize = Number(values.batch);
const requestsPerWrite = Number(values['requests-per-write']);
const histogramFraction = Number(values.histograms);
const cacheMb = Number(values['cache-mb']);

function makeSeries(i: number): MetricSeries {
  const agentId = `host-${i % 20}`;
  const histogram = i < seriesTotal * histogramFraction;
  const name = histogram ? 'http.server.duration' : `system.metric_${i % 50}`;
  const labels = { agent: agentId, cpu: String(i % 8), state: `s${Math.floor(i / 400)}`, idx: String(i) };
  return { key: seriesId(name, labels), name, labels, agentId, kind: histogram ? 'histogram' : 'gauge', unit: histogram ? 'ms' : '1', description: '', monotonic: false };
}

const series = Array.from({ length: seriesTotal }, (_, i) => makeSeries(i));
const startMillis = Date.now() - 3_600_000;
let made = 0;

/** The next `--batch` points (fewer at the end of the run). */
function nextBatch(): IngestBatch {
  const length = Math.min(batchSize, totalPoints - made);
  const pointSeries: MetricSeries[] = [];
  const timestamps = new Float64Array(length);
  const pointValues = new Float64Array(length);
  const histograms = new Map<number, HistogramValue>();
  for (let j = 0; j < length; j += 1, made += 1) {
    const s = series[made % seriesTotal]!;
    pointSeries.push(s);
    timestamps[j] = startMillis + Math.floor(made / seriesTotal) * 1_000;
    if (s.kind === 'histogram') {
      pointValues[j] = Number.NaN;
      histograms.set(j, { count: made, sum: made * 3, bounds: [5, 10, 25, 50, 100, 250], bucketCounts: [1, 2, 3, 4, 5, 6, 7] });
    } else {
      pointValues[j] = Math.random();
    }
  }
  return {
    resources: [{ agentId: 'host-0', principal: 'bench', attributes: { 'host.name': 'host-0' } }],
    metrics: { length, series: pointSeries, timestamps, values: pointValues, histograms },
    spans: [],
    logs: [],
  };
}

const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-store-'));
const options = { dataDir: dir, retentionMillis: 7 * 86_400_000, pruneIntervalMillis: 0, cacheMb };
async function openWriter(): Promise<AsyncStoreLike> {
  const { StoreWriter } = (await import(pathToFileURL(resolve('collector/dist/src/store/store-writer.js')).href)) as WriterModule;
  return StoreWriter.open(options);
}
const store: SqliteStore | AsyncStoreLike = values.worker ? await openWriter() : SqliteStore.open(options);
const eluStart = performance.eventLoopUtilization();
let checkpoint = 0;
const writeMillis: number[] = [];
/** Time spent in write() per quarter of the points. */
const quarterSeconds = [0, 0, 0, 0];
while (made < totalPoints) {
  const quarter = Math.min(3, Math.floor((4 * made) / totalPoints));
  const batches: IngestBatch[] = [];
  while (batches.length < requestsPerWrite && made < totalPoints) batches.push(nextBatch());
  const t0 = process.hrtime.bigint();
  // With --worker, write() returns once the worker committed; the main thread is free meanwhile (see mainThreadBusy).
  await Promise.resolve(store.write(batches, (checkpoint += 1)));
  const millis = Number(process.hrtime.bigint() - t0) / 1e6;
  writeMillis.push(millis);
  quarterSeconds[quarter] = (quarterSeconds[quarter] as number) + millis / 1000;
}
function databaseBytes(): number {
  let bytes = 0;
  for (const suffix of ['', '-wal']) {
    try {
      bytes += statSync(join(dir, 'collector', `sloth.db${suffix}`)).size;
    } catch {
      // no WAL file
    }
  }
  return bytes;
}
const seconds = quarterSeconds.reduce((a, b) => a + b, 0);
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
    cacheMb,
    worker: values.worker,
    seconds: Number(seconds.toFixed(2)),
    pointsPerSecond: Math.round(totalPoints / seconds),
    quarterPointsPerSecond: quarterSeconds.map((q) => Math.round(totalPoints / 4 / q)),
    writeP50Millis: Number(p(0.5)),
    writeP99Millis: Number(p(0.99)),
    mainThreadBusy: Number(elu.utilization.toFixed(2)),
    rssMb: Math.round(process.memoryUsage().rss / 1e6),
    dbMb: Math.round(databaseBytes() / 1e6),
  }),
);
await Promise.resolve(store.close());
rmSync(dir, { recursive: true, force: true });
