import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { decodeSampleEntry, RedisServer } from '@sloth/core';
import { CollectorProcess, eventually, postRetrying } from '../helpers/collector-process.js';
import { encodeMetricsRequest, gaugeRequestObject } from '../helpers/otlp-requests.js';

/**
 * The collector's samples buffer across a Redis restart (real redis-server killed, no persistence):
 * ingestion never stops; what the buffer holds is published once Redis is back, each sample once; what
 * did not fit is dropped oldest first and counted in sloth_collector_stream_dropped_total, so that
 * published + dropped = every sample accepted.
 */

let dir: string;
let redis: RedisServer;
let collector: CollectorProcess;
const prefix = `rr${process.pid}`;
const pointsPerRequest = 500;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-collector-redis-restart-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  const config = join(dir, 'sloth.yaml');
  writeFileSync(config, 'collector:\n  streamBufferSamples: 3000\n');
  collector = await CollectorProcess.start({ dataDir: join(dir, 'data'), redisUrl: redis.url, redisPrefix: prefix, extraArgs: ['--config', config] });
});

afterAll(async () => {
  await collector?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Request `n`: 500 series, one point each, value n * 1000 + i. */
async function send(n: number): Promise<number> {
  const points = Array.from({ length: pointsPerRequest }, (_, i) => ({ attributes: { i: String(i) }, value: n * 1000 + i, timeMillis: Date.now() - 60_000 + n }));
  const body = encodeMetricsRequest(gaugeRequestObject({ agent: 'rr', name: 'test.redis_restart', points }));
  // A load-shedding 503 stores nothing, so retrying it (bounded, honouring Retry-After) keeps every sample accepted once.
  const response = await postRetrying(`${collector.otlpUrl}/v1/metrics`, { headers: { 'content-type': 'application/x-protobuf' }, body });
  await response.arrayBuffer();
  return response.status;
}

async function streamValues(): Promise<number[]> {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    const rows = (await client.xrange(`${prefix}:samples`, '-', '+')) as Array<[string, string[]]>;
    return rows.flatMap(([, fields]) => decodeSampleEntry(fields)).map((s) => s.value);
  } finally {
    client.disconnect();
  }
}

async function selfMetric(name: string): Promise<number> {
  const text = await (await fetch(collector.metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`${name} is not on /metrics`);
  return Number(line.split(' ')[1]);
}

describe('collector samples buffer across a Redis restart', () => {
  it('publishes what the buffer held once Redis is back, each sample once, and counts what it dropped', async () => {
    expect(await send(0)).toBe(200);
    await eventually(async () => ((await streamValues()).length === pointsPerRequest ? true : undefined));

    redis.kill();
    // 10 × 500 samples while Redis is gone: the 3,000-sample buffer cannot hold them all.
    for (let n = 1; n <= 10; n++) expect(await send(n)).toBe(200);
    await redis.restart();
    for (let n = 11; n <= 12; n++) expect(await send(n)).toBe(200);

    const total = 13 * pointsPerRequest;
    const counted = await eventually(async () => {
      const published = await selfMetric('sloth_collector_stream_published_total');
      const dropped = await selfMetric('sloth_collector_stream_dropped_total');
      const buffered = await selfMetric('sloth_collector_stream_buffered_samples');
      return buffered === 0 && published + dropped === total ? { published, dropped } : undefined;
    }, 30_000);
    expect(counted.dropped).toBeGreaterThan(0);

    // The stream lost the first request with Redis (no persistence); everything published since is there, once.
    const values = await streamValues();
    expect(values).toHaveLength(counted.published - pointsPerRequest);
    expect(new Set(values).size).toBe(values.length);
    // Samples written after the restart are never the ones dropped: the oldest go first.
    for (const n of [11, 12]) for (let i = 0; i < pointsPerRequest; i++) expect(values).toContain(n * 1000 + i);
    // What was dropped is the oldest of the outage: no sample of a request is kept while an older one's is dropped.
    const requests = [...new Set(values.map((v) => Math.floor(v / 1000)))].sort((a, b) => a - b);
    expect(requests.slice(-2)).toEqual([11, 12]);
    expect(requests[0]).toBeGreaterThan(1);
    expect(collector.running).toBe(true);
  });
});
