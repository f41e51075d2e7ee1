import { bytesOver, withinRecordLimits, type RecordLimitSettings } from './limits-records.js';
import { clipped, Rejections, type NormaliseResult } from './otlp-normalise.js';
import type { MetricColumns, MetricSeries } from './records.js';
import { SeriesObjects } from './series-cache.js';

/** What the limiter needs to know about stored series. */
export interface StoredSeries {
  hasSeries(seriesKey: string): boolean;
  seriesCount(agentId?: string): number;
}

/**
 * The per-agent series-cardinality limit. A point of a series the store
 * already has (or that an earlier, not yet applied request admitted) always
 * passes; a new series passes only while the agent is under the limit.
 * Once a series is admitted its object says so (`admitted`), so the points
 * that follow cost one property read; {@link forget} clears that when
 * retention removes the series.
 */
export class SeriesLimiter {
  private readonly maxSeriesPerAgent: number;
  private readonly stored: StoredSeries;
  /** Series admitted but not yet in the store, per agent. */
  private readonly pending = new Map<string, Set<string>>();
  private pendingTotal = 0;
  /** Series objects marked admitted, so retention can unmark them. */
  private readonly marked = new SeriesObjects();

  constructor(options: { maxSeriesPerAgent: number; stored: StoredSeries }) {
    this.maxSeriesPerAgent = options.maxSeriesPerAgent;
    this.stored = options.stored;
  }

  /** Bound for use as a {@link SeriesAdmission} callback. */
  readonly admit = (series: MetricSeries): boolean => {
    if (series.admitted === true) return true;
    const { key, agentId } = series;
    if (!this.stored.hasSeries(key)) {
      let pending = this.pending.get(agentId);
      if (pending?.has(key) !== true) {
        if (this.stored.seriesCount(agentId) + (pending?.size ?? 0) >= this.maxSeriesPerAgent) return false;
        if (pending === undefined) {
          pending = new Set();
          this.pending.set(agentId, pending);
        }
        pending.add(key);
        this.pendingTotal += 1;
      }
    }
    series.admitted = true;
    this.marked.add(series);
    return true;
  };

  /** Call after points were written to the store: their series no longer count as pending. */
  markStored(points: MetricColumns): void {
    if (this.pendingTotal === 0) return;
    let last: MetricSeries | undefined;
    for (const series of points.series) {
      if (series === last) continue;
      last = series;
      const pending = this.pending.get(series.agentId);
      if (pending?.delete(series.key) === true) {
        this.pendingTotal -= 1;
        if (pending.size === 0) this.pending.delete(series.agentId);
      }
    }
  }

  /** Call when retention removed series: their next point is admitted (and counted) again. */
  forget(seriesKeys: Iterable<string>): void {
    for (const key of seriesKeys) {
      for (const series of this.marked.take(key)) series.admitted = false;
    }
  }

  /** Series stored plus series admitted and waiting to be stored. */
  activeSeries(): number {
    return this.stored.seriesCount() + this.pendingTotal;
  }
}

/** Per-point and per-record limits besides cardinality (docs/security.md). */
export interface PointLimitSettings extends RecordLimitSettings {
  /** Labels one point may carry, `agent` included. */
  readonly maxLabelsPerPoint: number;
  /** Longest label value, UTF-8 bytes. */
  readonly maxLabelValueBytes: number;
  /** Longest metric name or label key, UTF-8 bytes. */
  readonly maxNameBytes: number;
  /** Longest metric unit, UTF-8 bytes. */
  readonly maxUnitBytes: number;
}

/**
 * Why a series broke the size limits (its metric name, unit, label keys and values, and how many labels it
 * has), or undefined when it keeps them. Names in the message are clipped: it must not echo megabytes back.
 */
