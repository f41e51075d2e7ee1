/**
 * Remediation delivery benchmark (BullMQ part of bench/playbooks).
 *
 * 1. Throughput: one agent-side worker process (`sloth remediation worker`,
 *    the real Lua runtime) serves `agent.bench`; this process adds `--jobs`
 *    remediation jobs of a short playbook (a metric, a log line, a return)
 *    and waits for every final report on the results stream. Reports
 *    playbooks/s from the first add to the last result.
 * 2. Trigger-to-start latency: `sloth scheduler` + the worker, agent idle;
 *    `--triggers` anomalies are XADDed on `sloth:anomalies` one at a time
 *    (`--gap` ms apart); for each, the time from the stream entry to the
 *    worker's `running` report (taken just before the Lua run starts), as
 *    recorded in the audit log. The scheduler's concurrency limits are raised
 *    (64) so that they do not hold triggers back: this measures the path, not
 *    the safety rails.
 *
 *   nice -n 10 npx tsx bench/playbooks/bullmq.ts [--jobs 5000] [--concurrency 32] [--triggers 200] [--gap 100]
 *
 * Build first: `npx tsc -b` (the processes run the built CLI).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  encodeJsonMessage,
  freePort,
  queueNames,
  redisKeys,
  RedisServer,
  remediationJobName,
  remediationResultsStream,
  type AnomalyEvent,
  type RemediationJob,
} from '@sloth/core';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '32' },
    triggers: { type: 'string', default: '200' },
    gap: { type: 'string', default: '100' },
    'lua-workers': { type: 'string' },
  },
});
const jobCount = Number(args.jobs);
const concurrency = Number(args.concurrency);
const triggerCount = Number(args.triggers);
const gapMillis = Number(args.gap);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(repoRoot, 'cli', 'dist', 'src', 'main.js');

const shortPlaybook = `
return {
  name = "short",
  version = "1",
  description = "a short playbook",
  triggers = { { anomaly = { metric = "bench.metric", min_score = 0.5 } } },
  run = function(ctx)
    metrics.gauge("bench_value", 1)
    log.info("short run")
    return true, "ok"
  end,
}`;

function start(argv: string[], ready: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [cli, ...argv], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${ready}" within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`exited (${code}):\n${output}`)));
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function redisPid(port: number): number | undefined {
  try {
    const out = execFileSync('pgrep', ['-f', `redis-server 127.0.0.1:${port}`], { encoding: 'utf8' }).trim().split('\n')[0];
    return out === undefined || out === '' ? undefined : Number(out);
  } catch {
    return undefined;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Counts final reports on the results stream until `count` arrived; returns the time of the last. */
