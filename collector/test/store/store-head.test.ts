import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@sloth/core';
import { decodeAndNormalise, IngestPipeline } from '../../src/ingest-pipeline.js';
import { SeriesCache } from '../../src/series-cache.js';
import { StoreWriter } from '../../src/store/store-writer.js';
import { WriteAheadLog } from '../../src/wal.js';
import { encodeMetricsRequest, gaugeRequestObject } from '../helpers/otlp-requests.js';

/**
 * The ingest pipeline over the writer thread's in-memory head: requests handed to the head are
 * acknowledged from the write-ahead log, which keeps them until the head is committed, so a writer
 * that dies with a full head loses nothing.
 */

const day = 86_400_000;
const baseMillis = Date.now() - 3_600_000;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-head-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function open(): Promise<{ writer: StoreWriter; wal: WriteAheadLog; pipeline: IngestPipeline }> {
  const writer = await StoreWriter.open({ dataDir: dir, retentionMillis: 7 * day, pruneIntervalMillis: 0, headMaxMillis: 600_000 });
  // One small segment per request: released segments show what the log still keeps.
  const wal = new WriteAheadLog({ dir: join(dir, 'wal'), segmentBytes: 1, logger: silentLogger() });
  const pipeline = new IngestPipeline({
    wal,
    store: writer,
    sinks: { latest: () => undefined, resources: () => undefined, publish: () => undefined, stored: () => undefined },
    series: { cache: new SeriesCache(), admit: () => true },
    logger: silentLogger(),
    maxQueuedPoints: 100_000,
    maxDecompressedBytes: 1 << 20,
    applyDelayMillis: 5,
  });
  await pipeline.recover();
  return { writer, wal, pipeline };
}

async function ingest(pipeline: IngestPipeline, n: number): Promise<void> {
  const body = encodeMetricsRequest(gaugeRequestObject({ agent: 'held', name: 'test.head', points: [{ attributes: { slot: String(n % 2) }, value: n, timeMillis: baseMillis + n * 1000 }] }));
  const receivedAtMillis = Date.now();
  const result = decodeAndNormalise('metrics', 'protobuf', body, 'test', { cache: new SeriesCache(), admit: () => true }, receivedAtMillis);
  await pipeline.ingest({ signal: 'metrics', format: 'protobuf', encoding: 'identity', principal: 'test', receivedAtMillis, body }, result);
}

function storedValues(writer: StoreWriter): number[] {
  const values: number[] = [];
  for (const slot of ['0', '1']) {
    const points = writer.reader.samples({ seriesKey: `test.head{agent="held",slot="${slot}"}`, fromMillis: baseMillis, toMillis: baseMillis + 1_000_000 }) ?? [];
    for (const p of points) values.push(p.v as number);
  }
  return values.sort((a, b) => a - b);
}

const segments = (): number => readdirSync(join(dir, 'wal')).length;

describe('ingest over the store head', () => {
  it('keeps the write-ahead log until the head is committed, and a query commits it', async () => {
    const { writer, pipeline } = await open();
    try {
      for (let n = 0; n < 100; n++) await ingest(pipeline, n);
      await new Promise((r) => setTimeout(r, 100));
      expect(pipeline.queueDepth).toBe(0); // handed to the head
      expect(writer.lastCheckpoint()).toBe(0);
      expect(segments()).toBeGreaterThanOrEqual(100);
      await pipeline.caughtUp(10_000);
      expect(writer.lastCheckpoint()).toBe(100);
      expect(storedValues(writer)).toEqual(Array.from({ length: 100 }, (_, n) => n));
      // Released segments are deleted off the event loop: they go shortly after the commit.
      for (let i = 0; i < 100 && segments() >= 10; i++) await new Promise((r) => setTimeout(r, 20));
      expect(segments()).toBeLessThan(10);
    } finally {
      await pipeline.shutdown();
      await writer.close();
    }
  });

  it('loses nothing acknowledged when the writer thread dies with a full head', async () => {
    const first = await open();
    for (let n = 0; n < 50; n++) await ingest(first.pipeline, n);
    await first.pipeline.caughtUp(10_000);
    for (let n = 50; n < 120; n++) await ingest(first.pipeline, n);
    await new Promise((r) => setTimeout(r, 100));
    expect(first.pipeline.queueDepth).toBe(0);
    await first.writer.terminateForTest(); // as a SIGKILL would: the head is gone
    await first.pipeline.shutdown(); // cannot commit: the log keeps everything after 50
    await first.writer.close();

    const second = await open();
    try {
      expect(second.writer.lastCheckpoint()).toBe(120); // replayed and committed at start
      expect(storedValues(second.writer)).toEqual(Array.from({ length: 120 }, (_, n) => n));
    } finally {
      await second.pipeline.shutdown();
      await second.writer.close();
    }
  });
});
