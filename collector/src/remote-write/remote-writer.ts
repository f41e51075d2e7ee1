import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redactUrl, type Logger } from '@sloth/core';
import type { IngestBatch, MetricColumns } from '../records.js';
import { ThreadEndpoint } from './thread-endpoint.js';
import { TimeSeriesBuilder } from './timeseries.js';
import { WalTail } from './wal-tail.js';

/** Where a remote writer reads accepted requests: the collector's write-ahead log. */
export interface RemoteWriteSource {
  readonly walDir: string;
  durableSeq(): number;
  decodeEntry(payload: Buffer): Promise<{ batch: IngestBatch; receivedAtMillis: number }>;
}

export interface RemoteQueueSettings {
  /** Samples per request (a request may carry one WAL entry more). @defaultValue 10,000 */
  readonly maxSamplesPerSend: number;
  /** Samples held in memory while the remote is slow; past it the writer reads them back from the WAL. @defaultValue 500,000 */
  readonly maxBufferedSamples: number;
  /** @defaultValue 100 */
  readonly minBackoffMillis: number;
  /** @defaultValue 5,000 */
  readonly maxBackoffMillis: number;
  /** @defaultValue 30,000 */
  readonly timeoutMillis: number;
}

export interface RemoteWriterOptions {
  /** Names the cursor file and the `remote` label of the metrics. */
  readonly name: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly queue: RemoteQueueSettings;
  readonly source: RemoteWriteSource;
  /** Directory of the cursor files. */
  readonly stateDir: string;
  readonly logger: Logger;
  readonly onDelivered: (samples: number) => void;
  readonly onFailure: (kind: 'retried' | 'dropped', samples: number) => void;
}

interface LiveEntry {
  readonly seq: number;
  readonly points: MetricColumns;
  readonly receivedAtMillis: number;
}

interface Batch {
  /** The encoded WriteRequest, not compressed: the sender thread compresses it. */
  readonly encoded: Uint8Array;
  readonly samples: number;
  readonly lastSeq: number;
  /** When its oldest point was accepted. */
  readonly oldestMillis: number | undefined;
}

/**
 * Forwards every accepted metric point to one Prometheus remote-write
 * endpoint, in WAL order, at least once. Its cursor (the last WAL sequence
 * number the remote took) is kept in a file, and the WAL keeps every entry
 * after it, so neither an outage of the remote nor a crash of the collector
 * loses an acknowledged point. While it keeps up it sends the points the
 * requests already decoded (`offer`); when it falls behind (an outage, a
 * restart) it reads and decodes the WAL from its cursor until it has caught up.
 * One request is in flight while the next one is built, so encoding and the
 * remote's own work overlap; requests still go out (and are acknowledged) in
 * order. Snappy and HTTP run in a sender thread: the main thread only encodes.
 */
export class RemoteWriter {
  readonly name: string;
  private readonly options: RemoteWriterOptions;
  private readonly endpoint: ThreadEndpoint;
  private readonly tail: WalTail;
  private readonly cursorFile: string;
  private cursor = 0;
  /** The last WAL sequence number in a batch built (delivered or in flight): the next batch starts after it. */
  private readSeq = 0;
  /** While live, requests durable after `liveFrom` are queued here instead of being read back from the WAL. */
  private live = false;
  private liveFrom = 0;
  private buffer: LiveEntry[] = [];
  private bufferedSamples = 0;
  /** When the oldest point not yet delivered was accepted; undefined when caught up. */
  private oldestPendingMillis: number | undefined;
  private wake: (() => void) | undefined;
  private readonly abort = new AbortController();
  private stopAtMillis: number | undefined;
  private loop: Promise<void> | undefined;
  /** Reused by every request: its buffers grow to the largest batch and stay. */
  private readonly builder = new TimeSeriesBuilder();

  constructor(options: RemoteWriterOptions) {
    this.options = options;
    this.name = options.name;
    this.endpoint = new ThreadEndpoint({ url: options.url, headers: options.headers, timeoutMillis: options.queue.timeoutMillis });
    this.tail = new WalTail(options.source.walDir);
    this.cursorFile = join(options.stateDir, `${options.name}.cursor`);
  }

  /** The last WAL sequence number delivered (or given up on): the WAL must keep every entry after it. */
  get deliveredSeq(): number {
    return this.cursor;
  }

