/**
 * Remote-write benchmark: one `sloth collector` process (WAL, SQLite store,
 * Redis samples stream, as deployed) offered `--rate` points/s of OTLP/HTTP
 * (bench/ingest's request templates: 20 agents × 1,000 points, 20,000
 * series), twice with the same load: once without remote write (baseline),
 * once with `--remote-write-url` to a local VictoriaMetrics started here.
 *
 *   nice -n 10 npx tsx bench/remote-write/run.ts [--rate 100000] [--duration 60] [--outage 0] [--skip-baseline] [--latency-budget MS]
 *
 * Prints JSON: accepted and sustained points/s, collector CPU µs per
 * accepted point (whole process and main thread) with and without remote
 * write (compare them only when both phases accepted about the same
 * rate: refused requests cost CPU too), the remote-write lag (max in steady state, max overall), and the
 * time until the remote holds every point after the load stops.
 *
 * `--outage N` stops VictoriaMetrics N seconds into the measured phase
 * (`--outage-at`, default 15 s) and starts it again N seconds later; the run
 * must last long enough (`--duration` ≥ outage-at + N + 15). At the end the
 * bench asks VictoriaMetrics how many distinct samples it holds
 * (`sum(count_over_time(...))`, VictoriaMetrics deduplicating equal
 * timestamps, since delivery is at least once) and checks that every point
 * the collector acknowledged is there. Build first: `npx tsc -b`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, RedisServer } from '@sloth/core';
import { cpuSeconds } from '../ingest/proc.js';
import { buildTemplate } from '../ingest/requests.js';
import { BenchTool } from '../tool-args.js';

const usage = `usage: npx tsx bench/remote-write/run.ts [--rate 100000] [--duration 60] [--warmup 5] [--concurrency 32] [--agents 20]
  [--points 1000] [--outage 0] [--outage-at 15] [--catch-up-limit 300] [--skip-baseline] [--latency-budget MS]
Offers --rate points/s of OTLP/HTTP to one sloth collector, first without remote write (baseline, unless
--skip-baseline), then with --remote-write-url to a local VictoriaMetrics; prints JSON with accepted points/s,
CPU per point, remote-write lag and whether every accepted point was delivered. --outage N stops the remote N
seconds at --outage-at. Build first: npx tsc -b.`;
const tool = new BenchTool('remote-write/run', usage);
const args = tool.args({
  rate: { type: 'string', default: '100000' },
  duration: { type: 'string', default: '60' },
  warmup: { type: 'string', default: '5' },
  concurrency: { type: 'string', default: '32' },
  agents: { type: 'string', default: '20' },
  points: { type: 'string', default: '1000' },
  outage: { type: 'string', default: '0' },
  'outage-at': { type: 'string', default: '15' },
  /** Longest wait for the remote to catch up after the load stops. */
  'catch-up-limit': { type: 'string', default: '300' },
  'skip-baseline': { type: 'boolean', default: false },
  /** The collector's latency budget in ms (its config `latencyBudgetMillis`); default: the collector's default. */
  'latency-budget': { type: 'string', default: '' },
});

const ratePointsPerSecond = Number(args.rate);
const durationSeconds = Number(args.duration);
const warmupSeconds = Number(args.warmup);
const concurrency = Number(args.concurrency);
const agents = Number(args.agents);
const pointsPerRequest = Number(args.points);
const outageSeconds = Number(args.outage);
const outageAtSeconds = Number(args['outage-at']);
const catchUpLimitSeconds = Number(args['catch-up-limit']);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const metricMatch = '{__name__=~"bench_metric_.*"}';

for (const [name, value] of Object.entries({ rate: ratePointsPerSecond, duration: durationSeconds, warmup: warmupSeconds, concurrency, agents, points: pointsPerRequest, outage: outageSeconds, 'outage-at': outageAtSeconds })) {
  if (!Number.isFinite(value) || value < 0) tool.fail(`--${name} must be a non-negative number, got ${String(value)}`);
}
if (ratePointsPerSecond <= 0) tool.fail('--rate must be above 0: this bench offers a fixed rate');
if (outageSeconds > 0 && durationSeconds < outageAtSeconds + outageSeconds + 15) {
  tool.fail(`--duration ${durationSeconds} is too short for --outage ${outageSeconds} at ${outageAtSeconds} s: use at least ${outageAtSeconds + outageSeconds + 15}`);
}

