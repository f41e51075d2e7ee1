/**
 * `sloth report --pdf` over a large fleet: N agents × D days of 10-second data.
 *
 *   npx tsc -b && nice -n 10 npx tsx bench/report/run.ts [--agents 100] [--days 7] [--interval-seconds 10] [--keep]
 *
 * 1. Writes CPU, memory and filesystem utilization for every agent straight
 *    into a collector store (SqliteStore.write, as the ingest pipeline does,
 *    then the compaction the collector runs in the background; outside the timing).
 * 2. Starts a real `sloth collector` on that data dir (with its own Redis).
 * 3. Times `sloth report --pdf` as a child process under /usr/bin/time:
 *    wall seconds, peak RSS and CPU seconds (the process and its chart worker
 *    threads), plus the CPU seconds the collector spent answering it.
 */
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { freePort, RedisServer, seriesId } from '@sloth/core';
import type { IngestBatch, MetricSeries } from '../../collector/src/records.js';
import { SqliteStore } from '../../collector/src/store/sqlite-store.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '100' },
    days: { type: 'string', default: '7' },
    'interval-seconds': { type: 'string', default: '10' },
    keep: { type: 'boolean', default: false },
  },
});
const agentCount = Number(values.agents);
const days = Number(values.days);
const intervalMillis = Number(values['interval-seconds']) * 1_000;
const cli = resolve('cli/dist/src/main.js');
const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-report-'));
const endMillis = Math.floor(Date.now() / 60_000) * 60_000;
const startMillis = endMillis - days * 86_400_000 + 3_600_000; // an hour inside retention

function series(agent: string, name: string, labels: Record<string, string>): MetricSeries {
  const all = { agent, ...labels };
  return { key: seriesId(name, all), name, labels: all, agentId: agent, kind: 'gauge', unit: '1', description: '', monotonic: false };
}

// 1. Data straight into the store.
const genStart = performance.now();
const store = SqliteStore.open({ dataDir: dir, retentionMillis: 30 * 86_400_000, pruneIntervalMillis: 0 });
const agents = Array.from({ length: agentCount }, (_, i) => `host-${String(i).padStart(3, '0')}`);
store.putAgents(agents.map((id) => ({ id, principal: 'bench', state: 'up', firstSeenMillis: startMillis, lastSeenMillis: endMillis, attributes: { 'host.name': id } })));
const perAgent = agents.map((agent, i) => ({
  agent,
  phase: (i * 7) % 24,
  cpu: series(agent, 'system.cpu.utilization', {}),
  memory: series(agent, 'system.memory.utilization', { state: 'used' }),
  disk: series(agent, 'system.filesystem.utilization', { device: 'sda1', mountpoint: '/' }),
  diskStart: 0.3 + (i % 10) * 0.05,
  diskGrowthPerDay: (i % 4) * 0.01,
}));
const stepsPerBatch = 100; // 100 steps × 3 series × agents points per write
let checkpoint = 0;
let points = 0;
for (let t0 = startMillis; t0 < endMillis; t0 += stepsPerBatch * intervalMillis) {
  const steps = Math.min(stepsPerBatch, Math.ceil((endMillis - t0) / intervalMillis));
  const length = steps * perAgent.length * 3;
  const pointSeries: MetricSeries[] = [];
  const timestamps = new Float64Array(length);
  const pointValues = new Float64Array(length);
  let j = 0;
  for (let s = 0; s < steps; s++) {
    const t = t0 + s * intervalMillis;
    for (const a of perAgent) {
      const daily = Math.sin((2 * Math.PI * ((t / 3_600_000 + a.phase) % 24)) / 24);
      const noise = Math.sin(t / 7_777 + a.phase) * 0.03;
      pointSeries.push(a.cpu, a.memory, a.disk);
      timestamps.fill(t, j, j + 3);
      pointValues[j++] = Math.min(1, Math.max(0, 0.4 + 0.25 * daily + noise));
      pointValues[j++] = 0.5 + 0.1 * daily;
      pointValues[j++] = Math.min(1, a.diskStart + (a.diskGrowthPerDay * (t - startMillis)) / 86_400_000);
    }
  }
  const batch: IngestBatch = { resources: [], metrics: { length, series: pointSeries, timestamps, values: pointValues, histograms: new Map() }, spans: [], logs: [] };
  store.write([batch], (checkpoint += 1));
  points += length;
}
// As the collector's background pass does a minute after ingest: one chunk per series per hour.
store.compactChunks(endMillis + 60_000);
store.close();
const generateSeconds = (performance.now() - genStart) / 1000;

