import { describe, expect, it } from 'vitest';
import { decodeSampleColumns, parseSeriesId, silentLogger, sleep } from '@sloth/core';
import { decodeRequest } from '../src/decode.js';
import { normaliseMetrics } from '../src/otlp-normalise.js';
import type { MetricsRequestMessage } from '../src/otlp-root.js';
import { SamplePublisher } from '../src/publisher.js';
import { SeriesCache } from '../src/series-cache.js';
import { redisPerFile } from './helpers/redis-fixture.js';

const redis = redisPerFile('sloth-publisher-kinds-');

const timeUnixNano = '1764000000123000000';
const point = (value: number): Record<string, unknown> => ({ timeUnixNano, asDouble: value });

describe('SamplePublisher sample kinds', () => {
  it('marks monotonic sums cumulative or delta (OTLP temporality) and gauges and non-monotonic sums as gauges', async () => {
    const body = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'host.name', value: { stringValue: 'h1' } }] },
          scopeMetrics: [
            {
              metrics: [
                { name: 'system.cpu.utilization', gauge: { dataPoints: [point(0.5)] } },
                { name: 'system.disk.io', sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [point(1e9)] } },
                { name: 'http.requests', sum: { isMonotonic: true, aggregationTemporality: 1, dataPoints: [point(12)] } },
                { name: 'system.memory.usage', sum: { isMonotonic: false, aggregationTemporality: 2, dataPoints: [point(4e9)] } },
              ],
            },
          ],
        },
      ],
    };
    const message = decodeRequest('metrics', 'json', Buffer.from(JSON.stringify(body))).message as MetricsRequestMessage;
    const { batch } = normaliseMetrics(message, 'p', { cache: new SeriesCache(), admit: () => true });
    const stream = 'kinds:samples';
    const publisher = new SamplePublisher({ redisUrl: redis.url, streamKey: stream, maxLength: 1_000, bufferSamples: 1_000, logger: silentLogger(), onDropped: () => undefined, onPublished: () => undefined });
    await publisher.start();
    try {
      publisher.publish(batch.metrics);
      for (let i = 0; i < 200 && (await redis.client.xlen(stream)) === 0; i += 1) await sleep(25);
    } finally {
      await publisher.shutdown();
    }
    const rows = (await redis.client.xrange(stream, '-', '+')) as Array<[string, string[]]>;
    expect(rows).toHaveLength(1);
    const columns = decodeSampleColumns(rows[0]![1]);
    const kindOf = Object.fromEntries(columns.seriesIds.map((id, i) => [parseSeriesId(id).name, columns.kinds?.[i]]));
    expect(kindOf).toEqual({ 'system.cpu.utilization': 'gauge', 'system.disk.io': 'cumulative', 'http.requests': 'delta', 'system.memory.usage': 'gauge' });
  });
});
