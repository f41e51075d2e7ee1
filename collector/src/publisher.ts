import { Redis } from 'ioredis';
import { parseSeriesId, prepareSampleBatch, redactUrl, sampleBatchField, seriesId, type Logger, type SampleKind } from '@sloth/core';
import type { HistogramValue, MetricColumns, MetricSeries } from './records.js';
import { SlabPool, WrittenCommand, writeXadd, type XaddBytes } from './xadd-command.js';

/**
 * Publishes accepted samples to the `sloth:samples` stream: gauge and sum
 * values as they are, and histograms (of every kind) as derived series a
 * human would watch: `<name>.count` (a counter, so analytics scores its
 * rate) and, for explicit-bucket histograms, `<name>.p50` and `<name>.p99`
 * estimated from the buckets of the interval since the previous point. The
 * stream, many samples per entry (core's `encodeSampleBatch`: one JSON
 * string of columns). One stream entry per ingest request, or per
 * `samplesPerEntry` samples; while Redis is busy, requests that wait are
 * merged into fuller entries, and up to 16 entries go out back to back. Per
 * sample this costs Redis and the event loop a fraction of what one entry
 * per sample did (see docs/collector.md).
 *
 * Redis being slow or down never blocks ingestion: samples wait in a bounded
 * buffer (counted in samples), the oldest are dropped (and counted) when it
 * is full, and the client reconnects in the background.
 */

/**
 * Entries sent in one call: plain XADDs written back to back (one round trip). Not a Lua script that
 * XADDs its arguments: it cost Redis twice as much CPU with entries this large (it copies every
 * argument). Not an ioredis pipeline either: it joins its commands into one more buffer, a second
 * ~100 KB copy of every entry, and on the main thread such external (ArrayBuffer) bytes are what
 * starts V8's full collections under load (bench/ingest/decisions.md, round 4). For the same reason
 * each XADD is written, entry and all, into a reused slab (./xadd-command.ts, round 6).
 */
const entriesPerCall = 16;

export interface SamplePublisherOptions {
  readonly redisUrl: string;
  readonly streamKey: string;
  /**
   * Approximate cap of the stream, in samples. Redis caps entries, so each
   * XADD uses `maxLength` divided by the average samples per entry sent so
   * far (`MAXLEN ~`).
   */
  readonly maxLength: number;
  /** Samples buffered while Redis is slow or unreachable before the oldest are dropped. */
  readonly bufferSamples: number;
  /** Most samples in one stream entry. @defaultValue 1000 */
  readonly samplesPerEntry?: number;
  readonly logger: Logger;
  readonly onDropped: (samples: number) => void;
  readonly onPublished: (samples: number) => void;
}

/** The samples of one stream entry being gathered, column-wise; `xadd` once it was sent. */
interface PendingEntry {
  readonly seriesIds: string[];
  /** Each series id as its JSON string literal (UTF-8), kept per series: the entry is encoded from these. */
  readonly seriesIdsJson: Uint8Array[];
  readonly agentIds: string[];
  readonly timestampsMillis: number[];
  readonly values: number[];
  /** How analytics reads each value: monotonic sums are scored as rates. */
  readonly kinds: SampleKind[];
  /**
   * The XADD of this entry as Redis reads it, in a pooled slab: set when first sent, kept (and sent
   * again as it is) while the send fails, and its slab back in the pool once Redis took it.
   */
  xadd?: XaddBytes;
}

export class SamplePublisher {
  private readonly options: SamplePublisherOptions;
  private readonly redis: Redis;
  private readonly samplesPerEntry: number;
  /** Entries waiting to be sent, oldest first; only the last one still takes samples. */
  private entries: PendingEntry[] = [];
  /** Whether the last of `entries` still takes samples: false once it was sent, or put back encoded after a failed send. */
  private lastOpen = false;
  private buffered = 0;
  private inFlight = 0;
  /** Samples of the calls on their way to Redis: counted in `buffered`, but no longer in `entries`. */
  private inFlightSamples = 0;
  private stopped = false;
  private warnedDown = false;
  /** Running average of samples per entry sent, for MAXLEN in entries. */
  private averageSamplesPerEntry: number;
  /** Histogram series: derived series ids and the previous cumulative buckets. */
  private readonly histograms = new HistogramSeries();
  private readonly slabs = new SlabPool();

