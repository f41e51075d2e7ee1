import { describe, expect, it } from 'vitest';
import { seriesId } from '@sloth/core';
import { decodeRequest } from '../src/decode.js';
import { encodeMetricsRequest } from './helpers/otlp-requests.js';
import { attributesToObject, normaliseMetrics, nanosToMillis, type SeriesContext } from '../src/otlp-normalise.js';
import type { MetricsRequestMessage } from '../src/otlp-root.js';
import type { MetricColumns, MetricPoint, MetricSeries } from '../src/records.js';
import { pointAt } from './store/fixtures.js';
import { SeriesCache } from '../src/series-cache.js';

function context(): SeriesContext {
  return { cache: new SeriesCache(), admit: () => true };
}

function points(columns: MetricColumns): MetricPoint[] {
  return Array.from({ length: columns.length }, (_, i) => pointAt(columns, i));
}

const now = 1_764_000_000_123;

function request(points: Array<{ attrs: Array<[string, Record<string, unknown>]>; value: number }>, agentAttrs: Array<[string, string]> = [['host.name', 'h1']]): MetricsRequestMessage {
  const body = {
    resourceMetrics: [
      {
        resource: { attributes: agentAttrs.map(([key, v]) => ({ key, value: { stringValue: v } })) },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'system.cpu.time',
                unit: 's',
                sum: {
                  isMonotonic: true,
                  aggregationTemporality: 2,
                  dataPoints: points.map((p) => ({ timeUnixNano: `${now}000000`, asDouble: p.value, attributes: p.attrs.map(([key, value]) => ({ key, value })) })),
                },
              },
            ],
          },
        ],
      },
    ],
  };
  return decodeRequest('metrics', 'json', Buffer.from(JSON.stringify(body))).message as MetricsRequestMessage;
}

