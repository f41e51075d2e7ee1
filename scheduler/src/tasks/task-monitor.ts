import type { Redis } from 'ioredis';
import { redactText, remediationReportSchema, remediationResultsStream, StreamConsumer, type Logger, type RedisKeys, type RemediationReport, type StreamEntry } from '@sloth/core';
import type { AgentInventory } from '../placement/inventory.js';
import type { TaskManager } from './task-manager.js';
import type { TaskStore } from './task-store.js';

export interface TaskMonitorOptions {
  /** A dedicated connection: the results consumer blocks it. */
  streamRedis: Redis;
  keys: RedisKeys;
  store: TaskStore;
  manager: TaskManager;
  inventory: AgentInventory;
  logger: Logger;
  /** Consumer group on the results stream shared by all schedulers. @defaultValue `scheduler-tasks` */
  group?: string;
  consumer: string;
  /** Time a run may take beyond its task timeout before it counts as timed out. @defaultValue 30000 */
  timeoutGraceMillis?: number;
  /** The scheduler's own secrets (API tokens, collector token, …): masked in run results like any secret-looking text. @defaultValue none */
  knownSecrets?: readonly string[];
  now?: () => number;
}

/** The run id of a task attempt (`task-….aN`) → its task id, or undefined for a remediation's id. */
export function taskIdOfRun(runId: string): string | undefined {
  const match = /^(task-[0-9a-f-]+)\.a\d+$/.exec(runId);
  return match?.[1];
}

/**
 * Follows what happens to placed tasks: run reports on the results stream
 * (the same stream remediation uses; a consumer group of its own so every
 * report is applied once across schedulers), runs that outlive their
 * timeout, and agents that go down with runs on them (re-queued elsewhere).
 */
export class TaskMonitor {
  private readonly options: TaskMonitorOptions;
  private readonly consumer: StreamConsumer;

  constructor(options: TaskMonitorOptions) {
    this.options = options;
    this.consumer = new StreamConsumer({
      redis: options.streamRedis,
      streams: [remediationResultsStream(options.keys)],
      group: { name: options.group ?? 'scheduler-tasks', consumer: options.consumer, createAt: '0' },
      handle: (entries) => this.handle(entries),
      logger: options.logger,
    });
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  async start(): Promise<void> {
    await this.consumer.start();
  }

  async shutdown(): Promise<void> {
    await this.consumer.shutdown();
  }

  private async handle(entries: readonly StreamEntry[]): Promise<void> {
    // Reports of one task are applied in order; different tasks' at once (each waits on Redis).
    const byTask = new Map<string, RemediationReport[]>();
    for (const [entryId, fields] of entries) {
      const index = fields.indexOf('data');
      const parsed = remediationReportSchema.safeParse((() => {
        try {
          return JSON.parse(fields[index + 1] ?? 'null');
        } catch {
          return undefined;
        }
      })());
      if (!parsed.success) {
        this.options.logger.warn({ entryId }, 'ignoring a malformed run report');
        continue;
      }
      const taskId = taskIdOfRun(parsed.data.remediationId);
      if (taskId === undefined) continue;
      const list = byTask.get(taskId);
      if (list === undefined) byTask.set(taskId, [parsed.data]);
      else list.push(parsed.data);
    }
    await Promise.all(
      [...byTask].map(async ([taskId, reports]) => {
        for (const [index, report] of reports.entries()) {
          // A run's `running` report with its result in the same batch (a short run) is applied with the
          // result, as one update of the record: its start time is kept and one write is saved.
          if (report.state === 'running' && reports.some((later, i) => i > index && later.remediationId === report.remediationId && later.state !== 'running')) continue;
          const startedAtMillis = report.state === 'running' ? undefined : reports.find((earlier) => earlier.remediationId === report.remediationId && earlier.state === 'running')?.atMillis;
          await this.apply(taskId, report, startedAtMillis);
        }
      }),
    );
  }

  private async apply(taskId: string, report: RemediationReport, startedAtMillis?: number): Promise<void> {
    if (report.state === 'running') {
      await this.options.store.update(taskId, (r) => {
        const attempt = r.attempts.find((a) => a.runId === report.remediationId);
        if (attempt === undefined || attempt.outcome !== null) return false;
        if (attempt.startedAtMillis !== null) {
          if (report.atMillis <= attempt.startedAtMillis) return false; // the same start, reported again
          // Started again: the queue handed the run over a second time (its agent, or Redis, restarted mid-run).
          attempt.redeliveries = (attempt.redeliveries ?? 0) + 1;
          r.reason = `attempt ${attempt.attempt} started again on ${attempt.agentId} (redelivered after its agent or Redis restarted mid-run: what it runs may have run more than once)`;
          r.updatedAtMillis = this.now();
          return;
        }
        attempt.startedAtMillis = report.atMillis;
        if (r.state === 'placed') r.state = 'running';
        r.updatedAtMillis = this.now();
      });
    } else {
      // A command's result carries the end of its output, which may print a secret: what is stored (and
      // shown to every holder of a read token, and in reports) is masked.
      const message = redactText(report.error ?? report.message ?? (report.ok === true ? 'ok' : 'not ok'), { knownSecrets: this.options.knownSecrets ?? [] });
      await this.options.manager.finishAttempt(taskId, report.remediationId, report.state === 'succeeded' && report.ok !== false ? 'succeeded' : 'failed', message, startedAtMillis);
    }
  }

  /** Re-queues runs on agents that went down and times out runs past their deadline. */
  async check(): Promise<{ requeued: number; timedOut: number }> {
    const runs = await this.options.store.active();
    if (runs.length === 0) return { requeued: 0, timedOut: 0 };
    await this.options.inventory.agents();
    let requeued = 0;
    let timedOut = 0;
    const nowMillis = this.now();
    const grace = this.options.timeoutGraceMillis ?? 30_000;
    // The index says where each run is and when it times out: only those on a down agent or past their deadline are read.
    const suspect = runs.filter((run) => this.options.inventory.get(run.agentId)?.up === false || nowMillis > run.deadlineMillis + grace);
    for (const { taskId: id } of suspect) {
      const record = await this.options.store.get(id);
      const attempt = record?.attempts.find((a) => a.outcome === null);
      if (record === undefined || attempt === undefined) continue;
      const agent = this.options.inventory.get(attempt.agentId);
      if (agent !== undefined && !agent.up) {
        // The run may be lost with its agent: take its job back if it never started, and place it elsewhere.
        await this.options.manager.agentQueue(attempt.agentId).remove(attempt.runId).catch(() => 0);
        if ((await this.options.manager.finishAttempt(id, attempt.runId, 'agent-down', `agent ${attempt.agentId} is down`)) !== undefined) requeued += 1;
        continue;
      }
      const deadline = (attempt.startedAtMillis ?? attempt.placedAtMillis) + record.spec.timeoutSeconds * 1000 + grace;
      if (nowMillis > deadline) {
        await this.options.manager.agentQueue(attempt.agentId).remove(attempt.runId).catch(() => 0);
        if ((await this.options.manager.finishAttempt(id, attempt.runId, 'timed-out', `no result within ${record.spec.timeoutSeconds} s`)) !== undefined) timedOut += 1;
      }
    }
    return { requeued, timedOut };
  }
}
