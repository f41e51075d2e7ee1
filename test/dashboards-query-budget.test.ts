import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, metricCatalogue, RedisServer, sleep } from '@sloth/core';
import {
  buildDashboards,
  costTable,
  dashboardUids,
  jobs,
  measureQueries,
  overBudget,
  queryBudgets,
  simulatedAgentIds,
  simulatedExport,
  type QueryCost,
  type SlothDashboard,
} from '@sloth/grafana';
import { SlothProcess } from './helpers/agent-processes.js';

/**
 * The query budget of issue 16: 100 simulated agents push a real agent's host
 * metrics (49 series each) to a real `sloth collector`, `sloth analytics`
 * scores them all, the Debian `prometheus` scrapes both; then every query of
 * every dashboard runs through Prometheus' HTTP API with `stats=all` and must
 * stay within its dashboard's budget of series and samples per step
 * (grafana/src/query-budget.ts). Latency is measured and printed, not
 * asserted (no timing assertions on a shared machine): the benchmark
 * `bench/grafana/query-budget.ts` holds the p95 to its budget.
 */

const agents = 100;
const scrapeSeconds = 2;
/** Grafana's `$__rate_interval` for this scrape interval: four scrapes. */
const rateInterval = `${4 * scrapeSeconds}s`;
const windowSeconds = 40;
const token = 'query-budget-test-token-0123456789';

let dir: string;
let redis: RedisServer;
let collector: SlothProcess;
let analytics: SlothProcess;
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let promUrl: string;
let pushing = true;
let pushLoop: Promise<void> = Promise.resolve();
let pushError: unknown;
let costs: QueryCost[] = [];
const dashboards = buildDashboards();
const ids = simulatedAgentIds(agents);

async function instant(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const response = await fetch(`${promUrl}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ query: expr }).toString() });
  const body = (await response.json()) as { status: string; error?: string; data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? 'error'}`);
  return body.data?.result ?? [];
}

async function scalar(expr: string): Promise<number> {
  return Number((await instant(expr))[0]?.value[1] ?? Number.NaN);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMillis = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (pushError !== undefined) throw new Error(`pushing the simulated agents failed: ${pushError instanceof Error ? pushError.message : JSON.stringify(pushError)}`);
    if (await check().catch(() => false)) return;
    await sleep(1000);
  }
  throw new Error(`timed out waiting for ${what}\nprometheus: ${prometheusLog.slice(-2000)}\ncollector: ${collector?.stderr}\nanalytics: ${analytics?.stderr}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-query-budget-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  const prefix = `budget${process.pid}`;
  const port = await freePort();
  const collectorMetricsPort = await freePort();
  collector = SlothProcess.spawn([
    'collector', '--data-dir', join(dir, 'collector'), '--redis-url', redis.url, '--redis-prefix', prefix,
    '--port', String(port), '--metrics-port', String(collectorMetricsPort), '--host', '127.0.0.1', '--log-level', 'warn', '--token', token,
  ]);
  await collector.waitForOutput(/OTLP\/HTTP on \S+\/v1\//);
  const analyticsMetricsPort = await freePort();
  analytics = SlothProcess.spawn([
    'analytics', '--redis-url', redis.url, '--redis-prefix', prefix, '--data-dir', join(dir, 'analytics'), '--metrics-port', String(analyticsMetricsPort), '--log-level', 'warn',
  ]);
  await analytics.waitForOutput(/metrics: http:\/\//);

  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      `global: { scrape_interval: ${scrapeSeconds}s }`,
      'scrape_configs:',
      `  - { job_name: ${jobs.collector}, static_configs: [{ targets: ["127.0.0.1:${collectorMetricsPort}"] }] }`,
      `  - { job_name: ${jobs.analytics}, static_configs: [{ targets: ["127.0.0.1:${analyticsMetricsPort}"] }] }`,
      '',
    ].join('\n'),
  );
  prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  prometheus.stderr?.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));

  // Every agent exports every scrape interval until the queries have run, as a live fleet does.
  const startNanos = `${BigInt(Date.now()) * 1_000_000n}`;
  pushLoop = (async () => {
    for (let tick = 1; pushing; tick++) {
      const started = Date.now();
      await Promise.all(
        ids.map(async (agent) => {
          const response = await fetch(`http://127.0.0.1:${port}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: simulatedExport(agent, tick, startNanos) });
          // The collector's latency budget may refuse a request on a loaded machine (503): the next export carries on.
          if (!response.ok && response.status !== 503) throw new Error(`collector answered ${response.status}: ${await response.text()}`);
          await response.arrayBuffer().catch(() => undefined);
        }),
      );
      await sleep(Math.max(0, scrapeSeconds * 1000 - (Date.now() - started)));
    }
  })().catch((error: unknown) => {
    pushError = error;
  });

  const uptime = metricCatalogue.systemUptime.name;
  await until(`${agents} agents in Prometheus`, async () => (await scalar(`count(group by (agent) (${uptime}))`)) === agents);
  const firstScrapedMillis = Date.now();
  // Analytics scores every host series of every agent (its own export metrics are excluded from scoring).
  await until('analytics scoring the fleet', async () => (await scalar(`count(group by (agent) (${metricCatalogue.anomalyScore.name}))`)) === agents);
  // The whole window holds data: the fleet was scraped for longer than it.
  await sleep(Math.max(0, (windowSeconds + 2 * scrapeSeconds) * 1000 - (Date.now() - firstScrapedMillis)));

  const end = Math.floor(Date.now() / 1000);
  costs = await measureQueries({
    prometheusUrl: promUrl,
    dashboards,
    variables: { agent: ids[0] as string, metric: '.+' },
    rateInterval,
    range: { startSeconds: end - windowSeconds, endSeconds: end, stepSeconds: scrapeSeconds },
    repeat: 3,
  });
  console.log(`query costs at ${agents} simulated agents (loaded shared machine: latencies are not a benchmark)\n${costTable(costs)}`);
}, 420_000);

