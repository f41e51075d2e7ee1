import { performance } from 'node:perf_hooks';
import type { Logger } from '@sloth/core';
import { decodeRequest, decompress, type BodyFormat, type Signal } from './decode.js';
import { normaliseLogs, normaliseMetrics, normaliseTraces, type NormaliseResult, type SeriesContext } from './otlp-normalise.js';
import type { LatencyBudget } from './latency-budget.js';
import { scanMetricsRequest } from './otlp-metrics-scan.js';
import { emptyMetricColumns, type IngestBatch, type MetricColumns, type ResourceInfo } from './records.js';
import { decodeWalEntry, encodeWalEntryParts, type WalEntry } from './wal-entry.js';
import type { WalGroupTiming, WriteAheadLog } from './wal.js';

/**
 * What the pipeline needs from the store: `write` stores the batches and the
 * checkpoint in one transaction, synchronously (SqliteStore) or resolving
 * once committed (a store whose writer runs in a worker thread).
 */
export interface IngestStore {
  write(batches: readonly IngestBatch[], checkpoint: number): void | Promise<void>;
  lastCheckpoint(): number;
  /**
   * A store with an in-memory head (the writer thread's): `append` resolves once the head holds the
   * batches, which it commits later, telling `onCommitted` the checkpoint; `flush` commits it now.
   * The pipeline then releases the write-ahead log only up to the committed checkpoint.
   */
  append?(batches: readonly IngestBatch[], checkpoint: number): Promise<void>;
  flush?(): Promise<void>;
  onCommitted?(listener: (checkpoint: number) => void): void;
}

/**
 * Everything that consumes accepted batches: `latest`, `publish` and
 * `resources` as soon as a request is durable (in the WAL, in WAL order, so
 * the work is spread over requests instead of piling up after each store
 * transaction); `stored` once its points are in the store.
 */
export interface AppliedSinks {
  latest(points: MetricColumns): void;
  resources(resources: readonly ResourceInfo[], nowMillis: number): void;
  publish(points: MetricColumns): void;
  stored(points: MetricColumns): void;
  /** Every request as soon as it is durable, with its WAL sequence number (remote write follows these). */
  durable?(seq: number, points: MetricColumns, receivedAtMillis: number): void;
}

/**
 * Where a request's write-ahead log append spent its time (`performance.now()` instants): appended,
 * its group commit started writing (after the previous group's sync), synced, and this request's
 * code running again (the gap is event-loop delay: other callbacks, GC).
 */
export interface IngestTiming {
  readonly appendedAt: number;
  readonly writeStartedAt: number;
  readonly syncedAt: number;
  readonly resumedAt: number;
}

interface QueuedBatch {
  readonly seq: number;
  readonly batch: IngestBatch;
  readonly size: number;
  failed: boolean;
}

export interface IngestPipelineOptions {
  readonly wal: WriteAheadLog;
  readonly store: IngestStore;
  readonly sinks: AppliedSinks;
  readonly series: SeriesContext;
  readonly logger: Logger;
  readonly maxQueuedPoints: number;
  readonly maxDecompressedBytes: number;
  /** Points written per store transaction; larger ones rewrite fewer B-tree pages per point. @defaultValue 200,000 */
  readonly maxPointsPerTransaction?: number;
  /**
   * How long durable entries may wait to be applied, so that one transaction
   * covers several requests: the store keeps one chunk per series per
   * transaction, so the longer the wait the more points per chunk (queries
   * do not wait for it: they ask for the pending write at once). A store
   * with a head (see {@link IngestStore.append}) gathers the chunks itself:
   * entries then go to it after a short wait, so the main thread lets go
   * of them young. @defaultValue 1000, or 50 with a head
   */
  readonly applyDelayMillis?: number;
  /**
   * The point rules the request handler applied after normalising (the
   * future-skew limit), applied again to replayed entries so that replay
   * stores exactly what the requests stored.
   */
  readonly replayRules?: (result: NormaliseResult, receivedAtMillis: number) => NormaliseResult;
  /** Told the write-ahead log's sync times and how long store transactions hold the event loop. */
  readonly budget?: LatencyBudget;
  /** WAL entries after this sequence number are kept even once stored (remote write has not sent them yet). */
  readonly retainAfter?: () => number;
}

/**
 * Decodes a request body of any signal and normalises it. One synchronous
 * function on purpose: V8 keeps an async function's locals alive across
 * `await`, and a decoded message held by a request handler (about a
 * kilobyte of objects per point) would live until the write-ahead log's
 * fsync, get promoted out of the young generation and slow every scavenge.
 */
