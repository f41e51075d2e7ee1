import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger, TokenSet } from '@sloth/core';
import { IngestPipeline, type IngestStore } from '../src/ingest-pipeline.js';
import { labelViolation, limitedAdmission, settleRejections, type PointLimitSettings } from '../src/limits-series.js';
import { buildOtlpApp } from '../src/otlp-http.js';
import type { NormaliseResult } from '../src/otlp-normalise.js';
import { otlpTypes } from '../src/otlp-root.js';
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

/** The record limits as the collector settles them on a request and on replay (no admission tally to move). */
const recordRules = (result: NormaliseResult, receivedAtMillis: number): NormaliseResult => settleRejections(result, { forbidden: 0, labels: 0, labelExample: undefined }, receivedAtMillis, limits);

/** An OTLP app (token `test-token-1`, agent a1) over `pipeline`, recovered first, with its own metrics. */
async function appOver({ pipeline, series }: ReturnType<typeof pipelineOver>): Promise<{ app: ReturnType<typeof buildOtlpApp>; metrics: SelfMetrics; pipeline: IngestPipeline }> {
  await pipeline.recover();
  const metrics = new SelfMetrics({ queueDepth: () => 0, activeSeries: () => 0 });
  const app = buildOtlpApp({
    pipeline, tokens: new TokenSet([{ token: 'test-token-1', name: 'a1' }]), series, limits, metrics, logger: silentLogger(),
    maxBodyBytes: 1 << 20, maxDecompressedBytes: 1 << 20, retryAfterSeconds: 1,
  });
  return { app, metrics, pipeline };
}