  /** Seconds since the oldest undelivered point was accepted; 0 when caught up. */
  lagSeconds(nowMillis: number): number {
    if (this.cursor >= this.options.source.durableSeq() || this.oldestPendingMillis === undefined) return 0;
    return Math.max(0, (nowMillis - this.oldestPendingMillis) / 1000);
  }

  /** Reads the cursor (a new remote starts at the current end of the WAL) and starts sending. */
  start(): void {
    mkdirSync(this.options.stateDir, { recursive: true });
    const saved = readCursor(this.cursorFile);
    this.cursor = saved ?? this.options.source.durableSeq();
    if (saved === undefined) this.saveCursor();
    this.readSeq = this.cursor;
    this.options.logger.info({ remote: this.name, url: redactUrl(this.options.url), from: this.cursor + 1 }, 'remote write: started');
    this.loop = this.run();
  }

  /** A request became durable: queue its points when live, else the WAL read catches up with it. */
  offer(seq: number, points: MetricColumns, receivedAtMillis: number): void {
    if (!this.live || seq <= this.liveFrom) return;
    this.liveFrom = seq;
    this.buffer.push({ seq, points, receivedAtMillis });
    this.bufferedSamples += points.length;
    this.oldestPendingMillis ??= receivedAtMillis;
    if (this.bufferedSamples > this.options.queue.maxBufferedSamples) {
      // The remote is behind: stop holding points in memory; they are read back from the WAL later.
      this.live = false;
      this.buffer = [];
      this.bufferedSamples = 0;
    }
    this.wake?.();
  }

  /** Sends what is durable for up to `drainMillis`, then stops (what is left goes on the next start). */
  async shutdown(drainMillis = 5_000): Promise<void> {
    this.stopAtMillis = Date.now() + drainMillis;
    this.wake?.();
    const timer = setTimeout(() => this.abort.abort(), drainMillis);
    try {
      await this.loop;
    } finally {
      clearTimeout(timer);
      await this.endpoint.close();
    }
  }

  private stopping(): boolean {
    if (this.stopAtMillis === undefined) return false;
    return this.abort.signal.aborted || Date.now() >= this.stopAtMillis || this.cursor >= this.options.source.durableSeq();
  }

  private async run(): Promise<void> {
    let inFlight: { batch: Batch; delivered: Promise<boolean> } | undefined;
    while (!this.stopping()) {
      let batch: Batch | undefined;
      let readFailed = false;
      try {
        // Built while the previous request is in flight.
        batch = this.live ? this.fromBuffer() : await this.fromWal();
      } catch (error) {
        this.options.logger.error({ err: error, remote: this.name }, 'remote write: cannot read the write-ahead log; retrying in 1 s');
        readFailed = true;
      }
      if (inFlight !== undefined) {
        if (!(await inFlight.delivered)) return;
        this.delivered(inFlight.batch, batch);
        inFlight = undefined;
      }
      if (readFailed) {
        await this.pause(1_000);
        continue;
      }
      if (batch === undefined) {
        if (this.live || this.readSeq >= this.options.source.durableSeq()) await this.idle();
        continue;
      }
      inFlight = { batch, delivered: this.deliver(batch) };
    }
    if (inFlight !== undefined && (await inFlight.delivered)) this.delivered(inFlight.batch, undefined);
  }

  /** The remote took `batch` (or refused it for good): move the cursor past it. */
  private delivered(batch: Batch, next: Batch | undefined): void {
    this.cursor = batch.lastSeq;
    this.saveCursor();
    this.oldestPendingMillis = next?.oldestMillis ?? this.buffer[0]?.receivedAtMillis;
  }

  private fromBuffer(): Batch | undefined {
    if (this.buffer.length === 0) return undefined;
    const builder = this.builder;
    let lastSeq = this.readSeq;
    const oldestMillis = this.buffer[0]?.receivedAtMillis;
    let take = 0;
    while (take < this.buffer.length && builder.samples < this.options.queue.maxSamplesPerSend) {
      const entry = this.buffer[take] as LiveEntry;
      builder.add(entry.points);
      this.bufferedSamples -= entry.points.length;
      lastSeq = entry.seq;
      take += 1;
    }
    this.buffer.splice(0, take);
    return this.encode(builder, lastSeq, oldestMillis);
  }

