import type { MetricPoint } from './records.js';

/**
 * The newest point of every series, kept in memory for `/metrics` and the
 * query API's `/latest`. Seed it from the store at start
 * (`new LatestValues(store.latestPoints())`), then feed it every accepted batch.
 */
export class LatestValues {
  private readonly points = new Map<string, MetricPoint>();

  constructor(initial: Iterable<MetricPoint> = []) {
    this.update(initial);
  }

  /** Keeps, per series, the point with the newest timestamp (ties: the later update wins). */
  update(points: Iterable<MetricPoint>): void {
    for (const point of points) {
      const current = this.points.get(point.seriesKey);
      if (current === undefined || current.timestampMillis <= point.timestampMillis) this.points.set(point.seriesKey, point);
    }
  }

  get(seriesKey: string): MetricPoint | undefined {
    return this.points.get(seriesKey);
  }

  /** Forgets series, e.g. after retention removed them from the store. */
  delete(seriesKeys: Iterable<string>): void {
    for (const key of seriesKeys) this.points.delete(key);
  }

  entries(): Iterable<MetricPoint> {
    return this.points.values();
  }

  get size(): number {
    return this.points.size;
  }
}
