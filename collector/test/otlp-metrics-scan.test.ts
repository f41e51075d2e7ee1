import { describe, expect, it } from 'vitest';
import protobufMinimal from 'protobufjs/minimal.js';
import { decodeAndNormalise, decodeAndNormaliseGeneric } from '../src/ingest-pipeline.js';
import { scanMetricsRequest } from '../src/otlp-metrics-scan.js';
import type { NormaliseResult, SeriesContext } from '../src/otlp-normalise.js';
import { AttributeBytesIndex, SeriesCache } from '../src/series-cache.js';
import type { MetricSeries } from '../src/records.js';
import { encodeMetricsRequest } from './helpers/otlp-requests.js';

const nowNanos = '1764000000123000000';

function context(admit: (series: MetricSeries) => boolean = () => true): SeriesContext {
  return { cache: new SeriesCache(), admit };
}

/** Everything a result carries, series by value. */
function comparable(result: NormaliseResult): unknown {
  const m = result.batch.metrics;
  return {
    accepted: result.accepted,
    rejected: result.rejected,
    rejectedByReason: result.rejectedByReason,
    errorMessage: result.errorMessage,
    resources: result.batch.resources,
    points: Array.from({ length: m.length }, (_, i) => {
      const s = m.series[i] as MetricSeries;
      return { key: s.key, labels: s.labels, name: s.name, agentId: s.agentId, kind: s.kind, unit: s.unit, description: s.description, monotonic: s.monotonic, delta: s.delta, t: m.timestamps[i], v: m.values[i] };
    }),
  };
}

const attributeKinds = [
  { key: 'cpu', value: { intValue: 3 } },
  { key: 'state', value: { stringValue: 'idle' } },
  { key: 'up', value: { boolValue: true } },
  { key: 'ratio', value: { doubleValue: 0.25 } },
  { key: 'neg', value: { intValue: '-7' } },
  { key: 'list', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 2 }] } } },
  { key: 'map', value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } } },
  { key: 'blob', value: { bytesValue: Buffer.from([1, 2, 3]).toString('base64') } },
  { key: 'ünïcode', value: { stringValue: 'värde ✓' } },
];

/** Two resources, gauges and sums of every flavour, and the points the generic path rejects. */
function richRequest(): Record<string, unknown> {
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.instance.id', value: { stringValue: 'web-1' } }, { key: 'host.name', value: { stringValue: 'h1' } }] },
        schemaUrl: 'https://opentelemetry.io/schemas/1.24.0',
        scopeMetrics: [
          {
            scope: { name: 'hostmetrics', version: '1' },
            metrics: [
              {
                name: 'system.cpu.utilization',
                unit: '1',
                description: 'CPU use',
                gauge: {
                  dataPoints: [
                    ...attributeKinds.map((kv, i) => ({ timeUnixNano: nowNanos, asDouble: i / 10, attributes: [kv] })),
                    { timeUnixNano: nowNanos, asDouble: 1.5, attributes: attributeKinds },
                    { timeUnixNano: nowNanos, asInt: '42' },
                    { timeUnixNano: nowNanos, asInt: '-42', attributes: [{ key: 'cpu', value: { intValue: 3 } }] },
                    // The same series as the first point, its attribute sent as a string this time.
                    { timeUnixNano: nowNanos, asDouble: 9, attributes: [{ key: 'cpu', value: { stringValue: '3' } }] },
                    { asDouble: 1, attributes: [{ key: 'cpu', value: { intValue: 1 } }] },
                    { timeUnixNano: '0', asDouble: 1 },
                    { timeUnixNano: nowNanos, asDouble: Number.NaN },
                    { timeUnixNano: nowNanos },
                    { timeUnixNano: '18446744073709551615', asDouble: 1 },
                  ],
                },
              },
              { name: 'system.cpu.time', unit: 's', sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [{ timeUnixNano: nowNanos, asDouble: 10, attributes: [{ key: 'cpu', value: { intValue: 0 } }] }] } },
              { name: 'requests', sum: { isMonotonic: true, aggregationTemporality: 1, dataPoints: [{ timeUnixNano: nowNanos, asInt: '5' }] } },
              { name: 'balance', sum: { isMonotonic: false, dataPoints: [{ timeUnixNano: nowNanos, asDouble: -3 }] } },
              { name: '', gauge: { dataPoints: [{ timeUnixNano: nowNanos, asDouble: 1 }, { timeUnixNano: nowNanos, asDouble: 2 }] } },
              { name: 'no.data' },
            ],
          },
        ],
      },
      {
        resource: { attributes: [{ key: 'host.name', value: { stringValue: 'db-1' } }] },
        scopeMetrics: [{ metrics: [{ name: 'system.cpu.utilization', unit: '1', gauge: { dataPoints: [{ timeUnixNano: nowNanos, asDouble: 0.5, attributes: [{ key: 'cpu', value: { intValue: 3 } }] }] } }] }],
      },
      { scopeMetrics: [{ metrics: [{ name: 'orphan', gauge: { dataPoints: [{ timeUnixNano: nowNanos, asDouble: 1 }] } }] }] },
    ],
  };
}

