import type { Redis } from 'ioredis';
import { decodeSampleColumns, parseSeriesId, type AnomalyEvent, type Logger, type RedisKeys, type SampleColumns, type SeriesRef, type StreamEntry } from '@sloth/core';
import type { AnomalyOutbox } from './anomaly-outbox.js';
import type { ColdStart, FreshSeries } from './cold-start.js';
import type { AnalyticsConfig } from './config.js';
import type { AnalyticsMetrics } from './prometheus-metrics.js';
import { readGroupInfo, SamplesConsumer } from './samples-consumer.js';
import type { Scorer } from './scorer.js';
import type { SeriesTable } from './series-table.js';
import { settlesWithin } from './service-util.js';
import { shardGroup, shardOf } from './shard-leases.js';
import type { TrainingQueue } from './training-queue.js';

/** One consumer group this process reads, with its own blocking connection and consumer. */
interface Shard {
  /** Shard number, or {@link unsharded}. */
  index: number;
  group: string;
  reader: Redis;
  consumer: SamplesConsumer;
}

const unsharded = -1;

/** A stream entry read and decoded: its id and its samples (all of them, whichever shard owns each). */
interface DecodedEntry {
  readonly id: string;
  readonly columns: SampleColumns;
}

/**
 * What the first read assumes of the samples per entry, before it has seen any: a batch-sized guess
 * keeps a first read of a backlog of 1,000-sample batches from bringing `batchSize` thousands.
 */
const initialSamplesPerEntry = 100;

export interface SampleIntakeOptions {
  config: Pick<AnalyticsConfig, 'group' | 'shards' | 'batchSize' | 'blockMillis' | 'claimIdleMillis' | 'claimIntervalMillis'>;
  keys: RedisKeys;
  consumer: string;
  writer: Redis;
  table: SeriesTable;
  scorer: Scorer;
  outbox: AnomalyOutbox;
  training: TrainingQueue;
  coldStart: ColdStart | undefined;
  metrics: AnalyticsMetrics;
  logger: Logger;
  connectionError: (error: Error, message: string) => void;
}

/**
 * The read side: one {@link SamplesConsumer} per consumer group this process reads (the group
 * unsharded, else each shard it holds a lease on), decoding entries of either layout, scoring the
 * samples of the series it owns and handing the incident transitions to the outbox.
 */
export class SampleIntake {
  private readonly options: SampleIntakeOptions;
  private readonly shards = new Map<number, Shard>();
  private stopping = false;
  /**
   * Running average of samples per stream entry: the collector writes batches of up to 1,000, other
   * producers one sample an entry. Reads ask for `batchSize` samples' worth of entries.
   */
  private samplesPerEntry = initialSamplesPerEntry;

  constructor(options: SampleIntakeOptions) {
    this.options = options;
  }

  /** Shards of the samples stream this process reads (empty when unsharded). */
  get heldShards(): number[] {
    return [...this.shards.keys()].filter((index) => index !== unsharded).sort((a, b) => a - b);
  }

  /** Reads the deployment's one group on `reader` (unsharded deployments). */
  async startUnsharded(reader: Redis): Promise<void> {
    await this.openShard(unsharded, reader);
  }

  /** A shard lease was won: take over its group's pending entries (in stream order), then read on. */
  async acquireShard(index: number): Promise<void> {
    if (this.stopping || this.shards.has(index)) return;
    const reader = this.options.writer.duplicate();
    reader.on('error', (error: Error) => this.options.connectionError(error, 'Redis connection error'));
    // The previous holder is gone (its lease expired or it let go): its unacknowledged entries are ours at once.
    const shard = await this.openShard(index, reader, 0);
    this.options.logger.info({ shard: index, group: shard.group }, 'took over a shard of the samples stream');
  }

  /** A shard lease was lost or given up: stop reading it and hand its series' state over through the registry. */
  async releaseShard(index: number): Promise<void> {
    const shard = this.shards.get(index);
    if (shard === undefined) return;
    const { config, table, outbox, logger } = this.options;
    await shard.consumer.shutdown(config.blockMillis + 5_000);
    this.shards.delete(index);
    await settlesWithin(outbox.publishPending().catch(() => undefined), 5_000);
    const leaving = [...table.values()].filter((state) => shardOf(state.seriesId, config.shards) === index);
    table.release(leaving);
    shard.reader.disconnect();
    logger.info({ shard: index, series: leaving.length }, 'handed a shard of the samples stream over');
  }

