import snappy from 'snappyjs';
import { describe, expect, it } from 'vitest';
import type { MetricColumns, MetricSeries } from '../../src/records.js';
import { TimeSeriesBuilder } from '../../src/remote-write/timeseries.js';
import { compressWriteRequest, decodeWriteRequest, encodeWriteRequest, writeRequestType, type RemoteTimeSeries } from '../../src/remote-write/write-request.js';

/** What protobufjs itself makes of the same series: the hand-written encoder must match it byte for byte. */
function referenceBytes(timeseries: readonly RemoteTimeSeries[]): Uint8Array {
  return writeRequestType.encode(writeRequestType.fromObject({ timeseries })).finish();
}

/** The protobuf bytes the hand-written encoder made (the body without its snappy block compression). */
function uncompressedBytes(timeseries: readonly RemoteTimeSeries[]): Uint8Array {
  return snappy.uncompress(encodeWriteRequest(timeseries));
}

const edgeTimestamps = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 1_733_450_000_123, Number.MAX_SAFE_INTEGER, -1, -1_733_450_000_123];
const edgeValues = [0, -0, 1.5, -2.25, 1e-300, 1.7976931348623157e308, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.1 + 0.2];

describe('remote-write encoder', () => {
  it('encodes WriteRequests that protobufjs decodes to the same series, byte for byte what protobufjs would write', () => {
    const timeseries: RemoteTimeSeries[] = [
      {
        labels: [
          { name: '__name__', value: 'node_cpu_seconds_total' },
          { name: 'agent', value: 'höst-1 ✓' },
          { name: 'empty', value: '' },
          { name: 'long', value: 'x'.repeat(300) },
        ],
        samples: edgeTimestamps.map((timestamp, i) => ({ timestamp, value: edgeValues[i % edgeValues.length] as number })),
      },
      { labels: [{ name: '__name__', value: 'up' }], samples: [{ timestamp: 1_733_450_000_000, value: 1 }] },
      // Enough series that the writer's 64 KiB buffer has to grow.
      ...Array.from({ length: 3_000 }, (_, s) => ({
        labels: [
          { name: '__name__', value: `m_${s % 7}` },
          { name: 'slot', value: String(s) },
        ],
        samples: Array.from({ length: 5 }, (_, k) => ({ timestamp: 1_733_450_000_000 + k * 1000, value: s * 10 + k })),
      })),
    ];
    const body = encodeWriteRequest(timeseries);
    const decoded = decodeWriteRequest(body);
    expect(decoded).toHaveLength(timeseries.length);
    expect(decoded[0]?.labels).toEqual(timeseries[0]?.labels);
    expect(decoded[0]?.samples.map((s) => s.timestamp)).toEqual(edgeTimestamps);
    // Object.is: -0 stays -0 and NaN-free doubles come back bit-exact.
    decoded[0]?.samples.forEach((s, i) => expect(Object.is(s.value, edgeValues[i % edgeValues.length])).toBe(true));
    expect(decoded).toEqual(timeseries);
    expect(Buffer.from(uncompressedBytes(timeseries)).equals(Buffer.from(referenceBytes(timeseries)))).toBe(true);
  });

  it('keeps NaN values (Prometheus stale markers are NaN payloads) and encodes an empty request as zero bytes', () => {
    const decoded = decodeWriteRequest(encodeWriteRequest([{ labels: [{ name: '__name__', value: 'x' }], samples: [{ timestamp: 5, value: Number.NaN }] }]));
    expect(Number.isNaN(decoded[0]?.samples[0]?.value)).toBe(true);
    expect(decodeWriteRequest(encodeWriteRequest([]))).toEqual([]);
  });
});

function series(name: string, labels: Record<string, string>, kind: 'gauge' | 'sum' = 'gauge'): MetricSeries {
  return { key: `${name}${JSON.stringify(labels)}`, name, labels, agentId: labels.agent ?? 'a', kind, unit: '1', description: '', monotonic: kind === 'sum' };
}

function columns(points: Array<[MetricSeries, number, number]>): MetricColumns {
  return { length: points.length, series: points.map(([s]) => s), timestamps: Float64Array.from(points.map(([, t]) => t)), values: Float64Array.from(points.map(([, , v]) => v)), histograms: new Map() };
}

describe('remote-write series builder', () => {
  it('groups samples by label set (equal labels from two series objects are one series), in time order, and starts over after finish', () => {
    const a = series('cpu', { agent: 'a1', cpu: '0' });
    const aAgain = series('cpu', { agent: 'a1', cpu: '0' }); // e.g. re-created after the series cache let go of it
    const b = series('requests', { agent: 'a1' }, 'sum');
    const builder = new TimeSeriesBuilder();
    builder.add(columns([[a, 3_000, 3], [b, 1_000, 10], [aAgain, 1_000, 1], [a, 2_000, 2], [b, 2_000, 20]]));
    builder.add(columns([[b, 1_500, 15], [a, 4_000, Number.NaN]])); // NaN: no value (skipped)
    expect(builder.samples).toBe(6);
    const first = decodeWriteRequest(compressWriteRequest(builder.finish()));
    expect(first).toEqual([
      { labels: [{ name: '__name__', value: 'cpu_ratio' }, { name: 'agent', value: 'a1' }, { name: 'cpu', value: '0' }], samples: [1_000, 2_000, 3_000].map((t, i) => ({ timestamp: t, value: i + 1 })) },
      { labels: [{ name: '__name__', value: 'requests_total' }, { name: 'agent', value: 'a1' }], samples: [{ timestamp: 1_000, value: 10 }, { timestamp: 1_500, value: 15 }, { timestamp: 2_000, value: 20 }] },
    ]);
    expect(builder.samples).toBe(0);
    builder.add(columns([[b, 9_000, 90]]));
    expect(decodeWriteRequest(compressWriteRequest(builder.finish()))).toEqual([{ labels: [{ name: '__name__', value: 'requests_total' }, { name: 'agent', value: 'a1' }], samples: [{ timestamp: 9_000, value: 90 }] }]);
  });

  it('encodes a large batch (growing every buffer) to exactly the points it was given', () => {
    const all = Array.from({ length: 2_000 }, (_, s) => series('load', { agent: `a${s % 10}`, slot: String(s) }));
    const builder = new TimeSeriesBuilder();
    const points: Array<[MetricSeries, number, number]> = [];
    for (let round = 9; round >= 0; round--) for (const s of all) points.push([s, 1_733_450_000_000 + round * 10_000, round]);
    builder.add(columns(points));
    const decoded = decodeWriteRequest(compressWriteRequest(builder.finish()));
    expect(decoded).toHaveLength(2_000);
    for (const s of decoded) {
      expect(s.samples.map((x) => x.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(s.samples.map((x) => x.timestamp)).toEqual(Array.from({ length: 10 }, (_, r) => 1_733_450_000_000 + r * 10_000));
    }
    expect(new Set(decoded.map((s) => s.labels.find((l) => l.name === 'slot')?.value)).size).toBe(2_000);
  });
});
