import type { Logger } from '@sloth/core';
import { DiskSpool, type SpoolFile } from './disk-spool.js';
import type { SendResult } from './export-result.js';
import type { Signal } from './otlp-transport.js';

/** Anything that can send one encoded OTLP request (the real transport, or a test's). */
export interface BatchTransport {
  send(signal: Signal, body: Uint8Array): Promise<SendResult>;
}

export interface DurableSenderOptions {
  readonly transport: BatchTransport;
  /** Directory of the disk spool. */
  readonly spoolDir: string;
  /** Upper bound of spooled bytes; the oldest batches are dropped beyond it. @defaultValue 256 MiB */
  readonly maxSpoolBytes?: number;
  /** First retry delay when the collector gives no `Retry-After`. @defaultValue 500 */
  readonly minBackoffMillis?: number;
  /** @defaultValue 10000 */
  readonly maxBackoffMillis?: number;
  /** A `Retry-After` longer than this is capped. @defaultValue 300000 */
  readonly maxRetryAfterMillis?: number;
  readonly logger: Logger;
}

/** Counters of the sender, read by the agent's self-metrics. */
export interface DurableSenderStats {
  sentBatches: number;
  /** Batches waiting (in memory or on disk). */
  queuedBatches: number;
  queuedBytes: number;
  /** Batches written to the disk spool since start. */
  spooledBatches: number;
  /** Oldest batches dropped because the spool was full. */
  droppedBatches: number;
  droppedBytes: number;
  /** Batches the collector refused for good (400, 401, 413 …). */
  rejectedBatches: number;
  /** Retryable send attempts (collector down, 429/502/503/504). */
  retries: number;
}

interface Entry {
  readonly seq: number;
  readonly signal: Signal;
  readonly sizeBytes: number;
  /** Held in memory until persisted. */
  body: Uint8Array | undefined;
  file: SpoolFile | undefined;
  persisting: Promise<void> | undefined;
  removed: boolean;
}

/**
 * Sends OTLP batches in order and never loses one to a collector outage:
 * the batch at the head is sent straight from memory when the collector is
 * up; everything queued behind a pending batch goes to a bounded disk spool
 * and is replayed in order when the collector answers again. Retryable
 * answers honour `Retry-After`; refusals are logged with the collector's
 * reason and dropped, so one bad batch never blocks the queue.
 */
export class DurableSender {
  private readonly spool: DiskSpool;
  private readonly transport: BatchTransport;
  private readonly logger: Logger;
  private readonly maxSpoolBytes: number;
  private readonly minBackoffMillis: number;
  private readonly maxBackoffMillis: number;
  private readonly maxRetryAfterMillis: number;
  private readonly queue: Entry[] = [];
  private nextSeq = 1;
  private pumping: Promise<void> | undefined;
  private stopped = true;
  private collectorDown = false;
  private attempt = 0;
  private wake: (() => void) | undefined;
  private waitTimer: NodeJS.Timeout | undefined;
  readonly stats: DurableSenderStats = {
    sentBatches: 0,
    queuedBatches: 0,
    queuedBytes: 0,
    spooledBatches: 0,
    droppedBatches: 0,
    droppedBytes: 0,
    rejectedBatches: 0,
    retries: 0,
  };

  constructor(options: DurableSenderOptions) {
    this.transport = options.transport;
    this.spool = new DiskSpool(options.spoolDir, options.logger);
    this.logger = options.logger;
    this.maxSpoolBytes = options.maxSpoolBytes ?? 256 * 1024 * 1024;
    this.minBackoffMillis = options.minBackoffMillis ?? 500;
    this.maxBackoffMillis = options.maxBackoffMillis ?? 10_000;
    this.maxRetryAfterMillis = options.maxRetryAfterMillis ?? 300_000;
  }

  /** Loads what a previous run left in the spool and starts replaying it. */
  async start(): Promise<void> {
    const files = await this.spool.open();
    for (const file of files) {
      this.queue.push({ seq: file.seq, signal: file.signal, sizeBytes: file.sizeBytes, body: undefined, file, persisting: undefined, removed: false });
      this.nextSeq = Math.max(this.nextSeq, file.seq + 1);
    }
    this.nextSeq = Math.max(this.nextSeq, this.spool.highestSeq + 1);
    this.updateQueueStats();
    if (files.length > 0) this.logger.info({ batches: files.length, bytes: this.stats.queuedBytes }, 'replaying export batches spooled by a previous run');
    this.stopped = false;
    this.kick();
  }

  /** Accepts a batch; it is sent (or spooled) in the order of calls. */
  enqueue(signal: Signal, body: Uint8Array): void {
    const entry: Entry = { seq: this.nextSeq++, signal, sizeBytes: body.byteLength, body, file: undefined, persisting: undefined, removed: false };
    const behindOthers = this.queue.length > 0;
    this.queue.push(entry);
    if (behindOthers || this.stopped) this.persist(entry);
    this.enforceBound();
    this.updateQueueStats();
    this.kick();
  }

