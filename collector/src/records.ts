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

/** One metric data point. Gauges and sums carry `value`; histograms carry count/sum/buckets. */
export interface MetricPoint {
  /** `seriesId(name, labels)` from core. */
  readonly seriesKey: string;
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
  readonly body: string;
  readonly traceId: string; // hex or ''
  readonly spanId: string; // hex or ''
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** Everything one accepted request contributes. */
export interface IngestBatch {
  readonly resources: readonly ResourceInfo[];
  readonly metrics: readonly MetricPoint[];
  readonly spans: readonly SpanRecord[];
  readonly logs: readonly LogRecordEntry[];
}
