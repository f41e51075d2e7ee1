/**
 * Collector → Redis → analytics with the real processes: OTLP/JSON gauge points go into `sloth
 * collector`, which stores them and publishes them on the samples stream; `sloth analytics` warms a
 * new series up from the collector's query API and publishes an anomaly event for a spike.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anomalyEventSchema, decodeJsonMessage, decodeSampleEntry, freePort, RedisServer, redisKeys, sleep } from '@sloth/core';

const main = fileURLToPath(new URL('../cli/dist/src/main.js', import.meta.url));
const token = 'pipeline-token-1';

class Child {
  output = '';
  readonly exited: Promise<number | null>;
  constructor(readonly process: ChildProcess) {
    process.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    process.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.exited = new Promise((resolve) => process.once('exit', (code) => resolve(code)));
  }
  static spawn(args: string[], env: Record<string, string> = {}): Child {
    return new Child(spawn(globalThis.process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...globalThis.process.env, ...env } }));
  }
  async waitFor(pattern: RegExp, timeoutMillis = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMillis;
    while (Date.now() < deadline) {
      if (pattern.test(this.output)) return;
      if (this.process.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`no ${String(pattern)} in output:\n${this.output}`);
  }
  async stop(): Promise<number | null> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGTERM');
    return await this.exited;
  }
}

function gaugeRequest(agent: string, points: ReadonlyArray<{ timeMillis: number; value: number }>): string {
  return JSON.stringify({
    resourceMetrics: [{
      resource: { attributes: [{ key: 'service.instance.id', value: { stringValue: agent } }] },
      scopeMetrics: [{ metrics: [{ name: 'app.queue.depth', unit: '1', gauge: { dataPoints: points.map((p) => ({ timeUnixNano: String(BigInt(p.timeMillis) * 1_000_000n), asDouble: p.value, attributes: [] })) } }] }],
    }],
  });
}

let dir: string;
let redis: RedisServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-analytics-pipeline-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
});
afterAll(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('collector → analytics', () => {
  it('scores what the collector publishes, warmed up from its query API, and raises an anomaly for a spike', async () => {
    const [port, metricsPort, analyticsMetricsPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const prefix = 'pipe';
    const keys = redisKeys(prefix);
    const collector = Child.spawn([
      'collector', '--data-dir', join(dir, 'collector'), '--redis-url', redis.url, '--redis-prefix', prefix,
      '--port', String(port), '--metrics-port', String(metricsPort), '--host', '127.0.0.1', '--token', token, '--log-level', 'warn',
    ]);
    let analytics: Child | undefined;
    const client = new Redis(redis.url);
    try {
      await collector.waitFor(/OTLP\/HTTP on/);
      const base = Date.now() - 600 * 60_000;
      const value = (i: number): number => 100 + 30 * Math.sin((2 * Math.PI * i) / 60) + ((i * 7919) % 11) / 5;
      const post = async (points: Array<{ timeMillis: number; value: number }>): Promise<void> => {
        const response = await fetch(`http://127.0.0.1:${port}/v1/metrics`, {
          method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: gaugeRequest('queue-host', points),
        });
        expect(response.status).toBe(200);
      };
      // 500 minutes of history, stored by the collector; the stream is emptied so analytics only learns it through the query API.
      for (let i = 0; i < 500; i += 100) await post(Array.from({ length: 100 }, (_, k) => ({ timeMillis: base + (i + k) * 60_000, value: value(i + k) })));
      // Batch entries: count the samples in them, not the entries.
      const published = async (): Promise<number> => (await client.xrange(keys.samples, '-', '+')).reduce((n, [, fields]) => n + decodeSampleEntry(fields).length, 0);
      const until = Date.now() + 15_000;
      while ((await published()) < 500 && Date.now() < until) await sleep(50);
      expect(await published()).toBe(500);
      expect(await client.xlen(keys.samples)).toBeLessThanOrEqual(5);
      await client.xtrim(keys.samples, 'MAXLEN', 0);

      analytics = Child.spawn([
        'analytics', '--data-dir', join(dir, 'analytics'), '--redis-url', redis.url, '--redis-prefix', prefix,
        '--metrics-port', String(analyticsMetricsPort), '--collector', `http://127.0.0.1:${port}`, '--token', token, '--log-level', 'warn',
        // The spike comes right after start: without this it would fall in the start-up quiet period.
      ], { SLOTH_ANALYTICS_STARTUP_QUIET_MILLIS: '0' });
      await analytics.waitFor(/metrics: http/);
      expect(analytics.output).not.toContain(token);
      await post([{ timeMillis: base + 500 * 60_000, value: value(500) + 200 }]);

      let events: ReturnType<typeof anomalyEventSchema.parse>[] = [];
      const deadline = Date.now() + 30_000;
      while (events.length === 0 && Date.now() < deadline) {
        events = (await client.xrange(keys.anomalies, '-', '+')).map(([, f]) => decodeJsonMessage(f, anomalyEventSchema));
        await sleep(100);
      }
      expect(events.map((e) => ({ agentId: e.agentId, metric: e.metric, timestampMillis: e.timestampMillis, seriesId: e.seriesId }))).toEqual([
        { agentId: 'queue-host', metric: 'app.queue.depth', timestampMillis: base + 500 * 60_000, seriesId: expect.stringContaining('app.queue.depth') as unknown },
      ]);
      expect(events[0]!.value).toBeCloseTo(value(500) + 200, 6);
      const metrics = await (await fetch(`http://127.0.0.1:${analyticsMetricsPort}/metrics`)).text();
      expect(metrics).toContain('sloth_analytics_cold_start_points_total 500');
      expect(metrics).toContain('sloth_analytics_samples_scored_total 1');
      expect(await analytics.stop()).toBe(0);
    } catch (error) {
      throw new Error(`${String(error)}\n--- collector:\n${collector.output}\n--- analytics:\n${analytics?.output ?? ''}`);
    } finally {
      client.disconnect();
      await analytics?.stop();
      await collector.stop();
    }
  });
});