export function decodeAndNormalise(
  signal: Signal,
  format: BodyFormat,
  bytes: Uint8Array,
  principal: string,
  series: SeriesContext,
  receivedAtMillis: number,
): NormaliseResult {
  if (signal === 'metrics' && format === 'protobuf') {
    // Gauges and sums straight from the bytes; anything else (or anything odd) the generic way.
    const scanned = scanMetricsRequest(bytes, principal, series);
    if (scanned !== undefined) return scanned;
  }
  return decodeAndNormaliseGeneric(signal, format, bytes, principal, series, receivedAtMillis);
}

/** {@link decodeAndNormalise} through the generated message objects only (what the fast path must equal). */
export function decodeAndNormaliseGeneric(
  signal: Signal,
  format: BodyFormat,
  bytes: Uint8Array,
  principal: string,
  series: SeriesContext,
  receivedAtMillis: number,
): NormaliseResult {
  const decoded = decodeRequest(signal, format, bytes);
  switch (decoded.signal) {
    case 'metrics':
      return normaliseMetrics(decoded.message, principal, series);
    case 'traces':
      return normaliseTraces(decoded.message, principal);
    case 'logs':
      return normaliseLogs(decoded.message, principal, receivedAtMillis);
  }
}

/**
 * The write path after decoding: append to the write-ahead log (acknowledge
 * once durable), then apply to the store in batched transactions on the
 * event loop, between requests, and hand the applied batches to the sinks.
 */
export class IngestPipeline {
  private readonly options: IngestPipelineOptions;
  private readonly maxPointsPerTransaction: number;
  private readonly applyDelayMillis: number;
  private applyTimer: NodeJS.Timeout | undefined;
  /** The store write in flight, if any: one transaction at a time, in WAL order. */
  private writing: Promise<void> | undefined;
  private stopping = false;
  private catchingUp = false;
  private readonly queue: QueuedBatch[] = [];
  private queuedSize = 0;
  private applyScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Handed to the store (held in its head, or committed). */
  private appliedSeq = 0;
  /** Committed by the store: the write-ahead log may go up to here. */
  private committedSeq = 0;
  private releasedSeq = 0;
  /** Queries waiting for the store to have committed everything acknowledged up to `seq`. */
  private committedWaiters: Array<{ seq: number; resolve: () => void }> = [];
  private readonly headed: boolean;
  /** The store is failing (a full disk): logged once per spell, not per retry or per query; cleared by the next commit. */
  private storeFailing = false;

  constructor(options: IngestPipelineOptions) {
    this.options = options;
    this.maxPointsPerTransaction = options.maxPointsPerTransaction ?? defaultMaxPointsPerTransaction;
    const store = options.store;
    this.headed = store.append !== undefined && store.flush !== undefined && store.onCommitted !== undefined;
    this.applyDelayMillis = options.applyDelayMillis ?? (this.headed ? 50 : 1_000);
    if (this.headed) store.onCommitted?.((checkpoint) => this.committed(checkpoint));
  }

  /** Points (plus spans and log records) durable but not yet in the store. */
  get queueDepth(): number {
    return this.queuedSize;
  }

  /** True when new requests should get 503. */
  saturated(): boolean {
    return this.queuedSize >= this.options.maxQueuedPoints;
  }

  /** Opens the WAL and applies every entry the store has not seen (crash recovery). */
  async recover(): Promise<number> {
    const checkpoint = this.options.store.lastCheckpoint();
    this.appliedSeq = checkpoint;
    this.committedSeq = checkpoint;
    this.releasedSeq = checkpoint;
    const replay: Array<{ seq: number; payload: Buffer }> = [];
    await this.options.wal.open(checkpoint, (seq, payload) => {
      replay.push({ seq, payload });
    });
    const replayed = replay.length;
    // Decode replayed entries one by one, applying as we go, so the decoded form stays bounded.
    for (const entry of replay) {
      let batch: IngestBatch = emptyBatch;
      try {
        batch = (await this.decodeEntry(entry.payload)).batch;
      } catch (error) {
        this.options.logger.error({ err: error, seq: entry.seq }, 'write-ahead log: cannot decode a replayed entry; skipping it');
      }
      this.enqueue(entry.seq, batch);
      this.deliver(batch);
      if (this.queuedSize >= this.maxPointsPerTransaction && !(await this.applySome(Number.POSITIVE_INFINITY))) {
        throw new Error('cannot apply replayed write-ahead log entries to the store');
      }
    }
    while (this.queue.length > 0) {
      if (!(await this.applySome(Number.POSITIVE_INFINITY))) throw new Error('cannot apply replayed write-ahead log entries to the store');
    }
    // Replayed entries are committed before requests come in: queries at start see them, and the log can go.
    if (this.headed && replayed > 0) await this.options.store.flush?.();
    if (replayed > 0) this.options.logger.info({ replayed, from: checkpoint + 1 }, 'write-ahead log replayed');
    return replayed;
  }

