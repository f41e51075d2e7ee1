import type { Redis } from 'ioredis';
import {
  PoisonEntryError,
  remediationReportSchema,
  remediationResultsStream,
  StreamConsumer,
  type Logger,
  type RedisKeys,
  type RemediationReport,
  type StreamEntry,
} from '@sloth/core';
import type { AuditStore } from './audit-store.js';

export interface ResultsConsumerOptions {
  /** A dedicated connection: XREAD blocks it. */
  redis: Redis;
  keys: RedisKeys;
  store: AuditStore;
  logger: Logger;
  apply: (report: RemediationReport) => Promise<boolean>;
  /** @defaultValue 1000 */
  blockMillis?: number;
  /** Failures of one report (with back-off up to 5 s) before it is skipped. @defaultValue 20 */
  maxAttempts?: number;
}

const cursorKey = 'results_stream_cursor';

/**
 * Follows the stream agents report progress and results on. Every scheduler
 * reads the whole stream (XREAD, no group) and applies what concerns its own
 * records; its position is kept in the audit store, so results that arrive
 * while it is down are applied when it comes back.
 */
export class ResultsConsumer {
  private readonly options: ResultsConsumerOptions;
  private readonly consumer: StreamConsumer;

  constructor(options: ResultsConsumerOptions) {
    this.options = options;
    const stream = remediationResultsStream(options.keys);
    this.consumer = new StreamConsumer({
      redis: options.redis,
      streams: [stream],
      cursor: {
        load: () => options.store.getMeta(cursorKey) ?? '0',
        save: (_stream, id) => options.store.setMeta(cursorKey, id),
      },
      count: 500,
      blockMillis: options.blockMillis ?? 1_000,
      maxAttempts: options.maxAttempts ?? 20,
      logger: options.logger,
      handle: async (entries) => {
        for (const entry of entries) await this.handle(entry);
      },
    });
  }

  /** Counters of the underlying stream consumer. */
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

  private async handle([entryId, fields]: StreamEntry): Promise<void> {
    const index = fields.indexOf('data');
    let report: RemediationReport;
    try {
      report = remediationReportSchema.parse(JSON.parse(fields[index + 1] ?? ''));
    } catch (error) {
      throw new PoisonEntryError(`malformed remediation report ${entryId}: ${(error as Error).message}`, { cause: error });
    }
    await this.options.apply(report);
  }
}