  constructor(options: SamplePublisherOptions) {
    this.options = options;
    this.samplesPerEntry = Math.max(1, Math.floor(options.samplesPerEntry ?? 1_000));
    this.averageSamplesPerEntry = this.samplesPerEntry;
    this.redis = new Redis(options.redisUrl, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(100 * times, 2_000),
      connectionName: 'sloth-collector-publisher',
    });
    this.redis.on('error', (error: Error) => {
      if (!this.warnedDown) options.logger.warn({ err: error.message, redis: redactUrl(options.redisUrl) }, 'samples stream: Redis unreachable; buffering samples');
      this.warnedDown = true;
    });
    this.redis.on('ready', () => {
      if (this.warnedDown) options.logger.info('samples stream: Redis is back');
      this.warnedDown = false;
      this.pump();
    });
  }

  async start(): Promise<void> {
    try {
      await this.redis.connect();
    } catch (error) {
      // Not fatal: ingestion goes on and the client keeps retrying.
      this.options.logger.warn({ err: (error as Error).message }, 'samples stream: Redis not reachable at start; will retry');
    }
  }

  /** Samples buffered and not yet acknowledged by Redis. */
  get pending(): number {
    return this.buffered;
  }

  /** The stream's MAXLEN in entries: `maxLength` samples at the average samples per entry. */
  get maxLengthEntries(): number {
    return Math.max(1, Math.ceil(this.options.maxLength / this.averageSamplesPerEntry));
  }

  /** Queues point `i` of `columns` for every `i` with a finite value (the histogram kinds have NaN). */
  publish(columns: MetricColumns): void {
    if (this.stopped) return;
    let entry = this.lastOpen ? this.entries[this.entries.length - 1] : undefined;
    if (entry === undefined || entry.seriesIds.length >= this.samplesPerEntry) entry = this.openEntry();
    const { series, timestamps, values } = columns;
    let added = 0;
    for (let i = 0; i < columns.length; i += 1) {
      const value = values[i] as number;
      if (!Number.isFinite(value)) continue;
      const s = series[i]!;
      entry.seriesIds.push(s.key);
      entry.seriesIdsJson.push((s.streamId ??= Buffer.from(JSON.stringify(s.key))));
      entry.agentIds.push(s.agentId);
      entry.timestampsMillis.push(timestamps[i] as number);
      entry.values.push(value);
      entry.kinds.push(sampleKind(s));
      added += 1;
      if (entry.seriesIds.length >= this.samplesPerEntry) entry = this.openEntry();
    }
    for (const [i, histogram] of columns.histograms) {
      const s = series[i];
      const timestamp = timestamps[i];
      if (s === undefined || timestamp === undefined) continue;
      for (const derived of this.histograms.derive(s, histogram)) {
        // A quantile between huge bounds can overflow; the stream carries finite values only.
        if (!Number.isFinite(derived.value)) continue;
        entry.seriesIds.push(derived.seriesId);
        entry.seriesIdsJson.push(Buffer.from(JSON.stringify(derived.seriesId)));
        entry.agentIds.push(s.agentId);
        entry.timestampsMillis.push(timestamp);
        entry.values.push(derived.value);
        entry.kinds.push(derived.kind);
        added += 1;
        if (entry.seriesIds.length >= this.samplesPerEntry) entry = this.openEntry();
      }
    }
    if (entry.seriesIds.length === 0) {
      this.entries.pop();
      this.lastOpen = false;
    }
    this.buffered += added;
    this.trim();
    this.pump();
  }

  private openEntry(): PendingEntry {
    const entry: PendingEntry = { seriesIds: [], seriesIdsJson: [], agentIds: [], timestampsMillis: [], values: [], kinds: [] };
    this.entries.push(entry);
    this.lastOpen = true;
    return entry;
  }

  /**
   * Drops the oldest waiting entries beyond the buffer bound. Samples on their way to Redis do not count
   * here: they cannot be dropped, and counting them would make the newest waiting entry pay for them
   * (the bound then holds for what waits, plus at most two calls in flight).
   */
  private trim(): void {
    let dropped = 0;
    while (this.buffered - this.inFlightSamples > this.options.bufferSamples && this.entries.length > 0) {
      const oldest = this.entries.shift() as PendingEntry;
      if (this.entries.length === 0) this.lastOpen = false;
      this.buffered -= oldest.seriesIds.length;
      dropped += oldest.seriesIds.length;
    }
    if (dropped > 0) this.options.onDropped(dropped);
  }

  private pump(): void {
    while (!this.stopped && this.redis.status === 'ready' && this.inFlight < 2 && this.entries.length > 0) {
      const taken = this.entries.splice(0, entriesPerCall);
      if (this.entries.length === 0) this.lastOpen = false;
      const maxLength = this.maxLengthEntries;
      let samples = 0;
      const batch: PendingEntry[] = [];
      const replies: Array<Promise<[Error | null, unknown]>> = [];
      for (const entry of taken) {
        const xadd = this.encode(entry, maxLength);
        if (xadd === undefined) continue;
        batch.push(entry);
        samples += entry.seriesIds.length;
        const command = new WrittenCommand('xadd', xadd.command);
        this.redis.sendCommand(command);
        replies.push(
          command.promise.then(
            (id): [Error | null, unknown] => [null, id],
            (error: unknown): [Error | null, unknown] => [error instanceof Error ? error : new Error(String(error)), null],
          ),
        );
      }
      if (batch.length === 0) continue;
      this.averageSamplesPerEntry = 0.9 * this.averageSamplesPerEntry + 0.1 * (samples / batch.length);
      this.inFlight += 1;
      this.inFlightSamples += samples;
      void Promise.all(replies).then((results) => this.sent(batch, results));
    }
  }

  /**
   * Writes the XADD of `entry` once. An entry that cannot be encoded (a sample that is not finite: a bug
   * upstream, as every value is checked before) is dropped and counted, never thrown at the caller: its
   * request is durable already, and an error here would answer it 503 and make its client send it again.
   */
  private encode(entry: PendingEntry, maxLength: number): XaddBytes | undefined {
    try {
      return (entry.xadd ??= writeXadd(this.slabs, this.options.streamKey, maxLength, sampleBatchField, prepareSampleBatch({ length: entry.seriesIds.length, ...entry })));
    } catch (error) {
      this.options.logger.error({ err: error, samples: entry.seriesIds.length }, 'samples stream: cannot encode an entry; its samples are dropped');
      this.buffered -= entry.seriesIds.length;
      this.options.onDropped(entry.seriesIds.length);
      return undefined;
    }
  }

  /**
   * Counts what Redis took and gives its slabs back; puts the rest back (still written, their slabs
   * kept: a failed socket may not be done with them) in front for the next try.
   */
  private sent(batch: readonly PendingEntry[], results: ReadonlyArray<[Error | null, unknown]>): void {
    this.inFlight -= 1;
    for (const entry of batch) this.inFlightSamples -= entry.seriesIds.length;
    let published = 0;
    const failed: PendingEntry[] = [];
    let firstError: Error | undefined;
    batch.forEach((entry, i) => {
      const error = results[i]?.[0] ?? null;
      if (error === null) {
        published += entry.seriesIds.length;
        if (entry.xadd !== undefined) this.slabs.give(entry.xadd.slab);
        entry.xadd = undefined;
      } else {
        failed.push(entry);
        firstError ??= error;
      }
    });
    this.buffered -= published;
    if (published > 0) this.options.onPublished(published);
    if (firstError === undefined) {
      this.pump();
      return;
    }
    // The next 'ready' pumps again; trim keeps the buffer bounded meanwhile.
    this.entries.unshift(...failed);
    if (!this.warnedDown) this.options.logger.warn({ err: firstError.message }, 'samples stream: XADD failed; will retry');
    this.warnedDown = true;
    this.trim();
    if (this.redis.status === 'ready') setTimeout(() => this.pump(), 500).unref();
  }

  /** Waits up to `timeoutMillis` for the buffer to drain, then disconnects. */
  async shutdown(timeoutMillis = 2_000): Promise<void> {
    const deadline = Date.now() + timeoutMillis;
    while ((this.buffered > 0 || this.inFlight > 0) && this.redis.status === 'ready' && Date.now() < deadline) {
      this.pump();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.stopped = true;
    if (this.buffered > 0) this.options.onDropped(this.buffered);
    this.redis.disconnect();
  }
}

