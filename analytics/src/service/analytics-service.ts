import { hostname } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import {
  anomalyEventSchema,
  decodeSampleColumns,
  encodeJsonMessage,
  forecastMessageSchema,
  parseSeriesId,
  queueNames,
  redactUrl,
  redisKeys,
  silentLogger,
  SlothError,
  type AnomalyEvent,
  type ForecastMessage,
  type Logger,
  type RedisKeys,
  type Sample,
  type SampleColumns,
} from '@sloth/core';
import type { DetectorOptions, TrainedModel, TrainingRequest } from '../detector/contract.js';
import { createDetector, restoreDetector } from '../detector/series-detector.js';
import type { ForecastOptions, ForecastResult } from '../forecast/types.js';
import type { AnalyticsConfig } from './config.js';
import { CollectorHistory } from './collector-history.js';
import { shardGroup, ShardLeases, shardOf } from './shard-leases.js';
import { ComputePool } from './compute-pool.js';
import { MetricsServer } from './metrics-server.js';
import { ModelRegistry } from './model-registry.js';
import { AnalyticsMetrics } from './prometheus-metrics.js';
import { readGroupInfo, SamplesConsumer } from './samples-consumer.js';
import { isPersistedSeriesState, SeriesState } from './series-state.js';

/** Options that are not configuration: tuning of the models (tests use small ones) and the logger. */
export interface AnalyticsServiceOptions {
  logger?: Logger;
  /** Options handed to every detector (one configuration for every series). */
  detectorOptions?: Partial<DetectorOptions>;
  /** Options handed to every forecast. */
  forecastOptions?: Partial<ForecastOptions>;
  /** Approximate cap of the anomalies and forecasts streams (XADD MAXLEN ~). @defaultValue 100000 */
  outputStreamMaxLength?: number;
}

type StreamEntry = [id: string, fields: string[]];

interface TrainJobData {
  seriesId: string;
  request: TrainingRequest;
}

interface TrainJobResult {
  seriesId: string;
  model: TrainedModel;
}

const sweepJobName = 'sweep';
const trainJobName = 'train-detector';
const trainingTimeoutMillis = 15 * 60_000;

/**
 * The analytics service: reads `sloth:samples` through a consumer group,
 * scores every sample with the series' detector, publishes anomaly events and
 * forecasts, trains models in worker threads (jobs on the BullMQ `training`
 * queue), keeps models and detector state in a SQLite registry, and exposes
 * Prometheus metrics.
 */
export class AnalyticsService {
  readonly config: AnalyticsConfig;
  readonly consumer: string;
  readonly keys: RedisKeys;
  readonly metrics = new AnalyticsMetrics();
  private readonly logger: Logger;
  private readonly options: AnalyticsServiceOptions;
  private readonly series = new Map<string, SeriesState>();
  private registry: ModelRegistry | undefined;
  private pool: ComputePool | undefined;
  private metricsServer: MetricsServer | undefined;
  private reader: Redis | undefined;
  private writer: Redis | undefined;
  private queue: Queue<TrainJobData | Record<string, never>> | undefined;
  private queueWorker: Worker<TrainJobData | Record<string, never>, TrainJobResult | { swept: number }> | undefined;
  private queueEvents: QueueEvents | undefined;
  /** Training jobs this process is running now; shutdown waits for them, and only for them. */
  private trainingJobsRunning = 0;
  private stopping = false;
  private started = false;
  /** The consumer groups this process reads: one (the group) unsharded, else the shards it holds a lease on. */
  private readonly shards = new Map<number, Shard>();
  private leases: ShardLeases | undefined;
  private publishing: Promise<void> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly forecastsInFlight = new Set<Promise<void>>();
  private readonly trainingEnqueue: Array<{ state: SeriesState; request: TrainingRequest }> = [];
  private readonly maxOutputLength: number;
  private readonly unpublished: Array<{ events: AnomalyEvent[]; ids: string[]; group: string }> = [];
  private readonly history: CollectorHistory | undefined;
  private coldStartPausedUntilMillis = 0;
  private lastConnectionErrorMillis = 0;
  private snapshotting: Promise<void> | undefined;
  private suppressedConnectionErrors = 0;
  /**
   * Running average of samples per stream entry: the collector writes batches of up to 1,000, other
   * producers one sample an entry. Reads ask for `batchSize` samples' worth of entries.
   */
  private samplesPerEntry = initialSamplesPerEntry;

