import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger, TokenSet } from '@sloth/core';
import { BodyPool, readBody } from '../src/body-pool.js';
import { HttpError } from '../src/http-error.js';
import { IngestPipeline } from '../src/ingest-pipeline.js';
import { buildOtlpApp } from '../src/otlp-http.js';
import { SeriesCache } from '../src/series-cache.js';
import { SelfMetrics } from '../src/self-metrics.js';
import { WriteAheadLog, readEntry, walSegmentPath, walSegments } from '../src/wal.js';
import { decodeWalEntry } from '../src/wal-entry.js';
import { encodeMetricsRequest, gaugeRequestObject } from './helpers/otlp-requests.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-body-pool-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('BodyPool', () => {
  it('hands out views of slabs, reuses a slab given back, and gives bodies past a slab a buffer of their own', () => {
    const pool = new BodyPool(16, 2);
    const first = pool.take(10);
    expect(first.body.length).toBe(10);
    expect(first.slab?.byteLength).toBe(16);
    expect(first.body.buffer).toBe(first.slab);
    pool.give(first.slab as ArrayBuffer);
    expect(pool.freeSlabs).toBe(1);
    const again = pool.take(16);
    expect(again.slab).toBe(first.slab);
    expect(pool.freeSlabs).toBe(0);
    const large = pool.take(17);
    expect(large.slab).toBeUndefined();
    expect(large.body.length).toBe(17);
  });

  it('keeps at most maxFreeSlabs and ignores a buffer that is not one of its slabs', () => {
    const pool = new BodyPool(8, 2);
    const slabs = [pool.take(8), pool.take(8), pool.take(8)].map((t) => t.slab as ArrayBuffer);
    for (const slab of slabs) pool.give(slab);
    expect(pool.freeSlabs).toBe(2);
    pool.take(1);
    pool.give(new ArrayBuffer(4));
    expect(pool.freeSlabs).toBe(1);
  });
});

describe('readBody', () => {
  it('returns a one-chunk body as it came, without a slab', async () => {
    const chunk = bytes('one chunk');
    const { body, slab } = await readBody(Readable.from([chunk]), chunk.length, 100, new BodyPool(64, 4));
    expect(body).toBe(chunk);
    expect(slab).toBeUndefined();
  });

  it('joins several chunks into a slab, and an empty body into an empty buffer', async () => {
    const pool = new BodyPool(64, 4);
    const { body, slab } = await readBody(Readable.from([bytes('first,'), bytes('second,'), bytes('third')]), 18, 100, pool);
    expect(body.toString('utf8')).toBe('first,second,third');
    expect(body.buffer).toBe(slab);
    const empty = await readBody(Readable.from([]), 0, 100, pool);
    expect(empty.body.length).toBe(0);
    expect(empty.slab).toBeUndefined();
  });

  it('refuses a body past the limit with 413 and a short one with 400, naming the sizes', async () => {
    const pool = new BodyPool(64, 4);
    const tooLarge = readBody(Readable.from([bytes('12345'), bytes('6789')]), Number.NaN, 8, pool);
    await expect(tooLarge).rejects.toBeInstanceOf(HttpError);
    await expect(tooLarge).rejects.toMatchObject({ statusCode: 413, message: 'body is larger than the limit of 8 bytes' });
    await expect(readBody(Readable.from([bytes('abc')]), 5, 100, pool)).rejects.toMatchObject({ statusCode: 400, message: 'body has 3 bytes but Content-Length says 5' });
  });

  it('answers 400 naming the error when the stream fails part-way', async () => {
    const stream = new PassThrough();
    const read = readBody(stream, 100, 1000, new BodyPool(64, 4));
    stream.write(bytes('partial'));
    stream.destroy(new Error('socket hang up'));
    await expect(read).rejects.toMatchObject({ statusCode: 400, message: 'the request body could not be read: socket hang up' });
  });
});

/** POSTs over a real socket (so a body past 64 KiB reaches the server in several chunks). */
function post(port: number, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/metrics', headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('pooled request bodies', () => {
  it('are in the write-ahead log exactly as sent, although their slabs are reused by the requests after them', async () => {
    const series = { cache: new SeriesCache(), admit: () => true };
    // One segment that is never released, so every entry can be read back.
    const wal = new WriteAheadLog({ dir: join(dir, 'wal'), segmentBytes: 1 << 30, logger: silentLogger() });
    const pipeline = new IngestPipeline({
      wal,
      store: { write: () => undefined, lastCheckpoint: () => 0 },
      sinks: { latest: () => undefined, resources: () => undefined, publish: () => undefined, stored: () => undefined },
      series,
      logger: silentLogger(),
      maxQueuedPoints: 10_000_000,
      maxDecompressedBytes: 1 << 20,
    });
    await pipeline.recover();
    const pool = new BodyPool(128 * 1024, 64);
    const app = buildOtlpApp({
      pipeline,
      tokens: new TokenSet([], { insecureNoAuth: true }),
      series,
      metrics: new SelfMetrics({ queueDepth: () => pipeline.queueDepth, activeSeries: () => 0 }),
      logger: silentLogger(),
      maxBodyBytes: 1 << 20,
      maxDecompressedBytes: 1 << 20,
      retryAfterSeconds: 1,
      bodyPool: pool,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    const now = Date.now();
    const bodies = Array.from({ length: 48 }, (_, r) =>
      encodeMetricsRequest(gaugeRequestObject({ agent: `agent-${r}`, name: 'test.pooled', points: Array.from({ length: 1500 }, (_, i) => ({ attributes: { slot: String(i), request: String(r) }, value: r * 10_000 + i, timeMillis: now + r })) })),
    );
    for (const body of bodies) expect(body.length).toBeGreaterThan(64 * 1024);
    for (const body of bodies) expect(body.length).toBeLessThanOrEqual(128 * 1024);
    try {
      // 16 in flight: slabs go back and are taken again while other requests' WAL writes are pending.
      const statuses: number[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < bodies.length) statuses.push(await post(port, bodies[next++] as Buffer));
        }),
      );
      expect(statuses).toEqual(bodies.map(() => 200));
      expect(pool.freeSlabs).toBeGreaterThan(0);
    } finally {
      await app.close();
      await pipeline.shutdown();
    }
    const logged: string[] = [];
    for (const first of walSegments(join(dir, 'wal'))) {
      const data = readFileSync(walSegmentPath(join(dir, 'wal'), first));
      for (let entry = readEntry(data, 0); entry !== undefined; entry = readEntry(data, entry.end)) logged.push(decodeWalEntry(entry.payload).body.toString('hex'));
    }
    expect(readdirSync(join(dir, 'wal')).length).toBe(1);
    expect(logged.sort()).toEqual(bodies.map((b) => b.toString('hex')).sort());
  });
});