  /** Resolves when the queue is empty or `timeoutMillis` passed; true if empty. */
  async drain(timeoutMillis: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMillis;
    while (this.queue.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.queue.length === 0;
  }

  /** Stops sending; batches not yet delivered stay on disk for the next start. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    this.interruptWait();
    await this.pumping;
    for (const entry of this.queue) this.persist(entry);
    await Promise.all(this.queue.map(async (e) => await e.persisting));
  }

  private kick(): void {
    if (this.stopped || this.pumping !== undefined) return;
    this.pumping = this.pump()
      .catch((error: unknown) => this.logger.error({ err: error }, 'export queue stopped by an unexpected error'))
      .finally(() => {
        this.pumping = undefined;
        if (!this.stopped && this.queue.length > 0) this.kick();
      });
  }

  private async pump(): Promise<void> {
    while (!this.stopped && this.queue.length > 0) {
      const entry = this.queue[0]!;
      let body = entry.body;
      if (body === undefined) {
        await entry.persisting;
        try {
          body = await this.spool.read(entry.file!);
        } catch (error) {
          // Skipped, never retried: an unreadable entry must not stall the batches behind it.
          this.logger.warn({ err: error, seq: entry.seq, path: entry.file?.path }, 'cannot read a spooled export batch; skipping it');
          this.remove(entry);
          continue;
        }
      }
      const result = await this.transport.send(entry.signal, body);
      if (entry.removed) continue; // dropped by the spool bound while in flight
      switch (result.kind) {
        case 'success':
          this.stats.sentBatches += 1;
          this.remove(entry);
          if (this.collectorDown) {
            this.collectorDown = false;
            this.logger.info({ queuedBatches: this.queue.length }, 'collector reachable again; replaying spooled batches in order');
          }
          this.attempt = 0;
          break;
        case 'failure':
          this.stats.rejectedBatches += 1;
          this.logger.error(
            { status: result.status, reason: result.reason, signal: entry.signal, bytes: entry.sizeBytes },
            `collector refused an export batch (HTTP ${result.status}: ${result.reason}); dropping it`,
          );
          this.remove(entry);
          this.attempt = 0;
          break;
        case 'retryable': {
          this.stats.retries += 1;
          this.persist(entry);
          const delayMillis =
            result.retryAfterMillis !== undefined
              ? Math.min(result.retryAfterMillis, this.maxRetryAfterMillis)
              : Math.min(this.maxBackoffMillis, this.minBackoffMillis * 2 ** Math.min(this.attempt, 20));
          this.attempt += 1;
          if (!this.collectorDown) {
            this.collectorDown = true;
            this.logger.warn({ reason: result.reason, retryInMillis: delayMillis }, 'collector unavailable; spooling export batches to disk');
          }
          await this.wait(delayMillis);
          break;
        }
      }
      this.updateQueueStats();
    }
  }

  private persist(entry: Entry): void {
    if (entry.file !== undefined || entry.persisting !== undefined || entry.body === undefined) return;
    const body = entry.body;
    entry.persisting = this.spool.write(entry.seq, entry.signal, body).then(
      async (file) => {
        entry.file = file;
        if (entry.removed) {
          await this.spool.remove(file);
          return;
        }
        entry.body = undefined;
        this.stats.spooledBatches += 1;
      },
      (error: unknown) => {
        // Keep it in memory: still sent in order, only not crash-safe.
        this.logger.error({ err: error, seq: entry.seq }, 'cannot write an export batch to the spool; keeping it in memory');
      },
    );
  }

  private remove(entry: Entry): void {
    entry.removed = true;
    const index = this.queue.indexOf(entry);
    if (index >= 0) this.queue.splice(index, 1);
    const file = entry.file;
    if (file !== undefined) {
      this.spool.remove(file).catch((error: unknown) => this.logger.warn({ err: error, path: file.path }, 'cannot delete a sent spool file'));
    }
    entry.body = undefined;
    this.updateQueueStats();
  }

  private enforceBound(): void {
    let total = this.queue.reduce((sum, e) => sum + e.sizeBytes, 0);
    while (total > this.maxSpoolBytes && this.queue.length > 1) {
      const oldest = this.queue[0]!;
      total -= oldest.sizeBytes;
      this.stats.droppedBatches += 1;
      this.stats.droppedBytes += oldest.sizeBytes;
      this.remove(oldest);
      this.logger.warn(
        { seq: oldest.seq, signal: oldest.signal, bytes: oldest.sizeBytes, droppedBatches: this.stats.droppedBatches, maxSpoolBytes: this.maxSpoolBytes },
        'export spool full: dropped the oldest batch',
      );
    }
  }

  private updateQueueStats(): void {
    this.stats.queuedBatches = this.queue.length;
    this.stats.queuedBytes = this.queue.reduce((sum, e) => sum + e.sizeBytes, 0);
  }

  private async wait(millis: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      this.waitTimer = setTimeout(resolve, millis);
    });
    this.wake = undefined;
    this.waitTimer = undefined;
  }

  private interruptWait(): void {
    if (this.waitTimer !== undefined) clearTimeout(this.waitTimer);
    this.wake?.();
  }
}
