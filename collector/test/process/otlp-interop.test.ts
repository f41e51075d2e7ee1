import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { decodeSampleEntry, RedisServer } from '@sloth/core';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SpanStatusCode } from '@opentelemetry/api';
import { CollectorProcess, eventually, getJson } from '../helpers/collector-process.js';

/**
 * The official OpenTelemetry JS exporters (protobuf and JSON, gzip on and off)
 * send metrics, spans and logs to a real `sloth collector` process; the test
 * reads them back through the query API, /metrics and the Redis stream.
 */

const token = 'interop-secret-token';

interface LatestPoint {
  key: string;
  name: string;
  agentId: string;
  kind: string;
  labels: Record<string, string>;
  v: number | null;
  count?: number;
  sum?: number;
  bounds?: number[];
  bucketCounts?: number[];
}

let dir: string;
let redis: RedisServer;
let collector: CollectorProcess;
const prefix = `interop${process.pid}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-interop-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  collector = await CollectorProcess.start({ dataDir: join(dir, 'data'), redisUrl: redis.url, redisPrefix: prefix, tokens: ['unrelated-token-0:nobody'], extraArgs: ['--admin-token', `${token}:interop`] }); // admin: it writes as many agent ids
});

afterAll(async () => {
  await collector?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const variants = [
  { label: 'protobuf + gzip', proto: true, compression: 'gzip' },
  { label: 'protobuf, uncompressed', proto: true, compression: 'none' },
  { label: 'JSON + gzip', proto: false, compression: 'gzip' },
  { label: 'JSON, uncompressed', proto: false, compression: 'none' },
] as const;

describe('OpenTelemetry JS exporters → sloth collector', () => {
  for (const variant of variants) {
    it(`stores metrics, spans and logs sent as ${variant.label}`, async () => {
      const agent = `agent-${variant.proto ? 'proto' : 'json'}-${variant.compression}`;
      const resource = resourceFromAttributes({ 'service.name': 'interop-svc', 'service.instance.id': agent, 'host.name': 'ignored-host' });
      const headers = { Authorization: `Bearer ${token}` };
      const compression = variant.compression as never;

      // Metrics: a gauge, a monotonic counter and a histogram, with attributes.
      const metricOptions = { url: `${collector.otlpUrl}/v1/metrics`, headers, compression };
      const metricExporter = variant.proto ? new ProtoMetricExporter(metricOptions) : new JsonMetricExporter(metricOptions);
      const meterProvider = new MeterProvider({ resource, readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })] });
      const meter = meterProvider.getMeter('interop');
      const gauge = meter.createGauge('test.temperature', { unit: 'Cel', description: 'a gauge' });
      gauge.record(21.5, { room: 'kitchen' });
      gauge.record(18.25, { room: 'cellar' });
      const counter = meter.createCounter('test.requests', { description: 'a counter' });
      counter.add(3, { route: '/a', ok: true });
      counter.add(4, { route: '/a', ok: true });
      counter.add(10, { route: '/b', ok: false });
      const histogram = meter.createHistogram('test.latency', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } });
      for (const v of [5, 50, 500, 60]) histogram.record(v, { route: '/a' });
      await meterProvider.forceFlush();
      await meterProvider.shutdown();

      // Spans: a parent and a child with an error status.
      const traceOptions = { url: `${collector.otlpUrl}/v1/traces`, headers, compression };
      const tracerProvider = new BasicTracerProvider({
        resource,
        spanProcessors: [new SimpleSpanProcessor(variant.proto ? new ProtoTraceExporter(traceOptions) : new JsonTraceExporter(traceOptions))],
      });
      const tracer = tracerProvider.getTracer('interop');
      const parent = tracer.startSpan('parent-op', { attributes: { 'http.route': '/checkout' } });
      const { trace, context } = await import('@opentelemetry/api');
      const child = tracer.startSpan('child-op', { attributes: { attempt: 2 } }, trace.setSpan(context.active(), parent));
      child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
      child.end();
      parent.end();
      await tracerProvider.forceFlush();
      await tracerProvider.shutdown();

      // Logs.
      const logOptions = { url: `${collector.otlpUrl}/v1/logs`, headers, compression };
      const loggerProvider = new LoggerProvider({
        resource,
        processors: [new SimpleLogRecordProcessor({ exporter: variant.proto ? new ProtoLogExporter(logOptions) : new JsonLogExporter(logOptions) })],
      });
      loggerProvider.getLogger('interop').emit({ body: `disk almost full on ${agent}`, severityNumber: 13, severityText: 'WARN', attributes: { 'disk.device': 'sda1' } });
      await loggerProvider.forceFlush();
      await loggerProvider.shutdown();

      // Read back through the query API.
      const latest = await eventually(async () => {
        const body = await getJson<{ points: LatestPoint[] }>(`${collector.otlpUrl}/api/v1/latest?agent=${agent}`, token);
        return body.points.length >= 5 ? body.points : undefined;
      });
      const byKey = new Map(latest.map((p) => [`${p.name}|${JSON.stringify(Object.entries(p.labels).sort())}`, p]));
      const find = (name: string, labels: Record<string, string>): LatestPoint | undefined =>
        byKey.get(`${name}|${JSON.stringify(Object.entries({ ...labels, agent }).sort())}`);
      expect(find('test.temperature', { room: 'kitchen' })).toMatchObject({ kind: 'gauge', v: 21.5, agentId: agent });
      expect(find('test.temperature', { room: 'cellar' })).toMatchObject({ kind: 'gauge', v: 18.25 });
      expect(find('test.requests', { route: '/a', ok: 'true' })).toMatchObject({ kind: 'sum', v: 7 });
      expect(find('test.requests', { route: '/b', ok: 'false' })).toMatchObject({ kind: 'sum', v: 10 });
      const h = find('test.latency', { route: '/a' });
      expect(h).toMatchObject({ kind: 'histogram', count: 4, sum: 615, bounds: [10, 100], bucketCounts: [1, 2, 1] });

      const samples = await getJson<{ points: Array<{ t: number; v: number }> }>(
        `${collector.otlpUrl}/api/v1/samples?series=${encodeURIComponent(find('test.temperature', { room: 'kitchen' })?.key ?? '')}&from=-1h`,
        token,
      );
      // forceFlush and shutdown each export the gauge once (cumulative temporality)
      expect(samples.points.length).toBeGreaterThanOrEqual(1);
      expect([...new Set(samples.points.map((p) => p.v))]).toEqual([21.5]);

      const agents = await getJson<{ agents: Array<{ id: string; principal: string; state: string }> }>(`${collector.otlpUrl}/api/v1/agents`, token);
      expect(agents.agents.find((a) => a.id === agent)).toMatchObject({ principal: 'interop', state: 'up' });

      const spans = await eventually(async () => {
        const body = await getJson<{ spans: Array<Record<string, unknown>> }>(`${collector.otlpUrl}/api/v1/spans?agent=${agent}`, token);
        return body.spans.length >= 2 ? body.spans : undefined;
      });
      const parentSpan = spans.find((s) => s.name === 'parent-op');
      const childSpan = spans.find((s) => s.name === 'child-op');
      expect(parentSpan).toMatchObject({ serviceName: 'interop-svc', parentSpanId: '', attributes: { 'http.route': '/checkout' } });
      expect(childSpan).toMatchObject({ statusCode: 2, statusMessage: 'boom', attributes: { attempt: 2 } });
      expect(childSpan?.traceId).toBe(parent.spanContext().traceId);
      expect(childSpan?.parentSpanId).toBe(parent.spanContext().spanId);
      expect(parentSpan?.spanId).toBe(parent.spanContext().spanId);

      const logs = await eventually(async () => {
        const body = await getJson<{ logs: Array<Record<string, unknown>> }>(`${collector.otlpUrl}/api/v1/logs?agent=${agent}`, token);
        return body.logs.length >= 1 ? body.logs : undefined;
      });
      expect(logs[0]).toMatchObject({ body: `disk almost full on ${agent}`, severityNumber: 13, severityText: 'WARN', serviceName: 'interop-svc', attributes: { 'disk.device': 'sda1' } });

      // /metrics: the OpenTelemetry → Prometheus name mapping of the latest values.
      const exposition = await (await fetch(collector.metricsUrl)).text();
      expect(exposition).toContain(`test_temperature_celsius{agent="${agent}",room="kitchen"} 21.5`);
      expect(exposition).toMatch(new RegExp(`test_requests_total\\{agent="${agent}",ok="true",route="/a"\\} 7`));
      expect(exposition).toContain(`test_latency_milliseconds_count{agent="${agent}",route="/a"} 4`);
    });
  }

  it('publishes gauge and sum samples to the Redis samples stream', async () => {
    const client = new Redis(redis.url);
    try {
      const entries = await eventually(async () => {
        const rows = (await client.xrange(`${prefix}:samples`, '-', '+')) as Array<[string, string[]]>;
        const samples = rows.flatMap(([, fields]) => decodeSampleEntry(fields));
        return samples.some((s) => s.agentId === 'agent-proto-gzip' && s.name === 'test.temperature') ? samples : undefined;
      });
      const kitchen = entries.find((s) => s.agentId === 'agent-json-none' && s.name === 'test.temperature' && s.labels.room === 'kitchen');
      expect(kitchen?.value).toBe(21.5);
      expect(kitchen?.seriesId).toBe('test.temperature{agent="agent-json-none",room="kitchen"}');
      // histograms are not published
      expect(entries.some((s) => s.name === 'test.latency')).toBe(false);
    } finally {
      client.disconnect();
    }
  });

  it('answers 401 to a wrong token and stores nothing from it', async () => {
    const response = await fetch(`${collector.otlpUrl}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wrong-token-xyz' },
      body: JSON.stringify({ resourceMetrics: [] }),
    });
    expect(response.status).toBe(401);
    const api = await fetch(`${collector.otlpUrl}/api/v1/agents`);
    expect(api.status).toBe(401);
  });
});
