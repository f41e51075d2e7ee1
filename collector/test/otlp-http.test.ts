import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger, TokenSet } from '@sloth/core';
import { IngestPipeline, type IngestStore } from '../src/ingest-pipeline.js';
import { buildOtlpApp } from '../src/otlp-http.js';
import type { IngestBatch, MetricPoint } from '../src/records.js';
import { pointAt } from './store/fixtures.js';
import { SeriesCache } from '../src/series-cache.js';
import { SelfMetrics } from '../src/self-metrics.js';
import { WriteAheadLog } from '../src/wal.js';
import { gaugeRequestObject } from './helpers/otlp-requests.js';

/** A store test double that records writes, or fails them on demand. */
class RecordingStore implements IngestStore {
  readonly points: MetricPoint[] = [];
  checkpoint = 0;
  failing = false;
  write(batches: readonly IngestBatch[], checkpoint: number): void {
    if (this.failing) throw new Error('disk full');
    for (const b of batches) for (let i = 0; i < b.metrics.length; i++) this.points.push(pointAt(b.metrics, i));
    this.checkpoint = checkpoint;
  }
  lastCheckpoint(): number {
    return this.checkpoint;
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-otlp-http-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function setup(options: { maxQueuedPoints?: number; insecure?: boolean; serverTiming?: boolean; publish?: () => void } = {}) {
  const store = new RecordingStore();
  const series = { cache: new SeriesCache(), admit: () => true };
  const wal = new WriteAheadLog({ dir: join(dir, 'wal'), segmentBytes: 1 << 20, logger: silentLogger() });
  const pipeline = new IngestPipeline({
    wal,
    store,
    sinks: { latest: () => undefined, resources: () => undefined, publish: options.publish ?? (() => undefined), stored: () => undefined },
    series,
    logger: silentLogger(),
    maxQueuedPoints: options.maxQueuedPoints ?? 1000,
    maxDecompressedBytes: 1 << 20,
  });
  await pipeline.recover();
  const metrics = new SelfMetrics({ queueDepth: () => pipeline.queueDepth, activeSeries: () => store.points.length });
  const app = buildOtlpApp({
    pipeline,
    tokens: new TokenSet([{ token: 'test-token-1', name: 'team-a', agents: ['*'] }], { insecureNoAuth: options.insecure ?? false }),
    series,
    metrics,
    logger: silentLogger(),
    maxBodyBytes: 1 << 20,
    maxDecompressedBytes: 1 << 20,
    retryAfterSeconds: 7,
    serverTiming: options.serverTiming ?? false,
  });
  return { store, pipeline, app, metrics };
}

const auth = { authorization: 'Bearer test-token-1', 'content-type': 'application/json' };
const now = Date.now();

describe('OTLP/HTTP receiver', () => {
  it('rejects invalid points through partial_success and stores the rest', async () => {
    const { app, store, pipeline } = await setup();
    const body = gaugeRequestObject({ agent: 'a1', name: 'test.g', points: [{ attributes: { x: '1' }, value: 1, timeMillis: now }] }) as { resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: unknown[] }> }> };
    const metrics = body.resourceMetrics[0]?.scopeMetrics[0]?.metrics as Array<Record<string, unknown>>;
    metrics.push({ name: '', gauge: { dataPoints: [{ timeUnixNano: String(now * 1e6), asDouble: 2 }] } });
    metrics.push({ name: 'test.nan', gauge: { dataPoints: [{ timeUnixNano: 'NaN', asDouble: 2 }, { timeUnixNano: String(now * 1e6), asDouble: 3 }] } });
    const response = await app.inject({ method: 'POST', url: '/v1/metrics', headers: auth, payload: JSON.stringify(body) });
    expect(response.statusCode).toBe(200);
    const json = response.json<{ partialSuccess: { rejectedDataPoints: string; errorMessage: string } }>();
    expect(json.partialSuccess.rejectedDataPoints).toBe('2');
    expect(json.partialSuccess.errorMessage).toMatch(/invalid_name=1.*invalid_timestamp=1/);
    await pipeline.shutdown();
    expect(store.points.map((p) => [p.name, p.value, p.labels])).toEqual([
      ['test.g', 1, { x: '1', agent: 'a1' }],
      ['test.nan', 3, { agent: 'a1' }],
    ]);
    await app.close();
  });

  it('says where an accepted request spent its time in Server-Timing when asked to, and only then', async () => {
    const payload = JSON.stringify(gaugeRequestObject({ agent: 'a1', name: 'test.timed', points: [{ attributes: {}, value: 1, timeMillis: now }] }));
    const timed = await setup({ serverTiming: true });
    const response = await timed.app.inject({ method: 'POST', url: '/v1/metrics', headers: auth, payload });
    expect(response.statusCode).toBe(200);
    const phases = String(response.headers['server-timing']).split(', ').map((part) => /^(\w+);dur=(\d+\.\d\d)$/.exec(part));
    expect(phases.map((m) => m?.[1])).toEqual(['read', 'decode', 'walqueue', 'walsync', 'resume', 'reply']);
    for (const m of phases) expect(Number(m?.[2])).toBeGreaterThanOrEqual(0);
    await timed.pipeline.shutdown();
    await timed.app.close();
    const plain = await setup();
    const untimed = await plain.app.inject({ method: 'POST', url: '/v1/metrics', headers: auth, payload });
    expect([untimed.statusCode, untimed.headers['server-timing']]).toEqual([200, undefined]);
    await plain.pipeline.shutdown();
    await plain.app.close();
  });

  it('answers 503 with Retry-After when the pipeline is saturated, and recovers', async () => {
    const { app, store, pipeline } = await setup({ maxQueuedPoints: 1 });
    store.failing = true;
    const payload = JSON.stringify(gaugeRequestObject({ agent: 'a1', name: 'test.g', points: [{ attributes: {}, value: 1, timeMillis: now }] }));
    const first = await app.inject({ method: 'POST', url: '/v1/metrics', headers: auth, payload });
    expect(first.statusCode).toBe(200); // durable in the WAL even though the store is failing
    await new Promise((r) => setTimeout(r, 50));
    const second = await app.inject({ method: 'POST', url: '/v1/metrics', headers: auth, payload });
    expect(second.statusCode).toBe(503);
    expect(second.headers['retry-after']).toBe('7');
    store.failing = false;
    await new Promise((r) => setTimeout(r, 1_500)); // the applier retries every second
    expect(store.points.length).toBe(1);
    const third = await app.inject({ method: 'POST', url: '/v1/metrics', headers: auth, payload });
    expect(third.statusCode).toBe(200);
    await pipeline.shutdown();
    await app.close();
  });

  it('answers 200, once, a request that is durable even when a sink then fails (an error would be retried and stored again)', async () => {
    const { app, store, pipeline } = await setup({
      publish: () => {
        throw new Error('samples stream bug');
      },
    });
    const payload = JSON.stringify(gaugeRequestObject({ agent: 'a1', name: 'test.g', points: [{ attributes: {}, value: 1, timeMillis: now }] }));
    const response = await app.inject({ method: 'POST', url: '/v1/metrics', headers: auth, payload });
    expect([response.statusCode, response.body]).toEqual([200, '{}']);
    await pipeline.shutdown();
    expect(store.points.map((p) => p.value)).toEqual([1]);
    await app.close();
  });

  it('decodes OTLP/JSON spans and logs with hex ids and rejects spans without a name', async () => {
    const { app, pipeline } = await setup();
    const spans = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'host.name', value: { stringValue: 'h1' } }] },
          scopeSpans: [
            {
              spans: [
                { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'ok', kind: 2, startTimeUnixNano: String(now * 1e6), endTimeUnixNano: String((now + 5) * 1e6) },
                { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b175', name: '', startTimeUnixNano: String(now * 1e6), endTimeUnixNano: String(now * 1e6) },
              ],
            },
          ],
        },
      ],
    };
    const response = await app.inject({ method: 'POST', url: '/v1/traces', headers: auth, payload: JSON.stringify(spans) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ partialSuccess: { rejectedSpans: '1', errorMessage: expect.stringContaining('invalid_name') } });
    await pipeline.shutdown();
    await app.close();
  });

  it('guards /v1 and /api/v1 with the bearer token, and lets everything through with insecureNoAuth', async () => {
    const { app } = await setup();
    expect((await app.inject({ method: 'GET', url: '/api/v1/agents' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/v1/logs', headers: { 'content-type': 'application/json' }, payload: '{}' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/v1/logs', headers: auth, payload: '{}' })).statusCode).toBe(200);
    await app.close();
    const open = await setup({ insecure: true });
    expect((await open.app.inject({ method: 'POST', url: '/v1/logs', headers: { 'content-type': 'application/json' }, payload: '{}' })).statusCode).toBe(200);
    await open.app.close();
  });

  it('exposes self metrics that promtool accepts', async () => {
    const { app, metrics, pipeline } = await setup();
    const payload = JSON.stringify(gaugeRequestObject({ agent: 'a1', name: 'test.g', points: [{ attributes: {}, value: 1, timeMillis: now }] }));
    await app.inject({ method: 'POST', url: '/v1/metrics', headers: auth, payload });
    await app.inject({ method: 'POST', url: '/v1/metrics', headers: { ...auth, 'content-type': 'text/plain' }, payload });
    metrics.addStreamDropped(3);
    const text = await metrics.render();
    expect(text).toContain('sloth_collector_points_received_total{signal="metrics"} 1');
    expect(text).toContain('sloth_collector_requests_total{code="415"} 1');
    expect(text).toContain('sloth_collector_stream_dropped_total 3');
    expect(text).toMatch(/sloth_collector_request_duration_seconds_count 2/);
    // promtool prints every problem (errors and lint warnings) and exits non-zero on errors
    const output = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(output.trim()).toBe('');
    await pipeline.shutdown();
    await app.close();
  });
});