  constructor(config: AnalyticsConfig, options: AnalyticsServiceOptions = {}) {
    this.config = config;
    this.options = options;
    this.logger = options.logger ?? silentLogger();
    this.consumer = config.consumer ?? `${hostname().replace(/[^A-Za-z0-9_.:-]/g, '-')}-${process.pid}`;
    this.keys = redisKeys(config.redisPrefix);
    this.maxOutputLength = options.outputStreamMaxLength ?? 100_000;
    this.history = config.collectorUrl === undefined ? undefined : new CollectorHistory(config.collectorUrl, config.token);
  }

  /** Path of the SQLite model registry. */
  get registryPath(): string {
    return join(this.config.dataDir, 'analytics', 'models.db');
  }

  /** The port `/metrics` is served on (0 when disabled). */
  get metricsPort(): number {
    return this.metricsServer?.port ?? 0;
  }

  /** Series currently held in memory. */
  get trackedSeries(): number {
    return this.series.size;
  }

  /** Shards of the samples stream this process reads (empty when unsharded). */
  get heldShards(): number[] {
    return [...this.shards.keys()].filter((index) => index !== unsharded).sort((a, b) => a - b);
  }

  /** The model version of a series' live detector, if the series is in memory. */
  detectorModelVersion(seriesId: string): string | undefined {
    return this.series.get(seriesId)?.detector.modelVersion;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('AnalyticsService already started');
    this.started = true;
    try {
      await this.open();
    } catch (error) {
      // Close whatever was opened, so a failed start leaves no connection or thread behind.
      await this.shutdown().catch(() => undefined);
      throw error;
    }
    this.logger.info(
      { group: this.config.group, consumer: this.consumer, stream: this.keys.samples, registry: this.registryPath, metricsPort: this.metricsPort },
      'analytics service started',
    );
  }

  private async open(): Promise<void> {
    const url = this.config.redisUrl;
    if (url === undefined) {
      throw new SlothError('SLOTH_ERR_CONFIG', 'analytics needs Redis: set --redis-url, REDIS_URL or redisUrl in the config file');
    }
    this.registry = new ModelRegistry(this.registryPath);
    this.pool = new ComputePool({ threads: this.config.trainingThreads, logger: this.logger });
    this.pool.start();

    const redisOptions = { maxRetriesPerRequest: null, lazyConnect: true };
    this.reader = new Redis(url, redisOptions);
    this.writer = new Redis(url, redisOptions);
    for (const client of [this.reader, this.writer]) client.on('error', (error: Error) => this.connectionError(error, 'Redis connection error'));
    try {
      await Promise.all([this.reader.connect(), this.writer.connect()]);
    } catch (error) {
      throw new SlothError('SLOTH_ERR_REDIS_UNAVAILABLE', `analytics cannot reach Redis at ${redactUrl(url)}: ${(error as Error).message}`, { cause: error });
    }
    if (this.config.shards === 1) await this.openShard(unsharded, this.reader);

    const connection = { url };
    const queueOptions = { connection, prefix: this.keys.queuePrefix };
    this.queue = new Queue(queueNames.training, queueOptions);
    this.queue.on('error', (error) => this.connectionError(error, 'training queue error'));
    await this.queue.upsertJobScheduler(`${this.config.group}-retrain-sweep`, { every: this.config.retrainSweepMillis }, { name: sweepJobName, data: {} });
    this.queueWorker = new Worker(queueNames.training, async (job) => await this.processJob(job), {
      ...queueOptions,
      concurrency: Math.max(1, this.config.trainingThreads),
    });
    this.queueWorker.on('error', (error) => this.connectionError(error, 'training worker error'));
    this.queueEvents = new QueueEvents(queueNames.training, queueOptions);
    this.queueEvents.on('error', (error) => this.connectionError(error, 'training events error'));
    // A model trained by another process of the deployment is installed here too, if this process holds the series.
    this.queueEvents.on('completed', ({ returnvalue }) => this.installFromEvent(returnvalue));

    if (this.config.metricsPort !== 0) {
      this.metricsServer = new MetricsServer({ host: this.config.metricsHost, port: this.config.metricsPort, render: () => this.renderMetrics() });
      await this.metricsServer.start();
    }

    this.timers.push(setInterval(() => void this.snapshotDirty(), this.config.snapshotIntervalMillis));
    this.timers.push(setInterval(() => this.forecastDue(), Math.min(this.config.forecastIntervalMillis, 5_000)));
    for (const t of this.timers) t.unref();

    if (this.config.shards > 1) {
      this.leases = new ShardLeases({
        redis: this.writer,
        keys: this.keys,
        group: this.config.group,
        consumer: this.consumer,
        shards: this.config.shards,
        renewMillis: this.config.leaseRenewMillis,
        logger: this.logger,
        acquired: async (index) => await this.acquireShard(index),
        released: async (index) => await this.releaseShard(index),
      });
      await this.leases.start();
    }
  }

