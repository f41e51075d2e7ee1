import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  agentsResponseSchema,
  aggregateResponseSchema,
  apiErrorBodySchema,
  latestResponseSchema,
  logsResponseSchema,
  samplesResponseSchema,
  seriesResponseSchema,
  silentLogger,
  spansResponseSchema,
} from '@sloth/core';
import { loadCollectorConfig, startCollector, type Collector } from '../src/index.js';

const token = 'response-schema-token';
let dir: string;
let collector: Collector;
const nowMillis = Date.now();
const nanos = (millis: number): string => (BigInt(millis) * 1_000_000n).toString();
const resource = { attributes: [{ key: 'service.instance.id', value: { stringValue: 'schema-host' } }, { key: 'service.name', value: { stringValue: 'web' } }] };

async function post(path: string, body: unknown): Promise<void> {
  const response = await fetch(`${collector.urls.otlpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  expect(response.status, `${path}: ${await response.clone().text()}`).toBe(200);
}

/** GETs a query route over real HTTP and returns its body parsed by the client's schema (throws naming the mismatch). */
async function read<S extends z.ZodType>(path: string, schema: S): Promise<{ raw: unknown; parsed: z.infer<S> }> {
  const response = await fetch(`${collector.urls.otlpUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status, path).toBe(200);
  const raw: unknown = await response.json();
  return { raw, parsed: schema.parse(raw) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-response-schemas-'));
  const settings = loadCollectorConfig({ file: undefined, env: {}, flags: { dataDir: join(dir, 'data'), port: 0, metricsPort: 0, host: '127.0.0.1', publishSamples: false, tokens: [{ token, name: 'schema-host' }] } });
  collector = await startCollector(settings, { logger: silentLogger() });
  await post('/v1/metrics', {
    resourceMetrics: [
      {
        resource,
        scopeMetrics: [
          {
            metrics: [
              { name: 'schema.gauge', unit: '1', gauge: { dataPoints: [{ timeUnixNano: nanos(nowMillis - 20_000), asDouble: 1.5, attributes: [{ key: 'cpu', value: { stringValue: '0' } }] }, { timeUnixNano: nanos(nowMillis - 10_000), asDouble: 2.5, attributes: [{ key: 'cpu', value: { stringValue: '0' } }] }] } },
              { name: 'schema.duration', unit: 's', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: nanos(nowMillis - 10_000), count: '4', sum: 2, explicitBounds: [1], bucketCounts: ['3', '1'] }] } },
            ],
          },
        ],
      },
    ],
  });
  await post('/v1/traces', {
    resourceSpans: [{ resource, scopeSpans: [{ spans: [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), name: 'GET /', kind: 2, startTimeUnixNano: nanos(nowMillis - 5_000), endTimeUnixNano: nanos(nowMillis - 4_000), attributes: [{ key: 'http.route', value: { stringValue: '/' } }], status: { code: 2, message: 'boom' } }] }] }],
  });
  await post('/v1/logs', {
    resourceLogs: [{ resource, scopeLogs: [{ logRecords: [{ timeUnixNano: nanos(nowMillis - 3_000), severityNumber: 17, severityText: 'ERROR', body: { stringValue: 'disk full' }, attributes: [{ key: 'disk', value: { stringValue: 'sda' } }] }] }] }],
  });
});

afterAll(async () => {
  await collector?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('collector response schemas', () => {
  it('declares a response schema on every JSON route of both ports; the rest say what they send', () => {
    const { api, metrics } = collector.routes;
    const missing = [...api, ...metrics].filter((r) => r.response === 'missing').map((r) => `${r.method} ${r.url}`);
    expect(missing).toEqual([]);
    const json = api.filter((r) => r.response === 'json').map((r) => `${r.method} ${r.url}`).sort();
    expect(json).toEqual(['GET /api/v1/agents', 'GET /api/v1/latest', 'GET /api/v1/logs', 'GET /api/v1/query', 'GET /api/v1/samples', 'GET /api/v1/series', 'GET /api/v1/spans']);
    expect(api.filter((r) => r.response === 'non-json' && r.method === 'POST').map((r) => r.url).sort()).toEqual(['/v1/logs', '/v1/metrics', '/v1/traces']);
    expect(metrics.filter((r) => r.method === 'GET')).toEqual([{ method: 'GET', url: '/metrics', response: 'non-json', detail: 'Prometheus text exposition, streamed' }]);
  });

  it('answers every query route with a body the client schema accepts, nothing dropped by the serialiser', async () => {
    const agents = await read('/api/v1/agents', agentsResponseSchema);
    expect(agents.parsed.agents.map((a) => a.id)).toEqual(['schema-host']);
    const series = await read('/api/v1/series?name=schema.gauge', seriesResponseSchema);
    expect(series.parsed.series).toHaveLength(1);
    const key = series.parsed.series[0]?.key ?? '';
    expect(series.parsed.series[0]?.labels).toEqual({ agent: 'schema-host', cpu: '0' });
    const samples = await read(`/api/v1/samples?series=${encodeURIComponent(key)}&from=${nowMillis - 60_000}&to=${nowMillis}`, samplesResponseSchema);
    expect(samples.parsed.points).toEqual([{ t: nowMillis - 20_000, v: 1.5 }, { t: nowMillis - 10_000, v: 2.5 }]);
    expect(samples.parsed.series?.key).toBe(key);
    const latest = await read('/api/v1/latest', latestResponseSchema);
    const histogram = (latest.raw as { points: Array<Record<string, unknown>> }).points.find((p) => p.name === 'schema.duration');
    // Fields the client schema does not name (bounds, bucketCounts) still reach the client.
    expect(histogram).toMatchObject({ count: 4, sum: 2, bounds: [1], bucketCounts: [3, 1] });
    const spans = await read('/api/v1/spans', spansResponseSchema);
    expect(spans.parsed.spans.map((s) => [s.name, s.statusMessage])).toEqual([['GET /', 'boom']]);
    expect(spans.parsed.spans[0]?.attributes).toMatchObject({ 'http.route': '/' });
    const logs = await read('/api/v1/logs', logsResponseSchema);
    expect(logs.parsed.logs.map((l) => l.body)).toEqual(['disk full']);
    expect(logs.parsed.logs[0]?.attributes).toMatchObject({ disk: 'sda' });
    const aggregate = await read(`/api/v1/query?name=schema.gauge&agg=sum&by=cpu&from=${nowMillis - 60_000}&to=${nowMillis}&step=60s`, aggregateResponseSchema);
    expect(aggregate.parsed.groups.map((g) => g.labels)).toEqual([{ cpu: '0' }]);
  });

  it('answers errors on a query route with the one error body', async () => {
    const response = await fetch(`${collector.urls.otlpUrl}/api/v1/samples?series=nope`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(404);
    const body = apiErrorBodySchema.parse(await response.json());
    expect(body).toMatchObject({ code: 'SLOTH_ERR_NOT_FOUND', details: { series: 'nope' } });
  });
});
