import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { catalogueEntries, catalogueEntryOf, encodeJsonMessage, freePort, metricCatalogue, QueryClient, redisKeys, RedisServer, sleep } from '@sloth/core';
import { asPromql, buildDashboards, jobs, metricNames, substitute, type PanelQuery } from '@sloth/grafana';
import { SlothProcess } from './helpers/agent-processes.js';

/**
 * Every PromQL expression of every dashboard, run through a real Prometheus
 * (the Debian binary) that scrapes a running Sloth: collector, agent,
 * analytics, scheduler and alerts as processes of the built CLI, on a real
 * Redis. The test makes the scheduler run a real remediation (twice, so the
 * last-run annotation changes) on the agent, fail to place one task that
 * fits nowhere, and gives alerts one firing alert to route.
 */

interface PromResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; values?: unknown[]; value?: unknown }> };
}

/** The compose stack's alerting rules, exported by `sloth alerts export --prometheus` (test/deploy.test.ts checks they are current). */
const stackRules = fileURLToPath(new URL('../deploy/prometheus/rules/sloth.rules.yml', import.meta.url));

/** Series names Prometheus itself adds to every target. */
const prometheusOwn = new Set(['up']);
const rateInterval = '10s';

let dir: string;
let redis: RedisServer;
let collector: SlothProcess;
let agent: SlothProcess;
let analytics: SlothProcess;
let scheduler: SlothProcess;
let alerts: SlothProcess;
let schedulerMetricsPort: number;
let alertsMetricsPort: number;
const agentId = 'dash-agent';
const probePlaybook = `return {
  name = "dash-probe",
  description = "does nothing: a remediation for the dashboards test",
  version = "1.0.0",
  triggers = { { event = { type = "dashboard_probe" } } },
  timeout = 10,
  run = function(ctx) return true, "probed" end,
}
`;
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
  throw new Error(`timed out waiting for ${what}\nprometheus: ${prometheusLog.slice(-2000)}\ncollector: ${collector?.stderr}\nagent: ${agent?.stderr}\nanalytics: ${analytics?.stderr}\nscheduler: ${scheduler?.stderr}\nalerts: ${alerts?.stderr}`);
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
    'agent', '--collector', `http://127.0.0.1:${port}`, '--token', token, '--interval', '1', '--id', agentId,
    '--metrics-port', String(agentMetricsPort), '--data-dir', join(dir, 'agent'), '--log-level', 'warn',
    // With Redis the agent runs the remediations queued for it.
    '--redis-url', redis.url, '--redis-prefix', prefix,
  ]);
  const analyticsMetricsPort = await freePort();
  analytics = SlothProcess.spawn([
    'analytics', '--redis-url', redis.url, '--redis-prefix', prefix, '--data-dir', join(dir, 'analytics'),
    '--metrics-port', String(analyticsMetricsPort), '--log-level', 'warn',
  ]);
  await analytics.waitForOutput(/metrics: http:\/\//);
  const playbooks = join(dir, 'playbooks');
  mkdirSync(playbooks);
  writeFileSync(join(playbooks, 'dash-probe.lua'), probePlaybook);
  // One predictive-scaling target on the agent's load average, deciding every second (forecast-only: nothing acts),
  // so the scaling panels have decisions and replicas; its demand series is keyed as the collector names it.
  const queries = new QueryClient({ baseUrl: `http://127.0.0.1:${port}`, token });
  const loadName = metricCatalogue.systemCpuLoadAverage1m.otelName as string;
  let demandSeries: string | undefined;
  await until('the agent’s load average in the collector', async () => {
    const latest = await queries.latest({ name: loadName, agent: agentId });
    demandSeries = latest.ok ? latest.value[0]?.key : undefined;
    return demandSeries !== undefined;
  });
  writeFileSync(
    join(dir, 'scheduler.yaml'),
    JSON.stringify({
      scheduler: {
        tasks: { collectorUrl: `http://127.0.0.1:${port}`, collectorToken: token },
        scaling: [{ name: 'dash-load', demandSeries, capacityPerReplica: 0.25, minReplicas: 1, maxReplicas: 50, startupSeconds: 0, intervalSeconds: 1, mode: 'forecast-only' }],
      },
    }),
  );
  const schedulerPort = await freePort();
  schedulerMetricsPort = await freePort();
  scheduler = SlothProcess.spawn([
    'scheduler', '--config', join(dir, 'scheduler.yaml'), '--data-dir', join(dir, 'scheduler'), '--redis-url', redis.url, '--redis-prefix', prefix, '--port', String(schedulerPort),
    '--metrics-port', String(schedulerMetricsPort), '--host', '127.0.0.1', '--token', token, '--playbooks', playbooks, '--cooldown', '0', '--log-level', 'warn',
  ]);
  const alertsPort = await freePort();
  alertsMetricsPort = await freePort();
  writeFileSync(join(dir, 'alerts.yaml'), 'route: { receiver: ops, group_wait: 0s, group_interval: 1s }\nreceivers: [{ name: ops, remediation: {} }]\n');
  alerts = SlothProcess.spawn([
    'alerts', '--data-dir', join(dir, 'alerts'), '--redis-url', redis.url, '--redis-prefix', prefix, '--port', String(alertsPort),
    '--metrics-port', String(alertsMetricsPort), '--host', '127.0.0.1', '--token', token, '--rules', join(dir, 'alerts.yaml'),
    '--collector', `http://127.0.0.1:${port}`, '--collector-token', token, '--log-level', 'warn',
  ]);
  await scheduler.waitForOutput(/metrics: http:\/\//);
  await alerts.waitForOutput(/metrics: http:\/\//);

  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  const target = (p: number): string => `["127.0.0.1:${p}"]`;
  // The same jobs and the same relabelling as deploy/prometheus/prometheus.yml: the agent's own
  // endpoint only for `up`, its series come through the collector.
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: [${JSON.stringify(stackRules)}]`,
      'scrape_configs:',
      `  - { job_name: ${jobs.collector}, static_configs: [{ targets: ${target(collectorMetricsPort)} }] }`,
      `  - { job_name: ${jobs.analytics}, static_configs: [{ targets: ${target(analyticsMetricsPort)} }] }`,
      `  - job_name: ${jobs.agent}`,
      `    static_configs: [{ targets: ${target(agentMetricsPort)} }]`,
      '    metric_relabel_configs: [{ source_labels: [__name__], regex: ".+", action: drop }]',
      `  - { job_name: ${jobs.scheduler}, static_configs: [{ targets: ${target(schedulerMetricsPort)} }] }`,
      `  - { job_name: ${jobs.alerts}, static_configs: [{ targets: ${target(alertsMetricsPort)} }] }`,
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
  await until('two scrapes of every role', () => hasData(`count_over_time(up[${rateInterval}]) >= 3`).then(async (ok) => ok && (await instant('up == 1')).data?.result.length === 5));

  // One remediation, then another once the first was scraped (the annotation shows a change of its last-run time).
  const keys = redisKeys(prefix);
  const client = new Redis(redis.url);
  const probe = async (): Promise<void> => {
    await client.xadd(keys.events, '*', ...encodeJsonMessage({ type: 'dashboard_probe', agentId, timestampMillis: Date.now(), attributes: {} }));
  };
  try {
    await probe();
    await until('a remediation run', () => hasData(`${metricCatalogue.remediationRuns.name}{outcome="succeeded"}`));
    await probe();
    await until('a second remediation run', () => hasData(`${metricCatalogue.remediationRuns.name}{outcome="succeeded"} >= 2`));
  } finally {
    client.disconnect();
  }
  // Two small tasks, placed on the agent (the scheduler reads its inventory from the collector), the second once the
  // first placement was scraped: a counter's first sample is no increase.
  const submit = async (name: string): Promise<void> => {
    const task = await fetch(`http://127.0.0.1:${schedulerPort}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ name, playbook: 'dash-probe', resources: { cpuCores: 0.1, memoryMb: 16 } }),
    });
    expect(task.status, await task.clone().text()).toBeLessThan(300);
  };
  await submit('dash-task-1');
  await until('a placement', () => hasData(metricCatalogue.schedulerPlacements.name));
  await submit('dash-task-2');
  // Two alerts, the second once the first notification was scraped: a counter's first sample is no increase.
  const fire = async (alertname: string): Promise<void> => {
    const alert = await fetch(`http://127.0.0.1:${alertsPort}/api/v1/intake/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname, severity: 'warning' }, annotations: {}, startsAt: new Date().toISOString() }] }),
    });
    expect(alert.status).toBe(200);
  };
  await fire('DashboardProbe');
  await until('the first notification', () => hasData(metricCatalogue.alertsNotifications.name));
  await fire('DashboardProbeAgain');
  await until('placements counted', () => hasData(`rate(${metricCatalogue.schedulerPlacements.name}[${rateInterval}]) > 0`));
  await until('the alerts and a second notification', () => hasData(`increase(${metricCatalogue.alertsNotifications.name}[${rateInterval}]) > 0`).then(async (ok) => ok && (await hasData(metricCatalogue.alertsActive.name))));
  await until('scaling decisions counted', () => hasData(`increase(${metricCatalogue.schedulerScalingDecisions.name}[${rateInterval}]) > 0`));
  await until('evaluations timed', () => hasData(`rate(${metricCatalogue.alertsEvaluationDuration.name}_count[${rateInterval}]) > 0`));
  await until('OTLP requests counted', () => hasData(`rate(${metricCatalogue.collectorRequestDuration.name}_count[${rateInterval}]) > 0`));
}, 360_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  // A role that does not stop on SIGTERM within 20 s is killed and named (its shutdown is another test's subject).
  const stop = async (name: string, p: SlothProcess | undefined): Promise<void> => {
    if (p === undefined) return;
    const timer = setTimeout(() => {
      console.warn(`dashboards test: ${name} did not stop within 20 s of SIGTERM; killing it`);
      p.child.kill('SIGKILL');
    }, 20_000);
    await p.stop();
    clearTimeout(timer);
  };
  await Promise.all([stop('alerts', alerts), stop('scheduler', scheduler), stop('analytics', analytics), stop('agent', agent)]);
  await stop('collector', collector);
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

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

  it('loads the compose stack’s exported alerting rules, and each evaluates on series Sloth exports', async () => {
    const expected = (parse(readFileSync(stackRules, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
    const loaded = async (): Promise<Array<{ name: string; health: string; lastError?: string; evaluationTime: number }>> =>
      ((await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string; evaluationTime: number }> }> } }).data.groups.flatMap((g) => g.rules);
    await until('the rules evaluated', async () => (await loaded()).every((r) => r.health !== 'unknown'));
    const rules = await loaded();
    expect(rules.map((r) => r.name).sort()).toEqual(expected.map((r) => r.alert).sort());
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError ?? r.health}`)).toEqual([]);
    for (const rule of expected) {
      if (rule.expr.startsWith('absent_over_time(')) {
        // The series is there: an absence rule that fires on a healthy stack names a metric nobody exports.
        expect((await instant(rule.expr)).data?.result, rule.alert).toEqual([]);
      } else {
        // The comparison as `bool`: one result per series the rule watches, 0 or 1.
        const watched = rule.expr.replace(/ (>=|<=|==|!=|>|<) /, ' $1 bool ');
        expect(watched, rule.alert).not.toBe(rule.expr);
        expect((await instant(watched)).data?.result.length ?? 0, `${rule.alert}: ${watched}`).toBeGreaterThan(0);
      }
    }
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

  it('the scheduler and alerts export every metric of their catalogue sections, nothing outside it, in a page promtool accepts', async () => {
    for (const [role, port] of [['scheduler', schedulerMetricsPort], ['alerts', alertsMetricsPort]] as const) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const names = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
      expect([...names].filter((name) => catalogueEntryOf(name) === undefined), role).toEqual([]);
      // Planned demand appears once a forecast of the demand series reaches a decision; this stack is too young for one.
      const scaling = new Set<string>([metricCatalogue.schedulerForecastDemand.name]);
      const expected = catalogueEntries().filter((e) => e.role === role && !scaling.has(e.name)).map((e) => e.name);
      expect(expected.filter((name) => !names.has(name)), role).toEqual([]);
      expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).trim(), role).toBe('');
    }
  });
});