  /** Starts reading one consumer group (the group, or shard `index` of it) on its own blocking connection. */
  private async openShard(index: number, reader: Redis, firstClaimIdleMillis?: number): Promise<Shard> {
    const group = index === unsharded ? this.config.group : shardGroup(this.config.group, index);
    // Assigned before the consumer starts, so before its first batch.
    const ref: { shard?: Shard } = {};
    const consumer = new SamplesConsumer({
      reader,
      writer: this.writer!,
      stream: this.keys.samples,
      group,
      consumer: this.consumer,
      logger: this.logger,
      blockMillis: this.config.blockMillis,
      claimIdleMillis: this.config.claimIdleMillis,
      claimIntervalMillis: this.config.claimIntervalMillis,
      ...(firstClaimIdleMillis === undefined ? {} : { firstClaimIdleMillis }),
      count: () => this.entriesPerRead(),
      process: async (entries) => await this.processEntries(entries, ref.shard!),
      beforeRead: async () => {
        await this.publishPending();
        await this.flushTrainingRequests();
      },
      housekeeping: async () => await this.refreshGroupInfo(),
      claimed: (count) => {
        this.metrics.entriesClaimed += count;
      },
    });
    const shard: Shard = { index, group, reader, consumer };
    ref.shard = shard;
    await consumer.start();
    this.shards.set(index, shard);
    return shard;
  }

  /** A shard lease was won: take over its group's pending entries (in stream order), then read on. */
  private async acquireShard(index: number): Promise<void> {
    if (this.stopping || this.shards.has(index)) return;
    const reader = this.writer!.duplicate();
    reader.on('error', (error: Error) => this.connectionError(error, 'Redis connection error'));
    // The previous holder is gone (its lease expired or it let go): its unacknowledged entries are ours at once.
    const shard = await this.openShard(index, reader, 0);
    this.logger.info({ shard: index, group: shard.group }, 'took over a shard of the samples stream');
  }

  /** A shard lease was lost or given up: stop reading it and hand its series' state over through the registry. */
  private async releaseShard(index: number): Promise<void> {
    const shard = this.shards.get(index);
    if (shard === undefined) return;
    await shard.consumer.shutdown(this.config.blockMillis + 5_000);
    this.shards.delete(index);
    await settlesWithin(this.publishPending().catch(() => undefined), 5_000);
    const leaving = [...this.series.values()].filter((state) => shardOf(state.seriesId, this.config.shards) === index);
    this.writeSnapshots(leaving.filter((state) => state.dirty));
    for (const state of leaving) {
      this.series.delete(state.seriesId);
      this.metrics.dropSeries(state.seriesId);
    }
    shard.reader.disconnect();
    this.logger.info({ shard: index, series: leaving.length }, 'handed a shard of the samples stream over');
  }

  /** Stops reading, finishes training and forecasts in flight, writes every snapshot, closes everything. */
  async shutdown(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    // A loop blocked on an unreachable Redis is cut loose (its reader disconnected); its scored batch stays unacknowledged and is redelivered.
    const loops = Promise.all([...this.shards.values()].map(async (shard) => await shard.consumer.shutdown(this.config.blockMillis + 5_000)));
    if (!(await settlesWithin(loops, this.config.blockMillis + 7_000))) {
      this.logger.warn('Redis does not answer; stopping without waiting for it');
      this.writer?.disconnect();
    }
    await settlesWithin(this.publishPending().catch(() => undefined), 5_000);
    await settlesWithin(Promise.allSettled([...this.forecastsInFlight]), 30_000);
    await settlesWithin(this.flushTrainingRequests(), 5_000);
    // BullMQ waits for active training jobs (which install their models) unless Redis is gone. With none
    // running there is nothing to wait for: after a Redis reconnect a graceful close could take a minute.
    const graceMillis = this.trainingJobsRunning > 0 ? 60_000 : 5_000;
    if (!(await settlesWithin(this.queueWorker?.close(), graceMillis))) await settlesWithin(this.queueWorker?.close(true), 5_000);
    await settlesWithin(Promise.allSettled([this.queueEvents?.close(), this.queue?.close()]), 5_000);
    await this.pool?.shutdown();
    await this.snapshotDirty();
    // A periodic run may have been under way: every series changed since is written now.
    await this.snapshotDirty();
    // Snapshots first, then the leases: whoever takes the shards over restores the latest state.
    await settlesWithin(this.leases?.shutdown(), 5_000);
    for (const shard of this.shards.values()) if (shard.reader !== this.reader) shard.reader.disconnect();
    this.registry?.close();
    await this.metricsServer?.shutdown();
    if (!(await settlesWithin(Promise.allSettled([this.reader?.quit(), this.writer?.quit()]), 2_000))) {
      this.reader?.disconnect();
      this.writer?.disconnect();
    }
    this.logger.info({ consumer: this.consumer }, 'analytics service stopped');
  }