  /** Stops every loop; false when Redis did not let them finish in time (their batches stay unacknowledged). */
  async shutdown(): Promise<boolean> {
    this.stopping = true;
    const { blockMillis } = this.options.config;
    const loops = Promise.all([...this.shards.values()].map(async (shard) => await shard.consumer.shutdown(blockMillis + 5_000)));
    return await settlesWithin(loops, blockMillis + 7_000);
  }

  /** Disconnects the shards' own readers (the unsharded reader belongs to the service). */
  disconnectReaders(serviceReader: Redis | undefined): void {
    for (const shard of this.shards.values()) if (shard.reader !== serviceReader) shard.reader.disconnect();
  }

  private async openShard(index: number, reader: Redis, firstClaimIdleMillis?: number): Promise<Shard> {
    const { config, keys, writer, outbox, training, metrics, logger } = this.options;
    const group = index === unsharded ? config.group : shardGroup(config.group, index);
    // Assigned before the consumer starts, so before its first batch.
    const ref: { shard?: Shard } = {};
    const consumer = new SamplesConsumer({
      reader,
      writer,
      stream: keys.samples,
      group,
      consumer: this.options.consumer,
      logger,
      blockMillis: config.blockMillis,
      claimIdleMillis: config.claimIdleMillis,
      claimIntervalMillis: config.claimIntervalMillis,
      ...(firstClaimIdleMillis === undefined ? {} : { firstClaimIdleMillis }),
      count: () => Math.max(1, Math.min(config.batchSize, Math.round(config.batchSize / this.samplesPerEntry))),
      process: async (entries) => await this.processEntries(entries, ref.shard!),
      beforeRead: async () => {
        await outbox.publishPending();
        await training.flush();
      },
      housekeeping: async () => await this.refreshGroupInfo(),
      claimed: (count) => {
        metrics.entriesClaimed += count;
      },
    });
    const shard: Shard = { index, group, reader, consumer };
    ref.shard = shard;
    await consumer.start();
    this.shards.set(index, shard);
    return shard;
  }

  /** Pending entries and backlog of this process's groups, for `/metrics`. */
  private async refreshGroupInfo(): Promise<void> {
    const { writer, keys, metrics } = this.options;
    const info = await readGroupInfo(writer, keys.samples, new Set([...this.shards.values()].map((shard) => shard.group)));
    metrics.pendingEntries = info.pending;
    // Redis cannot tell the backlog when entries were deleted: keep the last known value then.
    if (info.backlog !== undefined) metrics.backlogEntries = info.backlog;
  }

  /**
   * Scores a batch of entries, then publishes its incident transitions and acknowledges every entry
   * in one round trip. An entry carries one sample or a batch of them; each sample is scored on its own.
   */
  private async processEntries(entries: readonly StreamEntry[], shard: Shard): Promise<void> {
    const { table, scorer, outbox, coldStart, metrics } = this.options;
    const decoded = this.decodeEntries(entries, shard);
    if (coldStart !== undefined && !coldStart.paused) await coldStart.warm(this.freshSeries(decoded, shard));
    const events: AnomalyEvent[] = [];
    // Sharded: every shard group sees every entry, scores the samples of its series and acknowledges the whole entry.
    const ids: string[] = entries.map(([id]) => id);
    let newestIdMillis = 0;
    for (const { id, columns } of decoded) {
      const idMillis = Number(id.slice(0, id.indexOf('-')));
      if (idMillis > newestIdMillis) newestIdMillis = idMillis;
      for (let i = 0; i < columns.length; i += 1) {
        const seriesId = columns.seriesIds[i] as string;
        if (!this.owns(shard, seriesId)) continue;
        const agentId = columns.agentIds[i] as string;
        const kind = columns.kinds?.[i] ?? 'gauge';
        let state = table.touch(seriesId);
        if (state === undefined) {
          // The series id is parsed (and checked) once per series that is not in memory.
          let ref: SeriesRef;
          try {
            ref = parseSeriesId(seriesId);
          } catch (error) {
            this.badSample({ id, series: seriesId }, error);
            continue;
          }
          const name = ref.name;
          if (scorer.excluded(name, ref.labels)) {
            metrics.samplesExcluded += 1;
            continue;
          }
          state = table.restoreOrCreate({ seriesId, name, agentId, kind }).state;
          table.adopt(state);
        }
        const event = scorer.score(state, { seriesId, agentId, timestampMillis: columns.timestampsMillis[i] as number, value: columns.values[i] as number, kind });
        if (event !== undefined) events.push(event);
      }
    }
    outbox.add(events, ids, shard.group);
    // A failure here is not the batch's: the consumer publishes (and backs off) before its next read.
    await outbox.publishPending().catch(() => undefined);
    if (newestIdMillis > 0) metrics.lagSeconds = Math.max(0, (Date.now() - newestIdMillis) / 1_000);
  }