function metric(text: string, pattern: RegExp): number {
  return Number(pattern.exec(text)?.[1] ?? 'NaN');
}

const remoteSamplesPattern = /^sloth_collector_remote_write_samples_total\{[^}]*\} (\S+)$/m;
const remoteLagPattern = /^sloth_collector_remote_write_lag_seconds\{[^}]*\} (\S+)$/m;
const remoteRetriedPattern = /^sloth_collector_remote_write_failures_total\{[^}]*kind="retried"[^}]*\} (\S+)$/m;
const receivedPattern = /^sloth_collector_points_received_total\{signal="metrics"\} (\S+)$/m;
const queueDepthPattern = /^sloth_collector_queue_depth (\S+)$/m;

/** A local VictoriaMetrics that can be stopped and started again on the same port and data. */
class VictoriaMetrics {
  private child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly dataDir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    // dedup at 1 ms: a batch delivered twice (at least once, after a retry) counts once.
    const child = spawn('/usr/bin/victoria-metrics', ['-httpListenAddr', `127.0.0.1:${this.port}`, '-storageDataPath', this.dataDir, '-retentionPeriod', '100y', '-dedup.minScrapeInterval', '1ms', '-loggerLevel', 'ERROR'], { stdio: 'ignore' });
    this.child = child;
    for (let i = 0; i < 600; i++) {
      if (child.exitCode !== null) break;
      try {
        const response = await fetch(`${this.url}/health`);
        await response.arrayBuffer();
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    throw new Error(`victoria-metrics did not start on port ${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    this.child = undefined;
  }

  /** Distinct samples of the bench's series. */
  async sampleCount(): Promise<number> {
    await fetch(`${this.url}/internal/force_flush`).then(async (r) => r.arrayBuffer());
    const query = `sum(count_over_time(${metricMatch}[1d]))`;
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(query)}&time=${Math.floor(Date.now() / 1000) + 60}`);
    const body = (await response.json()) as { status: string; data?: { result: Array<{ value: [number, string] }> } };
    if (body.status !== 'success') throw new Error(`victoria-metrics query failed: ${JSON.stringify(body).slice(0, 300)}`);
    return Number(body.data?.result[0]?.value[1] ?? 0);
  }
}

interface PhaseResult {
  readonly remoteWrite: boolean;
  readonly durationSeconds: number;
  readonly statuses: Record<string, number>;
  readonly acceptedPointsPerSecond: number;
  readonly sustainedPointsPerSecond: number;
  readonly collectorCpuMicrosPerPoint: number;
  readonly mainThreadCpuMicrosPerPoint: number;
  readonly loadAverage1m: number;
  readonly remote?: Record<string, unknown>;
}

async function startCollector(dir: string, redisUrl: string, remoteWriteUrl: string | undefined): Promise<{ child: ChildProcess; otlpUrl: string; metricsUrl: string }> {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'collector.yaml');
  const budget = args['latency-budget'];
  if (budget !== '' && !(Number(budget) > 0)) throw new Error(`--latency-budget must be a number of milliseconds above 0, got ${budget}`);
  writeFileSync(config, budget === '' ? 'collector: {}\n' : `collector:\n  latencyBudgetMillis: ${Number(budget)}\n`);
  const child = spawn(
    process.execPath,
    [
      join(repoRoot, 'cli', 'dist', 'src', 'main.js'),
      'collector',
      '--config', config,
      '--insecure-no-auth',
      '--host', '127.0.0.1',
      '--port', '0',
      '--metrics-port', '0',
      '--data-dir', join(dir, 'data'),
      '--redis-url', redisUrl,
      '--redis-prefix', 'bench',
      '--log-level', 'error',
      ...(remoteWriteUrl === undefined ? [] : ['--remote-write-url', remoteWriteUrl]),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let stdout = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const otlp = /OTLP\/HTTP on (\S+)\/v1\//.exec(stdout);
    const metrics = /Prometheus exposition: (\S+)/.exec(stdout);
    if (otlp !== null && metrics !== null) return { child, otlpUrl: otlp[1] as string, metricsUrl: metrics[1] as string };
  }
  child.kill('SIGKILL');
  throw new Error(`the collector did not start: ${stdout}`);
}

async function scrape(metricsUrl: string): Promise<string> {
  const response = await fetch(metricsUrl);
  return await response.text();
}

async function runPhase(options: { dir: string; redisUrl: string; vm: VictoriaMetrics | undefined; baseMillis: number }): Promise<PhaseResult> {
  const { vm } = options;
  const collector = await startCollector(options.dir, options.redisUrl, vm === undefined ? undefined : `${vm.url}/api/v1/write`);
  const pid = collector.child.pid as number;
  const target = new URL(`${collector.otlpUrl}/v1/metrics`);
  const templates = Array.from({ length: agents }, (_, a) => buildTemplate(a, pointsPerRequest));
  const sends = new Array<number>(agents).fill(0);
  const httpAgent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const baseNanos = BigInt(options.baseMillis) * 1_000_000n;
  let next = 0;

  const send = (): Promise<number> => {
    const a = next++ % agents;
    const template = templates[a] as (typeof templates)[number];
    // Each send of an agent's template moves its timestamps 1 ms on: every point is a new sample.
    const nanos = baseNanos + BigInt((sends[a] = (sends[a] ?? 0) + 1)) * 1_000_000n;
    for (const offset of template.offsets) template.body.writeBigUInt64LE(nanos, offset);
    const body = Buffer.from(template.body);
    return new Promise((resolve) => {
      const req = request({ agent: httpAgent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end(body);
    });
  };

  let measuring = false;
  let acceptedPoints = 0;
  /** Warm-up included: every point answered 200 must reach the remote. */
  let acknowledgedPoints = 0;
  const statuses = new Map<number, number>();
  const load = async (seconds: number): Promise<number> => {
    const started = performance.now();
    const endAt = started + seconds * 1000;
    const intervalMillis = (1000 * pointsPerRequest) / ratePointsPerSecond;
    let due = started;
    const worker = async (): Promise<void> => {
      while (performance.now() < endAt) {
        const at = due;
        due += intervalMillis;
        const wait = at - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const status = await send();
        if (status === 200) acknowledgedPoints += pointsPerRequest;
        if (!measuring) continue;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 200) acceptedPoints += pointsPerRequest;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, async () => await worker()));
    return (performance.now() - started) / 1000;
  };

  // Remote-write lag, sampled every second: the largest seen outside the outage and its catch-up, and overall.
  let steadyMaxLag = 0;
  let overallMaxLag = 0;
  let outageState: 'before' | 'down' | 'recovering' | 'after' = 'before';
  let restartedAt = 0;
  let recoveredAfterSeconds = Number.NaN;
  // Scraped every second in both phases (only the remote-write phase has a lag to read), so rendering /metrics costs both the same.
  const lagTimer = setInterval(() => {
    void scrape(collector.metricsUrl)
      .then((text) => {
        if (!measuring) return;
        const lag = metric(text, remoteLagPattern);
        if (!Number.isFinite(lag)) return;
        overallMaxLag = Math.max(overallMaxLag, lag);
        if (outageState === 'recovering' && lag < 5) {
          outageState = 'after';
          recoveredAfterSeconds = (performance.now() - restartedAt) / 1000;
        }
        if (outageState === 'before' || outageState === 'after') steadyMaxLag = Math.max(steadyMaxLag, lag);
      })
      .catch(() => undefined);
  }, 1000);

  await load(warmupSeconds);
  const cpuAtStart = cpuSeconds(pid);
  const mainAtStart = cpuSeconds(pid, pid);
  measuring = true;
  const outage =
    vm !== undefined && outageSeconds > 0
      ? (async () => {
          await new Promise((r) => setTimeout(r, outageAtSeconds * 1000));
          await vm.stop();
          outageState = 'down';
          await new Promise((r) => setTimeout(r, outageSeconds * 1000));
          await vm.start();
          restartedAt = performance.now();
          outageState = 'recovering';
        })()
      : Promise.resolve();
  const elapsedSeconds = await load(durationSeconds);
  await outage;

  // Sustained: includes the time the store takes to apply what is queued.
  const drainStarted = performance.now();
  let text = '';
  for (let i = 0; i < 600; i++) {
    text = await scrape(collector.metricsUrl);
    if (metric(text, queueDepthPattern) === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const drainSeconds = (performance.now() - drainStarted) / 1000;
  const collectorCpu = cpuSeconds(pid) - cpuAtStart;
  const mainCpu = cpuSeconds(pid, pid) - mainAtStart;
  measuring = false;
  clearInterval(lagTimer);

  let remote: Record<string, unknown> | undefined;
  if (vm !== undefined) {
    // The remote holds every accepted point (warm-up included) when the delivered count reaches the received one.
    const received = metric(text, receivedPattern);
    const waitStarted = performance.now();
    let delivered = metric(text, remoteSamplesPattern);
    while (delivered < received && performance.now() - waitStarted < catchUpLimitSeconds * 1000) {
      await new Promise((r) => setTimeout(r, 250));
      text = await scrape(collector.metricsUrl);
      delivered = metric(text, remoteSamplesPattern);
    }
    const caughtUpSeconds = delivered >= received ? (performance.now() - waitStarted) / 1000 : Number.NaN;
    const restartToAllDeliveredSeconds = delivered >= received && restartedAt > 0 ? (performance.now() - restartedAt) / 1000 : Number.NaN;
    const inRemote = await vm.sampleCount();
    remote = {
      maxLagSecondsSteady: Number(steadyMaxLag.toFixed(2)),
      maxLagSecondsOverall: Number(overallMaxLag.toFixed(2)),
      // null: the lag was still above 5 s when the load stopped.
      ...(outageSeconds > 0 ? { outageSeconds, lagBelow5sSecondsAfterRestart: Number(recoveredAfterSeconds.toFixed(1)), secondsFromRestartUntilAllDelivered: Number(restartToAllDeliveredSeconds.toFixed(1)) } : {}),
      secondsUntilAllDeliveredAfterLoad: Number(caughtUpSeconds.toFixed(2)),
      retriedRequests: Number.isNaN(metric(text, remoteRetriedPattern)) ? 0 : metric(text, remoteRetriedPattern),
      pointsAcknowledgedToClient: acknowledgedPoints,
      pointsAcceptedByCollector: received,
      samplesDelivered: delivered,
      distinctSamplesInVictoriaMetrics: inRemote,
      everyAcceptedPointDelivered: inRemote === received && received >= acknowledgedPoints,
    };
  }

  collector.child.kill('SIGTERM');
  await new Promise((r) => collector.child.once('exit', r));
  httpAgent.destroy();
  return {
    remoteWrite: vm !== undefined,
    durationSeconds: Number(elapsedSeconds.toFixed(1)),
    statuses: Object.fromEntries([...statuses].map(([status, count]) => [String(status), count])),
    acceptedPointsPerSecond: Math.round(acceptedPoints / elapsedSeconds),
    sustainedPointsPerSecond: Math.round(acceptedPoints / (elapsedSeconds + drainSeconds)),
    collectorCpuMicrosPerPoint: Number(((1e6 * collectorCpu) / acceptedPoints).toFixed(2)),
    mainThreadCpuMicrosPerPoint: Number(((1e6 * mainCpu) / acceptedPoints).toFixed(2)),
    loadAverage1m: Number(loadavg()[0]?.toFixed(1)),
    ...(remote === undefined ? {} : { remote }),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-rw-'));
  const redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  const vm = new VictoriaMetrics(await freePort(), join(dir, 'vm'));
  // Points an hour old, so VictoriaMetrics' query sees them all without its latency offset.
  const baseMillis = Date.now() - 3_600_000;
  try {
    const baseline = args['skip-baseline'] ? undefined : await runPhase({ dir: join(dir, 'baseline'), redisUrl: redis.url, vm: undefined, baseMillis });
    await vm.start();
    // The remote-write phase starts its timestamps after the baseline's, so no sample repeats.
    const withRemote = await runPhase({ dir: join(dir, 'remote'), redisUrl: redis.url, vm, baseMillis: baseMillis + 1_200_000 });
    const summary = {
      offeredPointsPerSecond: ratePointsPerSecond,
      series: agents * pointsPerRequest,
      ...(baseline === undefined ? {} : { baseline }),
      withRemoteWrite: withRemote,
      ...(baseline === undefined
        ? {}
        : { remoteWriteCpuMicrosPerPoint: { process: Number((withRemote.collectorCpuMicrosPerPoint - baseline.collectorCpuMicrosPerPoint).toFixed(2)), mainThread: Number((withRemote.mainThreadCpuMicrosPerPoint - baseline.mainThreadCpuMicrosPerPoint).toFixed(2)) } }),
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    if (withRemote.remote?.everyAcceptedPointDelivered !== true) process.exitCode = 1;
  } finally {
    await vm.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
