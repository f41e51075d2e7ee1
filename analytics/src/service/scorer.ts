import type { AnomalyEvent, SampleKind } from '@sloth/core';
import type { TrainingRequest } from '../detector/contract.js';
import { defaultDriftOptions, DriftDetector, type DriftOptions } from '../detector/drift.js';
import { ChangeFloor } from './change-floor.js';
import { ExcursionWatch } from './excursion.js';
import { matchesSeriesPattern, parseSeriesPattern, type SeriesPattern } from './glob.js';
import type { AnalyticsConfig } from './config.js';
import { IncidentGroups } from './incident-groups.js';
import { LoadSaturation } from './load-saturation.js';
import { trackIncident, type IncidentPolicy } from './incident-tracker.js';
import type { AnalyticsMetrics } from './prometheus-metrics.js';
import type { SeriesState } from './series-state.js';
import { signalValue } from './signal.js';

/** The scorer's options that come from the service's configuration: the live service and a replay build them alike. */
export type ScorerSettings = Pick<ScorerOptions, 'incidents' | 'excludeMetrics' | 'minChange' | 'loadSaturationPerCore' | 'excursionConfirmSamples' | 'groups' | 'warmupSamples' | 'reopenAfterMillis' | 'drift'>;

export function scorerSettings(config: AnalyticsConfig): ScorerSettings {
  return {
    incidents: {
      threshold: config.anomalyThreshold,
      quietMillis: config.incidentQuietMillis,
      quietSamples: config.incidentQuietSamples,
      updateMillis: config.incidentUpdateMillis,
      peakStep: 0.05,
      openInsideRange: config.openInsideRange,
      hold: config.incidentHold,
    },
    excludeMetrics: config.excludeMetrics,
    minChange: config.minChange,
    loadSaturationPerCore: config.loadSaturationPerCore,
    excursionConfirmSamples: config.excursionConfirmSamples,
    groups: config.incidentGroupMillis > 0 ? new IncidentGroups({ windowMillis: config.incidentGroupMillis }) : undefined,
    warmupSamples: config.warmupSamples,
    reopenAfterMillis: config.realertSuppressMillis,
    drift: config.driftDetection ? { windows: config.driftWindows, zThreshold: config.driftZThreshold, confirmSamples: config.driftConfirmSamples, awayFromLevel: config.driftAwayFromLevel } : undefined,
  };
}

/** A sample as the scorer takes it. */
export interface ScorerSample {
  seriesId: string;
  agentId: string;
  timestampMillis: number;
  value: number;
  kind: SampleKind;
}

export interface ScorerOptions {
  metrics: AnalyticsMetrics;
  incidents: IncidentPolicy;
  /**
   * Series patterns never scored (`*` is any run of characters, labels optional:
   * `system.network.*{device="lo"}`): Sloth's own telemetry and loopback traffic by default.
   */
  excludeMetrics: readonly string[];
  /** Values a series scores after it (re)starts before it may open an incident. */
  warmupSamples: number;
  /** An incident of a series opens at most once per this much sample time. */
  reopenAfterMillis: number;
  /** Groups an agent's incidents that open close together; undefined: no grouping. */
  groups?: IncidentGroups | undefined;
  /** The drift test for slow monotone growth; undefined turns it off. */
  drift: Partial<DriftOptions> | undefined;
  /**
   * Smallest change, per metric pattern and in the metric's units (rates per second), that may open an
   * incident (change-floor.ts); a metric matching no pattern has no floor.
   */
  minChange: Readonly<Record<string, number>>;
  /** Tasks per core a load average must reach to open an incident (load-saturation.ts); 0: no gate. */
  loadSaturationPerCore: number;
  /** Values after a far excursion from the expected range that confirm it (excursion.ts); 0 turns the test off. */
  excursionConfirmSamples: number;
  /** Whether incidents may open now (false during the role's start-up and shutdown). */
  mayOpen: () => boolean;
  /**
   * Whether the role is stopping. Samples it still reads are scored (the detector learns them and the
   * snapshot written at shutdown holds them) but make no incident transition at all: nothing opens,
   * and an open incident neither updates nor resolves; the next process takes it up from the snapshot.
   */
  stopping: () => boolean;
  /** A detector asks for (re)training. */
  requestTraining: (state: SeriesState, request: TrainingRequest) => void;
  /** A sample the detector refused. */
  badSample: (where: Record<string, unknown>, error: unknown) => void;
}