  /** Logs connection errors at most once per 10 s: while Redis is down every client reports every retry. */
  private connectionError(error: Error, message: string): void {
    const now = Date.now();
    if (now - this.lastConnectionErrorMillis < 10_000) {
      this.suppressedConnectionErrors += 1;
      return;
    }
    this.logger.warn({ err: error, suppressedSinceLast: this.suppressedConnectionErrors }, message);
    this.lastConnectionErrorMillis = now;
    this.suppressedConnectionErrors = 0;
  }

  /** Prometheus text for `/metrics`. */
  async renderMetrics(): Promise<string> {
    this.metrics.trackedSeries = this.series.size;
    this.metrics.trainingBacklog = this.pool?.backlog ?? 0;
    return await this.metrics.render();
  }

  // -------------------------------------------------------------------------
  // Consuming the samples stream

  /** Pending entries and backlog of this process's groups, for `/metrics`. */
  private async refreshGroupInfo(): Promise<void> {
    const info = await readGroupInfo(this.writer!, this.keys.samples, new Set([...this.shards.values()].map((shard) => shard.group)));
    this.metrics.pendingEntries = info.pending;
    // Redis cannot tell the backlog when entries were deleted: keep the last known value then.
    if (info.backlog !== undefined) this.metrics.backlogEntries = info.backlog;
  }

  /** Entries to ask for so that a read brings about `batchSize` samples. */
  private entriesPerRead(): number {
    return Math.max(1, Math.min(this.config.batchSize, Math.round(this.config.batchSize / this.samplesPerEntry)));
  }

