import type { Labels, MetricKind } from '@sloth/core';
import type { MetricPoint } from '../records.js';
import type { SamplePoint, SeriesInfo } from './store-types.js';

/** A `series` row. */
export interface SeriesRow {
  id: number;
  key: string;
  name: string;
  agent_id: string;
  kind: string;
  unit: string;
  description: string;
  monotonic: number;
  labels: string;
}

/** A `points` row (histogram kinds). */
export interface PointRow {
  ts_ms: number;
  value: number | null;
  count: number | null;
  sum: number | null;
  buckets: string | null;
}

export function toSeriesInfo(row: SeriesRow): SeriesInfo {
  return {
    key: row.key,
    name: row.name,
    agentId: row.agent_id,
    kind: row.kind as MetricKind,
    unit: row.unit,
    description: row.description,
    monotonic: row.monotonic === 1,
    labels: JSON.parse(row.labels) as Labels,
  };
}

export function toSamplePoint(row: PointRow): SamplePoint {
  if (row.count === null && row.buckets === null) return { t: row.ts_ms, v: row.value };
  const [bounds, bucketCounts] = row.buckets === null ? [undefined, undefined] : (JSON.parse(row.buckets) as [number[], number[]]);
  return {
    t: row.ts_ms,
    v: row.value,
    ...(row.count === null ? {} : { count: row.count }),
    ...(row.sum === null ? {} : { sum: row.sum }),
    ...(bounds === undefined ? {} : { bounds, bucketCounts }),
  };
}

/** A point of `info` at `timestampMillis`, without its value. */
export function pointOfSeries(info: SeriesInfo, timestampMillis: number): MetricPoint {
  const { key, name, labels, agentId, kind, unit, description, monotonic } = info;
  return { seriesKey: key, name, labels, agentId, kind, unit, description, monotonic, timestampMillis };
}
