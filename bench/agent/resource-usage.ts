/**
 * CPU and RSS of `sloth agent` next to Prometheus's node_exporter, at the same interval.
 *
 *   npx tsc -b && nice -n 10 npx tsx bench/agent/resource-usage.ts [--duration 300] [--intervals 10,1] [--warmup 20] [--out FILE]
 *
 * For each interval, all at once: the agent in three forms — `sloth agent`
 * (the full CLI, which loads every service's code), the lean `sloth-agent`
 * entry point (agent/dist/src/main.js), and the same with
 * `--max-semi-space-size=1` — each exporting host metrics over OTLP to its own
 * small in-process HTTP sink that answers 200 (Prometheus endpoint off), and a
 * `prometheus-node-exporter` (Debian package, default collectors) scraped by
 * a minimal scraper at the same interval. After a warm-up it
 * reads each process's CPU time (/proc/<pid>/stat utime+stime) at the start
 * and end of the window and its RSS (/proc/<pid>/status VmRSS) every 5 s.
 * Linux only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os, { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, sleep } from '@sloth/core';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '300' },
    intervals: { type: 'string', default: '10,1' },
    warmup: { type: 'string', default: '20' },
    out: { type: 'string' },
    'node-exporter': { type: 'string', default: '/usr/bin/prometheus-node-exporter' },
  },
});
const durationSeconds = Number(values.duration);
const warmupSeconds = Number(values.warmup);
const intervals = values.intervals.split(',').map(Number);
const clockTicks = 100; // getconf CLK_TCK on Linux

interface Usage {
  cpuSeconds: number;
  rssBytes: number;
}

function usage(pid: number): Usage {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / clockTicks;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuSeconds, rssBytes: rssKb * 1024 };
}

interface Result {
  readonly process: string;
  readonly intervalSeconds: number;
  readonly cpuPercentOfOneCore: number;
  readonly rssMeanMb: number;
  readonly rssMaxMb: number;
  readonly extra: string;
}

async function startSink(): Promise<{ server: Server; url: string; stats: { requests: number; bytes: number } }> {
  const stats = { requests: 0, bytes: 0 };
  const server = createServer((req, res) => {
    req.on('data', (c: Buffer) => (stats.bytes += c.length));
    req.on('end', () => {
      stats.requests += 1;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stats };
}

interface Variant {
  readonly name: string;
  readonly nodeArgs: readonly string[];
}

const variants: readonly Variant[] = [
  { name: 'sloth agent (full CLI)', nodeArgs: [resolve('cli/dist/src/main.js'), 'agent'] },
  { name: 'sloth-agent (lean entry)', nodeArgs: [resolve('agent/dist/src/main.js')] },
  { name: 'sloth-agent, --max-semi-space-size=1', nodeArgs: ['--max-semi-space-size=1', resolve('agent/dist/src/main.js')] },
];

interface Watched {
  readonly name: string;
  readonly child: ChildProcess;
  readonly work: () => number;
  readonly unit: string;
  readonly rss: number[];
  start?: Usage;
  startWork?: number;
}

async function measure(intervalSeconds: number): Promise<Result[]> {
  const dirs: string[] = [];
  const sinks: Array<Awaited<ReturnType<typeof startSink>>> = [];
  const watched: Watched[] = [];
  for (const v of variants) {
    const dir = mkdtempSync(join(tmpdir(), 'sloth-agent-bench-'));
    dirs.push(dir);
    const sink = await startSink();
    sinks.push(sink);
    const child = spawn(
      process.execPath,
      [...v.nodeArgs, '--collector', sink.url, '--token', 'bench-token-123', '--interval', String(intervalSeconds), '--metrics-port', '0', '--data-dir', dir, '--log-level', 'warn'],
      { stdio: 'ignore' },
    );
    watched.push({ name: v.name, child, work: () => sink.stats.requests, unit: 'OTLP requests', rss: [] });
  }
  const nePort = await freePort();
  const nodeExporter: ChildProcess = spawn(values['node-exporter'], [`--web.listen-address=127.0.0.1:${nePort}`, '--log.level=warn'], { stdio: 'ignore' });
  const scrape = { count: 0, bytes: 0, errors: 0 };
  watched.push({ name: 'node_exporter (scraped)', child: nodeExporter, work: () => scrape.count, unit: 'scrapes', rss: [] });
  const scraper = setInterval(() => {
    fetch(`http://127.0.0.1:${nePort}/metrics`)
      .then(async (r) => {
        scrape.bytes += (await r.arrayBuffer()).byteLength;
        scrape.count += 1;
      })
      .catch(() => (scrape.errors += 1));
  }, intervalSeconds * 1000);
  try {
    await sleep(warmupSeconds * 1000);
    const startWall = performance.now();
    for (const w of watched) {
      w.start = usage(w.child.pid!);
      w.startWork = w.work();
    }
    const deadline = Date.now() + durationSeconds * 1000;
    while (Date.now() < deadline) {
      for (const w of watched) w.rss.push(usage(w.child.pid!).rssBytes);
      await sleep(Math.min(5000, Math.max(0, deadline - Date.now())));
    }
    const wallSeconds = (performance.now() - startWall) / 1000;
    const mb = (b: number): number => Math.round((b / 1024 / 1024) * 10) / 10;
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    return watched.map((w) => {
      const end = usage(w.child.pid!);
      return {
        process: w.name,
        intervalSeconds,
        cpuPercentOfOneCore: Math.round(((end.cpuSeconds - w.start!.cpuSeconds) / wallSeconds) * 10000) / 100,
        rssMeanMb: mb(mean(w.rss)),
        rssMaxMb: mb(Math.max(...w.rss)),
        extra: `${w.work() - w.startWork!} ${w.unit}${w.unit === 'scrapes' && scrape.errors > 0 ? ` (${scrape.errors} errors)` : ''}`,
      };
    });
  } finally {
    clearInterval(scraper);
    for (const w of watched) w.child.kill('SIGTERM');
    await sleep(1500);
    for (const s of sinks) s.server.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

const results: Result[] = [];
process.stderr.write(`agent bench: ${durationSeconds}s per interval (${intervals.join(', ')} s) after ${warmupSeconds}s warm-up; ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
for (const interval of intervals) {
  const r = await measure(interval);
  results.push(...r);
  for (const row of r) process.stderr.write(`${JSON.stringify(row)}\n`);
}
const byInterval = (i: number, p: string): Result => results.find((r) => r.intervalSeconds === i && r.process === p)!;
const lines = [
  '| interval | process | CPU (% of one core) | RSS mean / max (MB) | work in the window |',
  '|---|---|---|---|---|',
  ...results.map((r) => `| ${r.intervalSeconds} s | ${r.process} | ${r.cpuPercentOfOneCore.toFixed(2)} | ${r.rssMeanMb} / ${r.rssMaxMb} | ${r.extra} |`),
  '',
  ...intervals.flatMap((i) => {
    const n = byInterval(i, 'node_exporter (scraped)');
    return variants.map((v) => {
      const a = byInterval(i, v.name);
      return `- ${i} s, ${v.name} / node_exporter: ${(a.cpuPercentOfOneCore / n.cpuPercentOfOneCore).toFixed(1)}× CPU, ${(a.rssMeanMb / n.rssMeanMb).toFixed(1)}× RSS`;
    });
  }),
  `- load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (values.out !== undefined) writeFileSync(values.out, JSON.stringify(results, null, 2));
