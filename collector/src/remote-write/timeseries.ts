import { formatPrometheusValue, prometheusLabels } from '@sloth/core';
import { prometheusMetricName, prometheusType } from '../exposition.js';
import type { MetricColumns, MetricSeries } from '../records.js';
import type { RemoteLabel, RemoteSample, RemoteTimeSeries } from './write-request.js';

/**
 * Turns accepted points into remote-write series with the same
 * OpenTelemetry → Prometheus mapping as `/metrics` (names, `_total`, units,
 * sanitised labels; histograms as `_bucket{le}`, `_sum`, `_count`), so a
 * remote TSDB and a Prometheus scraping the collector see the same series.
 */
export class TimeSeriesBuilder {
  private readonly series = new Map<string, { labels: RemoteLabel[]; samples: RemoteSample[] }>();
  private sampleCount = 0;

  get samples(): number {
    return this.sampleCount;
  }

  /** Adds every point of `columns`. */
  add(columns: MetricColumns): void {
    for (let i = 0; i < columns.length; i++) {
      const series = columns.series[i] as MetricSeries;
      const timestamp = columns.timestamps[i] as number;
      const type = prometheusType(series);
      if (type === 'gauge' || type === 'counter') {
        const value = columns.values[i] as number;
        if (!Number.isNaN(value)) this.push(series, '', undefined, value, timestamp);
        continue;
      }
      const h = columns.histograms.get(i);
      if (h === undefined) continue;
      if (type === 'histogram') {
        const bounds = h.bounds ?? [];
        const counts = h.bucketCounts ?? [];
        let cumulative = 0;
        for (let b = 0; b < bounds.length; b++) {
          cumulative += counts[b] ?? 0;
          this.push(series, '_bucket', formatPrometheusValue(bounds[b]), cumulative, timestamp);
        }
        this.push(series, '_bucket', '+Inf', h.count, timestamp);
      }
      this.push(series, '_sum', undefined, h.sum ?? 0, timestamp);
      this.push(series, '_count', undefined, h.count, timestamp);
    }
  }

  /** The series built so far, samples in time order (receivers refuse out-of-order samples), and starts over. */
  take(): RemoteTimeSeries[] {
    const out: RemoteTimeSeries[] = [];
    for (const entry of this.series.values()) {
      entry.samples.sort((a, b) => a.timestamp - b.timestamp);
      out.push(entry);
    }
    this.series.clear();
    this.sampleCount = 0;
    return out;
  }

  private push(series: MetricSeries, suffix: string, le: string | undefined, value: number, timestamp: number): void {
    const { labels, key } = shapeOf(series, suffix, le);
    let entry = this.series.get(key);
    if (entry === undefined) {
      entry = { labels, samples: [] };
      this.series.set(key, entry);
    }
    entry.samples.push({ value, timestamp });
    this.sampleCount += 1;
  }

}

interface Shape {
  readonly labels: RemoteLabel[];
  readonly key: string;
}

/**
 * Label sets per series object and suffix, made once for the life of the series: series objects are
 * shared by every point of a series (the collector's series cache), so a batch costs no label work.
 */
const shapes = new WeakMap<MetricSeries, Map<string, Shape>>();

function shapeOf(series: MetricSeries, suffix: string, le: string | undefined): Shape {
  let bySuffix = shapes.get(series);
  if (bySuffix === undefined) {
    bySuffix = new Map();
    shapes.set(series, bySuffix);
  }
  const shapeKey = le === undefined ? suffix : `${suffix}\u0000${le}`;
  let shape = bySuffix.get(shapeKey);
  if (shape === undefined) {
    const pairs = prometheusLabels(series.labels).filter(([name]) => name !== '__name__' && (le === undefined || name !== 'le'));
    if (le !== undefined) pairs.push(['le', le]);
    pairs.push(['__name__', `${prometheusMetricName(series)}${suffix}`]);
    pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const labels = pairs.map(([name, value]) => ({ name, value }));
    shape = { labels, key: labelsKey(labels) };
    bySuffix.set(shapeKey, shape);
  }
  return shape;
}

function labelsKey(labels: readonly RemoteLabel[]): string {
  let key = '';
  for (const label of labels) key += `${label.name}\u0000${label.value}\u0001`;
  return key;
}
