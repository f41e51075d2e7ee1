/**
 * Ingest benchmark: one `sloth collector` process (SQLite store + Redis
 * samples stream on) and this load generator in a separate process.
 *
 * Requests of `--points` data points (default 1,000: 20 gauge/sum metrics ×
 * 50 attribute sets, one agent per request) are encoded once; each send only
 * patches the fixed64 timestamps in place (so every point is new), then POSTs
 * the bytes over keep-alive connections with `--concurrency` in flight.
 *
 *   nice -n 10 npx tsx bench/ingest/run.ts [--duration 30] [--concurrency 32] [--rate 0] [--remote-write] [--peer victoria-metrics]
 *
 * `--rate N` caps the offered load at N data points/s (open loop); 0 = as
 * fast as the collector answers. Prints JSON with sustained points/s, latency
 * percentiles and the collector's peak RSS. Build first: `npx tsc -b`.
 *
 * Overload: with `--rate` past capacity, the latency budget answers the
 * excess 503 at once; `acceptedLatencyMillis` are the percentiles of the
 * requests answered 200 (what the budget bounds). `--remote-write` starts a
 * local VictoriaMetrics (/usr/bin/victoria-metrics) and forwards everything
 * to it (`--remote-write-url`), reporting the largest remote-write lag seen
 * during the run and how long the remote took to catch up after it.
 *
 * `--peer victoria-metrics`: after the collector, the same load (same
 * series, points per request, concurrency, rate and durations) goes to a
 * local VictoriaMetrics on `/api/v1/import/prometheus`, as pre-encoded text
 * exposition bodies with the timestamps patched in place the same way. Each
 * server's CPU is read from /proc/<pid>/stat, from the start of the measured
 * phase until it is quiet again (the collector's store caught up, the peer's
 * background flushes done), and the summary prints Sloth / peer ratios.
 * VictoriaMetrics acknowledges before its data is on disk; Sloth after an
 * fdatasync of its write-ahead log.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchTool } from '../tool-args.js';
import { freePort, RedisServer } from '@sloth/core';
import { buildTemplate, buildTextTemplate, patchTextTimestamps } from './requests.js';
import { LoadStats, post, type PostResult } from './load.js';
import { cpuSeconds, quiet, redisServerPid, rounded, rssMb, threadCpuDelta, threadCpuSeconds } from './proc.js';

const usage = `usage: npx tsx bench/ingest/run.ts [--duration 30] [--warmup 5] [--concurrency 32] [--rate 0] [--points 1000] [--agents 20]
  [--peer victoria-metrics] [--server-timing] [--remote-write] [--sloth-root DIR] [--node-flags=FLAGS] [--collector-log FILE]
  [--requests-log FILE] [--strace FILE] [--scrape-interval S] [--malloc-arenas N] [--no-redis] [--profile]
Offers OTLP/HTTP load to one sloth collector (and, with --peer, the same load to a local VictoriaMetrics) and
prints JSON with sustained points/s, latency percentiles, CPU per point and the ratios. Build first: npx tsc -b.
--rate N: open loop at N points/s (0: as fast as answered). The header of bench/ingest/run.ts explains each part.`;

const tool = new BenchTool('ingest/run', usage);
const args = tool.args({
  duration: { type: 'string', default: '30' },
  warmup: { type: 'string', default: '5' },
  concurrency: { type: 'string', default: '32' },
  rate: { type: 'string', default: '0' },
  points: { type: 'string', default: '1000' },
  agents: { type: 'string', default: '20' },
  profile: { type: 'boolean', default: false },
  'no-redis': { type: 'boolean', default: false },
  /** Extra node flags for the collector process, e.g. `--max-semi-space-size=64`. */
  'node-flags': { type: 'string', default: '' },
  /** Sets MALLOC_ARENA_MAX for the collector (glibc keeps fewer per-thread heaps). */
  'malloc-arenas': { type: 'string', default: '' },
  /** Writes the collector's stdout here at the end (with `--node-flags=--trace-gc`, its GC log). */
  'collector-log': { type: 'string', default: '' },
  /** Fetches /metrics every N seconds during the run, as Prometheus would; 0 = only at the end. */
  'scrape-interval': { type: 'string', default: '0' },
  /** Forwards to a local VictoriaMetrics started here, and reports the remote-write lag. */
  'remote-write': { type: 'boolean', default: false },
  /** Offers the same load to a local peer TSDB in the same run and prints the ratios (only `victoria-metrics`). */
  peer: { type: 'string', default: '' },
  /** Runs the collector of another built checkout (e.g. a `git worktree` of an older commit) under this load generator. */
  'sloth-root': { type: 'string', default: '' },
  /**
   * Has the collector answer with `Server-Timing` and prints where the slowest 1 % of accepted requests
   * (and all of them) spent their time: read, decode, WAL queue and sync, event-loop resume, reply, outside.
   */
  'server-timing': { type: 'boolean', default: false },
  /** Writes every measured request (sent at, ms since the epoch; latency; status; Server-Timing phases) to this file as JSON lines. */
  'requests-log': { type: 'string', default: '' },
  /**
   * Runs the collector under `strace -f --seccomp-bpf -ttt -T -y` tracing only its syncs, vectored writes,
   * event-loop waits and SQLite's file locks, into this file (read it with `bench/ingest/tail-evidence.ts`).
   */
  strace: { type: 'string', default: '' },
});

