/**
 * Query budget of the Grafana dashboards: 100 simulated agents push the host
 * metrics a real agent sends (4 cores, 2 filesystems, 2 disks, 2 interfaces,
 * runtime and export metrics) over OTLP/HTTP JSON to a real `sloth collector`;
 * the Debian `prometheus` scrapes it; then every panel query of every
 * dashboard runs as Grafana would run it over the last 15 minutes (step 15 s),
 * `--repeat` times, and the p95 latency and the series count per query are
 * compared with the budget. Exit 1 when a query is over it.
 *
 *   npx tsc -b && npx tsx bench/grafana/query-budget.ts [--agents 100] [--warmup-seconds 60] [--repeat 20]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, metricCatalogue as m, RedisServer, sleep, type MetricSpec } from '@sloth/core';
import { asPromql, buildDashboards, jobs, substitute } from '@sloth/grafana';

/** Budget per query: p95 latency at 100 agents, and the series a panel may draw. */
const budget = { p95Millis: 250, maxSeries: 100 } as const;

const { values: flags } = parseArgs({
  options: { agents: { type: 'string', default: '100' }, 'warmup-seconds': { type: 'string', default: '60' }, repeat: { type: 'string', default: '20' } },
});
const agentCount = Number(flags.agents);
const warmupSeconds = Number(flags['warmup-seconds']);
const repeat = Number(flags.repeat);
const cli = fileURLToPath(new URL('../../cli/dist/src/main.js', import.meta.url));
const token = 'query-budget-token-0123456789abcdef';

type Attr = Record<string, string>;
interface Point {
  attrs: Attr;
  value: number;
}

function kv(attrs: Attr): Array<{ key: string; value: { stringValue: string } }> {
  return Object.entries(attrs).map(([key, value]) => ({ key, value: { stringValue: value } }));
}

function metric(spec: MetricSpec, points: Point[], nowNanos: string, startNanos: string): Record<string, unknown> {
  const dataPoints = points.map((p) => ({ attributes: kv(p.attrs), timeUnixNano: nowNanos, startTimeUnixNano: startNanos, asDouble: p.value }));
  const base = { name: spec.otelName, unit: spec.unit, description: spec.help };
  if (spec.type === 'counter') return { ...base, sum: { dataPoints, aggregationTemporality: 2, isMonotonic: true } };
  if (spec.otelName !== undefined && spec.type === 'gauge' && spec.unit === 'By') return { ...base, sum: { dataPoints, aggregationTemporality: 2, isMonotonic: false } };
  return { ...base, gauge: { dataPoints } };
}

