import type { AnomalyEvent, Labels, SampleKind } from '@sloth/core';
import type { DetectorOptions, TrainedModel, TrainingRequest } from '../detector/contract.js';
import { createDetector } from '../detector/series-detector.js';
import { serviceDetectorOptions, type AnalyticsConfig } from './config.js';
import { AnalyticsMetrics } from './prometheus-metrics.js';
import { Scorer, scorerSettings } from './scorer.js';
import { modelVersionNumber } from './service-util.js';
import { SeriesState } from './series-state.js';

/** One recorded sample, as the collector publishes it on the samples stream (series id, its parsed name and labels). */
export interface RecordedSample {
  seriesId: string;
  metric: string;
  labels: Labels;
  agentId: string;
  timestampMillis: number;
  value: number;
  kind: SampleKind;
}

export interface RecordedReplayOptions {
  /** Options handed to every detector, as the live service's `detectorOptions` (they override `detectorModel`). */
  detectorOptions?: Partial<DetectorOptions> | undefined;
  /**
   * Sample time the replayed role started at: the start-up quiet (`startupQuietMillis`) runs from it
   * in sample time, as it runs in wall time live.
   */
  startedMillis: number;
  /**
   * Trains a detector's model when it asks (the live service does it in a worker thread and installs
   * the model seconds later); the model is installed before the next sample. Undefined: requests are
   * dropped, which is what a statistics-only detector (`useModel: false`) never makes anyway.
   */
  train?: ((request: TrainingRequest) => Promise<TrainedModel>) | undefined;
}

/**
 * Replays recorded samples, oldest first, through the analytics service's own scoring path (the
 * {@link Scorer} built from the service's configuration, one detector per series as the service makes
 * it) at the speed of the CPU, and returns the incident transitions the live service would have
 * published. Causal: each sample is scored with what came before it only. What it does not replay:
 * the wall-clock timing of Redis reads and of model training (a model is installed at once), and the
 * role's shutdown. Clock-driven settings run on sample time.
 */
export class RecordedReplay {
  readonly metrics = new AnalyticsMetrics();
  readonly config: AnalyticsConfig;
  private readonly options: RecordedReplayOptions;
  private readonly scorer: Scorer;
  private readonly series = new Map<string, SeriesState>();
  private readonly pendingTraining: Array<{ state: SeriesState; request: TrainingRequest }> = [];
  private nowMillis = -Infinity;
  /** Samples the detector refused. */
  badSamples = 0;
  modelsTrained = 0;
  trainingFailures = 0;

  constructor(config: AnalyticsConfig, options: RecordedReplayOptions) {
    this.config = config;
    this.options = options;
    this.scorer = new Scorer({
      ...scorerSettings(config),
      metrics: this.metrics,
      mayOpen: () => this.nowMillis - options.startedMillis >= config.startupQuietMillis,
      stopping: () => false,
      requestTraining: (state, request) => {
        state.trainingInFlight = true;
        this.pendingTraining.push({ state, request });
      },
      badSample: () => {
        this.badSamples += 1;
      },
    });
  }

  /** Whether the service leaves a series unscored (`excludeMetrics`). */
  excluded(metric: string, labels: Labels): boolean {
    return this.scorer.excluded(metric, labels);
  }

  /** Scores the next sample (samples must come in time order across series); the transition it makes, if any. */
  async push(sample: RecordedSample): Promise<AnomalyEvent | undefined> {
    if (sample.timestampMillis < this.nowMillis) throw new RangeError(`recorded samples must come oldest first: ${sample.seriesId} at ${sample.timestampMillis} after ${this.nowMillis}`);
    this.nowMillis = sample.timestampMillis;
    if (this.scorer.excluded(sample.metric, sample.labels)) {
      this.metrics.samplesExcluded += 1;
      return undefined;
    }
    let state = this.series.get(sample.seriesId);
    if (state === undefined) {
      state = new SeriesState({ seriesId: sample.seriesId, metric: sample.metric, agentId: sample.agentId, detector: createDetector(serviceDetectorOptions(this.config, this.options.detectorOptions)), historyPoints: this.config.historyPoints });
      state.kind = sample.kind;
      this.series.set(sample.seriesId, state);
    }
    const event = this.scorer.score(state, { seriesId: sample.seriesId, agentId: sample.agentId, timestampMillis: sample.timestampMillis, value: sample.value, kind: sample.kind });
    await this.trainPending();
    return event;
  }

  private async trainPending(): Promise<void> {
    while (this.pendingTraining.length > 0) {
      const { state, request } = this.pendingTraining.shift()!;
      const train = this.options.train;
      if (train === undefined) continue;
      try {
        const model = await train(request);
        this.modelsTrained += 1;
        if (model.version > modelVersionNumber(state.detector.modelVersion)) state.detector.installModel(model);
      } catch {
        this.trainingFailures += 1;
      } finally {
        state.trainingInFlight = false;
      }
    }
  }
}