export function labelViolation(series: MetricSeries, limits: PointLimitSettings): string | undefined {
  const name = clipped(series.name);
  const nameBytes = bytesOver(series.name, limits.maxNameBytes);
  if (nameBytes !== undefined) return `metric name ${name} is ${nameBytes} bytes; at most ${limits.maxNameBytes} are allowed`;
  const unitBytes = bytesOver(series.unit, limits.maxUnitBytes);
  if (unitBytes !== undefined) return `${name} has a unit of ${unitBytes} bytes; at most ${limits.maxUnitBytes} are allowed`;
  let count = 0;
  for (const key in series.labels) {
    count += 1;
    const keyBytes = bytesOver(key, limits.maxNameBytes);
    if (keyBytes !== undefined) return `${name} has a label key ${clipped(key)} of ${keyBytes} bytes; at most ${limits.maxNameBytes} are allowed`;
    const valueBytes = bytesOver(series.labels[key] ?? '', limits.maxLabelValueBytes);
    if (valueBytes !== undefined) return `${name} label "${clipped(key)}" is ${valueBytes} bytes; at most ${limits.maxLabelValueBytes} are allowed`;
  }
  if (count > limits.maxLabelsPerPoint) return `${name} has ${count} labels; at most ${limits.maxLabelsPerPoint} are allowed`;
  return undefined;
}

/** Admission for replay and requests alike: the label limits, then the cardinality limit. */
export function limitedAdmission(limits: PointLimitSettings, admit: (series: MetricSeries) => boolean): (series: MetricSeries) => boolean {
  return (series) => series.admitted === true || (labelViolation(series, limits) === undefined && admit(series));
}

/** Rejections one request's admission counted that normalising reported as `cardinality`. */
export interface AdmissionTally {
  forbidden: number;
  labels: number;
  labelExample: string | undefined;
}

/**
 * One request's admission: points of agents the caller may not write for and
 * points over the label limits are refused (and tallied, so the answer names
 * the right reason); the rest go to the cardinality limit.
 */
export function requestAdmission(
  limits: PointLimitSettings,
  admit: (series: MetricSeries) => boolean,
  mayWrite: (agentId: string) => boolean,
): { admit: (series: MetricSeries) => boolean; tally: AdmissionTally } {
  const tally: AdmissionTally = { forbidden: 0, labels: 0, labelExample: undefined };
  const allowed = new Map<string, boolean>();
  return {
    tally,
    admit: (series) => {
      let may = allowed.get(series.agentId);
      if (may === undefined) {
        may = mayWrite(series.agentId);
        allowed.set(series.agentId, may);
      }
      if (!may) {
        tally.forbidden += 1;
        return false;
      }
      if (series.admitted === true) return true;
      const violation = labelViolation(series, limits);
      if (violation !== undefined) {
        tally.labels += 1;
        tally.labelExample ??= violation;
        return false;
      }
      return admit(series);
    },
  };
}

/**
 * Settles one request's rejections: moves what its admission tallied from
 * `cardinality` to `label_limit`, drops what breaks the record limits
 * (future times, oversized resources, spans and log records with too many
 * attributes) and cuts span and log record values to their size limits
 * (see {@link withinRecordLimits}).
 */
export function settleRejections(result: NormaliseResult, tally: AdmissionTally, receivedAtMillis: number, limits: PointLimitSettings): NormaliseResult {
  const found = new Rejections();
  const { batch, truncated } = withinRecordLimits(result.batch, receivedAtMillis, limits, found);
  if (tally.labels === 0 && found.total === 0) return truncated === 0 ? result : { ...result, batch, truncated };
  const byReason: Record<string, number> = { ...result.rejectedByReason };
  const examples: string[] = [];
  if (tally.labels > 0) {
    byReason.cardinality = (byReason.cardinality ?? 0) - tally.labels;
    if (byReason.cardinality <= 0) delete byReason.cardinality;
    byReason.label_limit = (byReason.label_limit ?? 0) + tally.labels;
    examples.push(`label_limit: ${tally.labelExample ?? ''}`);
  }
  for (const [reason, count] of Object.entries(found.byReason)) byReason[reason] = (byReason[reason] ?? 0) + count;
  examples.push(...found.examples);
  const originalExamples = result.errorMessage
    .replace(/^\d+ rejected \([^)]*\);? ?/, '')
    .split('; ')
    .filter((example) => example !== '' && !(example.startsWith('cardinality:') && byReason.cardinality === undefined));
  const rejected = result.rejected + found.total;
  const counts = Object.entries(byReason).map(([reason, n]) => `${reason}=${n}`).join(', ');
  return {
    batch,
    accepted: result.accepted - found.total,
    rejected,
    rejectedByReason: byReason,
    errorMessage: `${rejected} rejected (${counts}); ${[...examples, ...originalExamples].join('; ')}`,
    ...(truncated === 0 ? {} : { truncated }),
  };
}