/** One export of one simulated agent: the host metrics of a 4-core VM, values that move. */
function exportRequest(agent: string, tick: number, startNanos: string): string {
  const now = `${BigInt(Date.now()) * 1_000_000n}`;
  const wave = (phase: number): number => 0.5 + 0.4 * Math.sin(tick / 10 + phase);
  const cores = [0, 1, 2, 3].map((c) => ({ attrs: { cpu: String(c) }, value: wave(c) }));
  const fs = [
    ['/dev/sda1', '/'],
    ['/dev/sdb1', '/data'],
  ].map(([device, mountpoint]) => ({ device: device as string, mountpoint: mountpoint as string, type: 'ext4' }));
  const disks = ['sda', 'sdb'];
  const nics = ['eth0', 'lo'];
  const dir = (attrs: Attr, total: number): Point[] => [
    { attrs: { ...attrs, direction: 'receive' }, value: total },
    { attrs: { ...attrs, direction: 'transmit' }, value: total / 2 },
  ];
  const rw = (attrs: Attr, total: number): Point[] => [
    { attrs: { ...attrs, direction: 'read' }, value: total },
    { attrs: { ...attrs, direction: 'write' }, value: total / 3 },
  ];
  const metrics = [
    metric(m.systemCpuUtilization, [{ attrs: {}, value: wave(0) }, ...cores], now, startNanos),
    metric(m.systemCpuLoadAverage1m, [{ attrs: {}, value: 4 * wave(1) }], now, startNanos),
    metric(m.systemCpuLoadAverage5m, [{ attrs: {}, value: 4 * wave(2) }], now, startNanos),
    metric(m.systemCpuLoadAverage15m, [{ attrs: {}, value: 4 * wave(3) }], now, startNanos),
    metric(m.systemMemoryUsage, ['used', 'free', 'buffers', 'cached'].map((state, i) => ({ attrs: { state }, value: 1e9 * (i + 1) })), now, startNanos),
    metric(m.systemMemoryUtilization, [{ attrs: { state: 'used' }, value: wave(4) }], now, startNanos),
    metric(m.systemMemoryLimit, [{ attrs: {}, value: 8e9 }], now, startNanos),
    metric(m.systemPagingUtilization, [{ attrs: { state: 'used' }, value: 0.1 }], now, startNanos),
    metric(m.systemFilesystemUtilization, fs.map((attrs, i) => ({ attrs, value: wave(5 + i) })), now, startNanos),
    metric(m.systemFilesystemUsage, fs.flatMap((attrs) => ['used', 'free'].map((state) => ({ attrs: { ...attrs, state }, value: 5e10 }))), now, startNanos),
    metric(m.systemDiskIo, disks.flatMap((device) => rw({ device }, 4096 * tick)), now, startNanos),
    metric(m.systemDiskOperations, disks.flatMap((device) => rw({ device }, tick)), now, startNanos),
    metric(m.systemNetworkIo, nics.flatMap((device) => dir({ device }, 1500 * tick)), now, startNanos),
    metric(m.systemNetworkPackets, nics.flatMap((device) => dir({ device }, 10 * tick)), now, startNanos),
    metric(m.systemNetworkErrors, nics.flatMap((device) => dir({ device }, Math.floor(tick / 7))), now, startNanos),
    metric(m.systemNetworkDropped, nics.flatMap((device) => dir({ device }, Math.floor(tick / 11))), now, startNanos),
    metric(m.systemProcessCount, [{ attrs: {}, value: 200 }], now, startNanos),
    metric(m.systemUptime, [{ attrs: {}, value: 1000 + tick * 2 }], now, startNanos),
    metric(m.agentExportSent, [{ attrs: {}, value: tick }], now, startNanos),
    metric(m.agentExportQueueSize, [{ attrs: {}, value: 0 }], now, startNanos),
  ];
  return JSON.stringify({
    resourceMetrics: [{ resource: { attributes: kv({ 'service.instance.id': agent, 'host.name': agent }) }, scopeMetrics: [{ scope: { name: 'sloth-agent' }, metrics }] }],
  });
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-query-budget-'));
  const children: ChildProcess[] = [];
  // Its own Redis: the collector publishes samples, and must not publish them into anyone else's.
  const redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  try {
    const port = await freePort();
    const metricsPort = await freePort();
    const collector = spawn(process.execPath, [cli, 'collector', '--data-dir', join(dir, 'collector'), '--port', String(port), '--metrics-port', String(metricsPort), '--host', '127.0.0.1', '--log-level', 'warn', '--admin-token', token, '--redis-url', redis.url, '--redis-prefix', 'budget'], { stdio: 'inherit' });
    children.push(collector);
    const promPort = await freePort();
    writeFileSync(join(dir, 'prometheus.yml'), `global: { scrape_interval: 5s }\nscrape_configs:\n  - { job_name: ${jobs.collector}, static_configs: [{ targets: ["127.0.0.1:${metricsPort}"] }] }\n`);
    const prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
    children.push(prometheus);
    for (let i = 0; ; i++) {
      const ready = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.ok, () => false);
      if (ready) break;
      if (i > 120) throw new Error('the collector did not start within 60 s');
      await sleep(500);
    }

    const agents = Array.from({ length: agentCount }, (_, i) => `sim-${String(i).padStart(3, '0')}`);
    const startNanos = `${BigInt(Date.now()) * 1_000_000n}`;
    const until = Date.now() + warmupSeconds * 1000;
    let tick = 0;
    process.stderr.write(`pushing ${agentCount} agents every 5 s for ${warmupSeconds} s …\n`);
    while (Date.now() < until) {
      tick += 1;
      await Promise.all(
        agents.map(async (agent) => {
          const response = await fetch(`http://127.0.0.1:${port}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: exportRequest(agent, tick, startNanos) });
          if (!response.ok) throw new Error(`collector answered ${response.status}: ${await response.text()}`);
        }),
      );
      await sleep(5000);
    }

    const prom = `http://127.0.0.1:${promPort}/api/v1`;
    const end = Date.now() / 1000;
    const rows: Array<{ dashboard: string; panel: string; refId: string; p95: number; series: number; over: boolean }> = [];
    for (const d of buildDashboards()) {
      for (const q of d.queries) {
        const expr = substitute(asPromql(q.expr), { agent: agents[0] as string, metric: '.+' }, '20s');
        const params = q.instant ? new URLSearchParams({ query: expr, time: String(end) }) : new URLSearchParams({ query: expr, start: String(end - 900), end: String(end), step: '15' });
        const path = q.instant ? '/query' : '/query_range';
        const millis: number[] = [];
        let series = 0;
        for (let i = 0; i < repeat; i++) {
          const started = performance.now();
          const body = (await (await fetch(`${prom}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: params.toString() })).json()) as { data?: { result: unknown[] } };
          millis.push(performance.now() - started);
          series = body.data?.result.length ?? 0;
        }
        millis.sort((a, b) => a - b);
        const p95 = percentile(millis, 0.95);
        rows.push({ dashboard: d.uid, panel: q.panel, refId: q.refId, p95, series, over: p95 > budget.p95Millis || series > budget.maxSeries });
      }
    }
    const all = rows.map((r) => r.p95).sort((a, b) => a - b);
    process.stdout.write(`| dashboard | queries | p95 of query p95 (ms) | slowest query p95 (ms) | most series |\n|---|---|---|---|---|\n`);
    for (const uid of [...new Set(rows.map((r) => r.dashboard))]) {
      const mine = rows.filter((r) => r.dashboard === uid);
      const p95s = mine.map((r) => r.p95).sort((a, b) => a - b);
      process.stdout.write(`| ${uid} | ${mine.length} | ${percentile(p95s, 0.95).toFixed(1)} | ${Math.max(...p95s).toFixed(1)} | ${Math.max(...mine.map((r) => r.series))} |\n`);
    }
    process.stdout.write(`\nall ${rows.length} queries: p95 ${percentile(all, 0.95).toFixed(1)} ms, max ${Math.max(...all).toFixed(1)} ms; budget ${budget.p95Millis} ms and ${budget.maxSeries} series per query\n`);
    const over = rows.filter((r) => r.over);
    for (const r of over) process.stdout.write(`OVER BUDGET ${r.dashboard} / ${r.panel} ${r.refId}: p95 ${r.p95.toFixed(1)} ms, ${r.series} series\n`);
    if (over.length > 0) process.exitCode = 1;
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await sleep(1000);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
