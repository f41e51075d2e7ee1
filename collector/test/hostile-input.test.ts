import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSampleColumns, silentLogger, sleep } from '@sloth/core';
import { loadCollectorConfig, startCollector } from '../src/index.js';
import { otlpTypes } from '../src/otlp-root.js';
import { redisPerFile } from './helpers/redis-fixture.js';

// Points an agent can send that once broke the collector for everyone (docs/security.md, "Limits"):
// a real collector over HTTP, its /metrics checked by promtool, its samples stream in a real Redis.
const redis = redisPerFile('sloth-hostile-input-');
const token = 'hostile-input-token-web-1';
const prefix = 'hostile';
let collector: Awaited<ReturnType<typeof startCollector>>;

beforeAll(async () => {
  const settings = loadCollectorConfig({
    file: undefined,
    env: {},
    flags: { dataDir: join(redis.dir, 'data'), port: 0, metricsPort: 0, host: '127.0.0.1', redisUrl: redis.url, redisPrefix: prefix, tokens: [{ token, name: 'web-1' }] },
  });
  collector = await startCollector(settings, { logger: silentLogger() });
});

afterAll(async () => {
  await collector.shutdown();
});

const nowNanos = (): string => String(BigInt(Date.now()) * 1_000_000n);
const attributes = (labels: Record<string, string>): unknown[] => Object.entries(labels).map(([key, value]) => ({ key, value: { stringValue: value } }));

async function send(metrics: unknown[], agent = 'web-1'): Promise<{ status: number; body: { partialSuccess?: { rejectedDataPoints?: string; errorMessage?: string }; message?: string } }> {
  const body = { resourceMetrics: [{ resource: { attributes: attributes({ 'service.instance.id': agent }) }, scopeMetrics: [{ metrics }] }] };
  // JSON.stringify writes Infinity as null: the strings "+1e999" and "-1e999" stand for the numbers, which JSON.parse reads as ±Infinity.
  const text = JSON.stringify(body).replace(/"([+-]1e999)"/g, (_, n: string) => n.replace('+', ''));
  const response = await fetch(`${collector.urls.otlpUrl}/v1/metrics`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: text });
  return { status: response.status, body: (await response.json()) as { partialSuccess?: { rejectedDataPoints?: string; errorMessage?: string } } };
}

function histogram(name: string, point: Record<string, unknown>, temporality: 1 | 2 = 2): unknown {
  return { name, histogram: { aggregationTemporality: temporality, dataPoints: [{ timeUnixNano: nowNanos(), count: '2', sum: 3, bucketCounts: ['1', '1'], explicitBounds: [1], ...point }] } };
}

/** The label names of every sample line of an exposition, parsed (quoted values may hold `,`, `=`, `"` and `}`). */
function labelNamesPerLine(text: string): Array<{ line: string; names: string[] }> {
  const out: Array<{ line: string; names: string[] }> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const names: string[] = [];
    let i = line.search(/[{ ]/);
    if (line[i] === '{') {
      i += 1;
      while (line[i] !== '}') {
        const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(line.slice(i))?.[0];
        if (name === undefined || line.slice(i + name.length, i + name.length + 2) !== '="') throw new Error(`bad label at ${i} in ${line}`);
        names.push(name);
        i += name.length + 2;
        while (line[i] !== '"') i += line[i] === '\\' ? 2 : 1;
        i += 1;
        if (line[i] === ',') i += 1;
      }
    }
    out.push({ line, names });
  }
  return out;
}

