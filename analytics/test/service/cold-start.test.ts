import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anomalyEventSchema, decodeJsonMessage, freePort, redisKeys } from '@sloth/core';
import { addSampleBatches, addSamples, cpuSeries, makeService, seasonalValue, startTestBed, stepMillis, waitFor, type TestBed } from './helpers.js';

let bed: TestBed;
beforeAll(async () => {
  bed = await startTestBed();
});
afterAll(async () => {
  await bed.close();
});

/** A stand-in for the collector's query API: `GET /api/v1/samples` over fixed in-memory series. */
class FakeQueryApi {
  readonly requests: Array<{ url: URL; authorization: string | undefined }> = [];
  private server: Server | undefined;

  constructor(private readonly series: Map<string, Array<{ t: number; v: number | null }>>) {}

  async start(port: number): Promise<void> {
    this.server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      this.requests.push({ url, authorization: request.headers.authorization });
      if (request.headers.authorization !== 'Bearer query-token-1') return void response.writeHead(401).end();
      const points = this.series.get(url.searchParams.get('series') ?? '');
      if (url.pathname !== '/api/v1/samples' || points === undefined) return void response.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"SLOTH_ERR_NOT_FOUND"}');
      const from = Number(url.searchParams.get('from'));
      const to = Number(url.searchParams.get('to'));
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ fromMillis: from, toMillis: to, points: points.filter((p) => p.t >= from && p.t <= to) }));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', () => resolve()));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

describe('cold start from the collector', () => {
  it('warms a new series up from the query API, so its very first sample can be an anomaly', async () => {
    const base = Date.UTC(2026, 2, 1);
    const known = cpuSeries('warm-1');
    const unknown = cpuSeries('new-1');
    const points = Array.from({ length: 600 }, (_, i) => ({ t: base + i * stepMillis, v: i === 10 ? null : seasonalValue(i, 0) }));
    const api = new FakeQueryApi(new Map([[known, points]]));
    const port = await freePort();
    await api.start(port);
    const keys = redisKeys('cold');
    const service = makeService(bed, {
      redisPrefix: 'cold', dataDir: join(bed.dir, 'cold'), anomalyThreshold: 0.5,
      collectorUrl: `http://127.0.0.1:${port}`, token: 'query-token-1', coldStartMillis: 3_600_000 * 24,
    }, { detectorOptions: { useModel: false } });
    await service.start();
    try {
      // Both new series in one batch entry.
      await addSampleBatches(bed.client, keys.samples, [
        { seriesId: known, agentId: 'warm-1', timestampMillis: base + 600 * stepMillis, value: seasonalValue(600, 0) + 60 },
        { seriesId: unknown, agentId: 'new-1', timestampMillis: base + 600 * stepMillis, value: 1 },
      ], 10);
      await waitFor('both samples scored', () => service.metrics.samplesScored === 2);
      expect(service.metrics.coldStartPoints).toBe(599);
      const request = api.requests.find((r) => r.url.searchParams.get('series') === known)!;
      expect(request.authorization).toBe('Bearer query-token-1');
      expect(Number(request.url.searchParams.get('to'))).toBe(base + 600 * stepMillis - 1);
      const events = (await bed.client.xrange(keys.anomalies, '-', '+')).map(([, f]) => decodeJsonMessage(f, anomalyEventSchema));
      expect(events.map((e) => e.seriesId)).toEqual([known]);
      expect(events[0]!.timestampMillis).toBe(base + 600 * stepMillis);
    } finally {
      await service.shutdown();
      await api.stop();
    }
  });

  it('keeps scoring when the collector is unreachable', async () => {
    const keys = redisKeys('cold-down');
    const port = await freePort();
    const service = makeService(bed, { redisPrefix: 'cold-down', dataDir: join(bed.dir, 'cold-down'), collectorUrl: `http://127.0.0.1:${port}` }, { detectorOptions: { useModel: false } });
    await service.start();
    try {
      await addSamples(bed.client, keys.samples, Array.from({ length: 20 }, (_, i) => ({ seriesId: cpuSeries(`d${i % 4}`), agentId: 'd', timestampMillis: 1_000 * (i + 1), value: i })));
      await waitFor('samples scored', () => service.metrics.samplesScored === 20);
      expect(service.metrics.coldStartPoints).toBe(0);
    } finally {
      await service.shutdown();
    }
  });
});