  /** Series of the batch this shard owns that are not in memory and are scored (not excluded). */
  private freshSeries(entries: readonly DecodedEntry[], shard: Shard): FreshSeries[] {
    const { table, scorer } = this.options;
    const fresh = new Map<string, FreshSeries>();
    for (const { columns } of entries) {
      for (let i = 0; i < columns.length; i += 1) {
        const seriesId = columns.seriesIds[i] as string;
        if (table.has(seriesId) || fresh.has(seriesId) || !this.owns(shard, seriesId)) continue;
        let ref: SeriesRef;
        try {
          ref = parseSeriesId(seriesId);
        } catch {
          continue; // Reported as a bad sample by the scoring loop.
        }
        if (scorer.excluded(ref.name, ref.labels)) continue;
        fresh.set(seriesId, { seriesId, name: ref.name, agentId: columns.agentIds[i] as string, kind: columns.kinds?.[i] ?? 'gauge', timestampMillis: columns.timestampsMillis[i] as number });
      }
    }
    return [...fresh.values()];
  }

  /**
   * Decodes entries of either layout into sample columns (series ids are not parsed here). A bad
   * sample is counted by the shard that owns its series, an unreadable entry by shard 0, so a
   * problem is counted once however many shards read the entry.
   */
  private decodeEntries(entries: readonly StreamEntry[], shard: Shard): DecodedEntry[] {
    const decoded: DecodedEntry[] = [];
    let samples = 0;
    for (const [id, fields] of entries) {
      try {
        const columns = decodeSampleColumns(fields, (problem) => {
          samples += 1;
          if (this.owns(shard, problem.seriesId)) this.badSample({ id, sample: problem.index, series: problem.seriesId }, problem.reason, fields);
        });
        samples += columns.length;
        decoded.push({ id, columns });
      } catch (error) {
        samples += 1;
        if (this.owns(shard, undefined)) this.badSample({ id }, error, fields);
      }
    }
    if (entries.length > 0) this.samplesPerEntry = 0.5 * this.samplesPerEntry + 0.5 * Math.max(1, samples / entries.length);
    return decoded;
  }

  /** Whether this shard scores (and counts the problems of) a series; undefined: no usable series id. */
  private owns(shard: Shard, seriesId: string | undefined): boolean {
    if (shard.index === unsharded) return true;
    return seriesId === undefined ? shard.index === 0 : shardOf(seriesId, this.options.config.shards) === shard.index;
  }

  /** Counts a sample (or a whole entry) that is not valid; it is acknowledged and skipped. */
  badSample(where: Record<string, unknown>, error: unknown, fields?: readonly string[]): void {
    const { metrics, logger } = this.options;
    metrics.badEntries += 1;
    // One line per 1,000 bad samples is enough to notice a broken producer without flooding the log.
    if (metrics.badEntries % 1_000 === 1) {
      const reason = error instanceof Error ? error.message.split('\n').slice(0, 6).join(' ') : String(error);
      const entry = fields === undefined ? {} : { fields: fields.slice(0, 8).map(clip) };
      logger.warn({ ...where, ...entry, badEntries: metrics.badEntries, reason }, 'skipping a samples-stream sample that is not valid');
    }
  }
}

/** A field of a bad entry, cut short for the log. */
function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
