import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import { queueNames, type Logger, type RedisKeys } from '@sloth/core';
import type { TrainedModel, TrainingRequest } from '../detector/contract.js';
import type { ComputePool } from './compute-pool.js';
import type { ModelRegistry } from './model-registry.js';
import type { AnalyticsMetrics } from './prometheus-metrics.js';
import { modelVersionNumber, settlesWithin } from './service-util.js';
import type { SeriesState } from './series-state.js';
import type { SeriesTable } from './series-table.js';

interface TrainJobData {
  seriesId: string;
  request: TrainingRequest;
}

interface TrainJobResult {
  seriesId: string;
  model: TrainedModel;
}

type JobData = TrainJobData | Record<string, never>;

const sweepJobName = 'sweep';
const trainJobName = 'train-detector';
const trainingTimeoutMillis = 15 * 60_000;

export interface TrainingQueueOptions {
  redisUrl: string;
  keys: RedisKeys;
  group: string;
  consumer: string;
  threads: number;
  retrainSweepMillis: number;
  keepModelVersions: number;
  table: SeriesTable;
  registry: ModelRegistry;
  pool: ComputePool;
  metrics: AnalyticsMetrics;
  logger: Logger;
  connectionError: (error: Error, message: string) => void;
}

/**
 * Training of detector models on the BullMQ `training` queue (worker threads of the compute pool):
 * requests from scoring are enqueued in bulk before each read, a repeatable sweep asks every live
 * detector whether retraining is due, and a model trained by any process of the deployment is
 * installed here too when this process holds the series.
 */
export class TrainingQueue {
  private readonly options: TrainingQueueOptions;
  private queue: Queue<JobData> | undefined;
  private worker: Worker<JobData, TrainJobResult | { swept: number }> | undefined;
  private events: QueueEvents | undefined;
  private readonly toEnqueue: Array<{ state: SeriesState; request: TrainingRequest }> = [];
  /** Training jobs this process is running now; shutdown waits for them, and only for them. */
  private running = 0;

  constructor(options: TrainingQueueOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    const { keys, group, threads, retrainSweepMillis, connectionError } = this.options;
    const queueOptions = { connection: { url: this.options.redisUrl }, prefix: keys.queuePrefix };
    this.queue = new Queue(queueNames.training, queueOptions);
    this.queue.on('error', (error) => connectionError(error, 'training queue error'));
    await this.queue.upsertJobScheduler(`${group}-retrain-sweep`, { every: retrainSweepMillis }, { name: sweepJobName, data: {} });
    this.worker = new Worker(queueNames.training, async (job) => await this.processJob(job), { ...queueOptions, concurrency: Math.max(1, threads) });
    this.worker.on('error', (error) => connectionError(error, 'training worker error'));
    this.events = new QueueEvents(queueNames.training, queueOptions);
    this.events.on('error', (error) => connectionError(error, 'training events error'));
    this.events.on('completed', ({ returnvalue }) => this.installFromEvent(returnvalue));
  }

  /** A detector asked for training: enqueued with the next flush. */
  request(state: SeriesState, request: TrainingRequest): void {
    state.trainingInFlight = true;
    state.trainingRequestedMillis = Date.now();
    this.toEnqueue.push({ state, request });
  }

  async flush(): Promise<void> {
    if (this.toEnqueue.length === 0 || this.queue === undefined) return;
    const batch = this.toEnqueue.splice(0);
    try {
      await this.queue.addBulk(
        batch.map(({ state, request }) => ({
          name: trainJobName,
          data: { seriesId: state.seriesId, request },
          opts: { removeOnComplete: { count: 200 }, removeOnFail: { count: 200 }, attempts: 2, backoff: { type: 'fixed', delay: 1_000 } },
        })),
      );
    } catch (error) {
      for (const { state } of batch) state.trainingInFlight = false;
      this.options.logger.warn({ err: error, count: batch.length }, 'cannot enqueue training jobs; they will be requested again');
    }
  }

  /** Closes the worker (waiting for running jobs, which install their models, unless Redis is gone), events and queue. */
  async shutdown(): Promise<void> {
    await settlesWithin(this.flush(), 5_000);
    // With no job running there is nothing to wait for: after a Redis reconnect a graceful close could take a minute.
    const graceMillis = this.running > 0 ? 60_000 : 5_000;
    if (!(await settlesWithin(this.worker?.close(), graceMillis))) await settlesWithin(this.worker?.close(true), 5_000);
    await settlesWithin(Promise.allSettled([this.events?.close(), this.queue?.close()]), 5_000);
  }

  private async processJob(job: Job<JobData>): Promise<TrainJobResult | { swept: number }> {
    if (job.name === sweepJobName) return { swept: this.sweep() };
    if (job.name !== trainJobName) throw new Error(`unknown training job ${JSON.stringify(job.name)}`);
    return await this.train(job, job.data as TrainJobData);
  }

  private async train(job: Job<JobData>, data: TrainJobData): Promise<TrainJobResult> {
    const { registry, pool, metrics, logger } = this.options;
    this.running += 1;
    try {
      const model = await pool.run({ type: 'train-detector', request: data.request });
      registry.saveModel(
        {
          seriesId: data.seriesId,
          kind: 'detector',
          version: model.version,
          createdMillis: Date.now(),
          metadata: { kind: model.kind, lagRows: model.lagRows, trainRows: data.request.values.length, epochs: data.request.epochs, trainedBy: this.options.consumer },
          backtestScore: model.trainLoss,
          artifact: model,
        },
        this.options.keepModelVersions,
      );
      metrics.modelsTrained += 1;
      this.install(data.seriesId, model);
      return { seriesId: data.seriesId, model };
    } catch (error) {
      metrics.trainingFailures += 1;
      const state = this.options.table.peek(data.seriesId);
      if (state !== undefined && job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) state.trainingInFlight = false;
      logger.warn({ err: error, series: data.seriesId }, 'training a detector model failed');
      throw error;
    } finally {
      this.running -= 1;
    }
  }

  /** Runs on the schedule: asks every live detector whether (re)training is due. */
  private sweep(): number {
    let due = 0;
    const now = Date.now();
    for (const state of this.options.table.values()) {
      // A job lost with a crashed process of the deployment is asked for again.
      if (state.trainingInFlight && now - state.trainingRequestedMillis > trainingTimeoutMillis) state.trainingInFlight = false;
      if (state.trainingInFlight) continue;
      state.trainingRequestedMillis = now;
      const request = state.detector.trainingRequest();
      if (request === null) continue;
      this.request(state, request);
      due += 1;
    }
    return due;
  }

  private install(seriesId: string, model: TrainedModel): void {
    const state = this.options.table.peek(seriesId);
    if (state === undefined) return;
    state.trainingInFlight = false;
    if (model.version <= modelVersionNumber(state.detector.modelVersion)) return;
    try {
      state.detector.installModel(model);
      state.dirty = true;
      this.options.logger.debug({ series: seriesId, version: state.detector.modelVersion }, 'installed a detector model');
    } catch (error) {
      this.options.logger.warn({ err: error, series: seriesId }, 'installing a trained model failed');
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
}
