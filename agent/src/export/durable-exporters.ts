import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { ProtobufLogsSerializer, ProtobufMetricsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableLogRecord, LogRecordExporter } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { DurableSender } from './durable-sender.js';

/**
 * OTel SDK exporters that hand encoded OTLP protobuf to the {@link DurableSender}.
 * An export "succeeds" once the batch is queued: delivery, retries and the
 * disk spool are the sender's job, so the SDK never drops a batch because
 * the collector is away.
 */
function accept(sender: DurableSender, signal: 'metrics' | 'traces' | 'logs', body: Uint8Array | undefined, done: (result: ExportResult) => void): void {
  if (body === undefined) {
    done({ code: ExportResultCode.FAILED, error: new Error(`cannot encode ${signal} as OTLP protobuf`) });
    return;
  }
  sender.enqueue(signal, body);
  done({ code: ExportResultCode.SUCCESS });
}

export class DurableMetricExporter implements PushMetricExporter {
  constructor(private readonly sender: DurableSender) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    if (metrics.scopeMetrics.every((s) => s.metrics.length === 0)) {
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    accept(this.sender, 'metrics', ProtobufMetricsSerializer.serializeRequest(metrics), resultCallback);
  }

  /** Cumulative: a replayed or lost batch never corrupts a counter's running total. */
  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.CUMULATIVE;
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

export class DurableSpanExporter implements SpanExporter {
  constructor(private readonly sender: DurableSender) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    accept(this.sender, 'traces', ProtobufTraceSerializer.serializeRequest(spans), resultCallback);
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

export class DurableLogRecordExporter implements LogRecordExporter {
  constructor(private readonly sender: DurableSender) {}

  export(logs: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    accept(this.sender, 'logs', ProtobufLogsSerializer.serializeRequest(logs), resultCallback);
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}