  /** Reads and decodes WAL entries after the cursor; goes live once it has read up to the durable end. */
  private async fromWal(): Promise<Batch | undefined> {
    const durable = this.options.source.durableSeq();
    if (this.readSeq >= durable) {
      this.goLive(this.readSeq);
      return undefined;
    }
    const { entries, skipped } = this.tail.read(this.readSeq, durable, 4 << 20);
    if (skipped) this.options.logger.error({ remote: this.name, after: this.readSeq }, 'remote write: write-ahead log entries after the cursor were deleted; going on from the oldest one left');
    const last = entries[entries.length - 1];
    if (last === undefined) return undefined;
    // Read synchronously up to the durable end: every later request reaches `offer`, none is missed.
    if (last.seq >= durable) this.goLive(last.seq);
    const builder = this.builder;
    let oldestMillis: number | undefined;
    for (const entry of entries) {
      try {
        const { batch, receivedAtMillis } = await this.options.source.decodeEntry(entry.payload);
        if (batch.metrics.length === 0) continue;
        this.oldestPendingMillis ??= receivedAtMillis;
        oldestMillis ??= receivedAtMillis;
        builder.add(batch.metrics);
      } catch (error) {
        this.options.logger.error({ err: error, remote: this.name, seq: entry.seq }, 'remote write: cannot decode a write-ahead log entry; skipping it');
      }
      // Catching up decodes megabytes: let requests in between entries, so ingest latency stays bounded.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return this.encode(builder, last.seq, oldestMillis);
  }

  private goLive(from: number): void {
    if (this.live) return;
    this.live = true;
    this.liveFrom = from;
  }

  private encode(builder: TimeSeriesBuilder, lastSeq: number, oldestMillis: number | undefined): Batch {
    const samples = builder.samples;
    const encoded = builder.finish();
    this.readSeq = lastSeq;
    // A copy: the builder reuses its buffer for the next request while this one is in flight.
    return { encoded: encoded.slice(), samples, lastSeq, oldestMillis };
  }

  /** Sends until the remote takes the batch or refuses it for good; false when stopping first. */
  private async deliver(batch: Batch): Promise<boolean> {
    if (batch.samples === 0) return true;
    let backoffMillis = this.options.queue.minBackoffMillis;
    let failing = false;
    for (;;) {
      const result = await this.endpoint.send(batch.encoded, this.abort.signal);
      if (result.kind === 'success') {
        this.options.onDelivered(batch.samples);
        if (failing) this.options.logger.info({ remote: this.name }, 'remote write: the remote takes samples again');
        return true;
      }
      if (result.kind === 'failure') {
        this.options.onFailure('dropped', batch.samples);
        this.options.logger.error({ remote: this.name, samples: batch.samples, reason: result.reason }, 'remote write: the remote refused samples for good (4xx); they are dropped for this remote. Check the remote and the series it rejects');
        return true;
      }
      this.options.onFailure('retried', batch.samples);
      // One line when sending starts failing, not one per retry.
      if (!failing) this.options.logger.warn({ remote: this.name, reason: result.reason }, 'remote write: sending failed; retrying with backoff (nothing is lost: the write-ahead log keeps the samples)');
      failing = true;
      if (this.stopAtMillis !== undefined && Date.now() >= this.stopAtMillis) return false;
      await this.pause(Math.max(backoffMillis, result.retryAfterMillis ?? 0));
      if (this.abort.signal.aborted) return false;
      backoffMillis = Math.min(backoffMillis * 2, this.options.queue.maxBackoffMillis);
    }
  }

  private async idle(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 200);
      const wake = (): void => done();
      this.wake = wake;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
    this.wake = undefined;
  }

  private async pause(millis: number): Promise<void> {
    await sleep(millis, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  private saveCursor(): void {
    const temporary = `${this.cursorFile}.tmp`;
    writeFileSync(temporary, `${JSON.stringify({ seq: this.cursor })}\n`);
    renameSync(temporary, this.cursorFile);
  }
}

function readCursor(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const seq = (JSON.parse(text) as { seq?: unknown }).seq;
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0) throw new Error(`remote write cursor ${file} is corrupt (${text.trim()}); delete it to start sending from the end of the write-ahead log`);
  return seq;
}