describe('a hostile agent against a real collector', () => {
  it('cannot make /metrics invalid with attributes named like the labels Prometheus reserves or the exposition adds', async () => {
    const sent = await send([
      histogram('evil.latency', { attributes: attributes({ le: 'zzz', exported_le: 'x', quantile: 'q' }) }),
      { name: 'evil.rtt', summary: { dataPoints: [{ timeUnixNano: nowNanos(), count: '2', sum: 3, quantileValues: [{ quantile: 0.5, value: 1 }], attributes: attributes({ quantile: '0.5', le: 'l' }) }] } },
      { name: 'evil.expo', exponentialHistogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: nowNanos(), count: '1', sum: 1, scale: 0, positive: { offset: 0, bucketCounts: ['1'] }, attributes: attributes({ quantile: 'q' }) }] } },
      {
        name: 'evil.load',
        gauge: { dataPoints: [{ timeUnixNano: nowNanos(), asDouble: 1, attributes: attributes({ __name__: 'x', '..name..': 'y', __meta_x: 'z', agent: 'forged', '😀': 'smile', '0day': 'd', 'a.b': '1', a_b: '2' }) }] },
      },
    ]);
    expect(sent).toEqual({ status: 200, body: {} });
    const text = await (await fetch(collector.urls.metricsUrl)).text();

    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (check.error !== undefined) throw check.error;
    expect(`${check.stdout}${check.stderr}`).toBe('');
    expect(check.status).toBe(0);
    const lines = labelNamesPerLine(text);
    expect(lines.length).toBeGreaterThan(20);
    for (const { line, names } of lines) {
      expect(new Set(names).size, line).toBe(names.length);
      expect(names.filter((n) => n.startsWith('__')), line).toEqual([]);
    }
    const evil = text.split('\n').filter((line) => line.startsWith('evil_'));
    expect(evil).toContain('evil_latency_bucket{agent="web-1",exported_le="x;zzz",exported_quantile="q",le="1"} 1');
    expect(evil).toContain('evil_latency_count{agent="web-1",exported_le="x;zzz",exported_quantile="q"} 2');
    expect(evil).toContain('evil_rtt_count{agent="web-1",exported_le="l",exported_quantile="0.5"} 2');
    expect(evil).toContain('evil_expo_count{agent="web-1",exported_quantile="q"} 1');
    expect(evil).toContain('evil_load{a_b="1;2",agent="web-1",exported___="smile",exported___meta_x="z",exported___name__="y;x",key_0day="d"} 1');
  });

  it('rejects histogram points with bounds that are not finite or do not increase, or a sum that is not finite, without a 503', async () => {
    const sent = await send([
      histogram('bad.hist', { attributes: attributes({ case: 'ok' }) }),
      histogram('bad.hist', { attributes: attributes({ case: 'inf' }), explicitBounds: ['+1e999'] }),
      histogram('bad.hist', { attributes: attributes({ case: '-inf' }), explicitBounds: ['-1e999'] }),
      histogram('bad.hist', { attributes: attributes({ case: 'nan' }), explicitBounds: ['NaN'] }),
      histogram('bad.hist', { attributes: attributes({ case: 'decreasing' }), explicitBounds: [5, 1], bucketCounts: ['1', '0', '1'] }),
      histogram('bad.hist', { attributes: attributes({ case: 'equal' }), explicitBounds: [1, 1], bucketCounts: ['1', '0', '1'] }),
      histogram('bad.hist', { attributes: attributes({ case: 'sum' }), sum: '+1e999' }),
      histogram('bad.hist', { attributes: attributes({ case: 'buckets' }), bucketCounts: ['2'] }),
    ]);
    expect(sent.status).toBe(200);
    expect(sent.body.partialSuccess?.rejectedDataPoints).toBe('7');
    expect(sent.body.partialSuccess?.errorMessage).toBe('7 rejected (invalid_value=7); invalid_value: bad.hist has an explicit bound that is not finite (Infinity)');
    const latest = (await (await fetch(`${collector.urls.otlpUrl}/api/v1/latest?name=bad.hist`, { headers: { authorization: `Bearer ${token}` } })).json()) as { points: Array<{ labels: Record<string, string> }> };
    expect(latest.points.map((p) => p.labels.case)).toEqual(['ok']);
  });

  it('acknowledges a stored histogram whose quantile overflows once: it is left off the samples stream, not answered 503 and sent again', async () => {
    // Finite bounds, but the p50 between them is -1e308 + (1e308 - -1e308) / 2 = Infinity in doubles.
    const overflowing = histogram('huge.hist', { explicitBounds: [-1e308, 1e308], bucketCounts: ['0', '2', '0'] }, 1);
    expect(await send([overflowing])).toEqual({ status: 200, body: {} });
    expect(await send([histogram('after.hist', {}, 1)])).toEqual({ status: 200, body: {} });
    let published: Record<string, number[]> = {};
    for (let i = 0; i < 200 && published['after.hist.p50{agent="web-1"}'] === undefined; i += 1) {
      await sleep(25);
      published = {};
      for (const [, fields] of (await redis.client.xrange(`${prefix}:samples`, '-', '+')) as Array<[string, string[]]>) {
        const columns = decodeSampleColumns(fields);
        columns.seriesIds.forEach((id, j) => (published[id] ??= []).push(columns.values[j] as number));
      }
    }
    expect(published['huge.hist.count{agent="web-1"}']).toEqual([2]);
    expect(published['huge.hist.p50{agent="web-1"}']).toBeUndefined();
    expect(published['after.hist.p50{agent="web-1"}']).toEqual([1]);
  });

  it('names a megabyte name or agent id it refuses in a few dozen characters, not by echoing it', async () => {
    const huge = 'x'.repeat(1_000_000);
    const gauge = (name: string): unknown => ({ name, gauge: { dataPoints: [{ timeUnixNano: nowNanos(), asDouble: 1 }] } });
    const longName = await send([gauge(huge)]);
    expect(longName.status).toBe(200);
    expect(longName.body.partialSuccess?.errorMessage).toBe(`1 rejected (label_limit=1); label_limit: metric name ${'x'.repeat(64)}… is 1000000 characters long, past the size limits`);
    const forged = await send([gauge('ok')], huge);
    expect(forged.status).toBe(403);
    expect(JSON.stringify(forged.body).length).toBeLessThan(1_000);
    expect(forged.body.message).toContain(`not for agent "${'x'.repeat(64)}…"`);
  });

  it('cannot make /metrics invalid with metrics named like the collector\'s own: they are exposed as exported_<name>, every value kept', async () => {
    const number = (value: number, labels: Record<string, string> = {}): unknown => ({ timeUnixNano: nowNanos(), asDouble: value, attributes: attributes(labels) });
    const sent = await send([
      // What another collector's /metrics looks like once relayed over OTLP (an OpenTelemetry Collector scraping it).
      { name: 'sloth_collector_requests_total', sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [number(5, { code: '200' })] } },
      { name: 'sloth.collector.request.duration', unit: 's', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: nowNanos(), count: '2', sum: 0.5, bucketCounts: ['1', '1'], explicitBounds: [0.1] }] } },
      { name: 'process.resident_memory', unit: 'By', gauge: { dataPoints: [number(1234)] } },
      // Near misses keep their names: a gauge is not the collector's counter.
      { name: 'sloth_collector_requests', gauge: { dataPoints: [number(6)] } },
    ]);
    expect(sent).toEqual({ status: 200, body: {} });
    const text = await (await fetch(collector.urls.metricsUrl)).text();

    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (check.error !== undefined) throw check.error;
    expect(`${check.stdout}${check.stderr}`).toBe('');
    expect(check.status).toBe(0);
    const typed = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string);
    expect(new Set(typed).size).toBe(typed.length);
    const lines = text.split('\n');
    expect(lines).toContain('exported_sloth_collector_requests_total{agent="web-1",code="200"} 5');
    expect(lines).toContain('exported_sloth_collector_request_duration_seconds_bucket{agent="web-1",le="0.1"} 1');
    expect(lines).toContain('exported_sloth_collector_request_duration_seconds_count{agent="web-1"} 2');
    expect(lines).toContain('exported_process_resident_memory_bytes{agent="web-1"} 1234');
    expect(lines).toContain('sloth_collector_requests{agent="web-1"} 6');
    // The collector's own families are still there, once each, with their own samples.
    expect(lines).toContain('# TYPE sloth_collector_requests_total counter');
    expect(lines.filter((l) => l.startsWith('sloth_collector_requests_total{code="200"} '))).toHaveLength(1);
    expect(lines).toContain('# TYPE process_resident_memory_bytes gauge');
    // The query API keeps the names the agent sent.
    const latest = (await (await fetch(`${collector.urls.otlpUrl}/api/v1/latest?name=sloth_collector_requests_total`, { headers: { authorization: `Bearer ${token}` } })).json()) as { points: Array<{ v: number }> };
    expect(latest.points.map((p) => p.v)).toEqual([5]);
  });

  it('keeps a span and a log record carrying a 6 KB exception.stacktrace, stored cut to 4,096 bytes at a character boundary', async () => {
    // The 4,096th byte falls inside the €: it goes whole.
    const stack = `${'a'.repeat(4095)}€${'\n    at handler (/srv/app/handler.js:10:5)'.repeat(50)}`;
    expect(Buffer.byteLength(stack)).toBeGreaterThan(6000);
    const resource = { attributes: attributes({ 'service.instance.id': 'web-1', 'service.name': 'checkout' }) };
    const nanos = nowNanos();
    const traces = await fetch(`${collector.urls.otlpUrl}/v1/traces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceSpans: [{ resource, scopeSpans: [{ spans: [{
          traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'POST /checkout', kind: 2, startTimeUnixNano: nanos, endTimeUnixNano: nanos,
          status: { code: 2 }, attributes: attributes({ 'exception.type': 'TypeError', 'exception.stacktrace': stack }),
        }] }] }],
      }),
    });
    expect(traces.status).toBe(200);
    expect(await traces.json()).toEqual({});
    const logsRequest = otlpTypes.logsRequest.fromObject({
      resourceLogs: [{ resource, scopeLogs: [{ logRecords: [{ timeUnixNano: nanos, severityNumber: 17, body: { stringValue: `checkout failed: ${stack}` }, attributes: attributes({ 'exception.stacktrace': stack }) }] }] }],
    });
    const logs = await fetch(`${collector.urls.otlpUrl}/v1/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-protobuf' },
      body: otlpTypes.logsRequest.encode(logsRequest as unknown as Record<string, unknown>).finish(),
    });
    expect(logs.status).toBe(200);
    // An empty ExportLogsServiceResponse: no partial_success, nothing rejected.
    expect((await logs.arrayBuffer()).byteLength).toBe(0);

    // Read back from the store (the query API waits for what was acknowledged).
    const query = async <T>(path: string): Promise<T> => (await (await fetch(`${collector.urls.otlpUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as T;
    const { spans } = await query<{ spans: Array<{ name: string; attributes: Record<string, string> }> }>('/api/v1/spans?name=POST%20%2Fcheckout');
    expect(spans).toHaveLength(1);
    expect(spans[0]?.attributes['exception.type']).toBe('TypeError');
    expect(spans[0]?.attributes['exception.stacktrace']).toBe('a'.repeat(4095));
    const stored = await query<{ logs: Array<{ body: string; attributes: Record<string, string> }> }>('/api/v1/logs?contains=checkout%20failed');
    expect(stored.logs).toHaveLength(1);
    expect(stored.logs[0]?.attributes['exception.stacktrace']).toBe('a'.repeat(4095));
    // The body's limit is 16 KiB: this one is whole.
    expect(stored.logs[0]?.body).toBe(`checkout failed: ${stack}`);

    const text = await (await fetch(collector.urls.metricsUrl)).text();
    expect(text).toContain('sloth_collector_truncated_values_total{signal="traces"} 1');
    expect(text).toContain('sloth_collector_truncated_values_total{signal="logs"} 1');
    expect(text).not.toMatch(/sloth_collector_points_rejected_total\{reason="attribute_limit"\}/);
  });
});
