import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer, silentLogger } from '@sloth/core';
import { loadCollectorConfig, startCollector, type Collector } from '../../src/index.js';
import { CollectorProcess, eventually } from '../helpers/collector-process.js';
import { encodeMetricsRequest, gaugeRequestObject } from '../helpers/otlp-requests.js';
import { RemoteTsdb } from '../helpers/remote-tsdb.js';

/**
 * Remote write to real receivers started here: every point the collector
 * acknowledged reaches VictoriaMetrics and Prometheus, through an outage
 * of the remote and a SIGKILL of the collector.
 */

let dir: string;
let redis: RedisServer;
const pointsPerRequest = 25;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-remote-write-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
});

afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Request `id`: 25 series (label i), value id * 1000 + i, one timestamp per request. */
function requestBody(id: number, baseMillis: number): Buffer {
  const points = Array.from({ length: pointsPerRequest }, (_, i) => ({ attributes: { i: String(i) }, value: id * 1000 + i, timeMillis: baseMillis + id * 100 }));
  return encodeMetricsRequest(gaugeRequestObject({ agent: 'rw-agent', name: 'test.remote', points }));
}

async function post(otlpUrl: string, id: number, baseMillis: number): Promise<number> {
  const response = await fetch(`${otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: requestBody(id, baseMillis) });
  await response.arrayBuffer();
  return response.status;
}

/** The values the remote holds, as a set of `id * 1000 + i`. */
async function remoteValues(tsdb: RemoteTsdb): Promise<Set<number>> {
  const values = new Set<number>();
  for (const samples of (await tsdb.samples('test_remote_ratio')).values()) for (const [, value] of samples) values.add(value);
  return values;
}

function expected(ids: Iterable<number>): number[] {
  return [...ids].flatMap((id) => Array.from({ length: pointsPerRequest }, (_, i) => id * 1000 + i)).sort((a, b) => a - b);
}

async function inProcessCollector(name: string, url: string): Promise<Collector> {
  const settings = loadCollectorConfig({
    file: undefined,
    env: {},
    flags: {
      dataDir: join(dir, name),
      port: 0,
      metricsPort: 0,
      host: '127.0.0.1',
      publishSamples: false,
      insecureNoAuth: true,
      remoteWrite: [{ url, queue: { minBackoffMillis: 50, maxBackoffMillis: 500, maxSamplesPerSend: 200 } }],
    },
  });
  return await startCollector(settings, { logger: silentLogger() });
}

describe('remote write', () => {
  it('delivers every acknowledged point to VictoriaMetrics, through an outage of the remote', async () => {
    const vm = await RemoteTsdb.create('victoria-metrics', join(dir, 'vm1'));
    const collector = await inProcessCollector('c1', vm.writeUrl);
    const base = Date.now() - 60_000;
    try {
      const { otlpUrl, metricsUrl } = collector.urls;
      for (let id = 0; id < 20; id++) expect(await post(otlpUrl, id, base)).toBe(200);
      await eventually(async () => ((await remoteValues(vm)).size === 20 * pointsPerRequest ? true : undefined), 30_000);
      expect([...(await remoteValues(vm))].sort((a, b) => a - b)).toEqual(expected(Array.from({ length: 20 }, (_, id) => id)));
      const series = await vm.samples('test_remote_ratio');
      expect(series.size).toBe(pointsPerRequest);
      expect([...series.keys()][0]).toMatch(/__name__=test_remote_ratio/);

      // The remote goes away; the collector keeps acknowledging, retries, and delivers once it is back.
      await vm.stop();
      for (let id = 20; id < 40; id++) expect(await post(otlpUrl, id, base)).toBe(200);
      const failures = await eventually(async () => {
        const text = await (await fetch(metricsUrl)).text();
        const match = /^sloth_collector_remote_write_failures_total\{remote="[^"]+",kind="retried"\} (\d+)/m.exec(text);
        return match !== null && Number(match[1]) > 0 ? text : undefined;
      }, 30_000);
      expect(failures).toMatch(/^sloth_collector_remote_write_lag_seconds\{remote="127\.0\.0\.1_\d+_api_v1_write"\} [1-9]|^sloth_collector_remote_write_lag_seconds\{remote="127\.0\.0\.1_\d+_api_v1_write"\} 0\.\d*[1-9]/m);
      await vm.start();
      await eventually(async () => ((await remoteValues(vm)).size === 40 * pointsPerRequest ? true : undefined), 60_000);
      expect([...(await remoteValues(vm))].sort((a, b) => a - b)).toEqual(expected(Array.from({ length: 40 }, (_, id) => id)));
    } finally {
      await collector.shutdown();
      await vm.stop();
    }
  }, 180_000);

  it('delivers to Prometheus (--web.enable-remote-write-receiver)', async () => {
    const prometheus = await RemoteTsdb.create('prometheus', join(dir, 'prom'));
    const collector = await inProcessCollector('c2', prometheus.writeUrl);
    const base = Date.now() - 60_000;
    try {
      for (let id = 0; id < 10; id++) expect(await post(collector.urls.otlpUrl, id, base)).toBe(200);
      await eventually(async () => ((await remoteValues(prometheus)).size === 10 * pointsPerRequest ? true : undefined), 30_000);
      const series = await prometheus.samples('test_remote_ratio');
      expect(series.size).toBe(pointsPerRequest);
      const one = [...series.entries()].find(([labels]) => /(^|,)i=3(,|$)/.test(labels))?.[1];
      expect(one).toEqual(Array.from({ length: 10 }, (_, id) => [base + id * 100, id * 1000 + 3]));
    } finally {
      await collector.shutdown();
      await prometheus.stop();
    }
  }, 180_000);

  it('delivers every acknowledged point after a SIGKILL of the collector mid-stream', async () => {
    const vm = await RemoteTsdb.create('victoria-metrics', join(dir, 'vm2'));
    const config = join(dir, 'sigkill.yaml');
    writeFileSync(config, `collector:\n  remoteWrite:\n    - url: ${vm.writeUrl}\n      queue:\n        maxSamplesPerSend: 100\n        minBackoffMillis: 50\n        maxBackoffMillis: 500\n`);
    const dataDir = join(dir, 'c3');
    const options = { dataDir, redisUrl: redis.url, redisPrefix: `rw${process.pid}`, extraArgs: ['--config', config] };
    const base = Date.now() - 60_000;
    const acked = new Set<number>();
    let first = await CollectorProcess.start(options);
    try {
      let next = 0;
      let killed = false;
      const worker = async (): Promise<void> => {
        while (!killed) {
          const id = next++;
          try {
            if ((await post(first.otlpUrl, id, base)) === 200) acked.add(id);
          } catch {
            return; // the collector is gone
          }
          if (acked.size >= 150 && !killed) {
            killed = true;
            await first.stop('SIGKILL');
          }
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      expect(acked.size).toBeGreaterThanOrEqual(150);
      first = await CollectorProcess.start(options);
      const want = expected(acked);
      await eventually(async () => {
        const values = await remoteValues(vm);
        return want.every((v) => values.has(v)) ? true : undefined;
      }, 60_000);
    } finally {
      await first.stop('SIGTERM');
      await vm.stop();
    }
  }, 180_000);
});
