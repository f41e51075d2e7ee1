import type { AnomalyEvent } from '@sloth/core';

/** An incident of one series while it is open (kept with the series' state and its snapshot). */
export interface OpenIncident {
  id: string;
  direction: 'above' | 'below';
  firstSeenMillis: number;
  lastSeenMillis: number;
  peakScore: number;
  /** Sample time of the last transition published (open or update). */
  lastPublishedMillis: number;
  /** Peak score when the last transition was published. */
  publishedPeakScore: number;
  /** Samples below the threshold since the last anomalous one. */
  quietSamples: number;
  /**
   * The edge of the normal range when the incident opened (its expected high for `above`, low for
   * `below`, or the opening value when that was inside the range; null without a range). A value
   * still beyond it keeps the incident going: the detector damps its score once it has fired, but a
   * CPU that stays saturated is one incident that lasts, not one that resolves after a sample.
   */
  boundary?: number | null;
  /** What opened it (absent in snapshots written before drift detection: a score). */
  cause?: 'score' | 'drift';
  /** The group of incidents it joined when it opened (analytics `incidentGroupMillis`); later transitions carry it. */
  groupId?: string;
}

export interface IncidentPolicy {
  /** A sample with at least this score is anomalous. */
  threshold: number;
  /** An incident resolves after this much sample time without an anomalous sample… */
  quietMillis: number;
  /** …and at least this many samples below the threshold. */
  quietSamples: number;
  /** An open incident publishes an `update` at most this often (sample time), or on a new peak. */
  updateMillis: number;
  /** A new peak publishes an update only when it beats the last published one by this much. */
  peakStep: number;
  /**
   * Whether a score alone may open an incident for a value inside the detector's own expected range
   * (a model's surprise at an ordinary value). Off by default: on an idle host nearly every such
   * incident was a smooth series (memory buffers, a saturated CPU at 99.5 %) moving by a hair.
   */
  openInsideRange?: boolean;
  /**
   * What keeps an open incident going besides anomalous samples. `edge`: any value at or beyond the
   * edge of the range it left (a noisy series crosses its old edge with ordinary values every few
   * samples, so such an incident never resolved). `midway`: a value at least half-way from the middle
   * of that range to the value the incident opened on (and beyond the edge): the series is still
   * nearer its anomalous level than its normal one. @defaultValue 'edge'
   */
  hold?: 'edge' | 'midway';
}

/** What the tracker needs of a scored sample. */
export interface ScoredSample {
  seriesId: string;
  agentId: string;
  metric: string;
  timestampMillis: number;
  value: number;
  score: number;
  expectedLow: number | null;
  expectedHigh: number | null;
  modelVersion: string;
  /** The series' previous scored value, for the direction while the detector has no range yet. */
  previousValue: number | undefined;
  /** Set when the drift test (not the score alone) makes the sample anomalous: its direction wins. */
  drift?: 'above' | 'below' | undefined;
  /**
   * Set when a confirmed excursion from the expected range (excursion.ts) makes it anomalous: its
   * direction wins, and the incident lasts while values stay beyond the edge of the range it left.
   */
  excursion?: { direction: 'above' | 'below'; boundary: number; reference?: number } | undefined;
}

/** The incident state of one series, as the tracker reads and writes it. */
export interface IncidentHolder {
  incident: OpenIncident | undefined;
}

/**
 * Folds anomalous samples of one series into incidents: the first anomalous sample opens one (one
 * `open` per incident), later ones (and values still beyond the normal range it opened against)
 * extend it and publish a rate-limited `update` (on a new peak or every `updateMillis`), and a quiet
 * period resolves it. `mayOpen` false (warm-up, start-up,
 * shutdown, or an incident that opened too recently) keeps new incidents from opening; open ones
 * still update and resolve.
 */
