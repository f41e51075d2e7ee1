import type { Redis } from 'ioredis';
import { StreamConsumer, type Logger, type StreamEntry } from '@sloth/core';

/** Consumers idle this long with nothing pending are removed from the group. */
const idleConsumerMillis = 86_400_000;

export interface SamplesConsumerOptions {
  /** A connection of its own: XREADGROUP blocks it. */
  reader: Redis;
  /** The shared, non-blocking connection (XINFO, XGROUP DELCONSUMER). */
  writer: Redis;
  stream: string;
  group: string;
  consumer: string;
  logger: Logger;
  blockMillis: number;
  claimIdleMillis: number;
  claimIntervalMillis: number;
  /** 0 right after a shard takeover: the previous holder is gone, its pending entries are ours at once. */
  firstClaimIdleMillis?: number;
  /** Entries to ask for per read (the service aims at `batchSize` samples). */
  count: () => number;
  /**
   * Scores a batch. It acknowledges the entries itself, in one MULTI with the anomaly events they
   * produced; a batch it could not publish yet is retried by `beforeRead` before anything else is read.
   */
  process: (entries: readonly StreamEntry[]) => Promise<void>;
  /** Runs before every read: publishes what is unpublished, enqueues training. A throw backs the loop off. */
  beforeRead: () => Promise<void>;
  /** Runs every `claimIntervalMillis`, before the claim (the service refreshes its group metrics). */
  housekeeping?: () => Promise<void>;
  /** Entries claimed from dead consumers, for `/metrics`. */
  claimed: (count: number) => void;
}

/**
 * Reads one consumer group of `sloth:samples` (the deployment's group, or one shard of it) on
 * {@link StreamConsumer}: pending entries first, then new ones; entries dead consumers left are
 * claimed; a group lost in a Redis restart is recreated without skipping what was written since.
 * Consumers of the group idle for a day with nothing pending are forgotten (default consumer names
 * carry the pid, so every restart leaves one behind).
 */
export class SamplesConsumer {
  readonly group: string;
  private readonly options: SamplesConsumerOptions;
  private readonly consumer: StreamConsumer;
  private nextHousekeepingMillis = 0;

  constructor(options: SamplesConsumerOptions) {
    this.options = options;
    this.group = options.group;
    this.consumer = new StreamConsumer({
      redis: options.reader,
      streams: [options.stream],
      // '0': a new deployment also scores what is already in the stream.
      group: { name: options.group, consumer: options.consumer, createAt: '0' },
      handlerAcknowledges: true,
      logger: options.logger,
      count: options.count,
      blockMillis: options.blockMillis,
      claimIdleMillis: options.claimIdleMillis,
      claimIntervalMillis: options.claimIntervalMillis,
      ...(options.firstClaimIdleMillis === undefined ? {} : { firstClaimIdleMillis: options.firstClaimIdleMillis }),
      // Bad samples are counted and acknowledged by the scorer; a batch that throws is a scorer bug.
      deadLetterStream: `${options.stream}:dead`,
      maxBackoffMillis: 1_000,
      metrics: { claimed: (_stream, count) => options.claimed(count) },
      beforeRead: async () => await this.beforeRead(),
      handle: async (entries) => await options.process(entries),
    });
  }

  /** Counters of the underlying stream consumer (reads failed, groups recreated, …). */
  get counts(): StreamConsumer['counts'] {
    return this.consumer.counts;
  }

  /** Creates the group (MKSTREAM) when missing and starts reading. */
  async start(): Promise<void> {
    await this.consumer.start();
  }

  /** Stops after the batch in hand; cuts the connection after `waitMillis` (Redis gone). */
  async shutdown(waitMillis: number): Promise<void> {
    await this.consumer.shutdown(waitMillis);
  }

  private async beforeRead(): Promise<void> {
    await this.options.beforeRead();
    if (Date.now() < this.nextHousekeepingMillis) return;
    this.nextHousekeepingMillis = Date.now() + this.options.claimIntervalMillis;
    await this.options.housekeeping?.();
    await this.forgetIdleConsumers();
  }

  private async forgetIdleConsumers(): Promise<void> {
    const { writer, stream, group } = this.options;
    const consumers = (await writer.xinfo('CONSUMERS', stream, group)) as unknown[][];
    for (const entry of consumers) {
      const info = fieldsOf(entry);
      const name = String(info.name);
      if (name !== this.options.consumer && Number(info.pending) === 0 && Number(info.idle) > idleConsumerMillis) {
        await writer.xgroup('DELCONSUMER', stream, group, name);
        this.options.logger.info({ consumer: name }, 'removed a consumer idle for more than a day from the group');
      }
    }
  }
}

/**
 * Pending entries and backlog (entries not yet delivered; Redis ≥ 7) of the given groups of `stream`,
 * for `/metrics`. `backlog` is undefined when Redis cannot tell (entries were deleted).
 */
export async function readGroupInfo(writer: Redis, stream: string, groups: ReadonlySet<string>): Promise<{ pending: number; backlog: number | undefined }> {
  const replies = (await writer.xinfo('GROUPS', stream)) as unknown[][];
  let pending = 0;
  let backlog: number | undefined;
  for (const entry of replies) {
    const info = fieldsOf(entry);
    if (!groups.has(String(info.name))) continue;
    pending += Number(info.pending ?? 0);
    if (info.lag !== null && info.lag !== undefined) backlog = Math.max(backlog ?? 0, Number(info.lag));
  }
  return { pending, backlog };
}

function fieldsOf(entry: readonly unknown[]): Record<string, unknown> {
  const info: Record<string, unknown> = {};
  for (let i = 0; i + 1 < entry.length; i += 2) info[String(entry[i])] = entry[i + 1];
  return info;
}