function gaugeRequest(dataPoints: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { resourceMetrics: [{ resource: { attributes: [{ key: 'host.name', value: { stringValue: 'h1' } }] }, scopeMetrics: [{ metrics: [{ name: 'g', gauge: { dataPoints }, ...extra }] }] }] };
}

describe('metrics fast path (scanMetricsRequest)', () => {
  it('gives exactly what the generic decoder gives for gauges and sums, rejections included', () => {
    const body = encodeMetricsRequest(richRequest());
    const fast = scanMetricsRequest(body, 'tok', context());
    expect(fast).toBeDefined();
    const generic = decodeAndNormaliseGeneric('metrics', 'protobuf', body, 'tok', context(), 0);
    expect(comparable(fast as NormaliseResult)).toEqual(comparable(generic));
    // Not vacuous: both accepted points of every kind and rejected the bad ones.
    expect(generic.accepted).toBeGreaterThan(15);
    expect(Object.keys(generic.rejectedByReason).sort()).toEqual(['invalid_name', 'invalid_timestamp', 'invalid_value']);
  });

  it('hands out the same series objects as the attribute trie, from the second request on without decoding', () => {
    const body = encodeMetricsRequest(richRequest());
    const shared = context();
    const generic = decodeAndNormaliseGeneric('metrics', 'protobuf', body, 'tok', shared, 0);
    const first = scanMetricsRequest(body, 'tok', shared) as NormaliseResult;
    const second = scanMetricsRequest(body, 'tok', shared) as NormaliseResult;
    for (const result of [first, second]) {
      expect(result.batch.metrics.length).toBe(generic.batch.metrics.length);
      result.batch.metrics.series.forEach((s, i) => expect(s).toBe(generic.batch.metrics.series[i]));
    }
  });

  it('admits after reading, in point order, and reports the cardinality rejections as the generic path does', () => {
    const body = encodeMetricsRequest(richRequest());
    const limit = (): ((series: MetricSeries) => boolean) => {
      const seen = new Set<string>();
      return (series) => {
        if (seen.has(series.key)) return true;
        if (seen.size >= 4) return false;
        seen.add(series.key);
        return true;
      };
    };
    const fast = scanMetricsRequest(body, 'tok', context(limit())) as NormaliseResult;
    const generic = decodeAndNormaliseGeneric('metrics', 'protobuf', body, 'tok', context(limit()), 0);
    expect(fast.rejectedByReason.cardinality).toBeGreaterThan(0);
    expect(fast.accepted).toBe(generic.accepted);
    expect(fast.rejectedByReason).toEqual(generic.rejectedByReason);
    expect((comparable(fast) as { points: unknown }).points).toEqual((comparable(generic) as { points: unknown }).points);
  });

  it('leaves histograms, exemplars and malformed bodies to the generic decoder, admitting nothing itself', () => {
    const histogram = encodeMetricsRequest({
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: nowNanos, asDouble: 1 }] } }, { name: 'h', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: nowNanos, count: 2, sum: 3, explicitBounds: [1], bucketCounts: [1, 1] }] } }] }] }],
    });
    let admitted = 0;
    const counting = context(() => {
      admitted += 1;
      return true;
    });
    expect(scanMetricsRequest(histogram, 'tok', counting)).toBeUndefined();
    const exemplar = encodeMetricsRequest(gaugeRequest([{ timeUnixNano: nowNanos, asDouble: 1, exemplars: [{ timeUnixNano: nowNanos, asDouble: 1 }] }]));
    expect(scanMetricsRequest(exemplar, 'tok', counting)).toBeUndefined();
    const good = encodeMetricsRequest(richRequest());
    const truncated = good.subarray(0, good.length - 5);
    expect(scanMetricsRequest(truncated, 'tok', counting)).toBeUndefined();
    expect(admitted).toBe(0);
    // Through the pipeline's entry point the generic decoder takes them: the histogram is stored, the truncated body is a 400.
    expect(decodeAndNormalise('metrics', 'protobuf', histogram, 'tok', context(), 0).accepted).toBe(2);
    expect(() => decodeAndNormalise('metrics', 'protobuf', truncated, 'tok', context(), 0)).toThrow(/malformed OTLP protobuf metrics request/);
  });

  it('leaves a point whose attributes are split by another field to the generic decoder', () => {
    const W = protobufMinimal.Writer;
    const kv = (key: string, value: string): Uint8Array => W.create().uint32(10).string(key).uint32(18).fork().uint32(10).string(value).ldelim().finish();
    const point = W.create().uint32(58).bytes(kv('a', '1')).uint32(25).fixed64(1_764_000_000_123_000_000).uint32(33).double(2).uint32(58).bytes(kv('b', '2')).finish();
    const metric = W.create().uint32(10).string('split').uint32(42).fork().uint32(10).bytes(point).ldelim().finish();
    const body = W.create().uint32(10).fork().uint32(18).fork().uint32(18).bytes(metric).ldelim().ldelim().finish();
    expect(scanMetricsRequest(body, 'tok', context())).toBeUndefined();
    const result = decodeAndNormalise('metrics', 'protobuf', body, 'tok', context(), 0);
    expect(result.accepted).toBe(1);
    expect(result.batch.metrics.series[0]?.labels).toMatchObject({ a: '1', b: '2' });
  });
});