/** Monotonic sums are counters (cumulative or delta); gauges and non-monotonic sums are values. */
function sampleKind(series: MetricSeries): SampleKind {
  if (series.kind !== 'sum' || !series.monotonic) return 'gauge';
  return series.delta === true ? 'delta' : 'cumulative';
}

/** A sample derived from a histogram point. */
export interface DerivedSample {
  readonly seriesId: string;
  readonly value: number;
  readonly kind: SampleKind;
}

interface HistogramMemory {
  readonly countId: string;
  readonly p50Id: string;
  readonly p99Id: string;
  /** Cumulative histograms: the previous point's bucket counts (the interval's are the difference). */
  previousBuckets: readonly number[] | undefined;
}

/** Series remembered at most; beyond it the memory starts afresh (a quantile is skipped once per series). */
const maxHistogramSeries = 100_000;

/**
 * Turns histogram points into derived samples: the count (cumulative or delta, as the point's
 * temporality says, so analytics scores its rate) and, for explicit-bucket histograms, p50 and p99
 * of the observations of the interval since the previous point (a cumulative histogram's quantiles
 * since the process started would hardly move). A cumulative histogram whose counts drop was reset:
 * its buckets are the interval's. An interval with no observations has no quantiles.
 */
export class HistogramSeries {
  private readonly memory = new Map<string, HistogramMemory>();

