import type { ChunkPoints } from './schema.js';
import type { SeriesInfo } from './store-types.js';

/** How series are combined per step. `rate`: per-second increase of monotonic sums, summed over the group. */
export type SeriesAggregation = 'sum' | 'avg' | 'min' | 'max' | 'count' | 'rate';

export const seriesAggregations: readonly SeriesAggregation[] = ['sum', 'avg', 'min', 'max', 'count', 'rate'];

export interface AggregateSpec {
  readonly agg: SeriesAggregation;
  /** Label names to group by (every series has an `agent` label); empty: one group of every series. */
  readonly by: readonly string[];
  readonly fromMillis: number;
  /** Inclusive. */
  readonly toMillis: number;
  readonly stepMillis: number;
}

export interface AggregateGroup {
  /** The group's value of each `by` label ("" where a series lacks it). */
  readonly labels: Record<string, string>;
  /** Series in the group. */
  readonly series: number;
  /** One point per step where at least one series of the group has a value, at the step's start. */
  readonly points: Array<{ t: number; v: number }>;
}

/** Buckets `[from + k·step, from + (k+1)·step)` up to and including `to`. */
export function bucketCount(fromMillis: number, toMillis: number, stepMillis: number): number {
  return Math.floor((toMillis - fromMillis) / stepMillis) + 1;
}

/**
 * Each series' value per step: its last (non-NaN) point in the step, or for
 * `rate` its increase in the step per second. The increase of a step is the
 * sum of the differences between consecutive points that end in it (the
 * first pair may start in an earlier step); a drop is a counter reset, after
 * which the counter counts from 0, so the new value itself is the increase.
 * The first point in the range is only a baseline. Pure.
 */
export function seriesStepValues(points: ChunkPoints, spec: AggregateSpec): Float64Array {
  const buckets = bucketCount(spec.fromMillis, spec.toMillis, spec.stepMillis);
  const out = new Float64Array(buckets).fill(Number.NaN);
  const { count, timestamps, values } = points;
  let previous = Number.NaN;
  for (let i = 0; i < count; i += 1) {
    const t = timestamps[i] as number;
    const v = values[i] as number;
    if (t < spec.fromMillis || t > spec.toMillis || Number.isNaN(v)) continue;
    const bucket = Math.floor((t - spec.fromMillis) / spec.stepMillis);
    if (spec.agg !== 'rate') {
      out[bucket] = v;
      continue;
    }
    if (!Number.isNaN(previous)) {
      const increase = v >= previous ? v - previous : v;
      const sofar = out[bucket] as number;
      out[bucket] = (Number.isNaN(sofar) ? 0 : sofar) + increase;
    }
    previous = v;
  }
  if (spec.agg === 'rate') {
    const stepSeconds = spec.stepMillis / 1000;
    for (let b = 0; b < buckets; b += 1) out[b] = (out[b] as number) / stepSeconds;
  }
  return out;
}

/** Combines the series' step values into one series per group of `by` label values. Pure. */
export function aggregateSeries(input: ReadonlyArray<{ info: SeriesInfo; points: ChunkPoints }>, spec: AggregateSpec): AggregateGroup[] {
  const buckets = bucketCount(spec.fromMillis, spec.toMillis, spec.stepMillis);
  interface Accumulator {
    labels: Record<string, string>;
    series: number;
    seen: Uint32Array;
    sum: Float64Array;
    min: Float64Array;
    max: Float64Array;
  }
  const groups = new Map<string, Accumulator>();
  for (const { info, points } of input) {
    const labels: Record<string, string> = {};
    for (const name of spec.by) labels[name] = info.labels[name] ?? '';
    const key = JSON.stringify(spec.by.map((name) => labels[name]));
    let group = groups.get(key);
    if (group === undefined) {
      group = {
        labels,
        series: 0,
        seen: new Uint32Array(buckets),
        sum: new Float64Array(buckets),
        min: new Float64Array(buckets).fill(Number.POSITIVE_INFINITY),
        max: new Float64Array(buckets).fill(Number.NEGATIVE_INFINITY),
      };
      groups.set(key, group);
    }
    group.series += 1;
    const values = seriesStepValues(points, spec);
    for (let b = 0; b < buckets; b += 1) {
      const v = values[b] as number;
      if (Number.isNaN(v)) continue;
      group.seen[b] = (group.seen[b] as number) + 1;
      group.sum[b] = (group.sum[b] as number) + v;
      if (v < (group.min[b] as number)) group.min[b] = v;
      if (v > (group.max[b] as number)) group.max[b] = v;
    }
  }
  const out: AggregateGroup[] = [];
  for (const group of groups.values()) {
    const points: Array<{ t: number; v: number }> = [];
    for (let b = 0; b < buckets; b += 1) {
      const seen = group.seen[b] as number;
      if (seen === 0) continue;
      const sum = group.sum[b] as number;
      const v = spec.agg === 'avg' ? sum / seen : spec.agg === 'min' ? (group.min[b] as number) : spec.agg === 'max' ? (group.max[b] as number) : spec.agg === 'count' ? seen : sum;
      points.push({ t: spec.fromMillis + b * spec.stepMillis, v });
    }
    out.push({ labels: group.labels, series: group.series, points });
  }
  return out.sort((a, b) => compareLabels(a.labels, b.labels, spec.by));
}

function compareLabels(a: Record<string, string>, b: Record<string, string>, by: readonly string[]): number {
  for (const name of by) {
    const x = a[name] ?? '';
    const y = b[name] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
