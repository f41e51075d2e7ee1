import type { Redis } from 'ioredis';
import {
  anomalyEventSchema,
  decodeJsonMessage,
  PoisonEntryError,
  slothEventSchema,
  StreamConsumer,
  type Logger,
  type RedisKeys,
  type StreamConsumerMetrics,
  type StreamEntry,
} from '@sloth/core';
import { streamIdMillis, triggerTarget, type Trigger, type TriggerEvent } from './trigger.js';

export interface TriggerConsumerOptions {
  /** A dedicated connection: XREADGROUP blocks it. */
  redis: Redis;
  keys: RedisKeys;
  group: string;
  consumer: string;
  logger: Logger;
  /** Handles one trigger; the entry is acknowledged only after it resolves. */
  handle: (trigger: Trigger) => Promise<void>;
  /** @defaultValue 1000 */
  blockMillis?: number;
  /** Entries pending on a dead consumer for this long are claimed. @defaultValue 30000 */
  claimIdleMillis?: number;
  /** Failures of one trigger (with back-off up to 5 s) before it is dead-lettered. @defaultValue 20 */
  maxAttempts?: number;
  metrics?: StreamConsumerMetrics;
}

/**
 * Reads `sloth:anomalies` and `sloth:events` with a consumer group, so several
 * schedulers share the load, and acknowledges an entry only after its
 * remediations are recorded and enqueued: a scheduler that dies mid-way leaves
 * the entry pending, and it is handled again (by this consumer on restart, or
 * claimed by another after `claimIdleMillis`). Handling is idempotent (a
 * trigger id maps to one record), so a redelivery does no harm. Malformed
 * entries go to the dead-letter stream `<prefix>:dead:scheduler-triggers`.
 */
export class TriggerConsumer {
  private readonly options: TriggerConsumerOptions;
  private readonly consumer: StreamConsumer;

  constructor(options: TriggerConsumerOptions) {
    this.options = options;
    this.consumer = new StreamConsumer({
      redis: options.redis,
      streams: [options.keys.anomalies, options.keys.events],
      // A new deployment acts on what happens from now on, not on old anomalies.
      group: { name: options.group, consumer: options.consumer, createAt: '$' },
      logger: options.logger,
      blockMillis: options.blockMillis ?? 1_000,
      claimIdleMillis: options.claimIdleMillis ?? 30_000,
      maxAttempts: options.maxAttempts ?? 20,
      deadLetterStream: deadLetterStream(options.keys),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      handle: async (entries, { stream }) => {
        for (const entry of entries) {
          const trigger = this.decode(stream, entry);
          if (trigger !== undefined) await options.handle(trigger);
        }
      },
    });
  }

  /** Counters of the underlying stream consumer (delivered, acknowledged, poisoned, …). */
  get counts(): StreamConsumer['counts'] {
    return this.consumer.counts;
  }

  async start(): Promise<void> {
    await this.consumer.start();
  }

  /** Stops reading; waits for the batch in hand (at most `waitMillis`, in case Redis is gone). */
  async shutdown(waitMillis = 5000): Promise<void> {
    await this.consumer.shutdown(waitMillis);
  }

  private decode(stream: string, [entryId, fields]: StreamEntry): Trigger | undefined {
    let event: TriggerEvent;
    try {
      event =
        stream === this.options.keys.anomalies
          ? { kind: 'anomaly', anomaly: decodeJsonMessage(fields, anomalyEventSchema) }
          : { kind: 'event', event: decodeJsonMessage(fields, slothEventSchema) };
    } catch (error) {
      throw new PoisonEntryError(`malformed ${stream} entry: ${(error as Error).message}`, { cause: error });
    }
    const agentId = triggerTarget(event);
    if (agentId === undefined) {
      this.options.logger.debug({ stream, entryId }, 'entry names no agent; nothing to remediate');
      return undefined;
    }
    return { id: `${stream}/${entryId}`, event, agentId, triggeredAtMillis: streamIdMillis(entryId) };
  }
}

/** Where triggers the scheduler gave up on are kept, with the reason. */
export function deadLetterStream(keys: RedisKeys): string {
  return keys.key('dead', 'scheduler-triggers');
}
