import type { MetricPoint } from './records.js';

/** What the limiter needs to know about stored series. */
export interface StoredSeries {
  hasSeries(seriesKey: string): boolean;
  seriesCount(agentId?: string): number;
}

/**
 * The per-agent series-cardinality limit. A point of a series the store
 * already has (or that an earlier, not yet applied request admitted) always
 * passes; a new series passes only while the agent is under the limit.
 */
export class SeriesLimiter {
  private readonly maxSeriesPerAgent: number;
  private readonly stored: StoredSeries;
  /** Series admitted but not yet in the store, per agent. */
  private readonly pending = new Map<string, Set<string>>();
  private pendingTotal = 0;

  constructor(options: { maxSeriesPerAgent: number; stored: StoredSeries }) {
    this.maxSeriesPerAgent = options.maxSeriesPerAgent;
    this.stored = options.stored;
  }

  /** Bound for use as a {@link SeriesAdmission} callback. */
  readonly admit = (agentId: string, seriesKey: string): boolean => {
    if (this.stored.hasSeries(seriesKey)) return true;
    let pending = this.pending.get(agentId);
    if (pending?.has(seriesKey) === true) return true;
    if (this.stored.seriesCount(agentId) + (pending?.size ?? 0) >= this.maxSeriesPerAgent) return false;
    if (pending === undefined) {
      pending = new Set();
      this.pending.set(agentId, pending);
    }
    pending.add(seriesKey);
    this.pendingTotal += 1;
    return true;
  };

  /** Call after points were written to the store: their series no longer count as pending. */
  markStored(points: readonly MetricPoint[]): void {
    if (this.pendingTotal === 0) return;
    for (const point of points) {
      const pending = this.pending.get(point.agentId);
      if (pending?.delete(point.seriesKey) === true) {
        this.pendingTotal -= 1;
        if (pending.size === 0) this.pending.delete(point.agentId);
      }
    }
  }

  /** Series stored plus series admitted and waiting to be stored. */
  activeSeries(): number {
    return this.stored.seriesCount() + this.pendingTotal;
  }
}
