import type { Redis } from 'ioredis';
import { anomalyEventSchema, decodeJsonMessage, slothEventSchema, type Logger, type RedisKeys } from '@sloth/core';
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
}

type StreamReply = Array<[string, Array<[string, string[]]>]> | null;

/**
 * Reads `sloth:anomalies` and `sloth:events` with a consumer group, so several
 * schedulers share the load, and acknowledges an entry only after its
 * remediations are recorded and enqueued: a scheduler that dies mid-way leaves
 * the entry pending, and it is handled again (by this consumer on restart, or
 * claimed by another after `claimIdleMillis`).
 */
export class TriggerConsumer {
  private readonly options: TriggerConsumerOptions;
  private readonly streams: string[];
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(options: TriggerConsumerOptions) {
    this.options = options;
    this.streams = [options.keys.anomalies, options.keys.events];
  }

  async start(): Promise<void> {
    for (const stream of this.streams) {
      try {
        await this.options.redis.xgroup('CREATE', stream, this.options.group, '$', 'MKSTREAM');
      } catch (error) {
        if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
      }
    }
    this.running = true;
    // Our own pending entries first: a restart resumes what was not acknowledged.
    await this.drainPending();
    this.loop = this.run();
  }

  /** Stops reading; waits for the batch in hand (at most `waitMillis`, in case Redis is gone). */
  async shutdown(waitMillis = 5000): Promise<void> {
    this.running = false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise<void>((r) => (timer = setTimeout(r, waitMillis)))]);
    clearTimeout(timer);
  }

  private async run(): Promise<void> {
    let lastClaimMillis = Date.now();
    while (this.running) {
      try {
        const reply = (await this.options.redis.xreadgroup(
          'GROUP',
          this.options.group,
          this.options.consumer,
          'COUNT',
          100,
          'BLOCK',
          this.options.blockMillis ?? 1000,
          'STREAMS',
          ...this.streams,
          ...this.streams.map(() => '>'),
        )) as StreamReply;
        if (reply !== null) await this.process(reply);
        if (Date.now() - lastClaimMillis > (this.options.claimIdleMillis ?? 30_000) / 2) {
          lastClaimMillis = Date.now();
          await this.claimAbandoned();
        }
      } catch (error) {
        if (!this.running) return;
        this.options.logger.warn({ err: error }, 'reading triggers failed; retrying in 1 s');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async drainPending(): Promise<void> {
    for (;;) {
      const reply = (await this.options.redis.xreadgroup(
        'GROUP',
        this.options.group,
        this.options.consumer,
        'COUNT',
        100,
        'STREAMS',
        ...this.streams,
        ...this.streams.map(() => '0'),
      )) as StreamReply;
      const entries = (reply ?? []).reduce((n, [, list]) => n + list.length, 0);
      if (entries === 0) return;
      await this.process(reply);
      if (entries < 100) return;
    }
  }

  private async claimAbandoned(): Promise<void> {
    for (const stream of this.streams) {
      const reply = (await this.options.redis.xautoclaim(stream, this.options.group, this.options.consumer, this.options.claimIdleMillis ?? 30_000, '0', 'COUNT', 100)) as [
        string,
        Array<[string, string[]] | null>,
      ];
      const entries = reply[1].filter((e): e is [string, string[]] => e !== null && Array.isArray(e[1]));
      if (entries.length > 0) await this.process([[stream, entries]]);
    }
  }

  private async process(reply: StreamReply): Promise<void> {
    for (const [stream, entries] of reply ?? []) {
      for (const [entryId, fields] of entries) {
        const trigger = this.decode(stream, entryId, fields);
        if (trigger !== undefined) {
          try {
            await this.options.handle(trigger);
          } catch (error) {
            // Left unacknowledged: handled again on restart or by another scheduler.
            this.options.logger.error({ err: error, stream, entryId }, 'handling a trigger failed; it stays pending');
            continue;
          }
        }
        await this.options.redis.xack(stream, this.options.group, entryId);
      }
    }
  }

  private decode(stream: string, entryId: string, fields: readonly string[]): Trigger | undefined {
    let event: TriggerEvent;
    try {
      event =
        stream === this.options.keys.anomalies
          ? { kind: 'anomaly', anomaly: decodeJsonMessage(fields, anomalyEventSchema) }
          : { kind: 'event', event: decodeJsonMessage(fields, slothEventSchema) };
    } catch (error) {
      this.options.logger.warn({ stream, entryId, problem: (error as Error).message }, 'ignoring a malformed stream entry');
      return undefined;
    }
    const agentId = triggerTarget(event);
    if (agentId === undefined) {
      this.options.logger.debug({ stream, entryId }, 'entry names no agent; nothing to remediate');
      return undefined;
    }
    return { id: `${stream}/${entryId}`, event, agentId, triggeredAtMillis: streamIdMillis(entryId) };
  }
}
