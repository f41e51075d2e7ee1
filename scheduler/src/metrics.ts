import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueNames, type Logger, type RedisKeys } from '@sloth/core';
import type { RemediationRecord } from './audit-store.js';

/** Queue states counted as depth: jobs not finished. */
const depthStates = ['wait', 'prioritized', 'delayed', 'active'] as const;
/** Past this many queues (one per agent) the rest are not counted: a scrape stays bounded. */
const maxQueues = 2_000;

/** The `outcome` label of a remediation in a final state, or undefined while it is still in progress. */
export function remediationOutcome(record: Pick<RemediationRecord, 'state' | 'error'>): string | undefined {
  switch (record.state) {
    case 'succeeded':
      return 'succeeded';
    case 'failed':
      // The engine's own timeout writes this error; an agent's failure never does.
      return record.error?.startsWith('SLOTH_ERR_UNREACHABLE: result timeout') === true ? 'timed_out' : 'failed';
    case 'rejected':
    case 'expired':
      return 'refused';
    case 'skipped_cooldown':
      return 'skipped';
    default:
      return undefined;
  }
}

/** Seconds from admission to the final state. */
export function remediationSeconds(record: Pick<RemediationRecord, 'createdAtMillis' | 'finishedAtMillis' | 'updatedAtMillis'>): number {
  return Math.max(0, ((record.finishedAtMillis ?? record.updatedAtMillis) - record.createdAtMillis) / 1000);
}

function isSchedulerQueue(name: string): boolean {
  return name === queueNames.tasks || name === queueNames.remediation || name === queueNames.scaling || name.startsWith('agent.');
}

export interface QueueDepthPollerOptions {
  /** Non-blocking connection shared with the caller. */
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  /** @defaultValue 5000 */
  intervalMillis?: number;
}

/**
 * Counts jobs in the scheduler's BullMQ queues on a timer (scrapes read the
 * last counts and never wait on Redis). Queues are found by their event
 * stream, so agent queues other schedulers created are counted too.
 */
export class QueueDepthPoller {
  private readonly options: QueueDepthPollerOptions;
  private readonly queues = new Map<string, Queue>();
  private depths: Array<{ queue: string; state: string; jobs: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(options: QueueDepthPollerOptions) {
    this.options = options;
  }

  /** The counts of the last poll. */
  get current(): ReadonlyArray<{ readonly queue: string; readonly state: string; readonly jobs: number }> {
    return this.depths;
  }

  start(): void {
    const kick = (): void => {
      this.polling ??= this.poll().finally(() => (this.polling = undefined));
    };
    kick();
    this.timer = setInterval(kick, this.options.intervalMillis ?? 5_000);
    this.timer.unref();
  }

  /** Reads every queue's counts now. */
  async poll(): Promise<void> {
    try {
      const names = await this.queueNames();
      const next: Array<{ queue: string; state: string; jobs: number }> = [];
      for (const name of names) {
        const counts = await this.queue(name).getJobCounts(...depthStates);
        for (const state of depthStates) next.push({ queue: name, state, jobs: counts[state] ?? 0 });
      }
      this.depths = next;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'cannot count the scheduler queues; the queue depth metric keeps the last counts');
    }
  }

  private async queueNames(): Promise<string[]> {
    const { redis, keys } = this.options;
    const prefix = `${keys.queuePrefix}:`;
    const names = new Set<string>([queueNames.tasks, queueNames.remediation, queueNames.scaling]);
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*:events`, 'COUNT', 1000);
      cursor = next;
      for (const key of found) {
        const name = key.slice(prefix.length, -':events'.length);
        if (!name.includes(':') && isSchedulerQueue(name) && names.size < maxQueues) names.add(name);
      }
    } while (cursor !== '0');
    return [...names].sort();
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (queue === undefined) {
      queue = new Queue(name, { connection: this.options.redis, prefix: this.options.keys.queuePrefix });
      queue.on('error', (error) => this.options.logger.debug({ err: error, queue: name }, 'queue depth poller: queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }

  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
