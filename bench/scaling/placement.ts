/**
 * Placement benchmarks, reported separately (docs/benchmarks.md):
 *
 * 1. decision cost: `placeTask` over 1,000 agents (labels, reservations, live
 *    and forecast utilisation, constraints and affinity), decisions per second;
 * 2. end to end: tasks submitted through TaskService (real redis-server,
 *    BullMQ `tasks` queue, placement, reservation, dispatch on `agent.<id>`)
 *    until an idle agent's worker starts them: throughput and latency
 *    percentiles. Agents run the agent's own job worker (JobWorker: the
 *    BullMQ worker on `agent.<id>`, done marker, `running` and result reports
 *    the scheduler applies) with a playbook runner that finishes at once; a
 *    run starts when the worker hands it to the runner. They run in a child
 *    process (placement-agents.ts) as
 *    real agents are off the scheduler's event loop, or with
 *    --agents-in-process on this one; the inventory comes from a minimal query-API
 *    server over HTTP. CPU per task (this process and redis-server, until
 *    every reservation is released) is printed too: it varies far less
 *    with machine load than the wall-clock figures.
 *
 *
 * Where the tail comes from: each measured task's stages are timed (submit
 * called → placed: its room reserved → enqueued: on its agent's queue, the
 * submit returned → fetched: the agent's worker took it → started; the fetch also split at
 * active: when the worker asked Redis for it, BullMQ's processedOn) and
 * printed as p50/p99/max, with the stalls of both processes (GC, event-loop
 * delays) and redis-server's slow commands and forks; `--timeline` prints
 * every second of the run (by submit time) with what stalled in it.
 *
 * With --backlog N, N tasks nothing can place (a constraint no agent meets) are submitted and have
 * all looked once before the measured tasks start: every waiting task then looks again on the common
 * grid of `waitRetrySeconds` (a sweep of N looks through the placement worker), and the figures say
 * how long a sweep takes (grid instant → its last look) and how long a task that fits waits meanwhile
 * (its submit-to-start, also for those submitted while a sweep ran). The backlog's priority is
 * --backlog-priority (default 100, the measured tasks' own: it is at least as urgent as they are).
 *
 * With --fail-first, every task's first run fails on its agent (the task asks for it in its params, the
 * agents' runner returns `ok: false`, the job worker reports it as any failed run) and the task allows one
 * retry with no backoff, so its second attempt is placed through the `tasks` queue (behind whatever the
 * queue holds: with --backlog, a sweep's looks). The retry's wait is printed from the moment the scheduler
 * records the failure (the first attempt's `finishedAtMillis`, taken by finishAttempt, which queues the
 * placement job in the same call) to the retry's start: the queue path. The time before it (the agent's
 * result report to the scheduler applying it, the results stream) is every result's and is printed on its
 * own. The submit-to-start figures stay those of first attempts; CPU per task then covers two runs.
 *
 * Rule for cost cuts (written 2026-12-06 12:06 UTC, before any candidate ran): a candidate is
 * run against the code without it in alternating pairs (baseline, candidate, baseline,
 * candidate) of `--decisions 2000 --tasks 20000 --rate 1000 --warmup 5 --redis-stats` on the same
 * build (a flag or option switches it). It is adopted when the scheduler's and the job worker's
 * tests pass and, in both pairs, the candidate has no more Redis commands per task and less CPU
 * per task in total (scheduler process + agents process + redis-server). The latency
 * percentiles are reported but decide nothing: the machine is shared and they move with its load.
 * Constants a candidate needs are set from what they mean, never from these runs (the `running`
 * report delay: 1 s, a delay a person reading `sloth task show` does not notice and far below
 * the 30 s timeout grace that its absence could shorten).
 *
 *   npx tsc -b scheduler && nice -n 10 npx tsx bench/scaling/placement.ts [--agents 1000] [--decisions 20000] [--tasks 3000] [--e2e-agents 10] [--rate N] [--warmup SECONDS] [--redis-stats] [--agents-in-process] [--timeline]
 *     [--backlog N] [--backlog-priority P] [--fail-first]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RedisServer, redisKeys, remediationResultsStream, silentLogger, type RedisKeys } from '@sloth/core';
import { placeTask, TaskService, tasksConfigSchema, type AgentSnapshot, type PlacementRequest } from '@sloth/scheduler';
import { BenchTool } from '../tool-args.js';
import { startIdleAgents } from './idle-agents.js';
import { watchStalls, type Stall } from './placement-stalls.js';

const usage = `usage: npx tsx bench/scaling/placement.ts [--agents 1000] [--decisions 20000] [--tasks 3000] [--e2e-agents 10] [--concurrency 32]
  [--rate N] [--warmup 0] [--redis-stats] [--agents-in-process] [--timeline] [--running-report-delay MS]
  [--done-check-on-first-delivery true|false] [--start-on-fetch true|false] [--backlog N] [--backlog-priority P] [--fail-first]
Placement benchmarks (build first: npx tsc -b scheduler): placeTask decisions per second over --agents agents,
then tasks submitted through TaskService (its own redis-server, BullMQ) until idle agents' job workers start
them: throughput, latency percentiles by stage, stalls and CPU per task.
  --agents N                  agents in the decision-cost inventory (default 1000)
  --decisions N               placement decisions timed (default 20000)
  --tasks N                   tasks submitted end to end (default 3000)
  --e2e-agents N              idle agents end to end (default 10)
  --concurrency N             placement concurrency (default 32)
  --rate N                    submissions per second (default: as fast as the clients can)
  --warmup S                  seconds of submissions left out of the latency figures (default 0)
  --redis-stats               also print the Redis commands per task (default off)
  --agents-in-process         run the agents' workers on this event loop (default: a child process)
  --timeline                  print every second of the run (default: the five worst)
  --running-report-delay MS   the agents' JobWorker runningReportDelayMillis (default: the agent's)
  --done-check-on-first-delivery true|false   JobWorker doneCheckOnFirstDelivery (default: the agent's)
  --start-on-fetch true|false JobWorker startOnFetch (default: the agent's)
  --backlog N                 first submit N tasks nothing can place, which wait and look again every
                              waitRetrySeconds; report the retry sweeps and what fitting tasks wait (default 0)
  --backlog-priority P        priority of the backlog, 1–1000 (default 100, the measured tasks' priority)
  --fail-first                every task's first run fails on its agent and its one retry (backoff 0) is placed
                              through the tasks queue; also report the retry's wait, from the failure recorded
                              by the scheduler to the retry's start (default off)`;
const tool = new BenchTool('scaling/placement', usage);
const flags = tool.args({
  agents: { type: 'string', default: '1000' },
  decisions: { type: 'string', default: '20000' },
  tasks: { type: 'string', default: '3000' },
  'e2e-agents': { type: 'string', default: '10' },
  concurrency: { type: 'string', default: '32' },
  /** Submissions per second; without it, as fast as 32 clients can. */
  rate: { type: 'string' },
  /** Also print the Redis commands per task, by command (from INFO commandstats). */
  'redis-stats': { type: 'boolean', default: false },
  /**
   * Seconds of submissions at the start left out of the latency and throughput figures: the first
   * ones meet cold code (JIT), new connections and the first inventory load (they take ~0.5 s on an
   * idle machine, then it settles). They still run, and the CPU figures include them.
   */
  warmup: { type: 'string', default: '0' },
  /**
   * Run the agents' workers on this process's event loop (how the bench ran before 2026-12-06 05:00 UTC);
   * by default they run in a child process, as real agents run on other hosts.
   */
  'agents-in-process': { type: 'boolean', default: false },
  /** Print every second of the run (by submit time): latency, and the stalls in it. Without it, the five worst seconds. */
  timeline: { type: 'boolean', default: false },
  /** The agents' JobWorker `runningReportDelayMillis` (0: the `running` report before each run, as before 2026-12-06 12:30 UTC); default: the agent's default. */
  'running-report-delay': { type: 'string' },
  /** `true` or `false`: the agents' JobWorker reads the done marker before a run's first delivery too (doneCheckOnFirstDelivery); default: the agent's default. */
  'done-check-on-first-delivery': { type: 'string' },
  /** `true` or `false`: the agents' JobWorker starts a run at BullMQ's hand-over instead of when BullMQ calls its processor (startOnFetch); default: the agent's default. */
  'start-on-fetch': { type: 'string' },
  /** Tasks nothing can place, submitted (and waiting) before the measured ones. */
  backlog: { type: 'string', default: '0' },
  'backlog-priority': { type: 'string', default: '100' },
  /** Every task's first run fails (its params ask the agents' runner to), and its one retry goes through the `tasks` queue. */
  'fail-first': { type: 'boolean', default: false },
});
const runningReportDelayMillis = flags['running-report-delay'] === undefined ? undefined : tool.number('running-report-delay', flags['running-report-delay'], { min: 0 });
const trueOrFalse = (name: 'done-check-on-first-delivery' | 'start-on-fetch'): boolean | undefined => {
  const text = flags[name];
  if (text !== undefined && text !== 'true' && text !== 'false') tool.fail(`--${name} must be true or false, got ${text}`);
  return text === undefined ? undefined : text === 'true';
};
const doneCheckOnFirstDelivery = trueOrFalse('done-check-on-first-delivery');
const startOnFetch = trueOrFalse('start-on-fetch');
for (const name of ['agents', 'decisions', 'tasks', 'e2e-agents', 'concurrency'] as const) tool.number(name, flags[name], { min: 1, integer: true });
if (flags.rate !== undefined && !(tool.number('rate', flags.rate) > 0)) tool.fail(`--rate must be a number of submissions per second > 0, got ${flags.rate}`);
tool.number('warmup', flags.warmup, { min: 0 });
const backlog = tool.number('backlog', flags.backlog, { min: 0, integer: true });
const backlogPriority = tool.number('backlog-priority', flags['backlog-priority'], { min: 1, max: 1000, integer: true });
const failFirst = flags['fail-first'];