  /** Decodes a WAL entry to what its request stored (replay, remote write catching up). Throws on a corrupt entry. */
  async decodeEntry(payload: Buffer): Promise<{ batch: IngestBatch; receivedAtMillis: number }> {
    const wal = decodeWalEntry(payload);
    const bytes = await decompress(wal.body, wal.encoding, this.options.maxDecompressedBytes);
    const result = decodeAndNormalise(wal.signal, wal.format, bytes, wal.principal, this.options.series, wal.receivedAtMillis);
    return { batch: (this.options.replayRules?.(result, wal.receivedAtMillis) ?? result).batch, receivedAtMillis: wal.receivedAtMillis };
  }

  /**
   * Makes a normalised request durable. Resolves once it is in the WAL on
   * disk; the store write happens later, in the background.
   */
  async ingest(entry: WalEntry, result: NormaliseResult): Promise<IngestTiming | undefined> {
    if (result.accepted === 0) return undefined;
    const appendedAt = performance.now();
    const { seq, durable } = this.options.wal.append(encodeWalEntryParts(entry));
    const queued = this.enqueue(seq, result.batch);
    let group: WalGroupTiming;
    try {
      group = await durable;
    } catch (error) {
      queued.failed = true;
      throw error;
    }
    const resumedAt = performance.now();
    this.options.budget?.observeDurable(resumedAt - appendedAt);
    // The request is durable and queued for the store from here on: a sink that fails must not turn that into an
    // error answer, which its client would retry, storing the points again (and failing again) for ever.
    try {
      this.deliver(result.batch);
      if (result.batch.metrics.length > 0) this.options.sinks.durable?.(seq, result.batch.metrics, entry.receivedAtMillis);
    } catch (error) {
      this.options.logger.error({ err: error, seq }, 'a durable request could not be handed to the latest values, the samples stream or remote write; it is stored and acknowledged');
    }
    this.scheduleApply();
    return { appendedAt, writeStartedAt: group.writeStartedAt, syncedAt: group.syncedAt, resumedAt };
  }

  /** Hands a durable batch to the sinks that do not wait for the store. */
  private deliver(batch: IngestBatch): void {
    if (batch.metrics.length > 0) {
      this.options.sinks.latest(batch.metrics);
      this.options.sinks.publish(batch.metrics);
    }
    if (batch.resources.length > 0) this.options.sinks.resources(batch.resources, Date.now());
  }

  private enqueue(seq: number, batch: IngestBatch): QueuedBatch {
    const size = batch.metrics.length + batch.spans.length + batch.logs.length;
    const queued: QueuedBatch = { seq, batch, size, failed: false };
    this.queue.push(queued);
    this.queuedSize += size;
    return queued;
  }

  private scheduleApply(): void {
    if (this.applyScheduled || this.retryTimer !== undefined || this.writing !== undefined) return;
    // A full transaction's worth goes at once; less waits a little for more to join it.
    if (this.queuedSize >= this.maxPointsPerTransaction) {
      if (this.applyTimer !== undefined) {
        clearTimeout(this.applyTimer);
        this.applyTimer = undefined;
      }
      this.applyScheduled = true;
      setImmediate(() => {
        this.applyScheduled = false;
        void this.applySome(this.options.wal.durableSeq);
      });
      return;
    }
    this.applyTimer ??= setTimeout(() => {
      this.applyTimer = undefined;
      void this.applySome(this.options.wal.durableSeq);
    }, this.applyDelayMillis);
  }

