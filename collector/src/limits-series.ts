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
