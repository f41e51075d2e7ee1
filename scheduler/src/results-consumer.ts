import type { Redis } from 'ioredis';
import { remediationReportSchema, remediationResultsStream, type Logger, type RedisKeys, type RemediationReport } from '@sloth/core';
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
}

const cursorKey = 'results_stream_cursor';

/**
 * Follows the stream agents report progress and results on. Every scheduler
 * reads the whole stream (plain XREAD) and applies what concerns its own
 * records; its position is kept in the audit store, so results that arrive
 * while it is down are applied when it comes back.
 */
export class ResultsConsumer {
  private readonly options: ResultsConsumerOptions;
  private readonly stream: string;
  private running = false;
  private loop: Promise<void> | undefined;
  private cursor: string;

  constructor(options: ResultsConsumerOptions) {
    this.options = options;
    this.stream = remediationResultsStream(options.keys);
    this.cursor = options.store.getMeta(cursorKey) ?? '0';
  }

  start(): void {
    this.running = true;
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
    while (this.running) {
      try {
        const reply = (await this.options.redis.xread('COUNT', 500, 'BLOCK', this.options.blockMillis ?? 1000, 'STREAMS', this.stream, this.cursor));
        for (const [, entries] of reply ?? []) {
          for (const [entryId, fields] of entries) {
            await this.handle(entryId, fields);
            this.cursor = entryId;
          }
          this.options.store.setMeta(cursorKey, this.cursor);
        }
      } catch (error) {
        if (!this.running) return;
        this.options.logger.warn({ err: error }, 'reading remediation results failed; retrying in 1 s');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async handle(entryId: string, fields: readonly string[]): Promise<void> {
    const index = fields.indexOf('data');
    let report: RemediationReport;
    try {
      report = remediationReportSchema.parse(JSON.parse(fields[index + 1] ?? ''));
    } catch (error) {
      this.options.logger.warn({ entryId, problem: (error as Error).message }, 'ignoring a malformed remediation report');
      return;
    }
    await this.options.apply(report);
  }
}