afterAll(async () => {
  pushing = false;
  await pushLoop;
  prometheus?.kill('SIGTERM');
  await Promise.all([analytics?.stop(), collector?.stop()]);
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe(`dashboard queries at ${agents} agents`, () => {
  it('ran every query of every dashboard, with the fleet behind them', () => {
    expect(costs).toHaveLength(dashboards.reduce((n, d) => n + d.queries.length, 0));
    const fleet = (uid: string, panel: string): QueryCost | undefined => costs.find((c) => c.dashboard === uid && c.panel === panel);
    // The agent picker and the per-agent table list the whole fleet; the top anomalous series read every scored series:
    // each agent's 47 host series less its 8 loopback ones and its free memory (analytics' default excludeMetrics; its
    // own export metrics are not scored either).
    expect(fleet(dashboardUids.agent, '$agent')?.series).toBe(agents);
    expect(fleet(dashboardUids.fleet, 'Agents')?.series).toBe(agents);
    expect(fleet(dashboardUids.fleet, 'Top anomalous series now')?.samplesPerStep).toBeGreaterThanOrEqual(agents * 38);
  });

  it('every dashboard keeps within its budget of series and samples per step', () => {
    expect(Object.keys(queryBudgets).sort()).toEqual(dashboards.map((d) => d.uid).sort());
    expect(overBudget(costs, dashboards, agents, false)).toEqual([]);
  });

  it('a panel that draws every agent’s series is over budget', async () => {
    const end = Math.floor(Date.now() / 1000);
    const unaggregated: SlothDashboard = {
      uid: dashboardUids.fleet,
      json: { panels: [] } as unknown as SlothDashboard['json'],
      queries: [{ panel: 'Disk I/O of every disk of every agent', refId: 'A', expr: `rate(${metricCatalogue.systemDiskIo.name}[$__rate_interval])`, instant: false, expectEmpty: undefined, kind: 'panel' }],
    };
    const [cost] = await measureQueries({ prometheusUrl: promUrl, dashboards: [unaggregated], variables: {}, rateInterval, range: { startSeconds: end - windowSeconds, endSeconds: end, stepSeconds: scrapeSeconds }, repeat: 1 });
    expect(cost?.series).toBe(agents * 4);
    const over = overBudget(cost === undefined ? [] : [cost], [unaggregated], agents, false);
    expect(over).toHaveLength(1);
    expect(over[0]).toContain(`${agents * 4} series, budget ${queryBudgets[dashboardUids.fleet]?.maxSeries}`);
  });
});
