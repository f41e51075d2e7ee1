import { describe, expect, it } from 'vitest';
import { decodeSampleColumns, silentLogger, sleep } from '@sloth/core';
import { decodeRequest } from '../src/decode.js';
import { normaliseMetrics } from '../src/otlp-normalise.js';
import type { MetricsRequestMessage } from '../src/otlp-root.js';
import { bucketQuantile, SamplePublisher } from '../src/publisher.js';
import { SeriesCache } from '../src/series-cache.js';
import { redisPerFile } from './helpers/redis-fixture.js';

const redis = redisPerFile('sloth-publisher-histograms-');

const bounds = [10, 100, 1000];

/** One OTLP/JSON request with one histogram point of `http.server.duration` at second `second`. */
function request(second: number, bucketCounts: number[], temporality: 1 | 2): Buffer {
  const count = bucketCounts.reduce((a, b) => a + b, 0);
  const body = {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'host.name', value: { stringValue: 'h1' } }] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'http.server.duration',
                unit: 'ms',
                histogram: {
                  aggregationTemporality: temporality,
                  dataPoints: [{ timeUnixNano: `${1_764_000_000 + second}000000000`, count, sum: 0, explicitBounds: bounds, bucketCounts, attributes: [{ key: 'route', value: { stringValue: '/a' } }] }],
                },
              },
            ],
          },
        ],
      },
    ],
  };
  return Buffer.from(JSON.stringify(body));
}

/** Publishes the requests through one publisher; returns every sample on the stream as `name → [value, kind][]`. */
async function publishAll(stream: string, requests: Buffer[]): Promise<Record<string, Array<[number, string | undefined]>>> {
  const cache = new SeriesCache();
  const publisher = new SamplePublisher({ redisUrl: redis.url, streamKey: stream, maxLength: 10_000, bufferSamples: 10_000, logger: silentLogger(), onDropped: () => undefined, onPublished: () => undefined });
  await publisher.start();
  try {
    for (const body of requests) {
      const message = decodeRequest('metrics', 'json', body).message as MetricsRequestMessage;
      publisher.publish(normaliseMetrics(message, 'p', { cache, admit: () => true }).batch.metrics);
    }
    for (let i = 0; i < 200 && publisher.pending > 0; i += 1) await sleep(25);
  } finally {
    await publisher.shutdown();
  }
  const out: Record<string, Array<[number, string | undefined]>> = {};
  for (const [, fields] of (await redis.client.xrange(stream, '-', '+')) as Array<[string, string[]]>) {
    const columns = decodeSampleColumns(fields);
    columns.seriesIds.forEach((id, i) => (out[id] ??= []).push([columns.values[i] as number, columns.kinds?.[i]]));
  }
  return out;
}

describe('histograms on the samples stream', () => {
  it('publishes a cumulative histogram as a count counter and the p50/p99 of each interval, skipping the first interval and handling a reset', async () => {
    const samples = await publishAll('cumulative:samples', [
      request(0, [5, 5, 0, 0], 2),
      // Interval 1: 10 observations, all in (10, 100].
      request(10, [5, 15, 0, 0], 2),
      // Interval 2: 100 more, 98 in (100, 1000] and 2 above 1000.
      request(20, [5, 15, 98, 2], 2),
      // A restart: counts drop, so this point's buckets are the interval's (4 in (0, 10]).
      request(30, [4, 0, 0, 0], 2),
    ]);
    const labels = '{agent="h1",route="/a"}';
    expect(samples[`http.server.duration.count${labels}`]).toEqual([[10, 'cumulative'], [20, 'cumulative'], [120, 'cumulative'], [4, 'cumulative']]);
    expect(samples[`http.server.duration.p50${labels}`]).toEqual([[55, 'gauge'], [100 + (900 * 50) / 98, 'gauge'], [5, 'gauge']]);
    expect(samples[`http.server.duration.p99${labels}`]).toEqual([[10 + 90 * 0.99, 'gauge'], [1000, 'gauge'], [9.9, 'gauge']]);
    expect(Object.keys(samples).filter((id) => id.startsWith('http.server.duration{'))).toEqual([]);
  });

  it('publishes a delta histogram count as a delta counter and its quantiles from the first point', async () => {
    const samples = await publishAll('delta:samples', [request(0, [0, 10, 0, 0], 1)]);
    const labels = '{agent="h1",route="/a"}';
    expect(samples[`http.server.duration.count${labels}`]).toEqual([[10, 'delta']]);
    expect(samples[`http.server.duration.p50${labels}`]).toEqual([[55, 'gauge']]);
  });

  it('estimates quantiles from buckets as histogram_quantile does', () => {
    expect(bucketQuantile(0.5, bounds, [0, 0, 0, 0])).toBeUndefined();
    expect(bucketQuantile(0.5, bounds, [2, 0, 0, 0])).toBe(5);
    expect(bucketQuantile(0.99, bounds, [0, 0, 0, 7])).toBe(1000);
    expect(bucketQuantile(0.25, [-5, 5], [4, 4, 0])).toBe(-5);
  });
});