describe('normaliseMetrics', () => {
  it('keeps at most 1,024 characters of a metric description (the HELP line of /metrics, stored with every series)', () => {
    const body = { resourceMetrics: [{ resource: { attributes: [{ key: 'host.name', value: { stringValue: 'h1' } }] }, scopeMetrics: [{ metrics: [{ name: 'g', description: 'd'.repeat(1_000_000), gauge: { dataPoints: [{ timeUnixNano: `${now}000000`, asDouble: 1 }] } }] }] }] };
    const columns = normaliseMetrics(decodeRequest('metrics', 'json', Buffer.from(JSON.stringify(body))).message as MetricsRequestMessage, 'p', context()).batch.metrics;
    expect(columns.series[0]?.description).toBe(`${'d'.repeat(1024)}…`);
  });

  it('gives the same series to the same attributes in any order, typed values stringified', () => {
    const result = normaliseMetrics(
      request([
        { attrs: [['cpu', { intValue: '1' }], ['state', { stringValue: 'user' }]], value: 1 },
        { attrs: [['state', { stringValue: 'user' }], ['cpu', { intValue: 1 }]], value: 2 },
        { attrs: [['cpu', { intValue: '2' }], ['busy', { boolValue: true }]], value: 3 },
      ]),
      'tenant',
      context(),
    );
    const [a, b, c] = points(result.batch.metrics);
    expect(a?.seriesKey).toBe(seriesId('system.cpu.time', { cpu: '1', state: 'user', agent: 'h1' }));
    expect(b?.seriesKey).toBe(a?.seriesKey);
    expect(c?.labels).toEqual({ cpu: '2', busy: 'true', agent: 'h1' });
    expect(a).toMatchObject({ kind: 'sum', monotonic: true, unit: 's', timestampMillis: now, value: 1, agentId: 'h1' });
    expect(result.batch.resources).toEqual([{ agentId: 'h1', principal: 'tenant', attributes: { 'host.name': 'h1' } }]);
  });

  it('keeps an attribute named __proto__ as a label and as a map value, and changes no prototype', () => {
    const [point] = points(normaliseMetrics(request([{ attrs: [['__proto__', { stringValue: 'x' }], ['cpu', { intValue: 1 }]], value: 1 }]), 'p', context()).batch.metrics);
    expect(Object.keys(point?.labels ?? {})).toContain('__proto__');
    expect(point?.labels.__proto__).toBe('x');
    const object = attributesToObject([{ key: '__proto__', value: { kvlistValue: { values: [{ key: 'polluted', value: { boolValue: true } }] } } }]);
    expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
    expect(JSON.stringify(object)).toBe('{"__proto__":{"polluted":true}}');
    expect((object as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('prefers service.instance.id for the agent and keeps agents apart', () => {
    const series = context();
    const one = normaliseMetrics(request([{ attrs: [], value: 1 }], [['host.name', 'h1'], ['service.instance.id', 'i-1']]), 'p', series);
    const two = normaliseMetrics(request([{ attrs: [], value: 1 }], [['host.name', 'h1']]), 'p', series);
    expect(one.batch.metrics.series[0]?.agentId).toBe('i-1');
    expect(two.batch.metrics.series[0]?.key).toBe('system.cpu.time{agent="h1"}');
    expect(one.batch.metrics.series[0]?.key).toBe('system.cpu.time{agent="i-1"}');
  });

  it('gives every point of a series one shared series object, per cache', () => {
    const series = context();
    const body = request([
      { attrs: [['cpu', { intValue: '1' }]], value: 1 },
      { attrs: [['cpu', { intValue: '2' }]], value: 2 },
    ]);
    const first = normaliseMetrics(body, 'p', series).batch.metrics;
    const second = normaliseMetrics(body, 'p', series).batch.metrics;
    expect(first.length).toBe(2);
    expect(second.series[0]).toBe(first.series[0]);
    expect(second.series[1]).toBe(first.series[1]);
    expect(first.series[0]).not.toBe(first.series[1]);
    // Another collector (another cache) never sees this one's series objects and their scratch state.
    const other = normaliseMetrics(body, 'p', context()).batch.metrics;
    expect(other.series[0]).not.toBe(first.series[0]);
    expect(other.series[0]?.key).toBe(first.series[0]?.key);
    expect(Array.from(first.values)).toEqual([1, 2]);
    expect(Array.from(first.timestamps)).toEqual([now, now]);
  });

  it('counts series the admission callback refuses', () => {
    const seen = new Set<string>();
    const admit = ({ key }: MetricSeries): boolean => {
      if (seen.has(key)) return true;
      if (seen.size >= 2) return false;
      seen.add(key);
      return true;
    };
    const result = normaliseMetrics(request([0, 1, 2, 3, 0].map((i) => ({ attrs: [['i', { intValue: String(i) }]], value: i }))), 'p', { cache: new SeriesCache(), admit });
    expect(result.accepted).toBe(3);
    expect(result.rejectedByReason).toEqual({ cardinality: 2 });
  });

  it('converts nanoseconds to milliseconds and rejects absent times', () => {
    expect(nanosToMillis('1764000000123456789')).toBe(1_764_000_000_123);
    expect(nanosToMillis(0)).toBeNaN();
    expect(nanosToMillis(null)).toBeNaN();
  });
});

describe('OTLP/JSON numbers', () => {
  it('rejects per point an asInt that is not an int64 and an asDouble that is not a number, and reads a time written as "1.5e18"', () => {
    const t = `${now}000000`;
    const sent: Array<[string, Record<string, unknown>]> = [
      ['int.abc', { timeUnixNano: t, asInt: 'abc' }],
      ['int.huge', { timeUnixNano: t, asInt: '99999999999999999999999' }],
      ['int.1e30', { timeUnixNano: t, asInt: 1e30 }],
      ['int.fraction', { timeUnixNano: t, asInt: 1.9 }],
      ['double.bool', { timeUnixNano: t, asDouble: true }],
      ['double.object', { timeUnixNano: t, asDouble: {} }],
      ['time.garbage', { timeUnixNano: '17640000x0123000000', asDouble: 1 }],
      ['int.max', { timeUnixNano: t, asInt: '9223372036854775807' }],
      ['int.min', { timeUnixNano: t, asInt: '-9223372036854775808' }],
      ['int.number', { timeUnixNano: t, asInt: 42 }],
      ['double.string', { timeUnixNano: t, asDouble: '12.5' }],
      ['time.exponent', { timeUnixNano: '1.5e18', asDouble: 1 }],
    ];
    const body = {
      resourceMetrics: [{ resource: { attributes: [{ key: 'host.name', value: { stringValue: 'h1' } }] }, scopeMetrics: [{ metrics: sent.map(([name, point]) => ({ name, gauge: { dataPoints: [point] } })) }] }],
    };
    const result = normaliseMetrics(decodeRequest('metrics', 'json', Buffer.from(JSON.stringify(body))).message as MetricsRequestMessage, 'p', context());
    expect(result.rejectedByReason).toEqual({ invalid_value: 6, invalid_timestamp: 1 });
    expect(points(result.batch.metrics).map((p) => [p.name, p.value, p.timestampMillis])).toEqual([
      ['int.max', 2 ** 63, now],
      ['int.min', -(2 ** 63), now],
      ['int.number', 42, now],
      ['double.string', 12.5, now],
      ['time.exponent', 1, 1_500_000_000_000],
    ]);
  });
});

describe('nanosToMillis precision', () => {
  it('keeps every whole-millisecond timestamp exact, from decimal strings and from 64-bit longs', () => {
    // Nanosecond timestamps are beyond 2^53: a plain floor put about one in eight of these 1 ms early.
    const wrong: number[] = [];
    for (let i = 0; i < 20_000; i += 1) {
      const millis = 1_795_600_000_000 + i * 7_919;
      const nanos = BigInt(millis) * 1_000_000n;
      const long = { high: Number(nanos >> 32n), low: Number(nanos & 0xffffffffn), unsigned: false };
      if (nanosToMillis(nanos.toString()) !== millis || nanosToMillis(long as never) !== millis) wrong.push(millis);
    }
    expect(wrong).toEqual([]);
    expect(nanosToMillis('1795600000000998000')).toBe(1_795_600_000_000);
    expect(nanosToMillis('1795600000000500000')).toBe(1_795_600_000_000);
  });
});

describe('protobuf decoding of 64-bit fields', () => {
  it('reads fixed64 times, negative sfixed64 values and fixed64 counts exactly through the generated code', () => {
    const millis = [1_795_600_000_000, 1_795_600_000_001, 1_764_000_000_123];
    const gauge = {
      name: 'g',
      gauge: { dataPoints: millis.map((m, i) => ({ timeUnixNano: (BigInt(m) * 1_000_000n).toString(), asInt: String([-5, 0, 2 ** 40][i]) })) },
    };
    const histogram = {
      name: 'h',
      histogram: { dataPoints: [{ timeUnixNano: (BigInt(millis[0] as number) * 1_000_000n).toString(), count: '7', sum: 1.5, explicitBounds: [1], bucketCounts: ['3', '4'] }] },
    };
    const object = { resourceMetrics: [{ resource: { attributes: [{ key: 'host.name', value: { stringValue: 'h1' } }] }, scopeMetrics: [{ metrics: [gauge, histogram] }] }] };
    const bytes = encodeMetricsRequest(object);
    const decoded = decodeRequest('metrics', 'protobuf', bytes);
    const columns = normaliseMetrics(decoded.message as MetricsRequestMessage, 'p', context()).batch.metrics;
    expect(Array.from(columns.timestamps)).toEqual([...millis, millis[0]]);
    expect(Array.from(columns.values.subarray(0, 3))).toEqual([-5, 0, 2 ** 40]);
    expect(columns.histograms.get(3)).toEqual({ count: 7, sum: 1.5, bounds: [1], bucketCounts: [3, 4] });
    // A body cut inside a fixed64 is a 400 naming the problem, not a crash.
    expect(() => decodeRequest('metrics', 'protobuf', bytes.subarray(0, bytes.indexOf(Buffer.from('g')) + 12))).toThrow(/malformed OTLP protobuf metrics request/);
  });

  it('reads varint integer attributes exactly, small, large and negative, as the same label text', () => {
    const values = ['0', '7', '1023', '1024', '300000', String(2 ** 53 - 1), '-3'];
    const gauge = {
      name: 'g',
      gauge: { dataPoints: values.map((v, i) => ({ timeUnixNano: `${now}000000`, asDouble: i, attributes: [{ key: 'slot', value: { intValue: v } }] })) },
    };
    const object = { resourceMetrics: [{ resource: { attributes: [{ key: 'host.name', value: { stringValue: 'h1' } }] }, scopeMetrics: [{ metrics: [gauge] }] }] };
    const columns = normaliseMetrics(decodeRequest('metrics', 'protobuf', encodeMetricsRequest(object)).message as MetricsRequestMessage, 'p', context()).batch.metrics;
    expect(columns.series.map((s) => s.labels.slot)).toEqual(values);
    // A varint cut short is a 400, not a number read past the end.
    const bytes = encodeMetricsRequest(object);
    const cut = bytes.subarray(0, bytes.lastIndexOf(Buffer.from('slot')) + 7);
    expect(() => decodeRequest('metrics', 'protobuf', cut)).toThrow(/malformed OTLP protobuf metrics request/);
  });
});