// 2. A real collector over that store.
const redis = await RedisServer.start({ dir: join(dir, 'redis') });
const token = 'bench-report-token';
const collector = spawn(process.execPath, [cli, 'collector', '--data-dir', dir, '--redis-url', redis.url, '--redis-prefix', 'benchreport', '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1', '--log-level', 'warn', '--token', token], { stdio: ['ignore', 'pipe', 'pipe'] });
// Whatever fails below (a missing pdfinfo, a timeout), the collector does not outlive the bench.
process.once('exit', () => {
  if (collector.exitCode === null) collector.kill('SIGKILL');
  redis.kill();
});
let out = '';
collector.stdout.on('data', (c: Buffer) => (out += c.toString()));
collector.stderr.on('data', (c: Buffer) => (out += c.toString()));
let url = '';
for (let i = 0; i < 1200 && url === ''; i++) {
  url = /OTLP\/HTTP on (\S+)\/v1\//.exec(out)?.[1] ?? '';
  if (url === '') await new Promise((r) => setTimeout(r, 100));
}
if (url === '') throw new Error(`collector did not start:\n${out}`);

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

// 3. The report, timed. Only the collector is measured: the alerts API is named, and closed, so a
// service that happens to listen on the default port does not change the figures.
const noAlerts = `http://127.0.0.1:${await freePort()}`;
const pdf = join(dir, 'report.pdf');
const load = loadavg()[0]?.toFixed(1);
const collectorCpuBefore = cpuSecondsOf(collector.pid as number);
const timed = await run('/usr/bin/time', ['-f', '%e %M %U %S', process.execPath, cli, 'report', '--pdf', '--output', pdf, '--since', `${days}d`, '--until', String(endMillis), '--collector', url, '--token', token, '--timeout', '180000', '--no-progress', '--alerts-url', noAlerts], { maxBuffer: 16 * 1024 * 1024 });
const [wall, maxRssKb, userSeconds, systemSeconds] = (timed.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
const collectorCpuSeconds = cpuSecondsOf(collector.pid as number) - collectorCpuBefore;
const pages = Number(/Pages:\s+(\d+)/.exec((await run('pdfinfo', [pdf])).stdout)?.[1]);

console.log(
  JSON.stringify({
    agents: agentCount,
    days,
    intervalSeconds: intervalMillis / 1000,
    storedPoints: points,
    generateSeconds: Number(generateSeconds.toFixed(1)),
    reportSeconds: wall,
    reportPeakRssMb: Math.round((maxRssKb ?? 0) / 1024),
    // CPU time is what the shared machine's load does not inflate much: the report process (with its chart workers) and the collector answering it.
    reportCpuSeconds: Number(((userSeconds ?? 0) + (systemSeconds ?? 0)).toFixed(1)),
    collectorCpuSeconds: Number(collectorCpuSeconds.toFixed(1)),
    pdfBytes: statSync(pdf).size,
    pages,
    loadAverageAtStart: Number(load),
    loadAverageAtEnd: Number(loadavg()[0]?.toFixed(1)),
  }),
);

collector.kill('SIGTERM');
await new Promise((r) => collector.once('exit', r));
await redis.stop();
if (values.keep) console.error(`kept ${dir}`);
else rmSync(dir, { recursive: true, force: true });
