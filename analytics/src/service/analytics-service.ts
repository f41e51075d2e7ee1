import { hostname } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redactUrl, redisKeys, silentLogger, SlothError, type Logger, type RedisKeys } from '@sloth/core';
import type { DetectorOptions } from '../detector/contract.js';
import type { ForecastOptions } from '../forecast/types.js';
import { AnomalyOutbox } from './anomaly-outbox.js';
import { CollectorHistory } from './collector-history.js';
import { ColdStart } from './cold-start.js';
import { ComputePool } from './compute-pool.js';
import { serviceDetectorOptions, type AnalyticsConfig } from './config.js';
import { ForecastScheduler } from './forecast-scheduler.js';
import { MetricsServer } from './metrics-server.js';
import { ModelRegistry } from './model-registry.js';
import { AnalyticsMetrics } from './prometheus-metrics.js';
import { SampleIntake } from './sample-intake.js';
import { Scorer, scorerSettings } from './scorer.js';
import { SeriesTable } from './series-table.js';
import { settlesWithin } from './service-util.js';
import { ShardLeases } from './shard-leases.js';
import { TrainingQueue } from './training-queue.js';

/** Options that are not configuration: tuning of the models (tests use small ones) and the logger. */
export interface AnalyticsServiceOptions {
  logger?: Logger;
  /** Options handed to every detector (one configuration for every series); they override `detectorModel`. */
  detectorOptions?: Partial<DetectorOptions>;
  /** Options handed to every forecast. */
  forecastOptions?: Partial<ForecastOptions>;
  /** Approximate cap of the anomalies and forecasts streams (XADD MAXLEN ~). @defaultValue 100000 */
  outputStreamMaxLength?: number;
}

/** The parts a started service is made of, in start order. */
interface Parts {
  registry: ModelRegistry;
  pool: ComputePool;
  reader: Redis;
  writer: Redis;
  table: SeriesTable;
  training: TrainingQueue;
  intake: SampleIntake;
  outbox: AnomalyOutbox;
  forecasts: ForecastScheduler;
  metricsServer: MetricsServer | undefined;
  leases: ShardLeases | undefined;
  snapshotTimer: NodeJS.Timeout;
}

/**
 * The analytics service: reads `sloth:samples` through a consumer group, scores what a human would
 * look at (gauges as values, counters as rates), publishes incident transitions and forecasts,
 * trains models in worker threads, keeps models and detector state in a SQLite registry and exposes
 * Prometheus metrics. It composes the parts ({@link SampleIntake}, {@link SeriesTable},
 * {@link Scorer}, {@link AnomalyOutbox}, {@link TrainingQueue}, {@link ForecastScheduler}) and
 * orders their start and shutdown.
 */
export class AnalyticsService {
  readonly config: AnalyticsConfig;
  readonly consumer: string;
  readonly keys: RedisKeys;
  readonly metrics = new AnalyticsMetrics();
  private readonly logger: Logger;
  private readonly options: AnalyticsServiceOptions;
  private parts: Partial<Parts> = {};
  private started = false;
  private stopping = false;
  private quiesced = false;
  private startedAtMillis = 0;
  private lastConnectionErrorMillis = 0;
  private suppressedConnectionErrors = 0;

  constructor(config: AnalyticsConfig, options: AnalyticsServiceOptions = {}) {
    this.config = config;
    this.options = options;
    this.logger = options.logger ?? silentLogger();
    this.consumer = config.consumer ?? `${hostname().replace(/[^A-Za-z0-9_.:-]/g, '-')}-${process.pid}`;
    this.keys = redisKeys(config.redisPrefix);
  }

  /** Path of the SQLite model registry. */
  get registryPath(): string {
    return join(this.config.dataDir, 'analytics', 'models.db');
  }

  /** The port `/metrics` is served on (0 when disabled). */
  get metricsPort(): number {
    return this.parts.metricsServer?.port ?? 0;
  }

  /** Series currently held in memory. */
  get trackedSeries(): number {
    return this.parts.table?.size ?? 0;
  }

  /** Shards of the samples stream this process reads (empty when unsharded). */
  get heldShards(): number[] {
    return this.parts.intake?.heldShards ?? [];
  }