describe('point limits', () => {
  it('rejects future and over-labelled points in partial_success, and replay after a restart stores exactly what the request stored', async () => {
    const first = new RecordingStore();
    const { app, pipeline } = await appOver(pipelineOver(first, recordRules));
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
    const again = pipelineOver(replayed, recordRules).pipeline;
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
    const { app, pipeline } = await appOver(pipelineOver(store, undefined, 'wal', cache));
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

  it('rejects spans and log records over the attribute count, key, structure, severity and future-time limits, and replay keeps them out too', async () => {
    const store = new RecordingStore();
    const { app, pipeline } = await appOver(pipelineOver(store, recordRules));
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
          span('long key', { ['k'.repeat(33)]: 'v' }),
          // Too long even with its strings cut: 30 numbers are 81 bytes of JSON.
          span('numbers', { list: { arrayValue: { values: Array.from({ length: 30 }, (_, i) => ({ intValue: String(i) })) } } }),
          span('future', {}, now + 3_600_000),
        ] }] },
      ],
    });
    expect(traces.rejectedSpans).toBe('4');
    expect(traces.errorMessage).toMatch(
      /^4 rejected \(attribute_limit=3, future_timestamp=1\); attribute_limit: span many has more than 4 attributes; future_timestamp: span future is more than 600 s ahead of the collector's clock \(\d{4}-/,
    );
    // Every span of a resource over the limits goes, however small the span.
    const resourceOver = await post('traces', { resourceSpans: [{ resource: resource('a1', { big: 'r'.repeat(65) }), scopeSpans: [{ spans: [span('tiny')] }] }] });
    expect(resourceOver).toEqual({ rejectedSpans: '1', errorMessage: '1 rejected (attribute_limit=1); attribute_limit: the resource of agent a1 has an attribute big of 65 bytes; at most 64 are allowed' });

    const logs = await post('logs', {
      resourceLogs: [
        { resource: resource('a1'), scopeLogs: [{ logRecords: [
          { timeUnixNano: nanos(now), severityNumber: 9, body: { stringValue: 'ok' }, attributes: kv({ a: '1' }) },
          // A structured body too long even with its strings cut.
          { timeUnixNano: nanos(now), severityNumber: 9, body: { arrayValue: { values: Array.from({ length: 50 }, (_, i) => ({ intValue: String(i) })) } } },
          { timeUnixNano: nanos(now), severityNumber: 25, body: { stringValue: 'loud' } },
          { timeUnixNano: nanos(now), severityNumber: -5, body: { stringValue: 'quiet' } },
          { timeUnixNano: nanos(now + 3_600_000), severityNumber: 9, body: { stringValue: 'later' } },
          { timeUnixNano: nanos(now), severityNumber: 9, body: { stringValue: 'many' }, attributes: kv(tooMany) },
          { timeUnixNano: nanos(now), severityNumber: 9, body: { stringValue: 'long key' }, attributes: kv({ ['k'.repeat(100_000)]: 'v' }) },
        ] }] },
      ],
    });
    expect(logs.rejectedLogRecords).toBe('6');
    expect(logs.errorMessage).toMatch(
      /^6 rejected \(body_limit=1, invalid_severity=2, future_timestamp=1, attribute_limit=2\); body_limit: a log record body is 141 bytes; at most 128 are allowed, and its keys, numbers and nesting alone take 141; invalid_severity: a log record has severity_number 25; OTLP defines 0 to 24; future_timestamp: /,
    );
    expect(logs.errorMessage.length).toBeLessThan(1000);

    await pipeline.shutdown();
    await app.close();
    expect(store.spans.map((s) => s.name)).toEqual(['ok']);
    expect(store.logs.map((l) => l.body)).toEqual(['ok']);

    // Replay of the same log applies the same limits.
    const replayed = new RecordingStore();
    const again = pipelineOver(replayed, recordRules).pipeline;
    expect(await again.recover()).toBe(2);
    await again.shutdown();
    expect(replayed.spans.map((s) => s.name)).toEqual(['ok']);
    expect(replayed.logs.map((l) => l.body)).toEqual(['ok']);
  });

  it('keeps spans and log records with values over the size limits, cut at a character boundary, alike over JSON and protobuf, counted, and replayed the same', async () => {
    const store = new RecordingStore();
    const { app, metrics, pipeline } = await appOver(pipelineOver(store, recordRules));
    const now = Date.now();
    const nanos = (millis: number): string => String(BigInt(millis) * 1_000_000n);
    const kv = (entries: Record<string, unknown>): unknown[] => Object.entries(entries).map(([key, value]) => ({ key, value: typeof value === 'string' ? { stringValue: value } : value }));
    const stack = `TypeError: é is undefined\n${'    at résumé (/srv/app/handler.js:10:5)\n'.repeat(50)}`;
    const strings = (...values: string[]): unknown => ({ arrayValue: { values: values.map((stringValue) => ({ stringValue })) } });
    const resource = { attributes: kv({ 'service.instance.id': 'a1', 'service.name': 'checkout' }) };
    // OTLP/JSON writes ids in hex, protobuf as bytes.
    const id = (hex: string, format: 'json' | 'protobuf'): string | Buffer => (format === 'json' ? hex : Buffer.from(hex, 'hex'));
    const traces = (format: 'json' | 'protobuf'): Record<string, unknown> => ({
      resourceSpans: [{ resource, scopeSpans: [{ spans: [
        {
          traceId: id('0123456789abcdef0123456789abcdef', format), spanId: id('00000000000000a1', format), name: 'é'.repeat(40), kind: 2,
          startTimeUnixNano: nanos(now), endTimeUnixNano: nanos(now + 5), status: { code: 2, message: `a${'😀'.repeat(20)}` },
          attributes: kv({ 'exception.stacktrace': stack, 'exception.type': 'TypeError', 'process.command_args': strings('node', 'y'.repeat(100)) }),
        },
        {
          traceId: id('0123456789abcdef0123456789abcdef', format), spanId: id('00000000000000a2', format), name: 'many', kind: 2,
          startTimeUnixNano: nanos(now), endTimeUnixNano: nanos(now + 5), attributes: kv({ a: '1', b: '2', c: '3', d: '4', e: '5' }),
        },
      ] }] }],
    });
    const logs = {
      resourceLogs: [{ resource, scopeLogs: [{ logRecords: [
        { timeUnixNano: nanos(now), severityNumber: 17, severityText: 'S'.repeat(65), body: { stringValue: `${'z'.repeat(127)}éz` }, attributes: kv({ 'exception.stacktrace': stack }) },
        { timeUnixNano: nanos(now), severityNumber: 17, body: { kvlistValue: { values: kv({ msg: 'payment failed', stack: 's'.repeat(300) }) } } },
        { timeUnixNano: nanos(now), severityNumber: 25, body: { stringValue: 'loud' } },
      ] }] }],
    };
    const post = async (signal: 'traces' | 'logs', format: 'json' | 'protobuf', body: Record<string, unknown>): Promise<{ rejected: string; errorMessage: string }> => {
      const type = signal === 'traces' ? otlpTypes.tracesRequest : otlpTypes.logsRequest;
      const response = await app.inject({
        method: 'POST',
        url: `/v1/${signal}`,
        headers: { authorization: 'Bearer test-token-1', 'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf' },
        payload: format === 'json' ? JSON.stringify(body) : Buffer.from(type.encode(type.fromObject(body) as unknown as Record<string, unknown>).finish()),
      });
      expect(response.statusCode).toBe(200);
      const field = signal === 'traces' ? 'rejectedSpans' : 'rejectedLogRecords';
      const responseType = signal === 'traces' ? otlpTypes.tracesResponse : otlpTypes.logsResponse;
      // Protobuf int64 counts decode as Long (or number): String() gives the decimal either way.
      const partial: Record<string, unknown> | undefined =
        format === 'json' ? response.json<{ partialSuccess?: Record<string, string> }>().partialSuccess : (responseType.decode(response.rawPayload) as { partialSuccess?: Record<string, unknown> }).partialSuccess;
      return { rejected: String(partial?.[field]), errorMessage: String(partial?.errorMessage) };
    };
    for (const format of ['json', 'protobuf'] as const) {
      // Cut records are accepted: partial_success counts only the one rejected for its attribute count.
      expect(await post('traces', format, traces(format))).toEqual({ rejected: '1', errorMessage: '1 rejected (attribute_limit=1); attribute_limit: span many has more than 4 attributes' });
      expect(await post('logs', format, logs)).toEqual({ rejected: '1', errorMessage: '1 rejected (invalid_severity=1); invalid_severity: a log record has severity_number 25; OTLP defines 0 to 24' });
    }
    await pipeline.shutdown();
    await app.close();

    // What the store was given: the values cut, never a multi-byte character split.
    const [fromJson, fromProtobuf] = store.spans as [SpanRecord, SpanRecord];
    expect(store.spans).toHaveLength(2);
    expect(fromProtobuf).toEqual(fromJson);
    expect(fromJson.name).toBe('é'.repeat(32));
    expect(fromJson.statusMessage).toBe(`a${'😀'.repeat(15)}`);
    const cutStack = fromJson.attributes['exception.stacktrace'] as string;
    expect(stack.startsWith(cutStack)).toBe(true);
    expect(Buffer.byteLength(cutStack)).toBeGreaterThan(61);
    expect(Buffer.byteLength(cutStack)).toBeLessThanOrEqual(64);
    expect(Buffer.from(cutStack).toString()).toBe(cutStack);
    expect(fromJson.attributes['exception.type']).toBe('TypeError');
    expect(fromJson.attributes['process.command_args']).toEqual(['node', 'y'.repeat(64 - JSON.stringify(['node', '']).length)]);

    expect(store.logs).toHaveLength(4);
    expect(store.logs.slice(2)).toEqual(store.logs.slice(0, 2));
    const [plain, structured] = store.logs as [LogRecordEntry, LogRecordEntry];
    // 127 z and an é would be 129 bytes: the é goes whole.
    expect(plain.body).toBe('z'.repeat(127));
    expect(plain.severityText).toBe('S'.repeat(64));
    expect(plain.attributes['exception.stacktrace']).toBe(cutStack);
    const body = JSON.parse(structured.body) as { msg: string; stack: string };
    expect(body.msg).toBe('payment failed');
    expect(body.stack).toBe('s'.repeat(128 - JSON.stringify({ msg: 'payment failed', stack: '' }).length));

    // One count per cut value: 4 per traces request (name, status message, two attributes), 4 per logs request.
    const text = await metrics.render();
    expect(text).toContain('sloth_collector_truncated_values_total{signal="traces"} 8');
    expect(text).toContain('sloth_collector_truncated_values_total{signal="logs"} 8');
    expect(text).toContain('sloth_collector_points_received_total{signal="traces"} 2');
    expect(text).toContain('sloth_collector_points_rejected_total{reason="attribute_limit"} 2');

    // Replay of the write-ahead log cuts the same values: it stores exactly what the requests stored.
    const replayed = new RecordingStore();
    const again = pipelineOver(replayed, recordRules).pipeline;
    expect(await again.recover()).toBe(4);
    await again.shutdown();
    expect(replayed.spans).toEqual(store.spans);
    expect(replayed.logs).toEqual(store.logs);
  });
});
