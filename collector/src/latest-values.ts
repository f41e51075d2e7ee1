import type { ExpositionShape } from './exposition.js';
import type { MetricColumns, MetricPoint, MetricSeries } from './records.js';

/** A point that is updated in place when its series gets a newer one: a {@link MetricPoint} whose fields can change. */
export interface LatestPoint extends Mutable<MetricPoint> {
  /** The series' Prometheus family and label text, made at its first scrape (see exposition.ts). */
  exposition?: ExpositionShape;
}

/** An entry as the series objects point at it: which LatestValues holds it, and whether it still does. */
interface OwnedPoint extends LatestPoint {
  owner: LatestValues | undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The newest point of every series, kept in memory for `/metrics` and the
 * query API's `/latest`. Seed it from the store at start
 * (`new LatestValues(store.latestPoints())`), then feed it every accepted batch.
 * Each series has one entry object, updated in place, so keeping up costs no
 * allocation per point; readers get that object and must not hold on to it
 * across an update.
 */
export class LatestValues {
  private readonly points = new Map<string, OwnedPoint>();

  constructor(initial: Iterable<MetricPoint> = []) {
    for (const point of initial) {
      const current = this.points.get(point.seriesKey);
      if (current === undefined || current.timestampMillis <= point.timestampMillis) this.points.set(point.seriesKey, { ...point, owner: this });
    }
  }

  /**
   * Keeps, per series, the point with the newest timestamp (ties: the later update wins). The series
   * object remembers its entry (`latest`), so a known series costs no map lookup; the entry says which
   * instance holds it and is let go by {@link delete}, so a stale pointer is never written through.
   */
  update(columns: MetricColumns): void {
    const { series, timestamps, values, histograms } = columns;
    for (let i = 0; i < columns.length; i++) {
      const s = series[i] as MetricSeries;
      const timestampMillis = timestamps[i] as number;
      let current = s.latest as OwnedPoint | undefined;
      if (current === undefined || current.owner !== this) {
        current = this.points.get(s.key);
        if (current === undefined) {
          current = { seriesKey: s.key, name: s.name, labels: s.labels, agentId: s.agentId, kind: s.kind, unit: s.unit, description: s.description, monotonic: s.monotonic, timestampMillis, owner: this };
          this.points.set(s.key, current);
        } else {
          current.owner = this;
        }
        s.latest = current;
      }
      if (current.timestampMillis > timestampMillis) {
        continue;
      }
      current.timestampMillis = timestampMillis;
      const value = values[i] as number;
      // Not `delete`: that would turn the entry into a slow dictionary-mode object.
      current.value = Number.isNaN(value) ? undefined : value;
      const h = histograms.size === 0 ? undefined : histograms.get(i);
      if (h !== undefined) {
        current.count = h.count;
        current.sum = h.sum;
        current.bounds = h.bounds;
        current.bucketCounts = h.bucketCounts;
      }
    }
  }

  get(seriesKey: string): LatestPoint | undefined {
    return this.points.get(seriesKey);
  }

  /** Forgets series, e.g. after retention removed them from the store. */
  delete(seriesKeys: Iterable<string>): void {
    for (const key of seriesKeys) {
      const point = this.points.get(key);
      if (point === undefined) continue;
      point.owner = undefined;
      this.points.delete(key);
    }
  }

  entries(): Iterable<LatestPoint> {
    return this.points.values();
  }

  get size(): number {
    return this.points.size;
  }
}
