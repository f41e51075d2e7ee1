/**
 * The real `sloth up` (the built CLI) as a child process for the live benchmarks: its own
 * redis-server on a free port, temp dirs, every port free, the local agent at a given interval,
 * the shipped playbooks in dry-run. Incident transitions are read back from `sloth:anomalies`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { anomalyEventSchema, decodeJsonMessage, redisKeys, RedisServer, sleep, type AnomalyEvent } from '@sloth/core';
import { Redis } from 'ioredis';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const prefix = 'live';

export class SlothUp {
  private constructor(
    private readonly dir: string,
    private readonly redisServer: RedisServer,
    private readonly child: ChildProcess,
    private readonly client: Redis,
    /** Wall time `sloth up` said it was running. */
    readonly startedMillis: number,
    readonly agentId: string,
    /** Base URL of the scheduler API (remediations). */
    readonly schedulerUrl: string | undefined,
  ) {}

  /** The `sloth up` process (every role runs in it). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(options: { intervalSeconds: number }): Promise<SlothUp> {
    const dir = mkdtempSync(join(tmpdir(), 'sloth-bench-up-'));
    const redisServer = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, 'cli', 'dist', 'src', 'main.js'),
        'up',
        '--data-dir', join(dir, 'data'),
        '--redis-url', redisServer.url,
        '--redis-prefix', prefix,
        '--insecure-no-auth',
        '--collector-port', '0',
        '--metrics-port', '0',
        '--scheduler-port', '0',
        '--agent-metrics-port', '0',
        '--analytics-metrics-port', '0',
        '--interval', String(options.intervalSeconds),
        '--playbooks', join(repoRoot, 'playbooks'),
        '--dry-run',
        '--log-level', 'error',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'], detached: false },
    );
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    for (let i = 0; i < 1200; i += 1) {
      const match = /agent\s+(\S+) every/.exec(stdout);
      if (match !== null) {
        const client = new Redis(redisServer.url);
        const scheduler = /scheduler\s+(http:\/\/\S+?)\/api\/v1\/remediations/.exec(stdout)?.[1];
        return new SlothUp(dir, redisServer, child, client, Date.now(), match[1] as string, scheduler);
      }
      if (child.exitCode !== null || child.signalCode !== null) break;
      await sleep(100);
    }
    child.kill('SIGKILL');
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`sloth up did not start within 120 s: ${stdout}`);
  }

  /** Every incident transition published so far. */
  async transitions(): Promise<AnomalyEvent[]> {
    const entries = await this.client.xrange(redisKeys(prefix).anomalies, '-', '+');
    return entries.map(([, fields]) => decodeJsonMessage(fields, anomalyEventSchema));
  }

  /**
   * SIGTERM (what Ctrl-C does), then SIGKILL after 30 s; then the Redis server and the temp dirs go
 * (the `sloth up` data dir is first copied to `keepDataIn` when given).
   * Returns the transitions `sloth up` published from the SIGTERM on (its roles' shutdown should raise
   * none), or null when they could not be read.
   */
  async stop(options: { keepDataIn?: string } = {}): Promise<AnomalyEvent[] | null> {
    let duringShutdown: AnomalyEvent[] | null = null;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const before = await this.transitions().catch(() => null);
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
      const after = await this.transitions().catch(() => null);
      if (before !== null && after !== null) duringShutdown = after.slice(before.length);
    }
    this.client.disconnect();
    await this.redisServer.stop();
    // The collector's store holds every raw series of the run: kept on request for offline replays.
    if (options.keepDataIn !== undefined) cpSync(join(this.dir, 'data'), options.keepDataIn, { recursive: true });
    rmSync(this.dir, { recursive: true, force: true });
    return duringShutdown;
  }
}

/** When an incident opened (its first anomalous sample). */
export function openedAt(event: AnomalyEvent): number {
  return event.firstSeenMillis ?? event.timestampMillis;
}

/**
 * What idle.js and recorded.js print of a run's transitions: incidents opened from `countedFromMillis`
 * on, per host-hour, each listed as a human reads it (minutes from `startMillis`).
 */
export function incidentSummary(events: readonly AnomalyEvent[], options: { startMillis: number; countedFromMillis: number; hostHours: number }) {
  const opens = events.filter((e) => e.state === 'open');
  const counted = opens.filter((e) => openedAt(e) >= options.countedFromMillis);
  return {
    transitions: events.length,
    opensDuringWarmup: opens.length - counted.length,
    incidentsAfterWarmup: counted.length,
    incidentsPerHostHour: Number((counted.length / options.hostHours).toFixed(2)),
    // Correlated incidents (analytics incidentGroupMillis): what a human has to look at.
    groupsAfterWarmup: new Set(counted.map((e) => e.groupId ?? e.incidentId)).size,
    incidents: counted.map((e) => ({
      atMinute: Number(((openedAt(e) - options.startMillis) / 60_000).toFixed(1)),
      metric: e.metric,
      seriesId: e.seriesId,
      score: Number(e.score.toFixed(3)),
      direction: e.direction,
      cause: e.cause,
      groupId: e.groupId,
      value: e.value,
      expected: [e.expectedLow, e.expectedHigh],
    })),
  };
}

