import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger, TokenSet } from '@sloth/core';
import { IngestPipeline, type IngestStore } from '../src/ingest-pipeline.js';
import { labelViolation, limitedAdmission, settleRejections, type PointLimitSettings } from '../src/limits-series.js';
import { buildOtlpApp } from '../src/otlp-http.js';
import type { NormaliseResult } from '../src/otlp-normalise.js';
import { metricColumns, type IngestBatch, type LogRecordEntry, type MetricPoint, type MetricSeries, type SpanRecord } from '../src/records.js';
import { SelfMetrics } from '../src/self-metrics.js';
import { SeriesCache } from '../src/series-cache.js';
import { WriteAheadLog } from '../src/wal.js';
import { decodeMetricsResponse, encodeMetricsRequest, gaugeRequestObject } from './helpers/otlp-requests.js';
import { point, pointAt } from './store/fixtures.js';

class RecordingStore implements IngestStore {
  readonly points: MetricPoint[] = [];
  readonly spans: SpanRecord[] = [];
  readonly logs: LogRecordEntry[] = [];
  checkpoint = 0;
  write(batches: readonly IngestBatch[], checkpoint: number): void {
    for (const b of batches) {
      for (let i = 0; i < b.metrics.length; i++) this.points.push(pointAt(b.metrics, i));
      this.spans.push(...b.spans);
      this.logs.push(...b.logs);
    }
    this.checkpoint = checkpoint;
  }
  lastCheckpoint(): number {
    return this.checkpoint;
  }
}

const limits: PointLimitSettings = {
  maxLabelsPerPoint: 8,
  maxLabelValueBytes: 64,
  maxNameBytes: 32,
  maxUnitBytes: 8,
  maxAttributesPerRecord: 4,
  maxAttributeValueBytes: 64,
  maxLogBodyBytes: 128,
  maxFutureSkewMillis: 600_000,
};
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-point-limits-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function pipelineOver(store: RecordingStore, replayRules?: (result: NormaliseResult, receivedAtMillis: number) => NormaliseResult, walDir = 'wal', cache = new SeriesCache()) {
  const series = { cache, admit: limitedAdmission(limits, () => true) };
  const pipeline = new IngestPipeline({
    wal: new WriteAheadLog({ dir: join(dir, walDir), segmentBytes: 1 << 20, logger: silentLogger() }),
    store,
    sinks: { latest: () => undefined, resources: () => undefined, publish: () => undefined, stored: () => undefined },
    series,
    logger: silentLogger(),
    maxQueuedPoints: 1000,
    maxDecompressedBytes: 1 << 20,
    ...(replayRules === undefined ? {} : { replayRules }),
  });
  return { pipeline, series };
}