/**
 * Scores what a human would look at: a gauge's value, a counter's per-second rate (a counter reset
 * restarts the series' warm-up and is never scored), and folds the scores into incidents.
 */
export class Scorer {
  private readonly options: ScorerOptions;
  /** Patterns on the name alone (cached per name) and patterns with labels (checked per series). */
  private readonly excludeNames: readonly SeriesPattern[];
  private readonly excludeLabelled: readonly SeriesPattern[];
  private readonly excludedNames = new Map<string, boolean>();
  private readonly driftZThreshold: number;
  private readonly floor: ChangeFloor;
  private readonly loadSaturation: LoadSaturation;
  private readonly excursions: ExcursionWatch;

  constructor(options: ScorerOptions) {
    this.options = options;
    this.floor = new ChangeFloor(options.minChange);
    this.loadSaturation = new LoadSaturation(options.loadSaturationPerCore);
    this.excursions = new ExcursionWatch(options.excursionConfirmSamples);
    const patterns = options.excludeMetrics.map(parseSeriesPattern);
    this.excludeNames = patterns.filter((p) => p.labels.length === 0);
    this.excludeLabelled = patterns.filter((p) => p.labels.length > 0);
    this.driftZThreshold = options.drift?.zThreshold ?? defaultDriftOptions.zThreshold;
  }

  /** Whether a series is left unscored (name-only patterns cached per name: the check runs for every new series). */
  excluded(metric: string, labels: Readonly<Record<string, string>>): boolean {
    let excluded = this.excludedNames.get(metric);
    if (excluded === undefined) {
      excluded = this.excludeNames.some((pattern) => pattern.name.test(metric));
      if (this.excludedNames.size < 100_000) this.excludedNames.set(metric, excluded);
    }
    return excluded || this.excludeLabelled.some((pattern) => matchesSeriesPattern(pattern, metric, labels));
  }