describe('hostile bodies', () => {
  /** The generic path's answer for a body: its result, or the error it throws (a 400 to the client). */
  function generic(body: Uint8Array): NormaliseResult | Error {
    try {
      return decodeAndNormaliseGeneric('metrics', 'protobuf', body, 'tok', context(), 0);
    } catch (error) {
      return error as Error;
    }
  }

  it('on a body changed anywhere (a byte rewritten, cut short), either gives what the generic decoder gives or leaves it to it', () => {
    const good = encodeMetricsRequest(richRequest());
    const bodies: Uint8Array[] = [];
    // Every length cut short, and every byte rewritten with 4 values that upset varints, lengths and tags.
    for (let length = 0; length < good.length; length++) bodies.push(good.subarray(0, length));
    for (let at = 0; at < good.length; at++) {
      for (const value of [0x00, 0x7f, 0x80, 0xff]) {
        if (good[at] === value) continue;
        const changed = Uint8Array.from(good);
        changed[at] = value;
        bodies.push(changed);
      }
    }
    let fastTaken = 0;
    for (const body of bodies) {
      const fast = scanMetricsRequest(body, 'tok', context());
      if (fast === undefined) continue;
      fastTaken += 1;
      const expected = generic(body);
      expect(expected, `the generic decoder refuses a body the fast path read (${Buffer.from(body).toString('hex')})`).not.toBeInstanceOf(Error);
      expect(comparable(fast)).toEqual(comparable(expected as NormaliseResult));
    }
    // The fast path really ran on many of them (values and timestamps may change freely).
    expect(fastTaken).toBeGreaterThan(bodies.length / 10);
  });
});

describe('AttributeBytesIndex', () => {
  it('confirms a hash hit byte for byte, so two attribute sets with one hash keep their own series', () => {
    const index = new AttributeBytesIndex();
    const a = { key: 'a' } as MetricSeries;
    const b = { key: 'b' } as MetricSeries;
    const bytes = Uint8Array.from([9, 1, 2, 3, 9, 1, 2, 4, 9]);
    index.remember(7, bytes, 1, 4, a);
    index.remember(7, bytes, 5, 8, b);
    expect(index.find(7, bytes, 1, 4)).toBe(a);
    expect(index.find(7, bytes, 5, 8)).toBe(b);
    expect(index.find(7, Uint8Array.from([1, 2, 5]), 0, 3)).toBeUndefined();
    expect(index.find(7, Uint8Array.from([1, 2]), 0, 2)).toBeUndefined();
    // The pool grows past its first size without losing what it held.
    const long = new Uint8Array(1000).fill(5);
    index.remember(8, long, 0, 1000, b);
    expect(index.find(7, bytes, 1, 4)).toBe(a);
    expect(index.find(8, long, 0, 1000)).toBe(b);
  });
});
