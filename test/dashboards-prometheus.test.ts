import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogueEntries, catalogueEntryOf, freePort, metricCatalogue, RedisServer, sleep } from '@sloth/core';
import { asPromql, buildDashboards, jobs, metricNames, substitute, type PanelQuery } from '@sloth/grafana';
import { SlothProcess } from './helpers/agent-processes.js';

/**
 * Every PromQL expression of every dashboard, run through a real Prometheus
 * (the Debian binary) that scrapes a running Sloth: collector, agent and
 * analytics as processes of the built CLI, on a real Redis.
 */

interface PromResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; values?: unknown[]; value?: unknown }> };
}

/** Series names Prometheus itself adds to every target. */
const prometheusOwn = new Set(['up']);
const rateInterval = '10s';

let dir: string;
let redis: RedisServer;
let collector: SlothProcess;
let agent: SlothProcess;
let analytics: SlothProcess;
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let promUrl: string;
const token = 'dashboards-test-token-0123456789';
let collectorMetricsPort: number;
let agentMetricsPort: number;

async function prom(path: string, params: Record<string, string>): Promise<PromResponse> {
  const response = await fetch(`${promUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() });
  return (await response.json()) as PromResponse;
}

async function instant(expr: string): Promise<PromResponse> {
  return await prom('/api/v1/query', { query: expr });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMillis = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(500);
  }
  throw new Error(`timed out waiting for ${what}\nprometheus: ${prometheusLog.slice(-2000)}\ncollector: ${collector?.stderr}\nagent: ${agent?.stderr}\nanalytics: ${analytics?.stderr}`);
}

async function hasData(expr: string): Promise<boolean> {
  const r = await instant(expr);
  return r.status === 'success' && (r.data?.result.length ?? 0) > 0;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-dashboards-prom-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  const prefix = `dash${process.pid}`;
  const port = await freePort();
  collectorMetricsPort = await freePort();
  collector = SlothProcess.spawn([
    'collector', '--data-dir', join(dir, 'collector'), '--redis-url', redis.url, '--redis-prefix', prefix,
    '--port', String(port), '--metrics-port', String(collectorMetricsPort), '--host', '127.0.0.1', '--log-level', 'warn', '--token', token,
  ]);
  await collector.waitForOutput(/OTLP\/HTTP on \S+\/v1\//);
  agentMetricsPort = await freePort();
  agent = SlothProcess.spawn([
    'agent', '--collector', `http://127.0.0.1:${port}`, '--token', token, '--interval', '1',
    '--metrics-port', String(agentMetricsPort), '--data-dir', join(dir, 'agent'), '--log-level', 'warn',
  ]);
  const analyticsMetricsPort = await freePort();
  analytics = SlothProcess.spawn([
    'analytics', '--redis-url', redis.url, '--redis-prefix', prefix, '--data-dir', join(dir, 'analytics'),
    '--metrics-port', String(analyticsMetricsPort), '--log-level', 'warn',
  ]);
  await analytics.waitForOutput(/metrics: http:\/\//);

  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  const target = (p: number): string => `["127.0.0.1:${p}"]`;
  // The same jobs and the same relabelling as deploy/prometheus/prometheus.yml: the agent's own
  // endpoint only for `up`, its series come through the collector.
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      `  - { job_name: ${jobs.collector}, static_configs: [{ targets: ${target(collectorMetricsPort)} }] }`,
      `  - { job_name: ${jobs.analytics}, static_configs: [{ targets: ${target(analyticsMetricsPort)} }] }`,
      `  - job_name: ${jobs.agent}`,
      `    static_configs: [{ targets: ${target(agentMetricsPort)} }]`,
      '    metric_relabel_configs: [{ source_labels: [__name__], regex: ".+", action: drop }]',
      '',
    ].join('\n'),
  );
  prometheus = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  prometheus.stderr?.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));

  // Enough scrapes that every rate() over $__rate_interval has two samples, after every role reported.
  await until('host metrics through the collector', () => hasData(`changes(${metricCatalogue.systemUptime.name}[${rateInterval}]) > 0`));
  await until('analytics scores', () => hasData(metricCatalogue.anomalyScore.name));
  await until('two scrapes of every role', () => hasData(`count_over_time(up[${rateInterval}]) >= 3`).then(async (ok) => ok && (await instant('up == 1')).data?.result.length === 3));
  await until('OTLP requests counted', () => hasData(`rate(${metricCatalogue.collectorRequestDuration.name}_count[${rateInterval}]) > 0`));
}, 240_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await analytics?.stop();
  await agent?.stop();
  await collector?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const dashboards = buildDashboards();