  /**
   * Scores a batch of entries, then publishes its anomaly events and acknowledges every entry in one
   * round trip. An entry carries one sample or a batch of them; each sample is scored on its own.
   */
  private async processEntries(entries: readonly StreamEntry[], shard: Shard): Promise<void> {
    const decoded = this.decodeEntries(entries, shard);
    if (this.history !== undefined) await this.coldStart(decoded, shard, this.history);
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
        const sample: FastSample = { seriesId, agentId: columns.agentIds[i] as string, timestampMillis: columns.timestampsMillis[i] as number, value: columns.values[i] as number };
        if (!this.series.has(seriesId)) {
          // The series id is parsed (and checked) once per series that is not in memory.
          try {
            sample.name = parseSeriesId(seriesId).name;
          } catch (error) {
            this.badSample({ id, series: seriesId }, error);
            continue;
          }
        }
        const event = this.scoreSample(sample);
        if (event !== undefined) events.push(event);
      }
    }
    // State is updated already: if Redis fails now, the loop retries this publish before reading on,
    // so the events are not lost (a redelivered entry would be skipped as already seen).
    this.unpublished.push({ events, ids, group: shard.group });
    // A failure here is not the batch's: the consumer publishes (and backs off) before its next read.
    await this.publishPending().catch(() => undefined);
    if (newestIdMillis > 0) this.metrics.lagSeconds = Math.max(0, (Date.now() - newestIdMillis) / 1_000);
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
    return seriesId === undefined ? shard.index === 0 : shardOf(seriesId, this.config.shards) === shard.index;
  }

  /** Publishes the anomaly events and acknowledges the entries of scored batches, oldest first. */
  private async publishPending(): Promise<void> {
    // Several shard loops call this; one publisher at a time, or a batch could be published twice.
    while (this.publishing !== undefined) await this.publishing;
    this.publishing = this.publishUnpublished();
    try {
      await this.publishing;
    } finally {
      this.publishing = undefined;
    }
  }

  private async publishUnpublished(): Promise<void> {
    while (this.unpublished.length > 0) {
      const { events, ids, group } = this.unpublished[0]!;
      const pipeline = this.writer!.multi();
      for (const event of events) {
        pipeline.xadd(this.keys.anomalies, 'MAXLEN', '~', this.maxOutputLength, '*', ...encodeJsonMessage(anomalyEventSchema.parse(event)));
      }
      if (ids.length > 0) pipeline.xack(this.keys.samples, group, ...ids);
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error !== null);
      if (results === null || failed !== undefined) throw new Error(`publishing anomaly events failed: ${failed?.[0]?.message ?? 'transaction aborted'}`);
      this.unpublished.shift();
      this.metrics.anomaliesPublished += events.length;
    }
  }

  /** Counts a sample (or a whole entry) that is not valid; it is acknowledged and skipped. */
  private badSample(where: Record<string, unknown>, error: unknown, fields?: readonly string[]): void {
    this.metrics.badEntries += 1;
    // One line per 1,000 bad samples is enough to notice a broken producer without flooding the log.
    if (this.metrics.badEntries % 1_000 === 1) {
      const reason = error instanceof Error ? error.message.split('\n').slice(0, 6).join(' ') : String(error);
      const entry = fields === undefined ? {} : { fields: fields.slice(0, 8).map(clip) };
      this.logger.warn({ ...where, ...entry, badEntries: this.metrics.badEntries, reason }, 'skipping a samples-stream sample that is not valid');
    }
  }

  private scoreSample(sample: FastSample): AnomalyEvent | undefined {
    const state = this.stateFor(sample);
    if (sample.timestampMillis <= state.lastTimestampMillis) {
      this.metrics.outOfOrderSamples += 1;
      return undefined;
    }
    let output;
    try {
      output = state.detector.update(sample.timestampMillis, sample.value);
    } catch (error) {
      this.badSample({ series: sample.seriesId, timestampMillis: sample.timestampMillis }, error);
      return undefined;
    }
    state.lastTimestampMillis = sample.timestampMillis;
    state.agentId = sample.agentId;
    state.history.push(sample.timestampMillis, sample.value);
    state.dirty = true;
    this.metrics.samplesScored += 1;
    const score = Number.isFinite(output.score) ? Math.min(1, Math.max(0, output.score)) : 0;
    this.metrics.setScore(state, score);
    if (!state.trainingInFlight) {
      const request = state.detector.trainingRequest();
      if (request !== null) {
        state.trainingInFlight = true;
        state.trainingRequestedMillis = Date.now();
        this.trainingEnqueue.push({ state, request });
      }
    }
    if (score < this.config.anomalyThreshold) return undefined;
    if (sample.timestampMillis - state.lastAlertMillis < this.config.realertSuppressMillis) return undefined;
    state.lastAlertMillis = sample.timestampMillis;
    return {
      seriesId: sample.seriesId,
      agentId: sample.agentId,
      metric: state.metric,
      timestampMillis: sample.timestampMillis,
      value: sample.value,
      score,
      expectedLow: finiteOrNull(output.expectedLow),
      expectedHigh: finiteOrNull(output.expectedHigh),
      modelVersion: state.detector.modelVersion,
    };
  }

  /** The series' state: in memory, else restored from the registry, else new. Evicts the least recently seen beyond `maxSeries`. */
  private stateFor(sample: FastSample): SeriesState {
    const existing = this.series.get(sample.seriesId);
    if (existing !== undefined) {
      // Map order is the LRU order.
      this.series.delete(sample.seriesId);
      this.series.set(sample.seriesId, existing);
      return existing;
    }
    // A series not in memory had its id parsed, so `name` is there.
    const { state } = this.restoreOrCreate(sample as NewSample);
    this.adopt(state);
    return state;
  }

  private adopt(state: SeriesState): void {
    this.series.set(state.seriesId, state);
    if (this.series.size > this.config.maxSeries) this.evictOldest();
  }

  /**
   * Series of the batch that are neither in memory nor in the registry start from the collector's
   * history of the last `coldStartMillis` (detector warmed up, history filled, nothing published).
   */
  private async coldStart(entries: readonly DecodedEntry[], shard: Shard, history: CollectorHistory): Promise<void> {
    if (Date.now() < this.coldStartPausedUntilMillis) return;
    const fresh = new Map<string, NewSample>();
    for (const { columns } of entries) {
      for (let i = 0; i < columns.length; i += 1) {
        const seriesId = columns.seriesIds[i] as string;
        if (this.series.has(seriesId) || fresh.has(seriesId) || !this.owns(shard, seriesId)) continue;
        let name: string;
        try {
          name = parseSeriesId(seriesId).name;
        } catch {
          continue; // Reported as a bad sample by the scoring loop.
        }
        fresh.set(seriesId, { seriesId, name, agentId: columns.agentIds[i] as string, timestampMillis: columns.timestampsMillis[i] as number, value: columns.values[i] as number });
      }
    }
    const toWarm: Array<{ state: SeriesState; sample: NewSample }> = [];
    for (const sample of fresh.values()) {
      const { state, restored } = this.restoreOrCreate(sample);
      if (restored) this.adopt(state);
      else toWarm.push({ state, sample });
    }
    const concurrency = 8;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < toWarm.length) {
        const item = toWarm[next++]!;
        if (Date.now() >= this.coldStartPausedUntilMillis) {
          const to = item.sample.timestampMillis - 1;
          const result = await history.fetch(item.sample.seriesId, to - this.config.coldStartMillis, to);
          if (result.ok) this.warm(item.state, result.points);
          else if (result.retryable) {
            // Do not stall every new series on a collector that is down: try again in a minute.
            this.coldStartPausedUntilMillis = Date.now() + 60_000;
            this.logger.warn({ reason: result.reason }, 'cannot read series history from the collector; new series start cold for the next minute');
          } else this.logger.warn({ reason: result.reason, series: item.sample.seriesId }, 'cannot read series history from the collector');
        }
        this.adopt(item.state);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, toWarm.length) }, worker));
  }

  private warm(state: SeriesState, points: readonly { timestampMillis: number; value: number }[]): void {
    for (const p of points) {
      if (p.timestampMillis <= state.lastTimestampMillis) continue;
      try {
        state.detector.update(p.timestampMillis, p.value);
      } catch {
        continue;
      }
      state.history.push(p.timestampMillis, p.value);
      state.lastTimestampMillis = p.timestampMillis;
      this.metrics.coldStartPoints += 1;
    }
    state.dirty = points.length > 0;
  }

  private restoreOrCreate(sample: NewSample): { state: SeriesState; restored: boolean } {
    const registry = this.registry!;
    const make = (detector: SeriesState['detector']): SeriesState =>
      new SeriesState({ seriesId: sample.seriesId, metric: sample.name, agentId: sample.agentId, detector, historyPoints: this.config.historyPoints });
    const stored = registry.loadSnapshot(sample.seriesId);
    let state: SeriesState | undefined;
    if (stored !== undefined && isPersistedSeriesState(stored.snapshot)) {
      try {
        state = make(restoreDetector(stored.snapshot.detector));
        state.restoreFrom(stored.snapshot);
      } catch (error) {
        this.logger.warn({ err: error, series: sample.seriesId }, 'cannot restore the stored detector state; starting the series afresh');
        state = undefined;
      }
    }
    const restored = state !== undefined;
    state ??= make(createDetector(this.options.detectorOptions));
    // A model trained after the last snapshot (e.g. just before a crash) is still in the registry.
    const latest = registry.latestModel(sample.seriesId, 'detector');
    if (latest !== undefined && latest.version > modelVersionNumber(state.detector.modelVersion)) {
      try {
        state.detector.installModel(latest.artifact as TrainedModel);
      } catch (error) {
        this.logger.warn({ err: error, series: sample.seriesId, version: latest.version }, 'cannot install the stored model');
      }
    }
    return { state, restored };
  }

  private evictOldest(): void {
    const oldest = this.series.values().next().value;
    if (oldest === undefined) return;
    this.series.delete(oldest.seriesId);
    this.metrics.dropSeries(oldest.seriesId);
    this.metrics.seriesEvicted += 1;
    if (oldest.dirty) this.writeSnapshots([oldest]);
  }

  // -------------------------------------------------------------------------
  // Snapshots

  /**
   * Writes the snapshots of changed series, 100 per transaction, yielding to the event loop between
   * chunks: thousands of ~60 KB snapshots serialised in one go would stall scoring for seconds.
   */
  private async snapshotDirty(): Promise<void> {
    if (this.snapshotting !== undefined) return await this.snapshotting;
    this.snapshotting = (async () => {
      const dirty = [...this.series.values()].filter((s) => s.dirty);
      for (let i = 0; i < dirty.length; i += 100) {
        this.writeSnapshots(dirty.slice(i, i + 100).filter((s) => s.dirty));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    try {
      await this.snapshotting;
    } finally {
      this.snapshotting = undefined;
    }
  }

  private writeSnapshots(states: readonly SeriesState[]): void {
    if (states.length === 0 || this.registry === undefined) return;
    const now = Date.now();
    try {
      this.registry.saveSnapshots(states.map((s) => ({ seriesId: s.seriesId, agentId: s.agentId, updatedMillis: now, snapshot: s.toPersisted() })));
      for (const s of states) s.dirty = false;
      this.metrics.snapshotsWritten += states.length;
    } catch (error) {
      this.logger.error({ err: error, count: states.length }, 'writing detector snapshots failed; will retry');
    }
  }

  // -------------------------------------------------------------------------
  // Training (BullMQ `training` queue, worker threads)

  private async flushTrainingRequests(): Promise<void> {
    if (this.trainingEnqueue.length === 0 || this.queue === undefined) return;
    const batch = this.trainingEnqueue.splice(0);
    try {
      await this.queue.addBulk(
        batch.map(({ state, request }) => ({
          name: trainJobName,
          data: { seriesId: state.seriesId, request },
          opts: {
            removeOnComplete: { count: 200 },
            removeOnFail: { count: 200 },
            attempts: 2,
            backoff: { type: 'fixed', delay: 1_000 },
          },
        })),
      );
    } catch (error) {
      for (const { state } of batch) state.trainingInFlight = false;
      this.logger.warn({ err: error, count: batch.length }, 'cannot enqueue training jobs; they will be requested again');
    }
  }

  private async processJob(job: Job<TrainJobData | Record<string, never>>): Promise<TrainJobResult | { swept: number }> {
    if (job.name === sweepJobName) return { swept: this.sweep() };
    if (job.name !== trainJobName) throw new Error(`unknown training job ${JSON.stringify(job.name)}`);
    const data = job.data as TrainJobData;
    this.trainingJobsRunning += 1;
    try {
      const model = await this.pool!.run({ type: 'train-detector', request: data.request });
      this.registry!.saveModel(
        {
          seriesId: data.seriesId,
          kind: 'detector',
          version: model.version,
          createdMillis: Date.now(),
          metadata: { kind: model.kind, lagRows: model.lagRows, trainRows: data.request.values.length, epochs: data.request.epochs, trainedBy: this.consumer },
          backtestScore: model.trainLoss,
          artifact: model,
        },
        this.config.keepModelVersions,
      );
      this.metrics.modelsTrained += 1;
      this.install(data.seriesId, model);
      return { seriesId: data.seriesId, model };
    } catch (error) {
      this.metrics.trainingFailures += 1;
      const state = this.series.get(data.seriesId);
      if (state !== undefined && job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) state.trainingInFlight = false;
      this.logger.warn({ err: error, series: data.seriesId }, 'training a detector model failed');
      throw error;
    } finally {
      this.trainingJobsRunning -= 1;
    }
  }

  /** Runs on the schedule: asks every live detector whether (re)training is due. */
  private sweep(): number {
    let due = 0;
    const now = Date.now();
    for (const state of this.series.values()) {
      // A job lost with a crashed process of the deployment is asked for again.
      if (state.trainingInFlight && now - state.trainingRequestedMillis > trainingTimeoutMillis) state.trainingInFlight = false;
      if (state.trainingInFlight) continue;
      state.trainingRequestedMillis = now;
      const request = state.detector.trainingRequest();
      if (request === null) continue;
      state.trainingInFlight = true;
      this.trainingEnqueue.push({ state, request });
      due += 1;
    }
    return due;
  }

  private install(seriesId: string, model: TrainedModel): void {
    const state = this.series.get(seriesId);
    if (state === undefined) return;
    state.trainingInFlight = false;
    if (model.version <= modelVersionNumber(state.detector.modelVersion)) return;
    try {
      state.detector.installModel(model);
      state.dirty = true;
      this.logger.debug({ series: seriesId, version: state.detector.modelVersion }, 'installed a detector model');
    } catch (error) {
      this.logger.warn({ err: error, series: seriesId }, 'installing a trained model failed');
    }
  }

  private installFromEvent(returnvalue: unknown): void {
    let value = returnvalue;
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch {
        return;
      }
    }
    if (value === null || typeof value !== 'object') return;
    const result = value as Partial<TrainJobResult>;
    if (typeof result.seriesId !== 'string' || result.model === undefined) return;
    this.install(result.seriesId, result.model);
  }

  // -------------------------------------------------------------------------
  // Forecasts

  private forecastDue(): void {
    if (this.stopping) return;
    const free = this.config.forecastConcurrency - this.forecastsInFlight.size;
    if (free <= 0) return;
    const now = Date.now();
    const due: SeriesState[] = [];
    for (const state of this.series.values()) {
      if (state.forecastInFlight || state.history.length < this.config.forecastMinPoints) continue;
      if (now - state.lastForecastMillis >= this.config.forecastIntervalMillis) due.push(state);
    }
    // The longest-waiting series first, so a slow forecaster still gets round to every series.
    due.sort((a, b) => a.lastForecastMillis - b.lastForecastMillis);
    for (const state of due.slice(0, free)) {
      state.forecastInFlight = true;
      state.lastForecastMillis = now;
      const run = this.forecast(state).finally(() => {
        state.forecastInFlight = false;
        this.forecastsInFlight.delete(run);
      });
      this.forecastsInFlight.add(run);
    }
  }

  private async forecast(state: SeriesState): Promise<void> {
    const { timestampsMillis, values } = state.history.toArrays();
    let result: ForecastResult;
    try {
      result = await this.pool!.run({ type: 'forecast', timestampsMillis, values, horizonSteps: this.config.forecastHorizonSteps, options: this.options.forecastOptions });
    } catch (error) {
      this.metrics.forecastFailures += 1;
      this.logger.warn({ err: error, series: state.seriesId }, 'forecast failed');
      return;
    }
    if (this.registry === undefined || this.writer === undefined || this.writer.status !== 'ready') return;
    const points = result.points.map((p) => {
      const [p10, p50, p90] = [p.p10, p.p50, p.p90].sort((a, b) => a - b) as [number, number, number];
      return { timestampMillis: p.timestampMillis, p10, p50, p90 };
    });
    const version = (this.registry.latestModel(state.seriesId, 'forecast')?.version ?? 0) + 1;
    const message: ForecastMessage = {
      seriesId: state.seriesId,
      agentId: state.agentId,
      metric: state.metric,
      issuedAtMillis: Date.now(),
      stepMillis: result.stepMillis,
      points,
      model: result.model,
      modelVersion: `forecast-v${version}`,
    };
    try {
      const parsed = forecastMessageSchema.parse(message);
      this.registry.saveModel(
        {
          seriesId: state.seriesId,
          kind: 'forecast',
          version,
          createdMillis: message.issuedAtMillis,
          metadata: { model: result.model, stepMillis: result.stepMillis, horizonSteps: points.length, historyPoints: values.length, mase: result.backtest.mase, smape: result.backtest.smape },
          backtestScore: result.backtest.mase,
          artifact: { model: result.model, points },
        },
        this.config.keepModelVersions,
      );
      await this.writer.xadd(this.keys.forecasts, 'MAXLEN', '~', this.maxOutputLength, '*', ...encodeJsonMessage(parsed));
      this.metrics.setForecast({ series: state.seriesId, agent: state.agentId, metric: state.metric }, points);
      this.metrics.forecastsPublished += 1;
    } catch (error) {
      this.metrics.forecastFailures += 1;
      this.logger.warn({ err: error, series: state.seriesId }, 'publishing a forecast failed');
    }
  }
}

/** What scoring needs of a sample; the metric name is only needed (and parsed) for a new series. */
type FastSample = Pick<Sample, 'seriesId' | 'agentId' | 'timestampMillis' | 'value'> & { name?: string };

/** A sample of a series not in memory, with the metric name parsed from its id. */
type NewSample = FastSample & { name: string };

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

/** A field of a bad entry, cut short for the log. */
function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** One consumer group this process reads, with its own blocking connection and consumer. */
interface Shard {
  /** Shard number, or {@link unsharded}. */
  index: number;
  group: string;
  reader: Redis;
  consumer: SamplesConsumer;
}

const unsharded = -1;

/** Waits for `promise` at most `millis`; true when it settled (fulfilled or rejected) in time. */
async function settlesWithin(promise: Promise<unknown> | undefined, millis: number): Promise<boolean> {
  if (promise === undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), millis);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function finiteOrNull(value: number | null): number | null {
  return value !== null && Number.isFinite(value) ? value : null;
}

/** `mlp-v7` → 7; `stats` (no model yet) → 0. */
function modelVersionNumber(modelVersion: string): number {
  const match = /(\d+)$/.exec(modelVersion);
  return match === null ? 0 : Number(match[1]);
}