  /** Scores one sample of a series in memory; returns the incident transition it causes, if any. */
  score(state: SeriesState, sample: ScorerSample): AnomalyEvent | undefined {
    const { metrics } = this.options;
    if (sample.timestampMillis <= state.lastTimestampMillis) {
      metrics.outOfOrderSamples += 1;
      return undefined;
    }
    state.lastTimestampMillis = sample.timestampMillis;
    state.agentId = sample.agentId;
    state.dirty = true;
    if (sample.kind !== state.kind) {
      // The producer changed how the series is read: rates and values do not mix.
      state.kind = sample.kind;
      state.lastRawValue = null;
      state.lastRawMillis = null;
    }
    const signal = signalValue(state, sample.kind, sample.timestampMillis, sample.value);
    if ('skip' in signal) {
      if (signal.skip === 'counter-reset') state.scoredSinceStart = 0;
      return undefined;
    }
    const previousValue = state.lastScoredValue;
    let output;
    try {
      output = state.detector.update(sample.timestampMillis, signal.value);
    } catch (error) {
      this.options.badSample({ series: sample.seriesId, timestampMillis: sample.timestampMillis }, error);
      return undefined;
    }
    state.history.push(sample.timestampMillis, signal.value);
    state.lastScoredValue = signal.value;
    state.scoredSinceStart += 1;
    metrics.samplesScored += 1;
    this.loadSaturation.observe(state);
    const drift = this.driftOf(state)?.update(signal.value);
    let score = Number.isFinite(output.score) ? Math.min(1, Math.max(0, output.score)) : 0;
    const threshold = this.options.incidents.threshold;
    const drifting = drift !== undefined && drift.alarm !== null && score < threshold;
    // A confirmed drift scores at least the threshold, more the further beyond the test's own bar.
    if (drifting) score = Math.min(1, Math.max(score, 1 - ((1 - threshold) * this.driftZThreshold) / Math.max(this.driftZThreshold, Math.abs(drift.z))));
    const expectedLow = finiteOrNull(output.expectedLow);
    const expectedHigh = finiteOrNull(output.expectedHigh);
    let excursion;
    if (state.incident === undefined) excursion = this.excursions.observe(state, { value: signal.value, expectedLow, expectedHigh });
    else this.excursions.forget(state);
    // A confirmed excursion is anomalous by the service's rule, so it scores at least the threshold
    // (triggers with `min_score` at the threshold match it; the detector's own score may be damped or
    // capped), and it opens although the detector's range has already moved to the new level.
    const excursed = !drifting && excursion !== undefined;
    if (excursed) score = Math.max(score, threshold);
    metrics.setScore(state, score);
    if (!state.trainingInFlight) {
      const request = state.detector.trainingRequest();
      if (request !== null) this.options.requestTraining(state, request);
    }
    // How large the change is, in the series' units: the drift's shift of level, the excursion's
    // distance from the range it left, or the value's distance from the detector's prediction.
    const middle = expectedLow !== null && expectedHigh !== null ? (expectedLow + expectedHigh) / 2 : previousValue;
    const change = drifting ? Math.abs(drift.shift) : excursed && excursion !== undefined ? Math.abs(signal.value - excursion.reference) : middle === undefined ? Infinity : Math.abs(signal.value - middle);
    if (this.options.stopping()) return undefined;
    const mayOpen =
      state.scoredSinceStart > this.options.warmupSamples &&
      sample.timestampMillis - state.lastAlertMillis >= this.options.reopenAfterMillis &&
      change >= this.floor.of(state.metric) &&
      this.loadSaturation.mayOpen(state, signal.value) &&
      this.options.mayOpen();
    const transition = trackIncident(
      state,
      {
        seriesId: sample.seriesId,
        agentId: sample.agentId,
        metric: state.metric,
        timestampMillis: sample.timestampMillis,
        value: signal.value,
        score,
        expectedLow,
        expectedHigh,
        modelVersion: state.detector.modelVersion,
        previousValue,
        drift: drifting ? (drift.alarm ?? undefined) : undefined,
        excursion: excursed ? excursion : undefined,
      },
      this.options.incidents,
      mayOpen,
    );
    if (transition === undefined) return undefined;
    if (transition.state === 'open') state.lastAlertMillis = sample.timestampMillis;
    const groups = this.options.groups;
    if (groups === undefined) return transition;
    const event = groups.place(transition);
    if (event.state === 'open' && state.incident !== undefined) state.incident.groupId = event.groupId;
    return event;
  }

  /** The series' drift test, made on first use (restored from the series' snapshot when it has one). */
  private driftOf(state: SeriesState): DriftDetector | undefined {
    if (this.options.drift === undefined) return undefined;
    if (state.drift === undefined) {
      state.drift = new DriftDetector(this.options.drift);
      state.drift.restore(state.driftSnapshot);
      state.driftSnapshot = undefined;
    }
    return state.drift;
  }

  /** Feeds history (raw points from the collector) to a new series' detector: nothing is published. */
  learn(state: SeriesState, points: readonly { timestampMillis: number; value: number }[]): number {
    let learned = 0;
    for (const p of points) {
      if (p.timestampMillis <= state.lastTimestampMillis) continue;
      state.lastTimestampMillis = p.timestampMillis;
      const signal = signalValue(state, state.kind, p.timestampMillis, p.value);
      if ('skip' in signal) continue;
      try {
        state.detector.update(p.timestampMillis, signal.value);
      } catch {
        continue;
      }
      state.history.push(p.timestampMillis, signal.value);
      this.loadSaturation.observe(state);
      this.driftOf(state)?.update(signal.value);
      state.lastScoredValue = signal.value;
      state.scoredSinceStart += 1;
      learned += 1;
    }
    if (points.length > 0) state.dirty = true;
    return learned;
  }
}

function finiteOrNull(value: number | null): number | null {
  return value !== null && Number.isFinite(value) ? value : null;
}
