import type { SampleKind } from '@sloth/core';
import type { DetectorSnapshot, SeriesDetector } from '../detector/contract.js';
import type { DriftDetector, DriftSnapshot } from '../detector/drift.js';
import { HistoryBuffer, type SerializedHistory } from './history-buffer.js';
import type { OpenIncident } from './incident-tracker.js';
import type { CounterMemory } from './signal.js';

/** Everything the service keeps in memory for one series. */
export class SeriesState implements CounterMemory {
  readonly seriesId: string;
  readonly metric: string;
  agentId: string;
  detector: SeriesDetector;
  history: HistoryBuffer;
  /** Timestamp of the newest sample scored; older or equal samples are skipped. */
  lastTimestampMillis = -Infinity;
  /** Sample time of the last anomaly event (re-alert suppression). */
  lastAlertMillis = -Infinity;
  /** Wall time of the last forecast started. */
  lastForecastMillis = -Infinity;
  /** Changed since the last snapshot. */
  dirty = false;
  trainingInFlight = false;
  /** Wall time the pending training was requested (a request lost elsewhere is retried after a while). */
  trainingRequestedMillis = 0;
  forecastInFlight = false;
  /** How the producer said to read the values (gauges unless it said otherwise). */
  kind: SampleKind = 'gauge';
  /** Counters: the previous raw point, from which the next rate is taken. */
  lastRawValue: number | null = null;
  lastRawMillis: number | null = null;
  /** Values scored since the series (re)started here: its first ones open no incident (warm-up). */
  scoredSinceStart = 0;
  /** The last value scored (for an incident's direction before the detector has a range). */
  lastScoredValue: number | undefined = undefined;
  /** The open incident, if any. */
  incident: OpenIncident | undefined = undefined;
  /** The drift test of the scored values (made by the scorer on first use, from `driftSnapshot` if restored). */
  drift: DriftDetector | undefined = undefined;
  driftSnapshot: DriftSnapshot | undefined = undefined;

  constructor(options: { seriesId: string; metric: string; agentId: string; detector: SeriesDetector; historyPoints: number }) {
    this.seriesId = options.seriesId;
    this.metric = options.metric;
    this.agentId = options.agentId;
    this.detector = options.detector;
    this.history = new HistoryBuffer(options.historyPoints);
  }

  /** The persisted form: the detector's snapshot plus the service's own per-series state. */
  toPersisted(): PersistedSeriesState {
    return {
      format: 2,
      detector: this.detector.snapshot(),
      lastTimestampMillis: Number.isFinite(this.lastTimestampMillis) ? this.lastTimestampMillis : null,
      lastAlertMillis: Number.isFinite(this.lastAlertMillis) ? this.lastAlertMillis : null,
      history: this.history.serialize(),
      kind: this.kind,
      lastRawValue: this.lastRawValue,
      lastRawMillis: this.lastRawMillis,
      scoredSinceStart: this.scoredSinceStart,
      incident: this.incident ?? null,
      drift: this.drift?.snapshot() ?? this.driftSnapshot ?? null,
    };
  }

  /** Restores the service's part of a persisted state (the detector is restored by the caller). */
  restoreFrom(persisted: PersistedSeriesState): void {
    this.lastTimestampMillis = persisted.lastTimestampMillis ?? -Infinity;
    this.lastAlertMillis = persisted.lastAlertMillis ?? -Infinity;
    this.history = HistoryBuffer.deserialize(this.history.capacity, persisted.history);
    // Snapshots written before rates and incidents existed have none of these.
    if (persisted.kind !== undefined) this.kind = persisted.kind;
    this.lastRawValue = persisted.lastRawValue ?? null;
    this.lastRawMillis = persisted.lastRawMillis ?? null;
    this.scoredSinceStart = persisted.scoredSinceStart ?? this.history.length;
    this.incident = persisted.incident ?? undefined;
    this.drift = undefined;
    this.driftSnapshot = persisted.drift ?? undefined;
  }
}

/** JSON stored in the registry's `detector_snapshots` table. */
export interface PersistedSeriesState {
  format: 2;
  detector: DetectorSnapshot;
  lastTimestampMillis: number | null;
  lastAlertMillis: number | null;
  history: SerializedHistory;
  kind?: SampleKind;
  lastRawValue?: number | null;
  lastRawMillis?: number | null;
  scoredSinceStart?: number;
  incident?: OpenIncident | null;
  drift?: DriftSnapshot | null;
}

export function isPersistedSeriesState(value: unknown): value is PersistedSeriesState {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<PersistedSeriesState>;
  return v.format === 2 && typeof v.detector === 'object' && v.detector !== null && typeof v.history?.deltasBase64 === 'string' && typeof v.history.valuesBase64 === 'string';
}