describe('point limits', () => {
  it('rejects future and over-labelled points in partial_success, and replay after a restart stores exactly what the request stored', async () => {
    const rules = (result: NormaliseResult, receivedAtMillis: number): NormaliseResult => settleRejections(result, { forbidden: 0, labels: 0, labelExample: undefined }, receivedAtMillis, limits);
    const first = new RecordingStore();
    const { pipeline, series } = pipelineOver(first, rules);
    await pipeline.recover();
    const metrics = new SelfMetrics({ queueDepth: () => 0, activeSeries: () => 0 });
    const app = buildOtlpApp({
      pipeline, tokens: new TokenSet([{ token: 'test-token-1', name: 'a1' }]), series, limits, metrics, logger: silentLogger(),
      maxBodyBytes: 1 << 20, maxDecompressedBytes: 1 << 20, retryAfterSeconds: 1,
    });
    const now = Date.now();
    const wide = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v']));
    const payload = JSON.stringify(
      gaugeRequestObject({
        agent: 'a1',
        name: 'test.g',
        points: [
          { attributes: { at: 'now' }, value: 1, timeMillis: now },
          { attributes: { at: 'future' }, value: 2, timeMillis: now + 3_600_000 },
          { attributes: wide, value: 3, timeMillis: now },
          { attributes: { long: 'x'.repeat(65) }, value: 4, timeMillis: now },
        ],
      }),
    );
    const response = await app.inject({ method: 'POST', url: '/v1/metrics', headers: { authorization: 'Bearer test-token-1', 'content-type': 'application/json' }, payload });
    expect(response.statusCode).toBe(200);
    const partial = response.json<{ partialSuccess: { rejectedDataPoints: string; errorMessage: string } }>().partialSuccess;
    expect(partial.rejectedDataPoints).toBe('3');
    expect(partial.errorMessage).toMatch(/^3 rejected \((label_limit=2, future_timestamp=1|future_timestamp=1, label_limit=2)\)/);
    expect(partial.errorMessage).not.toContain('cardinality');
    await pipeline.shutdown();
    await app.close();
    expect(first.points.map((p) => p.labels.at)).toEqual(['now']);
    // Replay consumes the log: keep a copy for the control below.
    cpSync(join(dir, 'wal'), join(dir, 'wal-copy'), { recursive: true });

    // A restart that replays the whole WAL (a fresh store) keeps the same points out.
    const replayed = new RecordingStore();
    const again = pipelineOver(replayed, rules).pipeline;
    expect(await again.recover()).toBe(1);
    await again.shutdown();
    expect(replayed.points.map((p) => p.labels.at)).toEqual(['now']);

    // Without the rules, replay would have stored the forged future point.
    const unguarded = new RecordingStore();
    const plain = pipelineOver(unguarded, undefined, 'wal-copy').pipeline;
    await plain.recover();
    await plain.shutdown();
    expect(unguarded.points.map((p) => p.labels.at).sort()).toEqual(['future', 'now']);
  });

  it('rejects points whose metric name, unit or label key is too long, quoting the name clipped, and keeps none of them in the series cache', async () => {
    const store = new RecordingStore();
    const cache = new SeriesCache(undefined, Math.max(limits.maxLabelValueBytes, limits.maxNameBytes, limits.maxUnitBytes));
    const { pipeline, series } = pipelineOver(store, undefined, 'wal', cache);
    await pipeline.recover();
    const metrics = new SelfMetrics({ queueDepth: () => 0, activeSeries: () => 0 });
    const app = buildOtlpApp({
      pipeline, tokens: new TokenSet([{ token: 'test-token-1', name: 'a1' }]), series, limits, metrics, logger: silentLogger(),
      maxBodyBytes: 1 << 20, maxDecompressedBytes: 1 << 20, retryAfterSeconds: 1,
    });
    const now = Date.now();
    const longName = `n${'x'.repeat(100_000)}`;
    const gauge = (name: string, attributes: Record<string, string>, unit = '1'): Record<string, unknown> => {
      const request = gaugeRequestObject({ agent: 'a1', name, points: [{ attributes, value: 1, timeMillis: now }] }) as { resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<Record<string, unknown>> }> }> };
      const metric = request.resourceMetrics[0]?.scopeMetrics[0]?.metrics[0] as Record<string, unknown>;
      metric.unit = unit;
      return metric;
    };
    const request = gaugeRequestObject({ agent: 'a1', name: 'ok', points: [] }) as { resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: unknown[] }> }> };
    (request.resourceMetrics[0]?.scopeMetrics[0] as { metrics: unknown[] }).metrics = [
      gauge('test.ok', { at: 'ok' }),
      gauge(longName, { at: 'long name' }),
      gauge('test.unit', { at: 'long unit' }, 'u'.repeat(100_000)),
      gauge('test.key', { [`k${'y'.repeat(100_000)}`]: 'long key' }),
      // At the limits exactly: kept.
      gauge('m'.repeat(limits.maxNameBytes), { ['k'.repeat(limits.maxNameBytes)]: 'v' }, 'u'.repeat(limits.maxUnitBytes)),
    ];
    for (const format of ['json', 'protobuf'] as const) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/metrics',
        headers: { authorization: 'Bearer test-token-1', 'content-type': `application/${format === 'json' ? 'json' : 'x-protobuf'}` },
        payload: format === 'json' ? JSON.stringify(request) : encodeMetricsRequest(request),
      });
      expect(response.statusCode).toBe(200);
      const partial = format === 'json' ? response.json<{ partialSuccess: { rejectedDataPoints: string; errorMessage: string } }>().partialSuccess : decodeMetricsResponse(response.rawPayload).partialSuccess;
      expect(Number(partial?.rejectedDataPoints)).toBe(3);
      const message = partial?.errorMessage ?? '';
      // A name, unit or key longer than the cache keeps is refused before any series is made for it.
      expect(message).toBe(`3 rejected (label_limit=3); label_limit: test.key has a label key k${'y'.repeat(63)}… of 100001 bytes; at most 32 are allowed; label_limit: metric name n${'x'.repeat(63)}… is 100001 characters long, past the size limits`);
      expect(message.length).toBeLessThan(500);
    }
    await pipeline.shutdown();
    await app.close();
    expect(store.points.map((p) => p.name)).toEqual(['test.ok', 'm'.repeat(32), 'test.ok', 'm'.repeat(32)]);
    // Only the two series that keep the limits were remembered.
    expect(cache.size).toBe(2);
  });

  it('words each size violation, naming the metric clipped', () => {
    const base = { name: 'test.g', agentId: 'a1', t: 1, v: 1 };
    const violation = (options: Partial<Parameters<typeof point>[0]>): string | undefined => labelViolation(metricColumns([point({ ...base, ...options })]).series[0] as MetricSeries, limits);
    expect(violation({})).toBeUndefined();
    expect(violation({ unit: 'u'.repeat(9) })).toBe('test.g has a unit of 9 bytes; at most 8 are allowed');
    expect(violation({ labels: { ['é'.repeat(17)]: 'v' } })).toBe(`test.g has a label key ${'é'.repeat(17)} of 34 bytes; at most 32 are allowed`);
    expect(violation({ name: 'z'.repeat(70), labels: { k: 'v'.repeat(65) } })).toBe(`metric name ${'z'.repeat(64)}… is 70 bytes; at most 32 are allowed`);
    expect(violation({ labels: { k: 'v'.repeat(65) } })).toBe('test.g label "k" is 65 bytes; at most 64 are allowed');
  });

  it('rejects spans and log records over the attribute, body, severity and future-time limits, and replay keeps them out too', async () => {
    const rules = (result: NormaliseResult, receivedAtMillis: number): NormaliseResult => settleRejections(result, { forbidden: 0, labels: 0, labelExample: undefined }, receivedAtMillis, limits);
    const store = new RecordingStore();
    const { pipeline, series } = pipelineOver(store, rules);
    await pipeline.recover();
    const metrics = new SelfMetrics({ queueDepth: () => 0, activeSeries: () => 0 });
    const app = buildOtlpApp({
      pipeline, tokens: new TokenSet([{ token: 'test-token-1', name: 'a1' }]), series, limits, metrics, logger: silentLogger(),
      maxBodyBytes: 1 << 20, maxDecompressedBytes: 1 << 20, retryAfterSeconds: 1,
    });
    const post = async (signal: 'traces' | 'logs', body: unknown): Promise<{ errorMessage: string } & Record<string, string>> => {
      const response = await app.inject({ method: 'POST', url: `/v1/${signal}`, headers: { authorization: 'Bearer test-token-1', 'content-type': 'application/json' }, payload: JSON.stringify(body) });
      expect(response.statusCode).toBe(200);
      return response.json<{ partialSuccess: { errorMessage: string } & Record<string, string> }>().partialSuccess;
    };
    const kv = (entries: Record<string, unknown>): unknown[] => Object.entries(entries).map(([key, value]) => ({ key, value: typeof value === 'string' ? { stringValue: value } : value }));
    const resource = (agent: string, extra: Record<string, string> = {}): unknown => ({ attributes: kv({ 'service.instance.id': agent, ...extra }) });
    const nanos = (millis: number): string => String(BigInt(millis) * 1_000_000n);
    const now = Date.now();
    let spanId = 0;
    const span = (name: string, attributes: Record<string, unknown> = {}, startMillis = now): unknown => ({
      traceId: '0123456789abcdef0123456789abcdef', spanId: (++spanId).toString(16).padStart(16, '0'), name, kind: 1, startTimeUnixNano: nanos(startMillis), endTimeUnixNano: nanos(startMillis + 1), attributes: kv(attributes),
    });
    const tooMany = { a: '1', b: '2', c: '3', d: '4', e: '5' };
    const traces = await post('traces', {
      resourceSpans: [
        { resource: resource('a1'), scopeSpans: [{ spans: [
          span('ok', { a: '1' }),
          span('many', tooMany),
          span('long', { big: 'y'.repeat(65) }),
          span('deep', { list: { arrayValue: { values: Array.from({ length: 20 }, () => ({ stringValue: 'abcd' })) } } }),
          span('future', {}, now + 3_600_000),
          span('n'.repeat(65)),
          { ...(span('status') as object), status: { code: 2, message: 'm'.repeat(65) } },
        ] }] },
      ],
    });
    expect(traces.rejectedSpans).toBe('6');
    expect(traces.errorMessage).toMatch(
      /^6 rejected \(attribute_limit=5, future_timestamp=1\); attribute_limit: span many has more than 4 attributes; future_timestamp: span future is more than 600 s ahead of the collector's clock \(\d{4}-/,
    );
    // Every span of a resource over the limits goes, however small the span.
    const resourceOver = await post('traces', { resourceSpans: [{ resource: resource('a1', { big: 'r'.repeat(65) }), scopeSpans: [{ spans: [span('tiny')] }] }] });
    expect(resourceOver).toEqual({ rejectedSpans: '1', errorMessage: '1 rejected (attribute_limit=1); attribute_limit: the resource of agent a1 has an attribute big of 65 bytes; at most 64 are allowed' });

    const logs = await post('logs', {
      resourceLogs: [
        { resource: resource('a1'), scopeLogs: [{ logRecords: [
          { timeUnixNano: nanos(now), severityNumber: 9, body: { stringValue: 'ok' }, attributes: kv({ a: '1' }) },
          { timeUnixNano: nanos(now), severityNumber: 9, body: { stringValue: 'z'.repeat(129) } },
          { timeUnixNano: nanos(now), severityNumber: 9, body: { kvlistValue: { values: kv({ k: 'v'.repeat(130) }) } } },
          { timeUnixNano: nanos(now), severityNumber: 25, body: { stringValue: 'loud' } },
          { timeUnixNano: nanos(now), severityNumber: -5, body: { stringValue: 'quiet' } },
          { timeUnixNano: nanos(now + 3_600_000), severityNumber: 9, body: { stringValue: 'later' } },
          { timeUnixNano: nanos(now), severityNumber: 9, body: { stringValue: 'many' }, attributes: kv(tooMany) },
          { timeUnixNano: nanos(now), severityNumber: 9, body: { stringValue: 'long key' }, attributes: kv({ ['k'.repeat(100_000)]: 'v' }) },
          { timeUnixNano: nanos(now), severityNumber: 9, severityText: 'S'.repeat(65), body: { stringValue: 'long severity text' } },
        ] }] },
      ],
    });
    expect(logs.rejectedLogRecords).toBe('8');
    expect(logs.errorMessage).toMatch(/^8 rejected \(body_limit=2, invalid_severity=2, future_timestamp=1, attribute_limit=3\); body_limit: a log record body is 129 bytes; at most 128 are allowed; invalid_severity: a log record has severity_number 25; OTLP defines 0 to 24; future_timestamp: /);
    expect(logs.errorMessage.length).toBeLessThan(1000);

    await pipeline.shutdown();
    await app.close();
    expect(store.spans.map((s) => s.name)).toEqual(['ok']);
    expect(store.logs.map((l) => l.body)).toEqual(['ok']);

    // Replay of the same log applies the same limits.
    const replayed = new RecordingStore();
    const again = pipelineOver(replayed, rules).pipeline;
    expect(await again.recover()).toBe(2);
    await again.shutdown();
    expect(replayed.spans.map((s) => s.name)).toEqual(['ok']);
    expect(replayed.logs.map((l) => l.body)).toEqual(['ok']);
  });
});
