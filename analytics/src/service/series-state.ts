import type { DetectorSnapshot, SeriesDetector } from '../detector/contract.js';
import { HistoryBuffer } from './history-buffer.js';

/** Everything the service keeps in memory for one series. */
export class SeriesState {
  readonly seriesId: string;
  readonly metric: string;
  agentId: string;
  detector: SeriesDetector;
  readonly history: HistoryBuffer;
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

  constructor(options: { seriesId: string; metric: string; agentId: string; detector: SeriesDetector; historyPoints: number }) {
    this.seriesId = options.seriesId;
    this.metric = options.metric;
    this.agentId = options.agentId;
    this.detector = options.detector;
    this.history = new HistoryBuffer(options.historyPoints);
  }

  /** The persisted form: the detector's snapshot plus the service's own per-series state. */
  toPersisted(): PersistedSeriesState {
    const { timestampsMillis, values } = this.history.toArrays();
    return {
      format: 1,
      detector: this.detector.snapshot(),
      lastTimestampMillis: Number.isFinite(this.lastTimestampMillis) ? this.lastTimestampMillis : null,
      lastAlertMillis: Number.isFinite(this.lastAlertMillis) ? this.lastAlertMillis : null,
      history: {
        timestampsBase64: Buffer.from(new Float64Array(timestampsMillis).buffer).toString('base64'),
        valuesBase64: Buffer.from(new Float32Array(values).buffer).toString('base64'),
      },
    };
  }

  /** Restores the service's part of a persisted state (the detector is restored by the caller). */
  restoreFrom(persisted: PersistedSeriesState): void {
    this.lastTimestampMillis = persisted.lastTimestampMillis ?? -Infinity;
    this.lastAlertMillis = persisted.lastAlertMillis ?? -Infinity;
    const t = Buffer.from(persisted.history.timestampsBase64, 'base64');
    const v = Buffer.from(persisted.history.valuesBase64, 'base64');
    const timestamps = new Float64Array(t.buffer.slice(t.byteOffset, t.byteOffset + t.byteLength));
    const values = new Float32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
    const n = Math.min(timestamps.length, values.length);
    for (let i = 0; i < n; i += 1) this.history.push(timestamps[i] as number, values[i] as number);
  }
}

/** JSON stored in the registry's `detector_snapshots` table. */
export interface PersistedSeriesState {
  format: 1;
  detector: DetectorSnapshot;
  lastTimestampMillis: number | null;
  lastAlertMillis: number | null;
  history: { timestampsBase64: string; valuesBase64: string };
}

export function isPersistedSeriesState(value: unknown): value is PersistedSeriesState {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<PersistedSeriesState>;
  return v.format === 1 && typeof v.detector === 'object' && v.detector !== null && typeof v.history?.timestampsBase64 === 'string' && typeof v.history.valuesBase64 === 'string';
}
