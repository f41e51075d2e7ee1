import protobufRoot from '@opentelemetry/otlp-transformer-057/build/src/generated/root.js';

/**
 * The generated OTLP protobuf code (protobufjs static module) shipped by
 * `@opentelemetry/otlp-transformer@0.57.2`. Typed here only as far as the
 * collector reads it: the shapes below mirror the generated message classes.
 */

export type Int64 = number | string | { toNumber(): number; low: number; high: number } | null | undefined;

export interface AnyValueMessage {
  stringValue?: string | null;
  boolValue?: boolean | null;
  intValue?: Int64;
  doubleValue?: number | null;
  arrayValue?: { values?: AnyValueMessage[] | null } | null;
  kvlistValue?: { values?: KeyValueMessage[] | null } | null;
  bytesValue?: Uint8Array | null;
}
export interface KeyValueMessage {
  key?: string | null;
  value?: AnyValueMessage | null;
}
export interface ResourceMessage {
  attributes?: KeyValueMessage[] | null;
}
export interface NumberDataPointMessage {
  attributes?: KeyValueMessage[] | null;
  timeUnixNano?: Int64;
  asDouble?: number | null;
  asInt?: Int64;
}
export interface HistogramDataPointMessage {
  attributes?: KeyValueMessage[] | null;
  timeUnixNano?: Int64;
  count?: Int64;
  sum?: number | null;
  bucketCounts?: Int64[] | null;
  explicitBounds?: number[] | null;
}
export interface MetricMessage {
  name?: string | null;
  description?: string | null;
  unit?: string | null;
  gauge?: { dataPoints?: NumberDataPointMessage[] | null } | null;
  sum?: { dataPoints?: NumberDataPointMessage[] | null; isMonotonic?: boolean | null; aggregationTemporality?: number | null } | null;
  histogram?: { dataPoints?: HistogramDataPointMessage[] | null; aggregationTemporality?: number | null } | null;
  exponentialHistogram?: { dataPoints?: HistogramDataPointMessage[] | null } | null;
  summary?: { dataPoints?: HistogramDataPointMessage[] | null } | null;
}
export interface MetricsRequestMessage {
  resourceMetrics?: Array<{ resource?: ResourceMessage | null; scopeMetrics?: Array<{ metrics?: MetricMessage[] | null }> | null }> | null;
}
export interface SpanMessage {
  traceId?: Uint8Array | null;
  spanId?: Uint8Array | null;
  parentSpanId?: Uint8Array | null;
  name?: string | null;
  kind?: number | null;
  startTimeUnixNano?: Int64;
  endTimeUnixNano?: Int64;
  attributes?: KeyValueMessage[] | null;
  status?: { code?: number | null; message?: string | null } | null;
}
export interface TracesRequestMessage {
  resourceSpans?: Array<{ resource?: ResourceMessage | null; scopeSpans?: Array<{ spans?: SpanMessage[] | null }> | null }> | null;
}
export interface LogRecordMessage {
  timeUnixNano?: Int64;
  observedTimeUnixNano?: Int64;
  severityNumber?: number | null;
  severityText?: string | null;
  body?: AnyValueMessage | null;
  attributes?: KeyValueMessage[] | null;
  traceId?: Uint8Array | null;
  spanId?: Uint8Array | null;
}
export interface LogsRequestMessage {
  resourceLogs?: Array<{ resource?: ResourceMessage | null; scopeLogs?: Array<{ logRecords?: LogRecordMessage[] | null }> | null }> | null;
}

/** The static methods of a generated message class the collector uses. */
export interface MessageType<T> {
  decode(reader: Uint8Array | { readonly buf: Uint8Array; pos: number; readonly len: number }): T;
  fromObject(object: Record<string, unknown>): T;
  encode(message: Record<string, unknown>): { finish(): Uint8Array };
  verify(message: Record<string, unknown>): string | null;
}

/** A generated message class decoding one length-delimited sub-message from a reader positioned at its first byte. */
export interface SubMessageType<T> {
  decode(reader: { readonly buf: Uint8Array; pos: number; readonly len: number }, length: number): T;
}

interface GeneratedRoot {
  opentelemetry: {
    proto: {
      common: { v1: { KeyValue: SubMessageType<KeyValueMessage>; InstrumentationScope: SubMessageType<unknown> } };
      resource: { v1: { Resource: SubMessageType<ResourceMessage> } };
      metrics: { v1: { Gauge: SubMessageType<unknown>; Sum: SubMessageType<unknown>; NumberDataPoint: SubMessageType<unknown> } };
      collector: {
        metrics: { v1: { ExportMetricsServiceRequest: MessageType<MetricsRequestMessage>; ExportMetricsServiceResponse: MessageType<unknown> } };
        trace: { v1: { ExportTraceServiceRequest: MessageType<TracesRequestMessage>; ExportTraceServiceResponse: MessageType<unknown> } };
        logs: { v1: { ExportLogsServiceRequest: MessageType<LogsRequestMessage>; ExportLogsServiceResponse: MessageType<unknown> } };
      };
    };
  };
}

const root = protobufRoot as unknown as GeneratedRoot;
const services = root.opentelemetry.proto.collector;

export const otlpTypes = {
  metricsRequest: services.metrics.v1.ExportMetricsServiceRequest,
  metricsResponse: services.metrics.v1.ExportMetricsServiceResponse,
  tracesRequest: services.trace.v1.ExportTraceServiceRequest,
  tracesResponse: services.trace.v1.ExportTraceServiceResponse,
  logsRequest: services.logs.v1.ExportLogsServiceRequest,
  logsResponse: services.logs.v1.ExportLogsServiceResponse,
} as const;

/** The sub-messages the metrics fast path (`otlp-metrics-scan.ts`) decodes with the generated code. */
export const otlpMessageTypes = {
  resource: root.opentelemetry.proto.resource.v1.Resource,
  scope: root.opentelemetry.proto.common.v1.InstrumentationScope,
  gauge: root.opentelemetry.proto.metrics.v1.Gauge,
  sum: root.opentelemetry.proto.metrics.v1.Sum,
  numberDataPoint: root.opentelemetry.proto.metrics.v1.NumberDataPoint,
  keyValue: root.opentelemetry.proto.common.v1.KeyValue,
} as const;