/** Event-loop delays shorter than this are not reported as stalls. */
const loopThresholdMillis = 10;
/** redis-server commands slower than this (µs) are reported (SLOWLOG). */
const redisSlowMicros = 2000;

/** One task's way from submit to start (ms since the epoch; NaN: not seen). */
interface Stages {
  submitted: number;
  placed: number;
  enqueued: number;
  /** When the agent's worker asked Redis for the run (BullMQ's processedOn): enqueued → active is its wake-up (or the wait behind its previous run), active → fetched the round trip and parsing. */
  active: number;
  fetched: number;
  started: number;
}

// Deterministic pseudo-random numbers, so runs compare.
let seed = 42;
const random = (): number => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};

function decisionCost(): void {
  const count = Number(flags.agents);
  const now = Date.now();
  const zones = ['eu-1', 'eu-2', 'us-1', 'us-2'];
  const agents: AgentSnapshot[] = Array.from({ length: count }, (_, i) => ({
    id: `agent-${i}`,
    up: random() > 0.02,
    drained: random() < 0.01,
    labels: { zone: zones[i % zones.length] as string, disk: random() < 0.5 ? 'ssd' : 'hdd' },
    cpuCores: 8,
    memoryMb: 32_768,
    reservedCpuCores: Math.floor(random() * 8),
    reservedMemoryMb: Math.floor(random() * 32_000),
    running: Math.floor(random() * 6),
    cpuUtilization: random(),
    memoryUtilization: random(),
    metricsAtMillis: now - Math.floor(random() * 90_000),
    forecastCpuUtilization: random(),
    recentCpuCores: random() < 0.1 ? 1 : 0,
  }));
  const requests: PlacementRequest[] = [
    { cpuCores: 1, memoryMb: 1024, constraints: {}, affinities: [] },
    { cpuCores: 2, memoryMb: 4096, constraints: { zone: 'eu-1' }, affinities: [{ label: 'disk', value: 'ssd', weight: 50 }] },
    { cpuCores: 0.5, memoryMb: 512, constraints: {}, affinities: [{ label: 'zone', value: 'us-1', weight: -30 }], strategy: 'spread', avoidAgents: ['agent-3'] },
  ];
  const settings = { defaultStrategy: 'bin-pack' as const, maxMetricsAgeMillis: 60_000, maxConcurrentPerAgent: 8 };
  for (let i = 0; i < 2000; i += 1) placeTask(requests[i % 3] as PlacementRequest, agents, settings, now);
  const n = Number(flags.decisions);
  let placed = 0;
  const began = performance.now();
  for (let i = 0; i < n; i += 1) if (placeTask(requests[i % 3] as PlacementRequest, agents, settings, now).agentId !== null) placed += 1;
  const seconds = (performance.now() - began) / 1000;
  process.stdout.write(`decision cost: ${n} decisions over ${count} agents in ${seconds.toFixed(2)} s = ${Math.round(n / seconds)} decisions/s (${((seconds / n) * 1e6).toFixed(1)} µs each; ${placed} placed)\n`);
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function endToEnd(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-place-'));
  const redisServer = await RedisServer.start({ dir, appendOnly: false });
  // Whatever fails below (a bad flag, a timeout), the redis-server does not outlive the bench.
  process.once('exit', () => redisServer.kill());
  const keys = redisKeys('benchplace');
  const agentCount = Number(flags['e2e-agents']);
  const agentIds = Array.from({ length: agentCount }, (_, i) => `idle-${i}`);
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    const now = Date.now();
    const body =
      url.pathname === '/api/v1/agents'
        ? { agents: agentIds.map((id) => ({ id, principal: 'bench', state: 'up', firstSeenMillis: now, lastSeenMillis: now, attributes: { 'sloth.agent.cpu.count': '100000', 'sloth.agent.memory.total': String(2 ** 50) } })) }
        : { points: agentIds.map((id) => ({ key: `${url.searchParams.get('name') ?? ''}{agent="${id}"}`, name: url.searchParams.get('name'), agentId: id, kind: 'gauge', unit: '1', labels: url.searchParams.get('name') === 'system.memory.utilization' ? { state: 'used' } : {}, t: now, v: 0.05 })) };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const collectorUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const placedAt = new Map<string, number>();
  // With --fail-first, when each task's retry was placed (its first placement stays in placedAt).
  const retryPlacedAt = new Map<string, number>();
  // Each look that found no room, by task: the backlog's looks (the measured tasks always fit).
  const looks = new Map<string, number[]>();
  const config = tasksConfigSchema.parse({ collectorUrl, maxTasksPerAgent: 100_000 });
  const service = new TaskService({
    config,
    redisUrl: redisServer.url,
    keys,
    consumerName: 'bench',
    playbooks: () => [{ name: 'noop', version: '1', fileName: 'noop.lua', source: 'return {}', requiresApproval: false, matches: () => false }],
    logger: silentLogger(),
    concurrency: Number(flags.concurrency),
    onPlacement: (_agentId, outcome, taskId) => {
      if (outcome === 'placed') (placedAt.has(taskId) ? retryPlacedAt : placedAt).set(taskId, Date.now());
      else {
        const list = looks.get(taskId);
        if (list === undefined) looks.set(taskId, [Date.now()]);
        else list.push(Date.now());
      }
    },
  });
  await service.start();
  const started = new Map<string, number>();
  const fetchedAt = new Map<string, number>();
  const activeAt = new Map<string, number>();
  let agentStalls: Stall[] = [];
  const reporter = new Redis(redisServer.url, { maxRetriesPerRequest: null, enableAutoPipelining: true });
  let agentsProcess: ChildProcess | undefined;
  let stopInProcessAgents: (() => Promise<void>) | undefined;
  let agentsCpuMicros: Promise<number> = Promise.resolve(0);
  if (flags['agents-in-process']) {
    stopInProcessAgents = await startIdleAgents({ redisUrl: redisServer.url, keys, agentIds, concurrency: 50, runningReportDelayMillis, doneCheckOnFirstDelivery, startOnFetch, onFetched: (runId, at, active) => {
        fetchedAt.set(runId, at);
        activeAt.set(runId, active ?? Number.NaN);
      }, onStart: (runId, at) => started.set(runId, at) });
  } else {
    const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'placement-agents.ts'), [JSON.stringify({ redisUrl: redisServer.url, prefix: 'benchplace', agentIds, concurrency: 50, loopThresholdMillis, runningReportDelayMillis, doneCheckOnFirstDelivery, startOnFetch })]);
    agentsProcess = child;
    process.once('exit', () => child.kill());
    let reportCpu: (micros: number) => void = () => undefined;
    agentsCpuMicros = new Promise<number>((resolve) => {
      reportCpu = resolve;
    });
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the agents process exited with ${code} before it was ready`)));
      child.on('message', (message: { kind: string; runs?: Array<[string, number, number, number]>; cpuMicros?: number; stalls?: Stall[] }) => {
        if (message.kind === 'ready') resolve();
        if (message.kind === 'started')
          for (const [id, fetched, at, active] of message.runs ?? []) {
            started.set(id, at);
            fetchedAt.set(id, fetched);
            activeAt.set(id, active);
          }
        if (message.kind === 'stopped') {
          agentStalls = message.stalls ?? [];
          reportCpu(message.cpuMicros ?? Number.NaN);
        }
      });
    });
    child.removeAllListeners('exit');
    child.send({ kind: 'begin' });
  }
  if (backlog > 0) {
    // The backlog: submitted as fast as 32 clients can, then every task has looked once (and waits).
    const backlogBegan = Date.now();
    let submitted = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (submitted < backlog) {
          submitted += 1;
          await service.manager.submit({ playbook: 'noop', priority: backlogPriority, resources: { cpuCores: 0.01, memoryMb: 1 }, constraints: { pool: 'nowhere' } }, 'bench');
        }
      }),
    );
    const submittedSeconds = (Date.now() - backlogBegan) / 1000;
    const backlogDeadline = Date.now() + 600_000;
    while (looks.size < backlog && Date.now() < backlogDeadline) await new Promise((r) => setTimeout(r, 50));
    process.stdout.write(
      `backlog: ${backlog} tasks at priority ${backlogPriority} that no agent can take, submitted in ${submittedSeconds.toFixed(1)} s; ${looks.size} had looked once (waiting) after ${((Date.now() - backlogBegan) / 1000).toFixed(1)} s; ${await service.store.waitingCount()} in the waiting set\n`,
    );
  }
  const total = Number(flags.tasks);
  const placedAtSubmit = { placed: 0, queued: 0 };
  const submittedAt = new Map<string, number>();
  const enqueuedAt = new Map<string, number>();
  // CPU spent per task, by this process (scheduler, agents, clients) and by redis-server: unlike
  // the wall-clock figures it hardly depends on what else loads the machine.
  const redisCpuSeconds = async (): Promise<number> => {
    const info = await reporter.info('cpu');
    const field = (name: string): number => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? Number.NaN);
    return field('used_cpu_user') + field('used_cpu_sys');
  };
  // Calls and microseconds of redis-server time by command (a script's time includes the commands it calls, which are also counted on their own).
  const commandCounts = async (): Promise<Map<string, { calls: number; micros: number }>> =>
    new Map([...(await reporter.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)].map((m) => [m[1] as string, { calls: Number(m[2]), micros: Number(m[3]) }]));
  const commandsBefore = await commandCounts();
  // redis-server's own stalls: commands slower than redisSlowMicros, and forks (none expected: no RDB, no AOF).
  await reporter.config('SET', 'slowlog-log-slower-than', String(redisSlowMicros));
  await reporter.config('SET', 'slowlog-max-len', '10000');
  await reporter.slowlog('RESET');
  const forks = async (): Promise<number> => Number(/total_forks:(\d+)/.exec(await reporter.info('stats'))?.[1] ?? Number.NaN);
  const forksBefore = await forks();
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const schedulerWatch = watchStalls(loopThresholdMillis);
  const cpuBefore = process.cpuUsage();
  const redisCpuBefore = await redisCpuSeconds();
  const began = Date.now();
  // Submit from 32 concurrent clients, as API callers would; with --rate, paced to that many per second.
  const rate = flags.rate === undefined ? undefined : Number(flags.rate);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < total) {
        const index = next;
        next += 1;
        if (rate !== undefined) {
          const due = began + (index / rate) * 1000;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        }
        const at = Date.now();
        const record = await service.manager.submit({ playbook: 'noop', resources: { cpuCores: 0.01, memoryMb: 1 }, ...(failFirst ? { params: { benchFailAttempts: 1 }, retries: { attempts: 1, backoffSeconds: 0 } } : {}) }, 'bench');
        if (record.state === 'placed') placedAtSubmit.placed += 1;
        else placedAtSubmit.queued += 1;
        submittedAt.set(`${record.id}.a1`, at);
        enqueuedAt.set(`${record.id}.a1`, Date.now());
      }
    }),
  );
  const submitSeconds = (Date.now() - began) / 1000;
  const deadline = Date.now() + 120_000;
  const runsPerTask = failFirst ? 2 : 1;
  while (started.size < total * runsPerTask && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const warmupMillis = Number(flags.warmup) * 1000;
  if (!(warmupMillis >= 0)) throw new Error(`--warmup must be a number of seconds ≥ 0, got ${flags.warmup}`);
  const measuredFrom = began + warmupMillis;
  const measured = [...started].flatMap(([id, at]) => {
    const submitted = submittedAt.get(id);
    if (submitted === undefined || submitted < measuredFrom) return [];
    const stages: Stages = { submitted, placed: placedAt.get(id.replace(/\.a1$/, '')) ?? Number.NaN, enqueued: enqueuedAt.get(id) ?? Number.NaN, active: activeAt.get(id) ?? Number.NaN, fetched: fetchedAt.get(id) ?? Number.NaN, started: at };
    return [{ submitted, at, stages }];
  });
  const latencies = measured.map((m) => m.at - m.submitted).sort((a, b) => a - b);
  if (measured.length === 0) throw new Error(`--warmup ${flags.warmup} s leaves no submission to measure: the run submitted for ${((Date.now() - began) / 1000).toFixed(1)} s; give more --tasks or a shorter --warmup`);
  // First attempts only (with --fail-first the retries start later; their figures are printed apart).
  const firstStarts = [...started].filter(([id]) => id.endsWith('.a1')).map(([, at]) => at);
  const lastStart = Math.max(...firstStarts);
  const firstMeasured = measured.reduce((first, m) => Math.min(first, m.submitted), Number.POSITIVE_INFINITY);
  // CPU is counted until every run's result came back and its reservation was released.
  const held = async (): Promise<number> => [...(await service.ledger.byAgent(agentIds)).values()].reduce((sum, list) => sum + list.length, 0);
  while ((await held()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const cpu = process.cpuUsage(cpuBefore);
  const schedulerStalls = schedulerWatch.stop();
  agentsProcess?.send({ kind: 'stop' });
  const agentsMicrosPerTask = (await agentsCpuMicros) / total;
  const loadAfter = loadavg()[0] ?? Number.NaN;
  const slowlog = ((await reporter.slowlog('GET', 10_000)) as Array<[number, number, number, string[]]>).map(([, atSeconds, micros, args]) => ({ atMillis: atSeconds * 1000, micros, command: args.slice(0, 2).join(' ') }));
  const forksDuring = (await forks()) - forksBefore;
  const nodeMicrosPerTask = (cpu.user + cpu.system) / total;
  const redisMicrosPerTask = ((await redisCpuSeconds()) - redisCpuBefore) * 1e6 / total;
  const seconds = (lastStart - firstMeasured) / 1000;
  const warmupNote = warmupMillis > 0 ? ` (figures from the ${measured.length} submitted after a ${flags.warmup} s warm-up)` : '';
  process.stdout.write(
    `end to end: ${firstStarts.length}/${total} tasks started${warmupNote} on ${agentCount} idle agents in ${seconds.toFixed(2)} s = ${Math.round(measured.length / seconds)} tasks/s (submits alone ${Math.round(total / submitSeconds)}/s); submit-to-start p50 ${percentile(latencies, 0.5)} ms, p95 ${percentile(latencies, 0.95)} ms, p99 ${percentile(latencies, 0.99)} ms, max ${latencies[latencies.length - 1]} ms; placement concurrency ${flags.concurrency}${rate === undefined ? ', unpaced' : `, paced at ${rate}/s`}\n` +
      (agentsProcess === undefined
        ? `cpu per task (submit to release): node ${Math.round(nodeMicrosPerTask)} µs (scheduler, clients and agents on one event loop), redis-server ${Math.round(redisMicrosPerTask)} µs\n`
        : `cpu per task (submit to release): scheduler process ${Math.round(nodeMicrosPerTask)} µs (scheduler and clients), agents process ${Math.round(agentsMicrosPerTask)} µs, node total ${Math.round(nodeMicrosPerTask + agentsMicrosPerTask)} µs, redis-server ${Math.round(redisMicrosPerTask)} µs\n`),
  );
  process.stdout.write(
    stageReport(
      measured.map((m) => m.stages),
      { scheduler: schedulerStalls, agents: agentStalls, slowlog, forks: forksDuring, began, load: [loadBefore, loadAfter] },
      flags.timeline,
    ),
  );
  if (backlog > 0) process.stdout.write(sweepReport(looks, config.waitRetrySeconds * 1000, measured, placedAtSubmit, firstMeasured, lastStart));
  if (flags['redis-stats']) {
    const after = await commandCounts();
    const perTask = [...after].map(([name, { calls, micros }]) => [name, (calls - (commandsBefore.get(name)?.calls ?? 0)) / total, (micros - (commandsBefore.get(name)?.micros ?? 0)) / total] as const).filter(([, n]) => n >= 0.01);
    perTask.sort((a, b) => b[1] - a[1]);
    process.stdout.write(`redis commands per task: ${perTask.map(([name, n]) => `${name} ${n.toFixed(2)}`).join(', ')} (total ${perTask.reduce((s, [, n]) => s + n, 0).toFixed(1)})\n`);
    const byTime = [...perTask].sort((a, b) => b[2] - a[2]).filter(([, , micros]) => micros >= 0.5);
    process.stdout.write(`redis-server µs per task by command (a script includes what it calls): ${byTime.map(([name, , micros]) => `${name} ${micros.toFixed(1)}`).join(', ')}\n`);
  }
  if (failFirst) {
    // After every figure above (the reads below would count in the CPU and command figures); one more grid period
    // with a backlog, so that the sweeps the last retries met have all their looks.
    if (backlog > 0) await new Promise((r) => setTimeout(r, config.waitRetrySeconds * 1000));
    const measuredTasks = [...submittedAt].filter(([, at]) => at >= measuredFrom).map(([id]) => id.replace(/\.a1$/, ''));
    process.stdout.write(await retryReport({ service, reporter, keys, taskIds: measuredTasks, started, fetchedAt, retryPlacedAt, looks, retryMillis: config.waitRetrySeconds * 1000 }));
  }
  await stopInProcessAgents?.();
  if (agentsProcess !== undefined && agentsProcess.exitCode === null) await new Promise((r) => agentsProcess.once('exit', r));
  reporter.disconnect();
  await service.shutdown();
  server.close();
  await redisServer.stop();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The backlog's retry sweeps while the measured tasks ran: each look of a waiting task was due at the
 * grid instant its previous look set (the next multiple of the retry period after it, as TaskManager
 * sets it), so a sweep is the looks due at one instant and its duration the last one's delay (a sweep
 * longer than the period runs into the next: a task then looks less often than every period). Sweeps
 * due from the first measured submission to three periods before the last start count. And what the
 * measured tasks waited: all of them, and those submitted while a sweep ran.
 */
function sweepReport(
  looks: Map<string, number[]>,
  retryMillis: number,
  measured: Array<{ submitted: number; at: number }>,
  atSubmit: { placed: number; queued: number },
  fromMillis: number,
  toMillis: number,
): string {
  const sweeps = sweepsDue(looks, retryMillis, fromMillis, toMillis - 3 * retryMillis);
  const counts = [...sweeps.values()].map((l) => l.length).sort((a, b) => a - b);
  const all = [...sweeps];
  const durations = all.map(([, l]) => Math.max(...l)).sort((a, b) => a - b);
  const delays = all.flatMap(([, l]) => l).sort((a, b) => a - b);
  const busy = all.map(([due, l]) => [due, due + Math.max(...l)] as const);
  const during = measured.filter((m) => busy.some(([from, to]) => m.submitted >= from && m.submitted <= to)).map((m) => m.at - m.submitted);
  return (
    `retry sweeps (every waiting task looks again on a ${retryMillis} ms grid): ${all.length} sweeps while the measured tasks ran, looks per sweep${spread(counts)}; sweep duration (grid instant → last look)${spread(durations)} ms; delay of a look behind its grid instant${spread(delays)} ms\n` +
    `measured tasks: ${atSubmit.placed} placed at submit, ${atSubmit.queued} through the queue; submit-to-start of the ${during.length} submitted while a sweep ran${spread(during)} ms\n`
  );
}

/** The backlog's sweeps due from `fromMillis` to `toMillis`: by grid instant, each look's delay behind it (see {@link sweepReport}). */
function sweepsDue(looks: Map<string, number[]>, retryMillis: number, fromMillis: number, toMillis: number): Map<number, number[]> {
  const sweeps = new Map<number, number[]>();
  for (const times of looks.values()) {
    for (let i = 1; i < times.length; i += 1) {
      const at = times[i] as number;
      const due = (Math.floor((times[i - 1] as number) / retryMillis) + 1) * retryMillis;
      if (due < fromMillis || due > toMillis) continue;
      const list = sweeps.get(due);
      if (list === undefined) sweeps.set(due, [at - due]);
      else list.push(at - due);
    }
  }
  return sweeps;
}

interface RetrySources {
  service: TaskService;
  reporter: Redis;
  keys: RedisKeys;
  /** The measured tasks (submitted after the warm-up). */
  taskIds: string[];
  /** Run id → start, fetch by the agent's worker; task id → the retry's placement. */
  started: Map<string, number>;
  fetchedAt: Map<string, number>;
  retryPlacedAt: Map<string, number>;
  looks: Map<string, number[]>;
  retryMillis: number;
}

/**
 * The retries of --fail-first (attempt 2 of each measured task, placed through the `tasks` queue): the wait
 * from the failure recorded (attempt 1's `finishedAtMillis`: finishAttempt takes it, writes the record and
 * queues the placement job) to the retry's start, split at its placement (reported by the queue path once the
 * run is on its agent's queue) and its fetch by the agent; the results path before it (the agent's failed
 * report, `atMillis`, to the failure recorded); and, with a backlog, the waits of the retries recorded while a
 * sweep's looks were being worked off against the others.
 */
async function retryReport(o: RetrySources): Promise<string> {
  const reportedAt = new Map<string, number>();
  for (const [, fields] of await o.reporter.xrange(remediationResultsStream(o.keys), '-', '+')) {
    const report = JSON.parse(fields[fields.indexOf('data') + 1] ?? 'null') as { remediationId?: string; state?: string; atMillis?: number } | null;
    if (report?.state === 'failed' && report.remediationId !== undefined && report.atMillis !== undefined) reportedAt.set(report.remediationId, report.atMillis);
  }
  const records = await Promise.all(o.taskIds.map((id) => o.service.store.get(id)));
  const retries = records.flatMap((record) => {
    const first = record?.attempts[0];
    const started = o.started.get(`${record?.id ?? ''}.a2`);
    if (record === undefined || first === undefined || first.finishedAtMillis === null || started === undefined) return [];
    return [{ sent: reportedAt.get(first.runId) ?? Number.NaN, recorded: first.finishedAtMillis, placed: o.retryPlacedAt.get(record.id) ?? Number.NaN, fetched: o.fetchedAt.get(`${record.id}.a2`) ?? Number.NaN, started }];
  });
  const missing = o.taskIds.length - retries.length;
  const lines = [
    `retries (--fail-first: attempt 1 failed on its agent, attempt 2 placed through the tasks queue): ${retries.length} of ${o.taskIds.length} measured tasks${missing === 0 ? '' : ` (${missing} without a recorded failure and a started retry)`}; failure recorded → retry started${spreadP95(retries.map((r) => r.started - r.recorded))} ms`,
    `retry stages (ms): failure recorded → placed and queued on its agent${spreadP95(retries.map((r) => r.placed - r.recorded))}; placed → fetched${spreadP95(retries.map((r) => r.fetched - r.placed))}; fetched → started${spreadP95(retries.map((r) => r.started - r.fetched))}; before it, failed result reported → failure recorded (results stream)${spreadP95(retries.map((r) => r.recorded - r.sent))}; reported → retry started${spreadP95(retries.map((r) => r.started - r.sent))}`,
  ];
  if (o.looks.size > 0 && retries.length > 0) {
    const from = Math.min(...retries.map((r) => r.recorded)) - o.retryMillis;
    const to = Math.max(...retries.map((r) => r.started));
    const busy = [...sweepsDue(o.looks, o.retryMillis, from, to)].map(([due, delays]) => [due, due + Math.max(...delays)] as const);
    const inSweep = (at: number): boolean => busy.some(([start, end]) => at >= start && at <= end);
    const during = retries.filter((r) => inSweep(r.recorded)).map((r) => r.started - r.recorded);
    const outside = retries.filter((r) => !inSweep(r.recorded)).map((r) => r.started - r.recorded);
    lines.push(`retries whose failure was recorded while a sweep ran (grid instant → its last look): ${during.length}, failure recorded → retry started${spreadP95(during)} ms; the other ${outside.length}${spreadP95(outside)} ms`);
  }
  return `${lines.join('\n')}\n`;
}

/** ` p50 A p95 B p99 C max D` of a list of durations (ms). */
function spreadP95(values: number[]): string {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return ' (not seen)';
  return ` p50 ${percentile(sorted, 0.5)} p95 ${percentile(sorted, 0.95)} p99 ${percentile(sorted, 0.99)} max ${sorted[sorted.length - 1]}`;
}

/** ` p50 A p99 B max C` of a list of durations (ms). */
function spread(values: number[]): string {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return ' (not seen)';
  return ` p50 ${percentile(sorted, 0.5)} p99 ${percentile(sorted, 0.99)} max ${sorted[sorted.length - 1]}`;
}

interface StallSources {
  scheduler: Stall[];
  agents: Stall[];
  slowlog: Array<{ atMillis: number; micros: number; command: string }>;
  forks: number;
  began: number;
  load: [number, number];
}

function stallSummary(name: string, stalls: Stall[]): string {
  const gcs = stalls.filter((s) => s.kind === 'gc');
  const loops = stalls.filter((s) => s.kind === 'loop');
  const major = gcs.filter((s) => s.detail === 'major');
  const sum = (list: Stall[]): number => list.reduce((t, s) => t + s.millis, 0);
  const max = (list: Stall[]): number => list.reduce((m, s) => Math.max(m, s.millis), 0);
  return `${name}: GC ${gcs.length} (${sum(gcs).toFixed(0)} ms, longest ${max(gcs).toFixed(1)} ms; ${major.length} major, ${sum(major).toFixed(0)} ms), event-loop delays ≥ ${loopThresholdMillis} ms ${loops.length} (longest ${max(loops).toFixed(0)} ms)`;
}

/**
 * What the slowest 1 % of tasks (submit-to-start at or above the p99) share, each figure next to the same
 * figure over all measured tasks (a GC happens several times a second, so only the difference says something):
 * the median of each stage and the stage that took longest; how many overlapped (from submit to start) a GC or
 * an event-loop delay of either process, and the longest such stall; how they cluster in time (episodes: slow
 * tasks submitted within 100 ms of each other), as one stall makes one episode and a slow path makes many.
 */
function slowShare(stages: Stages[], sources: StallSources): string[] {
  const total = (s: Stages): number => s.started - s.submitted;
  const threshold = percentile(stages.map(total).sort((a, b) => a - b), 0.99);
  const slow = stages.filter((s) => total(s) >= threshold);
  if (slow.length === 0) return [];
  const names = ['submit→placed', 'placed→enqueued', 'enqueued→active', 'active→fetched', 'fetched→started'];
  const parts = (s: Stages): number[] => [s.placed - s.submitted, s.enqueued - s.placed, s.active - s.enqueued, s.fetched - s.active, s.started - s.fetched];
  const median = (values: number[]): number => percentile(values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b), 0.5);
  const medians = (list: Stages[]): string => names.map((name, i) => `${name} ${median(list.map((s) => parts(s)[i] as number))}`).join(', ');
  const longest = (list: Stages[]): string => {
    const counts = names.map(() => 0);
    for (const s of list) {
      const p = parts(s);
      const at = p.reduce((best, v, i) => (Number.isFinite(v) && v > (p[best] ?? Number.NEGATIVE_INFINITY) ? i : best), 0);
      counts[at] = (counts[at] ?? 0) + 1;
    }
    return names.map((name, i) => `${name} ${(((counts[i] ?? 0) / list.length) * 100).toFixed(0)} %`).join(', ');
  };
  const overlapping = (s: Stages, stalls: Stall[]): Stall[] => stalls.filter((st) => st.atMillis < s.started && st.atMillis + st.millis > s.submitted);
  const kinds: Array<[string, Stall[]]> = [
    ['scheduler GC', sources.scheduler.filter((st) => st.kind === 'gc')],
    ['scheduler major GC', sources.scheduler.filter((st) => st.kind === 'gc' && st.detail === 'major')],
    [`scheduler loop delay ≥ ${loopThresholdMillis} ms`, sources.scheduler.filter((st) => st.kind === 'loop')],
    ['agents GC', sources.agents.filter((st) => st.kind === 'gc')],
    ['agents major GC', sources.agents.filter((st) => st.kind === 'gc' && st.detail === 'major')],
    [`agents loop delay ≥ ${loopThresholdMillis} ms`, sources.agents.filter((st) => st.kind === 'loop')],
  ];
  const share = (list: Stages[], stalls: Stall[]): string => `${((list.filter((s) => overlapping(s, stalls).length > 0).length / list.length) * 100).toFixed(0)} %`;
  const longestStall = (list: Stages[], stalls: Stall[]): number => list.reduce((m, s) => Math.max(m, ...overlapping(s, stalls).map((st) => st.millis)), 0);
  const bySubmit = [...slow].sort((a, b) => a.submitted - b.submitted);
  const episodes: Stages[][] = [];
  for (const s of bySubmit) {
    const last = episodes[episodes.length - 1];
    const previous = last?.[last.length - 1];
    if (last !== undefined && previous !== undefined && s.submitted - previous.submitted <= 100) last.push(s);
    else episodes.push([s]);
  }
  const biggest = [...episodes].sort((a, b) => b.length - a.length).slice(0, 3);
  return [
    `slowest 1 % (${slow.length} tasks, total ≥ ${threshold} ms): stage medians (ms) ${medians(slow)} [all tasks: ${medians(stages)}]; longest stage ${longest(slow)} [all: ${longest(stages)}]`,
    `slowest 1 % overlapping (submit to start): ${kinds.map(([name, stalls]) => `${name} ${share(slow, stalls)} [all ${share(stages, stalls)}]${stalls.length === 0 ? '' : `, longest ${longestStall(slow, stalls).toFixed(1)} ms`}`).join('; ')}`,
    `slowest 1 % in time: ${episodes.length} episodes (slow tasks within 100 ms of each other); largest ${biggest.map((e) => `${e.length} tasks at s${((((e[0] as Stages).submitted - sources.began) / 1000)).toFixed(1)}–${((((e[e.length - 1] as Stages).submitted - sources.began) / 1000)).toFixed(1)}`).join(', ')}`,
  ];
}

/** Per-stage latency, the stalls of the run, and the seconds of the run (all, or the five worst by p99). */
function stageReport(stages: Stages[], sources: StallSources, everySecond: boolean): string {
  const lines = [
    `stages (ms): submit→placed${spread(stages.map((s) => s.placed - s.submitted))}; placed→enqueued${spread(stages.map((s) => s.enqueued - s.placed))}; enqueued→fetched${spread(stages.map((s) => s.fetched - s.enqueued))} (enqueued→active${spread(stages.map((s) => s.active - s.enqueued))}, active→fetched${spread(stages.map((s) => s.fetched - s.active))}); fetched→started${spread(stages.map((s) => s.started - s.fetched))}; total${spread(stages.map((s) => s.started - s.submitted))}`,
    `stalls: ${stallSummary('scheduler process', sources.scheduler)}; ${stallSummary('agents process', sources.agents)}; redis-server commands ≥ ${redisSlowMicros / 1000} ms ${sources.slowlog.length}${sources.slowlog.length === 0 ? '' : ` (longest ${(Math.max(...sources.slowlog.map((e) => e.micros)) / 1000).toFixed(1)} ms)`}, forks ${sources.forks}; load (1 min) ${sources.load[0].toFixed(1)} before, ${sources.load[1].toFixed(1)} after`,
    ...slowShare(stages, sources),
  ];
  const bySecond = new Map<number, Stages[]>();
  for (const s of stages) {
    const second = Math.floor((s.submitted - sources.began) / 1000);
    const list = bySecond.get(second);
    if (list === undefined) bySecond.set(second, [s]);
    else list.push(s);
  }
  const inSecond = <T extends { atMillis: number }>(list: T[], second: number): T[] => list.filter((x) => Math.floor((x.atMillis - sources.began) / 1000) === second);
  const describe = (stalls: Stall[]): string => {
    const gc = stalls.filter((s) => s.kind === 'gc');
    const loop = stalls.filter((s) => s.kind === 'loop');
    return `gc ${gc.reduce((t, s) => t + s.millis, 0).toFixed(0)} ms${gc.some((s) => s.detail === 'major') ? ' (major)' : ''}, loop max ${loop.reduce((m, s) => Math.max(m, s.millis), 0).toFixed(0)} ms`;
  };
  const rows = [...bySecond].map(([second, list]) => {
    const totals = list.map((s) => s.started - s.submitted).sort((a, b) => a - b);
    const slow = inSecond(sources.slowlog, second);
    return {
      second,
      p99: percentile(totals, 0.99),
      text: `  s${second}: n ${list.length}, total${spread(totals)}, enqueued→fetched p99 ${percentile(list.map((s) => s.fetched - s.enqueued).sort((a, b) => a - b), 0.99)}; scheduler ${describe(inSecond(sources.scheduler, second))}; agents ${describe(inSecond(sources.agents, second))}; redis slow ${slow.length}${slow.length === 0 ? '' : ` (${slow.map((e) => `${e.command} ${(e.micros / 1000).toFixed(1)} ms`).slice(0, 3).join(', ')})`}`,
    };
  });
  const shown = everySecond ? rows.sort((a, b) => a.second - b.second) : rows.sort((a, b) => b.p99 - a.p99).slice(0, 5);
  lines.push(everySecond ? 'every second (by submit time):' : 'the five worst seconds by p99 (by submit time):', ...shown.map((r) => r.text));
  return `${lines.join('\n')}\n`;
}

decisionCost();
await endToEnd();
