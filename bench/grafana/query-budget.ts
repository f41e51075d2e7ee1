/**
 * Query budget of the Grafana dashboards: simulated agents push the host
 * metrics a real agent sends (4 cores, 2 filesystems, 2 disks, 2 interfaces,
 * export metrics: 49 series each) over OTLP/HTTP JSON to a real
 * `sloth collector`, `sloth analytics` scores them, the Debian `prometheus`
 * scrapes both; then every query of every dashboard runs as Grafana would run
 * it (range: the last `--window-seconds` at a `--scrape-seconds` step),
 * once analytics has caught up, one warm pass and then `--repeat` times.
 * Prints series, samples per step and p95 latency per dashboard, and exits
 * 1 when a query is over its dashboard's budget
 * (grafana/src/query-budget.ts) — latency included, which the test suite
 * (test/dashboards-query-budget.test.ts) does not assert.
 *
 *   npx tsc -b && npx tsx bench/grafana/query-budget.ts [--agents 100] [--warmup-seconds 120] [--window-seconds 900] [--scrape-seconds 15] [--repeat 20]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, metricCatalogue, RedisServer, sleep } from '@sloth/core';
import { buildDashboards, costTable, jobs, measureQueries, overBudget, queryBudgets, simulatedAgentIds, simulatedExport } from '@sloth/grafana';

const { values: flags } = parseArgs({
  options: {
    agents: { type: 'string', default: '100' },
    'warmup-seconds': { type: 'string', default: '120' },
    'window-seconds': { type: 'string', default: '900' },
    'scrape-seconds': { type: 'string', default: '15' },
    repeat: { type: 'string', default: '20' },
  },
});

function positive(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(text)}`);
  return value;
}

const agentCount = positive('agents', flags.agents);
const warmupSeconds = positive('warmup-seconds', flags['warmup-seconds']);
const windowSeconds = positive('window-seconds', flags['window-seconds']);
const scrapeSeconds = positive('scrape-seconds', flags['scrape-seconds']);
const repeat = positive('repeat', flags.repeat);
const cli = fileURLToPath(new URL('../../cli/dist/src/main.js', import.meta.url));
const token = 'query-budget-token-0123456789abcdef';

async function waitForMetrics(port: number, what: string): Promise<void> {
  for (let i = 0; ; i++) {
    if (await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.ok, () => false)) return;
    if (i > 240) throw new Error(`${what} did not serve /metrics within 120 s`);
    await sleep(500);
  }
}

async function push(port: number, agent: string, tick: number, startNanos: string): Promise<void> {
  const body = simulatedExport(agent, tick, startNanos);
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`http://127.0.0.1:${port}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
    if (response.ok) return;
    const text = await response.text();
    if (response.status !== 503 || attempt >= 10) throw new Error(`collector answered ${response.status} to ${agent} (attempt ${attempt}): ${text}`);
    await sleep(1000 * Number(response.headers.get('retry-after') ?? '1'));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-query-budget-'));
  const children: ChildProcess[] = [];
  // Its own Redis: the collector publishes samples, and must not publish them into anyone else's.
  const redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  try {
    const port = await freePort();
    const metricsPort = await freePort();
    const analyticsPort = await freePort();
    const redisArgs = ['--redis-url', redis.url, '--redis-prefix', 'budget', '--log-level', 'warn'];
    children.push(spawn(process.execPath, [cli, 'collector', '--data-dir', join(dir, 'collector'), '--port', String(port), '--metrics-port', String(metricsPort), '--host', '127.0.0.1', '--token', token, ...redisArgs], { stdio: 'inherit' }));
    children.push(spawn(process.execPath, [cli, 'analytics', '--data-dir', join(dir, 'analytics'), '--metrics-port', String(analyticsPort), ...redisArgs], { stdio: ['ignore', 'ignore', 'inherit'] }));
    const promPort = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        `global: { scrape_interval: ${scrapeSeconds}s }`,
        'scrape_configs:',
        `  - { job_name: ${jobs.collector}, static_configs: [{ targets: ["127.0.0.1:${metricsPort}"] }] }`,
        `  - { job_name: ${jobs.analytics}, static_configs: [{ targets: ["127.0.0.1:${analyticsPort}"] }] }`,
        '',
      ].join('\n'),
    );
    children.push(spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' }));
    await waitForMetrics(metricsPort, 'the collector');
    await waitForMetrics(analyticsPort, 'analytics');

    const agents = simulatedAgentIds(agentCount);
    const startNanos = `${BigInt(Date.now()) * 1_000_000n}`;
    const until = Date.now() + warmupSeconds * 1000;
    process.stderr.write(`pushing ${agentCount} agents every ${scrapeSeconds} s for ${warmupSeconds} s …\n`);
    for (let tick = 1; Date.now() < until; tick++) {
      const started = Date.now();
      // Ten agents at a time; a 503 of the collector's latency budget (a loaded machine) is retried as an agent would.
      for (let i = 0; i < agents.length; i += 10) {
        await Promise.all(agents.slice(i, i + 10).map(async (agent) => await push(port, agent, tick, startNanos)));
      }
      await sleep(Math.max(0, scrapeSeconds * 1000 - (Date.now() - started)));
    }

    // Analytics catches up with the last exports first: the queries, not its backlog, are measured.
    const promUrl = `http://127.0.0.1:${promPort}`;
    for (let i = 0; i < 60; i++) {
      const body = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(`max(${metricCatalogue.analyticsStreamBacklog.name})`)}`)).json()) as { data?: { result: Array<{ value: [number, string] }> } };
      if (body.data?.result[0]?.value[1] === '0') break;
      await sleep(1000);
    }
    const end = Math.floor(Date.now() / 1000);
    const dashboards = buildDashboards();
    const options = {
      prometheusUrl: promUrl,
      dashboards,
      variables: { agent: agents[0] as string, metric: '.+' },
      rateInterval: `${4 * scrapeSeconds}s`,
      range: { startSeconds: end - windowSeconds, endSeconds: end, stepSeconds: scrapeSeconds },
    };
    // One pass not measured: Grafana refreshes a dashboard every 30 s, so its queries run warm.
    await measureQueries({ ...options, repeat: 1 });
    const costs = await measureQueries({ ...options, repeat });
    process.stdout.write(`${costTable(costs)}\n`);
    const budgets = [...new Set(Object.values(queryBudgets).map((b) => `p95 ${b.p95Millis} ms, ${b.maxSeries} series, ${b.maxSamplesPerStep} samples per step`))];
    process.stdout.write(`budget per query: ${budgets.join('; ')}\n`);
    const over = overBudget(costs, dashboards, agentCount, true);
    for (const line of over) process.stdout.write(`OVER BUDGET ${line}\n`);
    if (over.length > 0) process.exitCode = 1;
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await sleep(1000);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