export function trackIncident(holder: IncidentHolder, sample: ScoredSample, policy: IncidentPolicy, mayOpen: boolean): AnomalyEvent | undefined {
  const anomalous = sample.score >= policy.threshold;
  const open = holder.incident;
  if (open === undefined) {
    if (!anomalous || !mayOpen) return undefined;
    const forced = sample.drift ?? sample.excursion?.direction;
    if (policy.openInsideRange !== true && forced === undefined && insideRange(sample)) return undefined;
    const incident: OpenIncident = {
      id: incidentId(sample.seriesId, sample.timestampMillis),
      direction: forced ?? directionOf(sample),
      firstSeenMillis: sample.timestampMillis,
      lastSeenMillis: sample.timestampMillis,
      peakScore: sample.score,
      lastPublishedMillis: sample.timestampMillis,
      publishedPeakScore: sample.score,
      quietSamples: 0,
      boundary: null,
      cause: sample.drift === undefined ? 'score' : 'drift',
    };
    const edge = sample.drift === undefined && sample.excursion !== undefined ? sample.excursion.boundary : boundaryOf(incident.direction, sample);
    incident.boundary = policy.hold === 'midway' ? midwayBoundary(incident.direction, edge, sample) : edge;
    holder.incident = incident;
    return transition(incident, sample, 'open');
  }
  if (anomalous || beyond(open, sample.value)) {
    open.lastSeenMillis = sample.timestampMillis;
    open.quietSamples = 0;
    open.peakScore = Math.max(open.peakScore, sample.score);
    const newPeak = open.peakScore >= open.publishedPeakScore + policy.peakStep;
    if (!newPeak && sample.timestampMillis - open.lastPublishedMillis < policy.updateMillis) return undefined;
    open.lastPublishedMillis = sample.timestampMillis;
    open.publishedPeakScore = open.peakScore;
    return transition(open, sample, 'update');
  }
  open.quietSamples += 1;
  if (open.quietSamples < policy.quietSamples || sample.timestampMillis - open.lastSeenMillis < policy.quietMillis) return undefined;
  holder.incident = undefined;
  return transition(open, sample, 'resolved');
}

function transition(incident: OpenIncident, sample: ScoredSample, state: 'open' | 'update' | 'resolved'): AnomalyEvent {
  return {
    seriesId: sample.seriesId,
    agentId: sample.agentId,
    metric: sample.metric,
    timestampMillis: sample.timestampMillis,
    value: sample.value,
    score: sample.score,
    expectedLow: sample.expectedLow,
    expectedHigh: sample.expectedHigh,
    modelVersion: sample.modelVersion,
    incidentId: incident.id,
    state,
    direction: incident.direction,
    firstSeenMillis: incident.firstSeenMillis,
    peakScore: incident.peakScore,
    cause: incident.cause ?? 'score',
    ...(incident.groupId === undefined ? {} : { groupId: incident.groupId }),
  };
}

function insideRange(sample: ScoredSample): boolean {
  const { value, expectedLow: low, expectedHigh: high } = sample;
  return low !== null && high !== null && value >= low && value <= high;
}

function boundaryOf(direction: 'above' | 'below', sample: ScoredSample): number | null {
  const edge = direction === 'above' ? sample.expectedHigh : sample.expectedLow;
  if (edge === null) return null;
  return direction === 'above' ? Math.min(edge, sample.value) : Math.max(edge, sample.value);
}

/**
 * Half-way from the middle of the range the incident left (the excursion's reference, else the
 * range's middle, else the previous value) to the value it opened on, and never inside `edge`.
 */
function midwayBoundary(direction: 'above' | 'below', edge: number | null, sample: ScoredSample): number | null {
  const { expectedLow: low, expectedHigh: high } = sample;
  const middle = sample.drift === undefined && sample.excursion?.reference !== undefined ? sample.excursion.reference : low !== null && high !== null ? (low + high) / 2 : sample.previousValue;
  if (middle === undefined || !Number.isFinite(middle)) return edge;
  const midway = (middle + sample.value) / 2;
  if (edge === null) return midway;
  return direction === 'above' ? Math.max(edge, midway) : Math.min(edge, midway);
}

function beyond(incident: OpenIncident, value: number): boolean {
  const boundary = incident.boundary;
  if (boundary === null || boundary === undefined) return false;
  return incident.direction === 'above' ? value >= boundary : value <= boundary;
}

/** Above or below the expected range; inside it (a model's surprise), relative to its middle or the previous value. */
export function directionOf(sample: Pick<ScoredSample, 'value' | 'expectedLow' | 'expectedHigh' | 'previousValue'>): 'above' | 'below' {
  const { value, expectedLow: low, expectedHigh: high } = sample;
  if (high !== null && value > high) return 'above';
  if (low !== null && value < low) return 'below';
  if (low !== null && high !== null) return value >= (low + high) / 2 ? 'above' : 'below';
  return sample.previousValue === undefined || value >= sample.previousValue ? 'above' : 'below';
}

/** Deterministic, so a batch scored again after a crash names the incident the same. */
function incidentId(seriesId: string, firstSeenMillis: number): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < seriesId.length; i += 1) {
    hash ^= seriesId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return `inc-${(hash >>> 0).toString(16).padStart(8, '0')}-${firstSeenMillis.toString(36)}`;
}