  /** The model version of a series' live detector, if the series is in memory. */
  detectorModelVersion(seriesId: string): string | undefined {
    return this.parts.table?.peek(seriesId)?.detector.modelVersion;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('AnalyticsService already started');
    this.started = true;
    this.startedAtMillis = Date.now();
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
    const { config, logger, metrics, keys } = this;
    const url = config.redisUrl;
    if (url === undefined) throw new SlothError('SLOTH_ERR_CONFIG', 'analytics needs Redis: set --redis-url, REDIS_URL or redisUrl in the config file');
    const p = this.parts;
    const registry = (p.registry = new ModelRegistry(this.registryPath));
    const pool = (p.pool = new ComputePool({ threads: config.trainingThreads, logger, dutyCycle: config.trainingDutyCycle ?? 1, rested: (millis) => (metrics.computePauseMillis += millis), restStarted: () => (metrics.computeRestsStarted += 1) }));
    pool.start();
    const redisOptions = { maxRetriesPerRequest: null, lazyConnect: true };
    const reader = (p.reader = new Redis(url, redisOptions));
    const writer = (p.writer = new Redis(url, redisOptions));
    const connectionError = (error: Error, message: string): void => this.connectionError(error, message);
    for (const client of [reader, writer]) client.on('error', (error: Error) => connectionError(error, 'Redis connection error'));
    try {
      await Promise.all([reader.connect(), writer.connect()]);
    } catch (error) {
      throw new SlothError('SLOTH_ERR_REDIS_UNAVAILABLE', `analytics cannot reach Redis at ${redactUrl(url)}: ${(error as Error).message}`, { cause: error });
    }
    const maxLength = this.options.outputStreamMaxLength ?? 100_000;
    const table = (p.table = new SeriesTable({ registry, metrics, logger, maxSeries: config.maxSeries, historyPoints: config.historyPoints, detectorOptions: serviceDetectorOptions(config, this.options.detectorOptions) }));
    const training = (p.training = new TrainingQueue({
      redisUrl: url,
      keys,
      group: config.group,
      consumer: this.consumer,
      threads: config.trainingThreads,
      retrainSweepMillis: config.retrainSweepMillis,
      keepModelVersions: config.keepModelVersions,
      table, registry, pool, metrics, logger, connectionError }));
    const intake: { current?: SampleIntake } = {};
    const scorer = new Scorer({
      ...scorerSettings(config),
      metrics,
      mayOpen: () => !this.stopping && Date.now() - this.startedAtMillis >= config.startupQuietMillis,
      stopping: () => this.stopping || this.quiesced,
      requestTraining: (state, request) => training.request(state, request),
      badSample: (where, error) => intake.current?.badSample(where, error),
    });
    const outbox = (p.outbox = new AnomalyOutbox({ writer, samplesStream: keys.samples, anomaliesStream: keys.anomalies, maxLength, metrics }));
    const history = config.collectorUrl === undefined ? undefined : new CollectorHistory(config.collectorUrl, config.token);
    const coldStart = history === undefined ? undefined : new ColdStart({ history, table, scorer, metrics, logger, coldStartMillis: config.coldStartMillis });
    p.intake = intake.current = new SampleIntake({ config, keys, consumer: this.consumer, writer, table, scorer, outbox, training, coldStart, metrics, logger, connectionError });
    p.forecasts = new ForecastScheduler({ config, forecastOptions: this.options.forecastOptions, table, pool, registry, writer, keys, maxLength, metrics, logger });

    if (config.shards === 1) await p.intake.startUnsharded(reader);
    await training.start();
    if (config.metricsPort !== 0) {
      p.metricsServer = new MetricsServer({ host: config.metricsHost, port: config.metricsPort, render: () => this.renderMetrics() });
      await p.metricsServer.start();
    }
    p.snapshotTimer = setInterval(() => void table.snapshotDirty(), config.snapshotIntervalMillis);
    p.snapshotTimer.unref();
    p.forecasts.start();
    if (config.shards > 1) {
      const reading = p.intake;
      p.leases = new ShardLeases({
        redis: writer,
        keys,
        group: config.group,
        consumer: this.consumer,
        shards: config.shards,
        renewMillis: config.leaseRenewMillis,
        logger,
        acquired: async (index) => await reading.acquireShard(index),
        released: async (index) => await reading.releaseShard(index),
      });
      await p.leases.start();
    }
  }

  /**
   * The process this service runs in is stopping (`sloth up` stops its other roles before this one):
   * from now on samples are still scored but make no incident transition (see {@link shutdown}).
   */
  quiesce(): void {
    this.quiesced = true;
  }

  /** Stops reading (nothing is scored or published after), finishes training and forecasts in flight, writes every snapshot, closes everything. */
  async shutdown(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    const p = this.parts;
    clearInterval(p.snapshotTimer);
    // Training and forecasts in flight finish at full speed: shutdown does not wait out their rests.
    p.pool?.hurry();
    // A loop blocked on an unreachable Redis is cut loose (its reader disconnected); its scored batch stays unacknowledged and is redelivered.
    if (p.intake !== undefined && !(await p.intake.shutdown())) {
      this.logger.warn('Redis does not answer; stopping without waiting for it');
      p.writer?.disconnect();
    }
    await settlesWithin(p.outbox?.publishPending().catch(() => undefined), 5_000);
    await p.forecasts?.shutdown();
    await p.training?.shutdown();
    await p.pool?.shutdown();
    await p.table?.snapshotDirty();
    // A periodic run may have been under way: every series changed since is written now.
    await p.table?.snapshotDirty();
    // Snapshots first, then the leases: whoever takes the shards over restores the latest state.
    await settlesWithin(p.leases?.shutdown(), 5_000);
    p.intake?.disconnectReaders(p.reader);
    p.registry?.close();
    await p.metricsServer?.shutdown();
    if (!(await settlesWithin(Promise.allSettled([p.reader?.quit(), p.writer?.quit()]), 2_000))) {
      p.reader?.disconnect();
      p.writer?.disconnect();
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
    this.metrics.trackedSeries = this.parts.table?.size ?? 0;
    this.metrics.trainingBacklog = this.parts.pool?.backlog ?? 0;
    return await this.metrics.render();
  }
}
