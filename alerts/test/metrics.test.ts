import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, freePort, redisKeys, RedisServer, sleep, type Logger } from '@sloth/core';
import { Redis } from 'ioredis';
import { AlertsMetrics, AlertsService, ForecastGrader, loadAlertsConfig } from '../src/index.js';
import { rig } from './helpers.js';
import { StandIn } from './stand-ins.js';

const token = 'alerts-metrics-token-0123456789';
const secret = `whsec_${Buffer.from('metrics-test-secret-0123').toString('base64')}`;

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

let lastPage = '';

async function until<T>(what: string, probe: () => Promise<T | undefined>, waitMillis = 30_000): Promise<T> {
  const deadline = Date.now() + waitMillis;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${lastPage}`);
    await sleep(100);
  }
}

describe('alerts /metrics', () => {
  const hook = new StandIn();
  let dir: string;
  let redisServer: RedisServer;
  let service: AlertsService;
  let port: number;
  let metricsPort: number;
  let logger: Logger;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-metrics-'));
    redisServer = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    // /refuses answers 400: a permanent failure, dead-lettered at once.
    hook.fallback = (request) => (request.path === '/refuses' ? { status: 400, body: 'no' } : { status: 200, body: 'ok' });
    await hook.start();
    port = await freePort();
    metricsPort = await freePort();
    writeFileSync(
      join(dir, 'alerts.yaml'),
      `evaluation_interval: 1s
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
  routes:
    - { matchers: ['severity="warning"'], receiver: broken }
receivers:
  - name: ops
    webhook: [{ url: "${hook.url}/ok", secrets: ["${secret}"] }]
  - name: broken
    webhook: [{ url: "${hook.url}/refuses", secrets: ["${secret}"] }]
`,
    );
    const config = loadAlertsConfig({
      env: {},
      flags: { dataDir: dir, redisPrefix: `m${process.pid}`, port, metricsPort, host: '127.0.0.1', tokens: [`${token}:ops`], rules: join(dir, 'alerts.yaml'), collectorUrl: 'http://127.0.0.1:9' },
    });
    // Everything the role logs, at debug level, to check that no receiver URL or secret is in it.
    logger = createLogger({ name: 'alerts', level: 'debug', destination: join(dir, 'alerts.log') });
    service = new AlertsService({ config, redisUrl: redisServer.url, tickMillis: 100, anyMetricsPortIfTaken: false, logger });
    await service.start();
  });

  afterAll(async () => {
    await service?.shutdown();
    await hook.stop();
    await redisServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const scrape = async (): Promise<string> => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.status).toBe(200);
    lastPage = await response.text();
    return lastPage;
  };

  it('counts firing alerts by rule and severity, notifications by receiver and outcome, dead letters and evaluations; promtool accepts the page', async () => {
    expect(service.metricsPort).toBe(metricsPort);
    const startsAt = new Date().toISOString();
    const posted = await fetch(`http://127.0.0.1:${port}/api/v1/intake/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        version: '4',
        status: 'firing',
        alerts: [
          { status: 'firing', labels: { alertname: 'DiskFull', agent: 'db-1', severity: 'critical' }, annotations: {}, startsAt },
          { status: 'firing', labels: { alertname: 'DiskFull', agent: 'db-2', severity: 'critical' }, annotations: {}, startsAt },
          { status: 'firing', labels: { alertname: 'SlowDisk', agent: 'db-1', severity: 'warning' }, annotations: {}, startsAt },
        ],
      }),
    });
    expect(posted.status).toBe(200);
    const text = await until('both notifications counted', async () => {
      const t = await scrape();
      const sent = sample(t, 'sloth_alerts_notifications_total{receiver="ops",integration="ops/webhook[0]",outcome="sent"}');
      const dead = sample(t, 'sloth_alerts_dead_letters_total{receiver="broken",integration="broken/webhook[0]"}');
      return sent === 1 && dead === 1 && (sample(t, 'sloth_alerts_evaluation_duration_seconds_count') ?? 0) > 0 ? t : undefined;
    });
    expect(sample(text, 'sloth_alerts_active{rule="DiskFull",severity="critical",state="firing"}')).toBe(2);
    expect(sample(text, 'sloth_alerts_active{rule="SlowDisk",severity="warning",state="firing"}')).toBe(1);
    expect(sample(text, 'sloth_alerts_notifications_total{receiver="broken",integration="broken/webhook[0]",outcome="dead_letter"}')).toBe(1);
    expect(sample(text, 'sloth_alerts_notifications_total{receiver="ops",integration="ops/webhook[0]",outcome="dead_letter"}')).toBeUndefined();
    expect(Math.abs((sample(text, 'sloth_alerts_last_evaluation_timestamp_seconds') ?? 0) - Date.now() / 1000)).toBeLessThan(600);
    // The forecast-grade families are on the page before any forecast rule fired (empty, typed).
    for (const family of ['sloth_alerts_forecast_predictions', 'sloth_alerts_forecast_precision_ratio', 'sloth_alerts_forecast_median_lead_seconds']) expect(text).toContain(`# TYPE ${family} gauge`);
    // No URL of a receiver on the page.
    expect(text).not.toContain(hook.url);
    expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).trim()).toBe('');

    // Resolved alerts leave the gauge.
    await fetch(`http://127.0.0.1:${port}/api/v1/intake/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ version: '4', status: 'resolved', alerts: [{ status: 'resolved', labels: { alertname: 'SlowDisk', agent: 'db-1', severity: 'warning' }, annotations: {}, startsAt, endsAt: new Date().toISOString() }] }),
    });
    await until('the resolved alert gone from the gauge', async () => (sample(await scrape(), 'sloth_alerts_active{rule="SlowDisk",severity="warning",state="firing"}') === undefined ? true : undefined));

    // The role logged the dead letter, but neither receiver URL nor the signing secret.
    logger.flush();
    const logged = await until('the dead letter in the log', async () => {
      const t = readFileSync(join(dir, 'alerts.log'), 'utf8');
      return t.includes('notification dead-lettered') ? t : undefined;
    });
    expect(logged).toContain('"integration":"broken/webhook[0]"');
    for (const secretText of [hook.url, '/refuses', secret, secret.slice('whsec_'.length), token]) expect(logged).not.toContain(secretText);
  });

  it('reports forecast-rule grades per rule: hits, misses, pending, precision and median lead; the grades survive a restart', async () => {
    const redis = new Redis(redisServer.url);
    const keys = redisKeys(`g${process.pid}`);
    try {
      const r = rig(
        `evaluation_interval: 15s
rules:
  - name: DiskWillFill
    type: forecast
    metric: disk.used
    op: '>'
    threshold: 0.95
    within: 1h
    no_data: ok
route: { receiver: team, group_wait: 0s }
receivers: [{ name: team }]`,
        { grader: (values) => new ForecastGrader({ values, redis, keys }) },
      );
      const forecastAt = (agent: string): void =>
        r.signals.addForecast({ seriesId: `disk.used{agent="${agent}"}`, agentId: agent, metric: 'disk.used', issuedAtMillis: r.clock.now, stepMillis: 600_000, model: 'm', modelVersion: '1', points: [{ timestampMillis: r.clock.now + 1_800_000, p10: 0.9, p50: 0.97, p90: 0.99 }] }, r.clock.now);
      const metrics = new AlertsMetrics(() => r.engine.list(r.clock.now), () => r.engine.grader.scores());
      expect(await metrics.render()).not.toMatch(/^sloth_alerts_forecast_\w+\{/m); // nothing graded or pending yet
      forecastAt('a');
      forecastAt('b');
      forecastAt('c');
      await r.step(1000); // three predictions at T0 + 1 s
      // Disks a and c pass 95 % (20 and 50 minutes later); b never does.
      const used = (v: Record<string, number>): void => {
        r.values.points = Object.entries(v).map(([agent, value]) => ({ key: `disk.used{agent="${agent}"}`, name: 'disk.used', agentId: agent, kind: 'gauge', unit: '1', labels: {}, t: r.clock.now, v: value }));
      };
      r.clock.now += 20 * 60_000;
      used({ a: 0.96, b: 0.5, c: 0.9 });
      await r.step(0);
      let page = await metrics.render();
      expect(sample(page, 'sloth_alerts_forecast_predictions{rule="DiskWillFill",outcome="hit"}')).toBe(1);
      expect(sample(page, 'sloth_alerts_forecast_predictions{rule="DiskWillFill",outcome="pending"}')).toBe(2);
      expect(sample(page, 'sloth_alerts_forecast_precision_ratio{rule="DiskWillFill"}')).toBe(1);
      r.clock.now += 30 * 60_000;
      used({ a: 0.96, b: 0.5, c: 0.97 });
      await r.step(0);
      await r.step(11 * 60_000); // past b's deadline (T0 + 1 h + 1 s)
      page = await metrics.render();
      expect(sample(page, 'sloth_alerts_forecast_predictions{rule="DiskWillFill",outcome="hit"}')).toBe(2);
      expect(sample(page, 'sloth_alerts_forecast_predictions{rule="DiskWillFill",outcome="miss"}')).toBe(1);
      expect(sample(page, 'sloth_alerts_forecast_predictions{rule="DiskWillFill",outcome="pending"}')).toBe(0);
      expect(sample(page, 'sloth_alerts_forecast_precision_ratio{rule="DiskWillFill"}')).toBeCloseTo(2 / 3, 9);
      expect(sample(page, 'sloth_alerts_forecast_median_lead_seconds{rule="DiskWillFill"}')).toBe((20 * 60 + 50 * 60) / 2);
      expect(execFileSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' }).trim()).toBe('');

      // A restarted role reads the grades back from Redis.
      const restarted = new ForecastGrader({ redis, keys });
      await restarted.load();
      expect(restarted.scores()).toEqual([{ rule: 'DiskWillFill', predictions: 3, hits: 2, precision: 2 / 3, medianLeadMillis: 35 * 60_000, pending: 0 }]);
    } finally {
      redis.disconnect();
    }
  });
});
