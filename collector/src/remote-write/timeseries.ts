import { formatPrometheusValue } from '@sloth/core';
import { prometheusMetricName, prometheusType, seriesLabelPairs } from '../exposition.js';
import type { MetricColumns, MetricSeries } from '../records.js';
import { encodeLabels, WriteRequestWriter, type RemoteLabel } from './write-request.js';

/**
 * Turns accepted points into one remote-write WriteRequest with the same
 * OpenTelemetry → Prometheus mapping as `/metrics` (names, `_total`, units,
 * sanitised labels; histograms as `_bucket{le}`, `_sum`, `_count`), so a
 * remote TSDB and a Prometheus scraping the collector see the same series.
 *
 * Samples are held column-wise (typed arrays reused from batch to batch, no
 * object per sample); `finish` groups them by series, puts each series' samples
 * in time order (receivers refuse out-of-order samples) and encodes them.
 */
export class TimeSeriesBuilder {
  /** Label key → the batch's slot for that label set (two series objects with equal labels share one). */
  private readonly slots = new Map<string, number>();
  private slotLabels: Uint8Array[] = [];
  private slotCounts = new Int32Array(1024);
  private sampleSlots = new Int32Array(1024);
  private timestamps = new Float64Array(1024);
  private values = new Float64Array(1024);
  private count = 0;
  private sortedTimestamps = new Float64Array(0);
  private sortedValues = new Float64Array(0);
  private readonly writer = new WriteRequestWriter();

  get samples(): number {
    return this.count;
  }

  /** Adds every point of `columns`. */
  add(columns: MetricColumns): void {
    for (let i = 0; i < columns.length; i++) {
      const series = columns.series[i] as MetricSeries;
      const timestamp = columns.timestamps[i] as number;
      const type = prometheusType(series);
      if (type === 'gauge' || type === 'counter') {
        const value = columns.values[i] as number;
        if (!Number.isNaN(value)) this.push(plainShapeOf(series), value, timestamp);
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
          this.push(shapeOf(series, '_bucket', formatPrometheusValue(bounds[b])), cumulative, timestamp);
        }
        this.push(shapeOf(series, '_bucket', '+Inf'), h.count, timestamp);
      }
      this.push(shapeOf(series, '_sum', undefined), h.sum ?? 0, timestamp);
      this.push(shapeOf(series, '_count', undefined), h.count, timestamp);
    }
  }

  /**
   * The encoded (not yet compressed) WriteRequest of everything added, and
   * starts over. The bytes are a view of a buffer the next `finish` reuses.
   */
  finish(): Uint8Array {
    const slots = this.slotLabels.length;
    const n = this.count;
    if (this.sortedTimestamps.length < n) {
      this.sortedTimestamps = new Float64Array(this.timestamps.length);
      this.sortedValues = new Float64Array(this.timestamps.length);
    }
    // Counting sort by slot: each series' samples end up contiguous, in arrival order.
    const starts = new Int32Array(slots + 1);
    for (let s = 0; s < slots; s++) starts[s + 1] = (starts[s] as number) + (this.slotCounts[s] as number);
    const fill = starts.slice(0, slots);
    for (let i = 0; i < n; i++) {
      const slot = this.sampleSlots[i] as number;
      const at = (fill[slot] as number);
      fill[slot] = at + 1;
      this.sortedTimestamps[at] = this.timestamps[i] as number;
      this.sortedValues[at] = this.values[i] as number;
    }
    this.writer.reset();
    for (let s = 0; s < slots; s++) {
      const from = starts[s] as number;
      const to = starts[s + 1] as number;
      this.timeOrder(from, to);
      this.writer.series(this.slotLabels[s] as Uint8Array, this.sortedTimestamps, this.sortedValues, from, to);
    }
    this.slots.clear();
    this.slotLabels = [];
    this.slotCounts.fill(0, 0, slots);
    this.count = 0;
    return this.writer.finish();
  }

  private push(shape: Shape, value: number, timestamp: number): void {
    let slot = this.slots.get(shape.key);
    if (slot === undefined) {
      slot = this.slotLabels.length;
      this.slots.set(shape.key, slot);
      this.slotLabels.push(shape.encoded);
      if (slot >= this.slotCounts.length) this.slotCounts = grow(this.slotCounts, slot + 1);
    }
    const at = this.count;
    if (at >= this.sampleSlots.length) {
      this.sampleSlots = grow(this.sampleSlots, at + 1);
      this.timestamps = grow(this.timestamps, at + 1);
      this.values = grow(this.values, at + 1);
    }
    this.sampleSlots[at] = slot;
    this.timestamps[at] = timestamp;
    this.values[at] = value;
    this.slotCounts[slot] = (this.slotCounts[slot] as number) + 1;
    this.count = at + 1;
  }

  /** Sorts samples `from`..`to` by timestamp, stably; usually they already are and this only looks. */
  private timeOrder(from: number, to: number): void {
    const ts = this.sortedTimestamps;
    let sorted = true;
    for (let i = from + 1; i < to && sorted; i++) sorted = (ts[i - 1] as number) <= (ts[i] as number);
    if (sorted) return;
    const order = Array.from({ length: to - from }, (_, k) => from + k).sort((a, b) => (ts[a] as number) - (ts[b] as number) || a - b);
    const timestamps = order.map((i) => ts[i] as number);
    const values = order.map((i) => this.sortedValues[i] as number);
    ts.set(timestamps, from);
    this.sortedValues.set(values, from);
  }
}

function grow<T extends Int32Array | Float64Array>(array: T, atLeast: number): T {
  let length = array.length * 2;
  while (length < atLeast) length *= 2;
  const grown = new (array.constructor as new (length: number) => T)(length);
  grown.set(array);
  return grown;
}

interface Shape {
  /** The label set's pre-encoded `labels` fields. */
  readonly encoded: Uint8Array;
  /** Identifies the label set within a request. */
  readonly key: string;
}

/**
 * Label sets per series object (and suffix), made once for the life of the series: series objects are
 * shared by every point of a series (the collector's series cache), so a batch costs no label work.
 */
const plainShapes = new WeakMap<MetricSeries, Shape>();
const suffixedShapes = new WeakMap<MetricSeries, Map<string, Shape>>();

function plainShapeOf(series: MetricSeries): Shape {
  let shape = plainShapes.get(series);
  if (shape === undefined) {
    shape = makeShape(series, '', undefined);
    plainShapes.set(series, shape);
  }
  return shape;
}

function shapeOf(series: MetricSeries, suffix: string, le: string | undefined): Shape {
  let bySuffix = suffixedShapes.get(series);
  if (bySuffix === undefined) {
    bySuffix = new Map();
    suffixedShapes.set(series, bySuffix);
  }
  const shapeKey = le === undefined ? suffix : `${suffix}\u0000${le}`;
  let shape = bySuffix.get(shapeKey);
  if (shape === undefined) {
    shape = makeShape(series, suffix, le);
    bySuffix.set(shapeKey, shape);
  }
  return shape;
}

function makeShape(series: MetricSeries, suffix: string, le: string | undefined): Shape {
  const pairs = seriesLabelPairs(series.labels);
  if (le !== undefined) pairs.push(['le', le]);
  pairs.push(['__name__', `${prometheusMetricName(series)}${suffix}`]);
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const labels: RemoteLabel[] = pairs.map(([name, value]) => ({ name, value }));
  let key = '';
  for (const label of labels) key += `${label.name}\u0000${label.value}\u0001`;
  return { encoded: encodeLabels(labels), key };
}