const allQueries: Array<PanelQuery & { dashboard: string }> = dashboards.flatMap((d) => d.queries.map((q) => ({ ...q, dashboard: d.uid })));

describe('dashboards against a real Prometheus scraping Sloth', () => {
  it('reference only metrics of the catalogue, and declare expectEmpty on every metric no role exports yet', () => {
    expect(allQueries.length).toBeGreaterThan(80);
    const unknown: string[] = [];
    const undeclared: string[] = [];
    for (const q of allQueries) {
      for (const name of metricNames(q.expr)) {
        const spec = catalogueEntryOf(name);
        if (spec === undefined && !prometheusOwn.has(name)) unknown.push(`${q.dashboard} / ${q.panel}: ${name}`);
        if (spec?.status === 'planned' && q.expectEmpty === undefined) undeclared.push(`${q.dashboard} / ${q.panel}: ${name}`);
      }
    }
    expect(unknown).toEqual([]);
    expect(undeclared).toEqual([]);
  });

  it('every query parses and returns data unless its panel declares expectEmpty', async () => {
    const agentId = (await instant(`group by (agent) (${metricCatalogue.systemUptime.name})`)).data?.result[0]?.metric.agent;
    expect(agentId).toBeTruthy();
    const variables = { agent: agentId as string, metric: '.+' };
    const failures: string[] = [];
    const plannedWithData: string[] = [];
    const end = Date.now() / 1000;
    for (const q of allQueries) {
      const expr = substitute(asPromql(q.expr), variables, rateInterval);
      const r = q.instant ? await instant(expr) : await prom('/api/v1/query_range', { query: expr, start: String(end - 60), end: String(end), step: '2' });
      if (r.status !== 'success') {
        failures.push(`${q.dashboard} / ${q.panel} ${q.refId}: ${r.error ?? 'error'} in ${expr}`);
        continue;
      }
      const rows = r.data?.result.length ?? 0;
      if (rows === 0 && q.expectEmpty === undefined) failures.push(`${q.dashboard} / ${q.panel} ${q.refId}: no data for ${expr}`);
      // A "planned" metric that has data is exported now: its catalogue status is stale.
      if (rows > 0 && metricNames(q.expr).some((name) => catalogueEntryOf(name)?.status === 'planned')) plannedWithData.push(`${q.dashboard} / ${q.panel}`);
    }
    expect(failures).toEqual([]);
    expect(plannedWithData).toEqual([]);
  });

  it('the collector and the agent name host metrics alike, and every family they expose is in the catalogue', async () => {
    const families = async (port: number): Promise<Set<string>> => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
    };
    const fromCollector = await families(collectorMetricsPort);
    const fromAgent = await families(agentMetricsPort);
    const outside = [...fromCollector, ...fromAgent].filter((name) => catalogueEntryOf(name) === undefined);
    expect(outside).toEqual([]);
    // One naming: what the agent shows on its own endpoint, the collector shows for it.
    expect([...fromAgent].filter((name) => !fromCollector.has(name))).toEqual([]);
    const hostNames = catalogueEntries().filter((e) => e.otelName?.startsWith('system.') === true).map((e) => e.name);
    expect(hostNames.filter((name) => !fromAgent.has(name))).toEqual([]);
    expect(fromAgent.has('system_cpu_utilization_ratio')).toBe(true);
    // The collector's own metrics that every collector exports (remote write, for one, only when configured).
    const ownCollector = [
      metricCatalogue.collectorPointsReceived,
      metricCatalogue.collectorPointsRejected,
      metricCatalogue.collectorRequests,
      metricCatalogue.collectorRequestDuration,
      metricCatalogue.collectorQueueDepth,
      metricCatalogue.collectorActiveSeries,
      metricCatalogue.collectorStreamPublished,
      metricCatalogue.collectorStreamDropped,
      metricCatalogue.processResidentMemory,
      metricCatalogue.processCpuSeconds,
    ].map((e) => e.name);
    expect(ownCollector.filter((name) => !fromCollector.has(name))).toEqual([]);
  });
});
