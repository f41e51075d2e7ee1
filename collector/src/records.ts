import type { Labels, MetricKind } from '@sloth/core';

/**
 * The collector's normalised records: what the OTLP decoder produces and
 * what the store, the Redis publisher, the agent registry and the
 * Prometheus exposition consume. Independent of protobuf and JSON.
 */

/** The resource (agent) a batch came from. */
export interface ResourceInfo {
  /** `service.instance.id`, else `host.name`, else `unknown`. */
  readonly agentId: string;
  /** The tenant/agent name bound to the bearer token that sent it (`anonymous` without auth). */
  readonly principal: string;
  /** Resource attributes, stringified. */
  readonly attributes: Labels;
}

/**
 * One metric data point as an object (latest values, the store's reads):
 * its series' fields, with the series key as `seriesKey`, plus the sample.
 * Gauges and sums carry `value`; histograms carry count/sum/buckets.
 */
export interface MetricPoint extends Omit<MetricSeries, 'key' | 'admitted' | 'storeRef' | 'streamId'> {
  /** `seriesId(name, labels)` from core. */
  readonly seriesKey: string;
  readonly timestampMillis: number;
  readonly value?: number;
  readonly count?: number;
  readonly sum?: number;
  /** Histogram explicit bounds (n) and bucket counts (n + 1). */
  readonly bounds?: readonly number[];
  readonly bucketCounts?: readonly number[];
}

export interface SpanRecord {
  readonly traceId: string; // hex
  readonly spanId: string; // hex
  readonly parentSpanId: string; // hex or ''
  readonly name: string;
  readonly kind: number;
  readonly agentId: string;
  readonly serviceName: string;
  readonly startMillis: number;
  readonly endMillis: number;
  /** 0 unset, 1 ok, 2 error */
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

export interface LogRecordEntry {
  readonly timestampMillis: number;
  readonly agentId: string;
  readonly serviceName: string;
  readonly severityNumber: number;
  readonly severityText: string;
  /** A string body as it came; an array or key/value list body as its JSON. */
  readonly body: string;
  /** The body was an array or key/value list (`body` is its JSON): the record limits cut its strings, not its text. */
  readonly structuredBody?: boolean;
  readonly traceId: string; // hex or ''
  readonly spanId: string; // hex or ''
  readonly attributes: Readonly<Record<string, unknown>>;
}

/**
 * What every point of one series shares, built once per series by the
 * normaliser and referenced by all its points (never copied per point).
 */
export interface MetricSeries {
  /** `seriesId(name, labels)` from core. */
  readonly key: string;
  /** OpenTelemetry metric name, e.g. `system.cpu.utilization`. */
  readonly name: string;
  /** Point attributes stringified, plus `agent` = the agent id. */
  readonly labels: Labels;
  readonly agentId: string;
  readonly kind: MetricKind;
  readonly unit: string;
  readonly description: string;
  /** Sums only: monotonic counters become `_total` in Prometheus. */
  readonly monotonic: boolean;
  /**
   * Sums and histograms: OTLP delta temporality (each point counts the interval since the previous one), not
   * cumulative. Not stored; the samples stream passes it on so analytics scores a rate.
   */
  readonly delta?: boolean;
  /**
   * Main-thread scratch, so the per-point path needs no map lookups: set by
   * the series limiter once the series may be stored, cleared when retention
   * removes it.
   */
  admitted?: boolean;
  /** Main-thread scratch: the store writer's number for this series, 0 or absent until first sent. */
  storeRef?: number;
  /** Main-thread scratch: this series' entry in the latest values (see latest-values.ts), absent until its first point. */
  latest?: object | undefined;
  /** Main-thread scratch: the key as a JSON string literal in UTF-8, for the samples stream (see publisher.ts), made at its first publish. */
  streamId?: Uint8Array;
}

/** The histogram part of a point (histogram, exponential histogram and summary kinds). */
export interface HistogramValue {
  readonly count: number;
  readonly sum?: number;
  /** Explicit bounds (n) and bucket counts (n + 1); explicit-bucket histograms only. */
  readonly bounds?: readonly number[];
  readonly bucketCounts?: readonly number[];
}

/**
 * The metric points of a batch, column-wise: point `i` is
 * `series[i]` at `timestamps[i]` with `values[i]`. Decoding a request makes
 * three arrays and no object per point, which keeps the garbage collector
 * out of the ingest path.
 */
export interface MetricColumns {
  readonly length: number;
  readonly series: readonly MetricSeries[];
  /** Unix milliseconds. */
  readonly timestamps: Float64Array;
  /** NaN where the point has no single value (the histogram kinds). */
  readonly values: Float64Array;
  /** The histogram part of the points that have one, by point index. */
  readonly histograms: ReadonlyMap<number, HistogramValue>;
}

const noHistograms: ReadonlyMap<number, HistogramValue> = new Map();

/** Columns with no points. */
export const emptyMetricColumns: MetricColumns = { length: 0, series: [], timestamps: new Float64Array(0), values: new Float64Array(0), histograms: noHistograms };

/** The series of a point object (its shared fields). */
function seriesOf(point: MetricPoint): MetricSeries {
  return {
    key: point.seriesKey,
    name: point.name,
    labels: point.labels,
    agentId: point.agentId,
    kind: point.kind,
    unit: point.unit,
    description: point.description,
    monotonic: point.monotonic,
  };
}

/** Point objects → columns (tests, and callers that build points one by one). Points of one series key share a series object. */
export function metricColumns(points: readonly MetricPoint[]): MetricColumns {
  const series: MetricSeries[] = [];
  const timestamps = new Float64Array(points.length);
  const values = new Float64Array(points.length);
  const histograms = new Map<number, HistogramValue>();
  const seen = new Map<string, MetricSeries>();
  points.forEach((point, i) => {
    let s = seen.get(point.seriesKey);
    if (s === undefined) {
      s = seriesOf(point);
      seen.set(point.seriesKey, s);
    }
    series.push(s);
    timestamps[i] = point.timestampMillis;
    values[i] = point.value ?? Number.NaN;
    if (point.count !== undefined || point.bucketCounts !== undefined) {
      histograms.set(i, {
        count: point.count ?? 0,
        ...(point.sum === undefined ? {} : { sum: point.sum }),
        ...(point.bounds === undefined ? {} : { bounds: point.bounds }),
        ...(point.bucketCounts === undefined ? {} : { bucketCounts: point.bucketCounts }),
      });
    }
  });
  return { length: points.length, series, timestamps, values, histograms: histograms.size === 0 ? noHistograms : histograms };
}

/** Everything one accepted request contributes. */
export interface IngestBatch {
  readonly resources: readonly ResourceInfo[];
  readonly metrics: MetricColumns;
  readonly spans: readonly SpanRecord[];
  readonly logs: readonly LogRecordEntry[];
}
