import { seriesId, type Labels, type MetricKind } from '@sloth/core';
import { metricColumns, type IngestBatch, type MetricColumns, type MetricPoint, type MetricSeries, type ResourceInfo } from '../../src/records.js';

/** Builds a metric point the way the OTLP normaliser does (labels include `agent`). */
export function point(options: {
  name: string;
  agentId?: string;
  labels?: Labels;
  kind?: MetricKind;
  unit?: string;
  description?: string;
  monotonic?: boolean;
  t: number;
  v?: number;
  count?: number;
  sum?: number;
  bounds?: number[];
  bucketCounts?: number[];
}): MetricPoint {
  const agentId = options.agentId ?? 'host-a';
  const labels = { ...options.labels, agent: agentId };
  return {
    seriesKey: seriesId(options.name, labels),
    name: options.name,
    labels,
    agentId,
    kind: options.kind ?? 'gauge',
    unit: options.unit ?? '',
    description: options.description ?? '',
    monotonic: options.monotonic ?? false,
    timestampMillis: options.t,
    ...(options.v === undefined ? {} : { value: options.v }),
    ...(options.count === undefined ? {} : { count: options.count }),
    ...(options.sum === undefined ? {} : { sum: options.sum }),
    ...(options.bounds === undefined ? {} : { bounds: options.bounds }),
    ...(options.bucketCounts === undefined ? {} : { bucketCounts: options.bucketCounts }),
  };
}

export function resource(agentId: string, attributes: Labels = {}): ResourceInfo {
  return { agentId, principal: 'test', attributes: { 'host.name': agentId, ...attributes } };
}

/** A batch from point objects (turned into columns as the normaliser would hand them over). */
export function batch(parts: Partial<Omit<IngestBatch, 'metrics'>> & { readonly metrics?: readonly MetricPoint[] }): IngestBatch {
  return { resources: parts.resources ?? [], metrics: metricColumns(parts.metrics ?? []), spans: parts.spans ?? [], logs: parts.logs ?? [] };
}

/** Point `i` of the columns as an object, to assert on. */
export function pointAt(columns: MetricColumns, i: number): MetricPoint {
  const s = columns.series[i] as MetricSeries;
  const value = columns.values[i] as number;
  const h = columns.histograms.get(i);
  return {
    seriesKey: s.key,
    name: s.name,
    labels: s.labels,
    agentId: s.agentId,
    kind: s.kind,
    unit: s.unit,
    description: s.description,
    monotonic: s.monotonic,
    timestampMillis: columns.timestamps[i] as number,
    ...(Number.isNaN(value) ? {} : { value }),
    ...(h === undefined ? {} : { count: h.count, ...(h.sum === undefined ? {} : { sum: h.sum }), ...(h.bounds === undefined ? {} : { bounds: h.bounds }), ...(h.bucketCounts === undefined ? {} : { bucketCounts: h.bucketCounts }) }),
  };
}
