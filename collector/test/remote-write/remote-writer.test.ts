import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@sloth/core';
import { loadCollectorConfig, startCollector } from '../../src/index.js';
import { remoteName } from '../../src/remote-write/remote-write-config.js';
import { TimeSeriesBuilder } from '../../src/remote-write/timeseries.js';
import { compressWriteRequest, decodeWriteRequest, type RemoteTimeSeries } from '../../src/remote-write/write-request.js';
import { SeriesCache } from '../../src/series-cache.js';
import { normaliseMetrics } from '../../src/otlp-normalise.js';
import { decodeRequest } from '../../src/decode.js';
import { eventually } from '../helpers/collector-process.js';
import { encodeMetricsRequest, gaugeRequestObject } from '../helpers/otlp-requests.js';

/** A remote-write receiver that answers each request with the next scripted status (then 200) and keeps what it got. */
class ScriptedReceiver {
  readonly received: Array<{ headers: IncomingHttpHeaders; series: RemoteTimeSeries[] }> = [];
  private readonly server: Server;
  constructor(private readonly statuses: number[]) {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        this.received.push({ headers: request.headers, series: decodeWriteRequest(Buffer.concat(chunks)) });
        response.statusCode = this.statuses.shift() ?? 200;
        response.end(response.statusCode === 400 ? 'out of bounds' : '');
      });
    });
  }
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v1/write`;
  }
  async close(): Promise<void> {
    await new Promise((resolve) => this.server.close(resolve));
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-rw-unit-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function values(series: readonly RemoteTimeSeries[]): number[] {
  return series.flatMap((s) => s.samples.map((x) => x.value)).sort((a, b) => a - b);
}

describe('remote write', () => {
  it('maps OpenTelemetry points to Prometheus series as /metrics does: names, units, sorted labels, histogram buckets', () => {
    const now = Date.now();
    const request = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.instance.id', value: { stringValue: 'a1' } }] },
          scopeMetrics: [
            {
              metrics: [
                { name: 'http.server.duration', unit: 's', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: String(now * 1e6), count: 5, sum: 2.5, explicitBounds: [0.1, 1], bucketCounts: [1, 3, 1], attributes: [{ key: 'http.route', value: { stringValue: '/x' } }] }] } },
                { name: 'requests', unit: '1', sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [{ timeUnixNano: String((now + 10) * 1e6), asDouble: 7 }, { timeUnixNano: String(now * 1e6), asDouble: 6 }] } },
                // Named like the collector's own counter: `exported_` here as on /metrics.
                { name: 'sloth_collector_requests_total', sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [{ timeUnixNano: String(now * 1e6), asDouble: 9 }] } },
              ],
            },
          ],
        },
      ],
    };
    const decoded = decodeRequest('metrics', 'protobuf', encodeMetricsRequest(request));
    if (decoded.signal !== 'metrics') throw new Error('expected a metrics request');
    const result = normaliseMetrics(decoded.message, 'p', { cache: new SeriesCache(), admit: () => true });
    const builder = new TimeSeriesBuilder();
    builder.add(result.batch.metrics);
    expect(builder.samples).toBe(3 + 2 + 2 + 1); // 3 buckets, _sum, _count; 2 + 1 counter points
    const series = decodeWriteRequest(compressWriteRequest(builder.finish()));
    const byName = new Map(series.map((s) => [s.labels.map((l) => `${l.name}=${l.value}`).join(','), s.samples]));
    const names = [...byName.keys()];
    expect(names.every((n) => n.startsWith('__name__='))).toBe(true);
    expect(byName.get('__name__=http_server_duration_seconds_bucket,agent=a1,http_route=/x,le=0.1')).toEqual([{ value: 1, timestamp: now }]);
    expect(byName.get('__name__=http_server_duration_seconds_bucket,agent=a1,http_route=/x,le=1')).toEqual([{ value: 4, timestamp: now }]);
    expect(byName.get('__name__=http_server_duration_seconds_bucket,agent=a1,http_route=/x,le=+Inf')).toEqual([{ value: 5, timestamp: now }]);
    expect(byName.get('__name__=http_server_duration_seconds_sum,agent=a1,http_route=/x')).toEqual([{ value: 2.5, timestamp: now }]);
    expect(byName.get('__name__=http_server_duration_seconds_count,agent=a1,http_route=/x')).toEqual([{ value: 5, timestamp: now }]);
    // Samples of one series go out in time order, whatever order they came in.
    expect(byName.get('__name__=requests_total,agent=a1')).toEqual([{ value: 6, timestamp: now }, { value: 7, timestamp: now + 10 }]);
    expect(byName.get('__name__=exported_sloth_collector_requests_total,agent=a1')).toEqual([{ value: 9, timestamp: now }]);
  });

  it('names remotes without credentials', () => {
    expect(remoteName('http://user:secret@vm.example:8428/api/v1/write')).toBe('vm.example_8428_api_v1_write');
    expect(remoteName('https://mimir.example/api/v1/push')).toBe('mimir.example_443_api_v1_push');
    // A token in the path is named by a digest, never shown; the same URL always gets the same name.
    const withToken = remoteName('https://push.example/api/v1/write/tok_9f8e7d6c5b4a39281706');
    expect(withToken).toMatch(/^push\.example_443_api_v1_write_h[0-9a-f]{8}$/);
    expect(withToken).not.toContain('9f8e7d6c5b4a');
    expect(remoteName('https://push.example/api/v1/write/tok_9f8e7d6c5b4a39281706')).toBe(withToken);
  });

  it('retries a 503 with the same samples, drops a batch refused with 400 (counted) and goes on', async () => {
    const receiver = new ScriptedReceiver([503, 400]);
    const url = await receiver.listen();
    const settings = loadCollectorConfig({
      file: undefined,
      env: {},
      flags: {
        dataDir: join(dir, 'data'),
        port: 0,
        metricsPort: 0,
        host: '127.0.0.1',
        publishSamples: false,
        insecureNoAuth: true,
        // Not what these tests are about: a loaded test machine must not make the budget refuse their requests.
        latencyBudgetMillis: 60_000,
        remoteWrite: [{ url, name: 'scripted', headers: { 'x-scope-orgid': 'tenant-1' }, queue: { minBackoffMillis: 20, maxBackoffMillis: 100 } }],
      },
    });
    const collector = await startCollector(settings, { logger: silentLogger() });
    const post = async (value: number): Promise<number> => {
      const body = encodeMetricsRequest(gaugeRequestObject({ agent: 'a1', name: 'test.rw', points: [0, 1, 2].map((i) => ({ attributes: { i: String(i) }, value: value + i, timeMillis: Date.now() })) }));
      const response = await fetch(`${collector.urls.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
      await response.arrayBuffer();
      return response.status;
    };
    try {
      expect(await post(100)).toBe(200);
      await eventually(async () => (receiver.received.length >= 2 ? true : undefined));
      expect(await post(200)).toBe(200);
      await eventually(async () => (receiver.received.length >= 3 ? true : undefined));
      const [first, retry, next] = receiver.received;
      expect(values(first?.series ?? [])).toEqual([100, 101, 102]);
      expect(values(retry?.series ?? [])).toEqual([100, 101, 102]);
      expect(values(next?.series ?? [])).toEqual([200, 201, 202]);
      expect(first?.headers).toMatchObject({ 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0', 'x-scope-orgid': 'tenant-1' });
      const text = await eventually(async () => {
        const exposition = await (await fetch(collector.urls.metricsUrl)).text();
        return /^sloth_collector_remote_write_samples_total\{remote="scripted"\} 3$/m.test(exposition) ? exposition : undefined;
      });
      expect(text).toMatch(/^sloth_collector_remote_write_failures_total\{remote="scripted",kind="retried"\} 1$/m);
      expect(text).toMatch(/^sloth_collector_remote_write_failures_total\{remote="scripted",kind="dropped"\} 1$/m);
      expect(text).toMatch(/^sloth_collector_remote_write_dropped_samples_total\{remote="scripted"\} 3$/m);
    } finally {
      await collector.shutdown();
      await receiver.close();
    }
  });

  it('sends in WAL order, each point once it is taken, while requests pile up behind a failing remote', async () => {
    const receiver = new ScriptedReceiver([503, 503, 500, 429]);
    const url = await receiver.listen();
    const settings = loadCollectorConfig({
      file: undefined,
      env: {},
      flags: {
        dataDir: join(dir, 'data'),
        port: 0,
        metricsPort: 0,
        host: '127.0.0.1',
        publishSamples: false,
        insecureNoAuth: true,
        // Not what these tests are about: a loaded test machine must not make the budget refuse their requests.
        latencyBudgetMillis: 60_000,
        remoteWrite: [{ url, name: 'ordered', queue: { minBackoffMillis: 20, maxBackoffMillis: 80, maxSamplesPerSend: 6 } }],
      },
    });
    const collector = await startCollector(settings, { logger: silentLogger() });
    const base = Date.now() - 10_000;
    try {
      for (let id = 0; id < 30; id++) {
        const body = encodeMetricsRequest(gaugeRequestObject({ agent: 'a1', name: 'test.order', points: [0, 1, 2].map((i) => ({ attributes: { i: String(i) }, value: id * 10 + i, timeMillis: base + id })) }));
        const response = await fetch(`${collector.urls.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
        await response.arrayBuffer();
        expect(response.status).toBe(200);
      }
      const all = Array.from({ length: 30 }, (_, id) => [0, 1, 2].map((i) => id * 10 + i)).flat();
      await eventually(async () => (new Set(receiver.received.flatMap((r) => values(r.series))).size === all.length ? true : undefined));
      // Retries repeat a request; apart from those, requests carry the points in the order they were accepted.
      const firstSeen: number[] = [];
      for (const request of receiver.received) {
        const ids = [...new Set(values(request.series).map((v) => Math.floor(v / 10)))];
        for (const id of ids) if (!firstSeen.includes(id)) firstSeen.push(id);
      }
      expect(firstSeen).toEqual(Array.from({ length: 30 }, (_, id) => id));
      expect(receiver.received.slice(0, 5).map((r) => values(r.series))).toEqual(Array.from({ length: 5 }, () => values(receiver.received[0]?.series ?? [])));
    } finally {
      await collector.shutdown();
      await receiver.close();
    }
  });
});