async function waitForResults(redis: Redis, stream: string, count: number, timeoutMillis: number): Promise<{ done: number; failed: number; lastMillis: number }> {
  let cursor = '0';
  let done = 0;
  let failed = 0;
  let lastMillis = 0;
  const deadline = Date.now() + timeoutMillis;
  while (done < count && Date.now() < deadline) {
    const reply = (await redis.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', stream, cursor));
    for (const [, entries] of reply ?? []) {
      for (const [id, fields] of entries) {
        cursor = id;
        const report = JSON.parse(fields[1] ?? '{}') as { state: string };
        if (report.state === 'running') continue;
        done += 1;
        if (report.state !== 'succeeded') failed += 1;
        lastMillis = Date.now();
      }
    }
  }
  return { done, failed, lastMillis };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-playbooks-'));
  const server = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  const redis = new Redis(server.url, { maxRetriesPerRequest: null });
  const children: ChildProcess[] = [];
  try {
    // --- 1. throughput -------------------------------------------------
    const prefix = 'benchtp';
    const worker = await start(
      ['remediation', 'worker', '--agent-id', 'bench', '--redis-url', server.url, '--redis-prefix', prefix, '--state-dir', join(dir, 'state'), '--concurrency', String(concurrency), ...(args['lua-workers'] === undefined ? [] : ['--lua-workers', args['lua-workers']]), '--log-level', 'warn'],
      'serving queue',
    );
    children.push(worker);
    const keys = redisKeys(prefix);
    const queue = new Queue(queueNames.agent('bench'), { connection: redis, prefix });
    const job = (i: number, tag: string): RemediationJob => ({
      remediationId: `${tag}-${i}`,
      agentId: 'bench',
      playbook: { name: 'short', version: '1', fileName: 'short.lua', source: shortPlaybook },
      params: {},
      event: null,
      dryRun: false,
      triggeredAtMillis: Date.now(),
      enqueuedAtMillis: Date.now(),
    });
    // Warm-up: load the playbook and wake the runtime's worker threads.
    await queue.addBulk(Array.from({ length: 200 }, (_, i) => ({ name: remediationJobName, data: job(i, 'warm'), opts: { jobId: `warm-${i}`, removeOnComplete: true } })));
    await waitForResults(redis, remediationResultsStream(keys), 200, 60_000);
    await redis.del(remediationResultsStream(keys));
    const redisProcess = redisPid(server.port);
    const workerCpuBefore = cpuSeconds(worker.pid);
    const redisCpuBefore = cpuSeconds(redisProcess);
    const startMillis = Date.now();
    for (let i = 0; i < jobCount; i += 500) {
      const batch = Array.from({ length: Math.min(500, jobCount - i) }, (_, k) => ({
        name: remediationJobName,
        data: job(i + k, 'tp'),
        opts: { jobId: `tp-${i + k}`, removeOnComplete: true },
      }));
      await queue.addBulk(batch);
    }
    const enqueuedMillis = Date.now();
    const result = await waitForResults(redis, remediationResultsStream(keys), jobCount, 300_000);
    const seconds = (result.lastMillis - startMillis) / 1000;
    const workerCpu = cpuSeconds(worker.pid) - workerCpuBefore;
    const redisCpu = cpuSeconds(redisProcess) - redisCpuBefore;
    await queue.close();
    await stop(worker);
    children.length = 0;

    // --- 2. trigger-to-start latency ------------------------------------
    const latencyPrefix = 'benchlat';
    const playbookDir = join(dir, 'playbooks');
    mkdirSync(playbookDir);
    writeFileSync(join(playbookDir, 'short.lua'), shortPlaybook);
    const port = await freePort();
    const scheduler = await start(
      [
        'scheduler', '--port', String(port), '--host', '127.0.0.1', '--playbooks', playbookDir, '--data-dir', join(dir, 'data'),
        '--redis-url', server.url, '--redis-prefix', latencyPrefix, '--insecure-no-auth', '--cooldown', '0', '--max-concurrent', '64', '--max-concurrent-per-agent', '64', '--log-level', 'warn',
      ],
      'remediation API on',
    );
    children.push(scheduler);
    const latencyWorker = await start(
      ['remediation', 'worker', '--agent-id', 'bench', '--redis-url', server.url, '--redis-prefix', latencyPrefix, '--state-dir', join(dir, 'state2'), '--log-level', 'warn'],
      'serving queue',
    );
    children.push(latencyWorker);
    const latencyKeys = redisKeys(latencyPrefix);
    const anomaly = (): AnomalyEvent => ({ seriesId: 'bench.metric', agentId: 'bench', metric: 'bench.metric', timestampMillis: Date.now(), value: 1, score: 0.9, expectedLow: 0, expectedHigh: 0, modelVersion: 'b' });
    const send = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        await redis.xadd(latencyKeys.anomalies, '*', ...encodeJsonMessage(anomaly()));
        await new Promise((r) => setTimeout(r, gapMillis));
      }
    };
    await send(20); // warm-up
    await waitForResults(redis, remediationResultsStream(latencyKeys), 20, 60_000);
    const warmIds = new Set(((await (await fetch(`http://127.0.0.1:${port}/api/v1/remediations?limit=10000`)).json()) as { remediations: Array<{ id: string }> }).remediations.map((r) => r.id));
    await send(triggerCount);
    await waitForResults(redis, remediationResultsStream(latencyKeys), 20 + triggerCount, 120_000);
    await new Promise((r) => setTimeout(r, 1500)); // let the scheduler apply the last reports
    const records = ((await (await fetch(`http://127.0.0.1:${port}/api/v1/remediations?limit=10000`)).json()) as {
      remediations: Array<{ id: string; triggeredAtMillis: number; queuedAtMillis: number | null; startedAtMillis: number | null; state: string }>;
    }).remediations.filter((r) => !warmIds.has(r.id));
    const latencies = records.filter((r) => r.startedAtMillis !== null).map((r) => (r.startedAtMillis as number) - r.triggeredAtMillis).sort((a, b) => a - b);
    const toQueued = records.filter((r) => r.queuedAtMillis !== null).map((r) => (r.queuedAtMillis as number) - r.triggeredAtMillis).sort((a, b) => a - b);

    const report = {
      throughput: {
        jobs: jobCount,
        workerConcurrency: concurrency,
        luaWorkers: args['lua-workers'] ?? 'default',
        completed: result.done,
        failed: result.failed,
        enqueueSeconds: (enqueuedMillis - startMillis) / 1000,
        seconds,
        playbooksPerSecond: Math.round(result.done / seconds),
        workerCpuMillisPerJob: Math.round((workerCpu * 1000 * 100) / result.done) / 100,
        redisCpuMillisPerJob: Math.round((redisCpu * 1000 * 100) / result.done) / 100,
        loadAverage1m: loadavg()[0],
      },
      triggerToStart: {
        triggers: triggerCount,
        gapMillis,
        measured: latencies.length,
        p50Millis: percentile(latencies, 50),
        p90Millis: percentile(latencies, 90),
        p99Millis: percentile(latencies, 99),
        maxMillis: latencies[latencies.length - 1],
        triggerToQueuedP99Millis: percentile(toQueued, 99),
      },
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    for (const child of children) await stop(child);
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