  /** Writes one transaction's worth of durable entries. Resolves false when the store failed. */
  private async applySome(durableSeq: number): Promise<boolean> {
    if (this.writing !== undefined) {
      await this.writing;
      return await this.applySome(durableSeq);
    }
    const batches: IngestBatch[] = [];
    let take = 0;
    let size = 0;
    let lastSeq = this.appliedSeq;
    while (take < this.queue.length) {
      const head = this.queue[take] as QueuedBatch;
      if (head.seq > durableSeq) break;
      if (size > 0 && size + head.size > this.maxPointsPerTransaction) break;
      if (!head.failed) batches.push(head.batch);
      size += head.size;
      lastSeq = head.seq;
      take += 1;
    }
    if (take === 0) return true;
    let ok = true;
    const attempt = (async () => {
      try {
        // The synchronous part of the write holds the event loop: every request waits for it.
        const startedAt = performance.now();
        const store = this.options.store;
        const written = this.headed ? store.append?.(batches, lastSeq) : store.write(batches, lastSeq);
        this.options.budget?.observeStoreBlock(performance.now() - startedAt, size);
        await written;
      } catch (error) {
        ok = false;
        if (!this.storeFailing) this.options.logger.error({ err: error }, 'store write failed; retried every 1 s, logged once until a commit succeeds (requests get 503 once the queue is full)');
        this.storeFailing = true;
      }
    })();
    this.writing = attempt;
    try {
      await attempt;
    } finally {
      this.writing = undefined;
    }
    if (!ok) {
      if (!this.stopping) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.scheduleApply();
        }, 1_000);
      }
      return false;
    }
    this.queue.splice(0, take);
    this.queuedSize -= size;
    this.appliedSeq = lastSeq;
    for (const batch of batches) {
      if (batch.metrics.length > 0) this.options.sinks.stored(batch.metrics);
    }
    if (!this.headed) this.committed(lastSeq);
    if (this.queue.length > 0 && (this.queue[0] as QueuedBatch).seq <= this.options.wal.durableSeq) this.scheduleApply();
    return true;
  }

  /** The store committed up to `checkpoint`: release the log behind it and answer the queries waiting for it. */
  private committed(checkpoint: number): void {
    if (checkpoint <= this.committedSeq) return;
    this.committedSeq = checkpoint;
    this.storeFailing = false;
    if (this.committedSeq - this.releasedSeq >= 64) {
      void this.options.wal.release(this.releasable());
      this.releasedSeq = this.committedSeq;
    }
    if (this.committedWaiters.length === 0) return;
    const waiting: typeof this.committedWaiters = [];
    for (const waiter of this.committedWaiters) {
      if (waiter.seq <= this.committedSeq) waiter.resolve();
      else waiting.push(waiter);
    }
    this.committedWaiters = waiting;
  }

  /**
   * Resolves once the store has committed everything acknowledged before
   * the call, so a query sees the writes its client was told are durable;
   * or after `timeoutMillis`, when the store is behind (it then answers with
   * what is stored). Asks for the pending store write (and a commit of the
   * store's head) to start now.
   */
  async caughtUp(timeoutMillis = 2_000): Promise<void> {
    const target = this.options.wal.durableSeq;
    if (this.committedSeq >= target) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMillis);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.committedWaiters.push({ seq: target, resolve: done });
      void this.catchUp();
    });
  }

  /** Applies what the waiting queries need now, then commits the store's head; again while newer queries wait. */
  private async catchUp(): Promise<void> {
    if (this.catchingUp) return;
    this.catchingUp = true;
    try {
      for (;;) {
        let target = 0;
        for (const waiter of this.committedWaiters) target = Math.max(target, waiter.seq);
        if (this.committedSeq >= target) return;
        while (this.appliedSeq < target && !this.stopping && this.retryTimer === undefined) {
          if (this.applyTimer !== undefined) {
            clearTimeout(this.applyTimer);
            this.applyTimer = undefined;
          }
          const before = this.appliedSeq;
          if (!(await this.applySome(this.options.wal.durableSeq)) || this.appliedSeq === before) return;
        }
        if (!this.headed || this.appliedSeq < target) return;
        if (this.committedSeq < target) await this.options.store.flush?.();
        // A flush that did not get there (the store failing) is not retried here: the query answers with what is committed.
        if (this.committedSeq < target) return;
      }
    } catch (error) {
      if (!this.storeFailing) this.options.logger.warn({ err: error }, 'store: cannot commit for a query now; queries answer with what is committed (logged once until a commit succeeds)');
      this.storeFailing = true;
    } finally {
      this.catchingUp = false;
    }
  }

  /** Applies everything durable, releases the WAL and closes it. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    await this.options.wal.close();
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    if (this.applyTimer !== undefined) {
      clearTimeout(this.applyTimer);
      this.applyTimer = undefined;
    }
    for (let attempt = 0; this.queue.length > 0 && (this.queue[0] as QueuedBatch).seq <= this.options.wal.durableSeq && attempt < 3; ) {
      if (!(await this.applySome(this.options.wal.durableSeq))) {
        attempt += 1;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (this.headed && this.committedSeq < this.appliedSeq) {
      try {
        await this.options.store.flush?.();
      } catch (error) {
        this.options.logger.error({ err: error }, 'store: cannot commit its head at shutdown; the write-ahead log keeps it for the next start');
      }
    }
    if (this.queue.length > 0 || this.committedSeq < this.appliedSeq) this.options.logger.warn({ entries: this.queue.length, uncommittedFrom: this.committedSeq + 1 }, 'entries left in the write-ahead log; they are replayed on the next start');
    else await this.options.wal.release(this.releasable());
  }

  /** The highest sequence number whose segment may go: committed to the store, and sent to every remote. */
  private releasable(): number {
    return Math.min(this.committedSeq, this.options.retainAfter?.() ?? Number.POSITIVE_INFINITY);
  }
}

/** Points per store transaction unless configured. */
export const defaultMaxPointsPerTransaction = 200_000;

const emptyBatch: IngestBatch = { resources: [], metrics: emptyMetricColumns, spans: [], logs: [] };