const durationSeconds = Number(args.duration);
const warmupSeconds = Number(args.warmup);
const concurrency = Number(args.concurrency);
const ratePointsPerSecond = Number(args.rate);
const pointsPerRequest = Number(args.points);
const agents = Number(args.agents);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const slothRoot = args['sloth-root'] === '' ? repoRoot : args['sloth-root'];
if (!existsSync(join(slothRoot, 'cli', 'dist', 'src', 'main.js'))) tool.fail(`--sloth-root ${JSON.stringify(slothRoot)} has no cli/dist/src/main.js; build it first (npx tsc -b)`);
if (args.peer !== '' && args.peer !== 'victoria-metrics') tool.fail(`--peer ${JSON.stringify(args.peer)} is not supported; the only peer is victoria-metrics`);
if (args.peer !== '' && args['remote-write']) tool.fail('--peer and --remote-write each start a VictoriaMetrics; use one of them');

/** How often the drain wait reads the collector's queue depth from /metrics. */
const drainPollMillis = 500;

/** Servers this run started: killed if it ends early, so none is left holding the terminal. */
const spawned = new Set<ReturnType<typeof spawn>>();
/** The collector's own pid when it runs under strace (killed first: a tracer killed alone would leave it running). */
let tracedPid: number | undefined;
process.on('exit', () => {
  if (tracedPid !== undefined) {
    try {
      process.kill(tracedPid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const child of spawned) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Only these syscalls stop the collector under `--strace` (seccomp filter): few per request. */
const tracedSyscalls = 'trace=fdatasync,fsync,writev,pwritev,epoll_wait,epoll_pwait,io_uring_enter,fcntl';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-ingest-'));
  const redis = args['no-redis'] ? undefined : await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  const vm = args['remote-write'] ? await startVictoriaMetrics(join(dir, 'vm')) : undefined;
  const nodeArgs = [...(args.profile ? ['--cpu-prof', '--cpu-prof-dir', join(repoRoot, 'bench', 'ingest', 'profiles')] : []), ...args['node-flags'].split(' ').filter((f) => f !== '')];
  const collectorCommand = [
    process.execPath,
    ...nodeArgs,
    join(slothRoot, 'cli', 'dist', 'src', 'main.js'),
    'collector',
    '--insecure-no-auth',
    '--host', '127.0.0.1',
    '--port', '0',
    '--metrics-port', '0',
    '--data-dir', join(dir, 'data'),
    '--redis-url', redis?.url ?? 'redis://127.0.0.1:1',
    '--redis-prefix', 'bench',
    '--log-level', 'error',
    ...(vm === undefined ? [] : ['--remote-write-url', vm.writeUrl]),
  ];
  const traced = args.strace !== '';
  const child = spawn(
    traced ? 'strace' : (collectorCommand[0] as string),
    traced ? ['-f', '--seccomp-bpf', '-ttt', '-T', '-y', '-e', tracedSyscalls, '-o', args.strace, ...collectorCommand] : collectorCommand.slice(1),
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        ...(args['malloc-arenas'] === '' ? {} : { MALLOC_ARENA_MAX: args['malloc-arenas'] }),
        ...(args['server-timing'] ? { SLOTH_COLLECTOR_SERVER_TIMING: 'true' } : {}),
      },
    },
  );
  spawned.add(child);
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  let otlpUrl = '';
  let metricsUrl = '';
  for (let i = 0; i < 600 && otlpUrl === ''; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const m = /OTLP\/HTTP on (\S+)\/v1\//.exec(stdout);
    const p = /Prometheus exposition: (\S+)/.exec(stdout);
    if (m !== null && p !== null) {
      otlpUrl = m[1] as string;
      metricsUrl = p[1] as string;
    }
  }
  if (otlpUrl === '') throw new Error(`collector did not start: ${stdout}`);
  const target = new URL(`${otlpUrl}/v1/metrics`);
  const pid = traced ? tracedChild(child.pid as number) : (child.pid as number);
  if (traced) tracedPid = pid;

  const templates = Array.from({ length: agents }, (_, a) => buildTemplate(a, pointsPerRequest));
  const sendCounts = new Array<number>(agents).fill(0);
  const baseNanos = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  const httpAgent = new Agent({ keepAlive: true, maxSockets: concurrency });

  let next = 0;
  const send = (): Promise<PostResult> => {
    const a = next++ % agents;
    const template = templates[a] as (typeof templates)[number];
    // Each resend of an agent's template moves its timestamps 1 ms on: every point is a new sample.
    const nanos = baseNanos + BigInt((sendCounts[a] = (sendCounts[a] ?? 0) + 1) - 1) * 1_000_000n;
    for (const offset of template.offsets) template.body.writeBigUInt64LE(nanos, offset);
    return post(httpAgent, target, 'application/x-protobuf', Buffer.from(template.body));
  };

  const load = new LoadStats(pointsPerRequest, args['requests-log'] !== '');
  let peakRss = 0;
  const rssTimer = setInterval(() => {
    peakRss = Math.max(peakRss, rssMb(pid));
  }, 250);
  const scrapeSeconds = Number(args['scrape-interval']);
  const scrapeMillis: number[] = [];
  const scrapeTimer =
    scrapeSeconds > 0
      ? setInterval(() => {
          const started = performance.now();
          void fetch(metricsUrl)
            .then(async (res) => res.text())
            .then(() => scrapeMillis.push(performance.now() - started))
            .catch(() => undefined);
        }, scrapeSeconds * 1000)
      : undefined;

  let maxLagSeconds = 0;
  const remoteSamplesText = (text: string): number => Number(/^sloth_collector_remote_write_samples_total\{[^}]*\} (\S+)$/m.exec(text)?.[1] ?? '0');
  const lagTimer =
    vm === undefined
      ? undefined
      : setInterval(() => {
          void fetch(metricsUrl)
            .then(async (res) => res.text())
            .then((text) => {
              if (!load.measuring) return;
              const lag = Number(/^sloth_collector_remote_write_lag_seconds\{[^}]*\} (\S+)$/m.exec(text)?.[1] ?? 'NaN');
              if (Number.isFinite(lag)) maxLagSeconds = Math.max(maxLagSeconds, lag);
            })
            .catch(() => undefined);
        }, 1000);

  await offerLoad(send, warmupSeconds, undefined);
  const cpuAtStart = cpuSeconds(pid);
  const threadsAtStart = threadCpuSeconds(pid);
  const redisPid = redis === undefined ? undefined : redisServerPid(redis.port);
  const redisCpuAtStart = redisPid === undefined ? Number.NaN : cpuSeconds(redisPid);
  const elapsedSeconds = await offerLoad(send, durationSeconds, load);
  clearInterval(scrapeTimer);

  // Wait for the store to catch up: "sustained" includes the time to apply the backlog. Each poll
  // renders every series on /metrics, in the collector's measured CPU (every 100 ms that was ~2 s of
  // its 8 CPU-seconds in a loaded run's 4.7 s drain, by --profile): twice a second is enough.
  const drainStarted = performance.now();
  let queueDepth = Number.NaN;
  let metricsText = '';
  for (let i = 0; i < 120; i++) {
    metricsText = await (await fetch(metricsUrl)).text();
    queueDepth = Number(/^sloth_collector_queue_depth (\S+)$/m.exec(metricsText)?.[1] ?? 'NaN');
    if (queueDepth === 0) break;
    await new Promise((r) => setTimeout(r, drainPollMillis));
  }
  const drainSeconds = (performance.now() - drainStarted) / 1000;
  const cpuAtDrain = cpuSeconds(pid);
  clearInterval(lagTimer);
  // Remote write: how long until every accepted point (warm-up included) has reached the remote.
  let remoteCatchUpSeconds = Number.NaN;
  let remoteSamples = Number.NaN;
  if (vm !== undefined) {
    const received = Number(/^sloth_collector_points_received_total\{signal="metrics"\} (\S+)$/m.exec(metricsText)?.[1] ?? 'NaN');
    const started = performance.now();
    for (let i = 0; i < 1200; i++) {
      metricsText = await (await fetch(metricsUrl)).text();
      remoteSamples = remoteSamplesText(metricsText);
      if (remoteSamples >= received) {
        remoteCatchUpSeconds = (performance.now() - started) / 1000 + drainSeconds;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await quiet(pid);
  const collectorCpuSeconds = cpuSeconds(pid) - cpuAtStart;
  const collectorThreadCpuSeconds = threadCpuDelta(threadsAtStart, threadCpuSeconds(pid));
  const redisCpuSeconds = redisPid === undefined ? Number.NaN : cpuSeconds(redisPid) - redisCpuAtStart;
  clearInterval(rssTimer);
  peakRss = Math.max(peakRss, rssMb(pid));
  const heapUsedMb = Number(/^sloth_collector_heap_used_bytes (\S+)$/m.exec(metricsText)?.[1] ?? 'NaN') / 1048576;
  const streamPublished = Number(/^sloth_collector_stream_published_total (\S+)$/m.exec(metricsText)?.[1] ?? 'NaN');
  const streamDropped = Number(/^sloth_collector_stream_dropped_total (\S+)$/m.exec(metricsText)?.[1] ?? 'NaN');

  const exited = new Promise((r) => child.once('exit', r));
  // Under strace the collector is strace's child: SIGTERM goes to it, and strace ends with it.
  process.kill(pid, 'SIGTERM');
  await exited;
  tracedPid = undefined;
  if (args['requests-log'] !== '') writeFileSync(args['requests-log'], (load.all ?? []).map((r) => JSON.stringify(r)).join('\n') + '\n');
  if (args['collector-log'] !== '') writeFileSync(args['collector-log'], stdout);
  httpAgent.destroy();
  await redis?.stop();
  if (vm !== undefined) {
    vm.child.kill('SIGTERM');
    await new Promise((r) => vm.child.once('exit', r));
  }

  const acceptedPoints = load.acceptedPoints;
  const result = {
    concurrency,
    offeredRatePointsPerSecond: ratePointsPerSecond || 'max',
    pointsPerRequest,
    durationSeconds: Number(elapsedSeconds.toFixed(1)),
    requests: load.latencies.length,
    statuses: Object.fromEntries(load.statuses),
    acknowledgedPointsPerSecond: Math.round(acceptedPoints / elapsedSeconds),
    sustainedPointsPerSecond: Math.round(acceptedPoints / (elapsedSeconds + drainSeconds)),
    drainSeconds: Number(drainSeconds.toFixed(2)),
    latencyMillis: rounded(load.latencies),
    acceptedLatencyMillis: rounded(load.acceptedLatencies),
    ...(args['server-timing'] ? { slowestOnePercent: load.phasesAbove(99), allAccepted: load.phasesAbove(0) } : {}),
    budgetRejections: Number(/^sloth_collector_budget_rejections_total (\S+)$/m.exec(metricsText)?.[1] ?? 'NaN'),
    ...(vm === undefined ? {} : { remoteWrite: { maxLagSeconds: Number(maxLagSeconds.toFixed(2)), catchUpSecondsAfterLoad: Number(remoteCatchUpSeconds.toFixed(2)), samplesDelivered: remoteSamples } }),
    collectorPeakRssMb: Math.round(peakRss),
    ...(scrapeSeconds > 0 ? { scrapes: scrapeMillis.length, scrapeMillisMax: Number(Math.max(...scrapeMillis).toFixed(1)) } : {}),
    collectorHeapUsedMbAfterDrain: Math.round(heapUsedMb),
    // CPU time is robust to other load on the machine: points per CPU-second of the collector process.
    collectorCpuSeconds: Number(collectorCpuSeconds.toFixed(2)),
    collectorCpuMicrosPerPoint: Number(((1e6 * collectorCpuSeconds) / acceptedPoints).toFixed(2)),
    // The same up to the moment the store had applied everything (before waiting for the process to be quiet).
    collectorCpuSecondsUntilDrained: Number((cpuAtDrain - cpuAtStart).toFixed(2)),
    collectorThreadCpuSeconds,
    pointsPerCollectorCpuSecond: Math.round(acceptedPoints / collectorCpuSeconds),
    redisCpuSeconds: Number(redisCpuSeconds.toFixed(2)),
    loadAverage1m: Number(loadavg()[0]?.toFixed(1)),
    streamPublished,
    streamDropped,
  };
  const peer = args.peer === '' ? undefined : await runVictoriaMetricsPeer(join(dir, 'peer'));
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify(peer === undefined ? result : { sloth: result, peer, ratio: ratios(result, peer) }, null, 2)}\n`);
  if (peer !== undefined) process.stdout.write(`${summary(result, peer)}\n`);
}


/** The collector strace started (its only child). */
function tracedChild(stracePid: number): number {
  const children = readFileSync(`/proc/${stracePid}/task/${stracePid}/children`, 'utf8').trim().split(' ').filter((c) => c !== '');
  if (children.length !== 1) throw new Error(`strace (pid ${stracePid}) has ${children.length} children (${children.join(', ')}), expected the collector alone`);
  return Number(children[0]);
}

/**
 * Sends for `seconds` with `concurrency` in flight, at `--rate` points/s when set (open loop), and
 * records into `stats` (none during warm-up). Resolves to the elapsed seconds.
 */
async function offerLoad(send: () => Promise<PostResult>, seconds: number, stats: LoadStats | undefined): Promise<number> {
  const endAt = performance.now() + seconds * 1000;
  const started = performance.now();
  const intervalMillis = ratePointsPerSecond > 0 ? (1000 * pointsPerRequest) / ratePointsPerSecond : 0;
  let due = performance.now();
  if (stats !== undefined) stats.measuring = true;
  const worker = async (): Promise<void> => {
    while (performance.now() < endAt) {
      if (intervalMillis > 0) {
        const at = due;
        due += intervalMillis;
        const wait = at - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const result = await send();
      stats?.add(result);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  if (stats !== undefined) stats.measuring = false;
  return (performance.now() - started) / 1000;
}

interface PeerResult {
  readonly peer: string;
  readonly version: string;
  readonly durationSeconds: number;
  readonly requests: number;
  readonly statuses: Record<number, number>;
  readonly acknowledgedPointsPerSecond: number;
  readonly latencyMillis: ReturnType<typeof rounded>;
  readonly acceptedLatencyMillis: ReturnType<typeof rounded>;
  readonly rowsInserted: number;
  readonly peerCpuSeconds: number;
  readonly peerCpuMicrosPerPoint: number;
  readonly pointsPerPeerCpuSecond: number;
  readonly peerPeakRssMb: number;
  readonly loadAverage1m: number;
}

/** The same load as the collector got, offered to a local VictoriaMetrics as Prometheus text. */
async function runVictoriaMetricsPeer(dataDir: string): Promise<PeerResult> {
  const vm = await startVictoriaMetrics(dataDir);
  const pid = vm.child.pid as number;
  const target = new URL(`${vm.baseUrl}/api/v1/import/prometheus`);
  const templates = Array.from({ length: agents }, (_, a) => buildTextTemplate(a, pointsPerRequest));
  const sendCounts = new Array<number>(agents).fill(0);
  const baseMillis = Date.now() - 3_600_000;
  const httpAgent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let next = 0;
  const send = (): Promise<PostResult> => {
    const a = next++ % agents;
    const template = templates[a] as (typeof templates)[number];
    // As for the collector: each resend moves the agent's timestamps 1 ms on.
    patchTextTimestamps(template.body, template.offsets, baseMillis + (sendCounts[a] = (sendCounts[a] ?? 0) + 1) - 1);
    return post(httpAgent, target, 'text/plain', Buffer.from(template.body));
  };
  const load = new LoadStats(pointsPerRequest);
  let peakRss = 0;
  const rssTimer = setInterval(() => {
    peakRss = Math.max(peakRss, rssMb(pid));
  }, 250);
  try {
    await offerLoad(send, warmupSeconds, undefined);
    const cpuAtStart = cpuSeconds(pid);
    const elapsedSeconds = await offerLoad(send, durationSeconds, load);
    await quiet(pid);
    const peerCpuSeconds = cpuSeconds(pid) - cpuAtStart;
    peakRss = Math.max(peakRss, rssMb(pid));
    const metricsText = await (await fetch(`${vm.baseUrl}/metrics`)).text();
    const rowsInserted = Number(/^vm_rows_inserted_total\{type="prometheus"\} (\S+)$/m.exec(metricsText)?.[1] ?? 'NaN');
    const version = /^vm_app_version\{[^}]*short_version="([^"]+)"/m.exec(metricsText)?.[1] ?? /^vm_app_version\{version="([^"]+)"/m.exec(metricsText)?.[1] ?? 'version not reported';
    return {
      peer: 'victoria-metrics',
      version,
      durationSeconds: Number(elapsedSeconds.toFixed(1)),
      requests: load.latencies.length,
      statuses: Object.fromEntries(load.statuses),
      acknowledgedPointsPerSecond: Math.round(load.acceptedPoints / elapsedSeconds),
      latencyMillis: rounded(load.latencies),
      acceptedLatencyMillis: rounded(load.acceptedLatencies),
      rowsInserted,
      peerCpuSeconds: Number(peerCpuSeconds.toFixed(2)),
      peerCpuMicrosPerPoint: Number(((1e6 * peerCpuSeconds) / load.acceptedPoints).toFixed(2)),
      pointsPerPeerCpuSecond: Math.round(load.acceptedPoints / peerCpuSeconds),
      peerPeakRssMb: Math.round(peakRss),
      loadAverage1m: Number(loadavg()[0]?.toFixed(1)),
    };
  } finally {
    clearInterval(rssTimer);
    httpAgent.destroy();
    vm.child.kill('SIGTERM');
    await new Promise((r) => vm.child.once('exit', r));
  }
}

interface SlothResult {
  readonly pointsPerCollectorCpuSecond: number;
  readonly acknowledgedPointsPerSecond: number;
  readonly acceptedLatencyMillis: ReturnType<typeof rounded>;
}

function ratios(sloth: SlothResult, peer: PeerResult): Record<string, number> {
  const ratio = (a: number, b: number): number => Number((a / b).toFixed(2));
  return {
    pointsPerCpuSecond: ratio(sloth.pointsPerCollectorCpuSecond, peer.pointsPerPeerCpuSecond),
    acknowledgedPointsPerSecond: ratio(sloth.acknowledgedPointsPerSecond, peer.acknowledgedPointsPerSecond),
    acceptedP50: ratio(sloth.acceptedLatencyMillis.p50, peer.acceptedLatencyMillis.p50),
    acceptedP99: ratio(sloth.acceptedLatencyMillis.p99, peer.acceptedLatencyMillis.p99),
  };
}

/** The side-by-side lines a reader wants first. */
function summary(sloth: SlothResult, peer: PeerResult): string {
  const r = ratios(sloth, peer);
  const offered = ratePointsPerSecond > 0 ? `${ratePointsPerSecond} points/s offered` : 'as fast as each answers';
  return [
    `side by side (${offered}, ${concurrency} in flight, ${agents * pointsPerRequest} series, ${pointsPerRequest} points per request):`,
    `  sloth            ${sloth.pointsPerCollectorCpuSecond} points per CPU-second, ${sloth.acknowledgedPointsPerSecond} acknowledged points/s, accepted p50 ${sloth.acceptedLatencyMillis.p50} ms, p99 ${sloth.acceptedLatencyMillis.p99} ms (durable acks)`,
    `  victoria-metrics ${peer.pointsPerPeerCpuSecond} points per CPU-second, ${peer.acknowledgedPointsPerSecond} acknowledged points/s, accepted p50 ${peer.acceptedLatencyMillis.p50} ms, p99 ${peer.acceptedLatencyMillis.p99} ms (${peer.version})`,
    `  sloth / victoria-metrics: points per CPU-second ${r.pointsPerCpuSecond}× (target ≥ 0.5), p99 ${r.acceptedP99}× (target ≤ 3 at 75,000 points/s), load average ${loadavg()[0]?.toFixed(1)}`,
  ].join('\n');
}

/** A local VictoriaMetrics (for `--remote-write` and `--peer`) on a free port, its data in `dataDir`. */
async function startVictoriaMetrics(dataDir: string): Promise<{ child: ReturnType<typeof spawn>; writeUrl: string; baseUrl: string }> {
  const port = await freePort();
  const child = spawn('/usr/bin/victoria-metrics', ['-httpListenAddr', `127.0.0.1:${port}`, '-storageDataPath', dataDir, '-retentionPeriod', '100y', '-loggerLevel', 'ERROR'], { stdio: 'ignore' });
  spawned.add(child);
  for (let i = 0; i < 600; i++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      await response.arrayBuffer();
      if (response.ok) return { child, writeUrl: `http://127.0.0.1:${port}/api/v1/write`, baseUrl: `http://127.0.0.1:${port}` };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('victoria-metrics did not start');
}

await main();
