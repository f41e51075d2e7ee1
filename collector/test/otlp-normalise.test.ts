import { describe, expect, it } from 'vitest';
import { seriesId } from '@sloth/core';
import { decodeRequest } from '../src/decode.js';
import { normaliseMetrics, nanosToMillis } from '../src/otlp-normalise.js';
import type { MetricsRequestMessage } from '../src/otlp-root.js';

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
  it('gives the same series to the same attributes in any order, typed values stringified', () => {
    const result = normaliseMetrics(
      request([
        { attrs: [['cpu', { intValue: '1' }], ['state', { stringValue: 'user' }]], value: 1 },
        { attrs: [['state', { stringValue: 'user' }], ['cpu', { intValue: 1 }]], value: 2 },
        { attrs: [['cpu', { intValue: '2' }], ['busy', { boolValue: true }]], value: 3 },
      ]),
      'tenant',
      () => true,
    );
    const [a, b, c] = result.batch.metrics;
    expect(a?.seriesKey).toBe(seriesId('system.cpu.time', { cpu: '1', state: 'user', agent: 'h1' }));
    expect(b?.seriesKey).toBe(a?.seriesKey);
    expect(c?.labels).toEqual({ cpu: '2', busy: 'true', agent: 'h1' });
    expect(a).toMatchObject({ kind: 'sum', monotonic: true, unit: 's', timestampMillis: now, value: 1, agentId: 'h1' });
    expect(result.batch.resources).toEqual([{ agentId: 'h1', principal: 'tenant', attributes: { 'host.name': 'h1' } }]);
  });

  it('prefers service.instance.id for the agent and keeps agents apart', () => {
    const one = normaliseMetrics(request([{ attrs: [], value: 1 }], [['host.name', 'h1'], ['service.instance.id', 'i-1']]), 'p', () => true);
    const two = normaliseMetrics(request([{ attrs: [], value: 1 }], [['host.name', 'h1']]), 'p', () => true);
    expect(one.batch.metrics[0]?.agentId).toBe('i-1');
    expect(two.batch.metrics[0]?.seriesKey).toBe('system.cpu.time{agent="h1"}');
    expect(one.batch.metrics[0]?.seriesKey).toBe('system.cpu.time{agent="i-1"}');
  });

  it('counts series the admission callback refuses', () => {
    const seen = new Set<string>();
    const admit = (_agent: string, key: string): boolean => {
      if (seen.has(key)) return true;
      if (seen.size >= 2) return false;
      seen.add(key);
      return true;
    };
    const result = normaliseMetrics(request([0, 1, 2, 3, 0].map((i) => ({ attrs: [['i', { intValue: String(i) }]], value: i }))), 'p', admit);
    expect(result.accepted).toBe(3);
    expect(result.rejectedByReason).toEqual({ cardinality: 2 });
  });

  it('converts nanoseconds to milliseconds and rejects absent times', () => {
    expect(nanosToMillis('1764000000123456789')).toBe(1_764_000_000_123);
    expect(nanosToMillis(0)).toBeNaN();
    expect(nanosToMillis(null)).toBeNaN();
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