  derive(series: MetricSeries, histogram: HistogramValue): DerivedSample[] {
    if (!Number.isFinite(histogram.count) || histogram.count < 0) return [];
    let memory = this.memory.get(series.key);
    if (memory === undefined) {
      if (this.memory.size >= maxHistogramSeries) this.memory.clear();
      const { labels } = parseSeriesId(series.key);
      const id = (suffix: string): string => seriesId(`${series.name}.${suffix}`, labels);
      memory = { countId: id('count'), p50Id: id('p50'), p99Id: id('p99'), previousBuckets: undefined };
      this.memory.set(series.key, memory);
    }
    const samples: DerivedSample[] = [{ seriesId: memory.countId, value: histogram.count, kind: series.delta === true ? 'delta' : 'cumulative' }];
    const { bounds, bucketCounts } = histogram;
    if (series.kind !== 'histogram' || bounds === undefined || bucketCounts === undefined || bucketCounts.length !== bounds.length + 1) return samples;
    let interval: readonly number[] | undefined = bucketCounts;
    if (series.delta !== true) {
      const previous = memory.previousBuckets;
      memory.previousBuckets = bucketCounts;
      if (previous === undefined) interval = undefined;
      else if (previous.length === bucketCounts.length && bucketCounts.every((c, j) => c >= (previous[j] as number))) interval = bucketCounts.map((c, j) => c - (previous[j] as number));
    }
    if (interval === undefined) return samples;
    const p50 = bucketQuantile(0.5, bounds, interval);
    const p99 = bucketQuantile(0.99, bounds, interval);
    if (p50 !== undefined) samples.push({ seriesId: memory.p50Id, value: p50, kind: 'gauge' });
    if (p99 !== undefined) samples.push({ seriesId: memory.p99Id, value: p99, kind: 'gauge' });
    return samples;
  }
}

/**
 * The q-quantile of observations in explicit buckets (`counts[j]` in `(bounds[j-1], bounds[j]]`),
 * interpolated linearly inside its bucket, as Prometheus' histogram_quantile does: the first bucket
 * starts at 0 when its bound is positive, and the open last bucket answers its lower bound.
 * Undefined without observations.
 */
export function bucketQuantile(q: number, bounds: readonly number[], counts: readonly number[]): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let below = 0;
  for (let j = 0; j < counts.length; j += 1) {
    const count = counts[j] as number;
    if (below + count >= rank && count > 0) {
      if (j >= bounds.length) return bounds[bounds.length - 1];
      const upper = bounds[j] as number;
      const lower = j === 0 ? Math.min(0, upper) : (bounds[j - 1] as number);
      return lower + ((upper - lower) * (rank - below)) / count;
    }
    below += count;
  }
  return bounds[bounds.length - 1];
}
