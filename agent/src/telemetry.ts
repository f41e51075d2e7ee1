import type { Attributes, Meter, ObservableCounter, ObservableUpDownCounter, Span, Tracer } from '@opentelemetry/api';
import { SpanStatusCode } from '@opentelemetry/api';
import { SeverityNumber, type Logger as OtelLogger } from '@opentelemetry/api-logs';
import type { Resource } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { metricCatalogue, MetricsEndpoint, otelInstrument, version, type MetricSpec } from '@sloth/core';
import { DurableLogRecordExporter, DurableMetricExporter, DurableSpanExporter } from './export/durable-exporters.js';
import type { DurableSender } from './export/durable-sender.js';
import { CustomMetrics } from './metrics/custom-metrics.js';
import { PrometheusReader } from './metrics/prometheus-reader.js';
import { RuntimeMetrics } from './metrics/runtime-metrics.js';
import { SystemMetrics, type SystemCpu, type SystemMemory } from './metrics/system-metrics.js';
import { TaskMetrics, type TaskRun } from './metrics/task-metrics.js';

export interface AgentTelemetryOptions {
  readonly resource: Resource;
  /** Where OTLP batches go; without one, nothing is exported over OTLP (Prometheus only). */
  readonly sender?: DurableSender | undefined;
  /** Collection and export interval. @defaultValue 10000 */
  readonly exportIntervalMillis?: number;
  /** Prometheus endpoint; port 0 or absent disables it. */
  readonly prometheus?: { readonly port: number; readonly host?: string } | undefined;
  /** Collect host metrics. @defaultValue true */
  readonly hostMetrics?: boolean;
}

/** Severity of a log record emitted through {@link AgentTelemetry.emitLog}. */
export type LogSeverity = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

const severityNumbers: Readonly<Record<LogSeverity, SeverityNumber>> = {
  trace: SeverityNumber.TRACE,
  debug: SeverityNumber.DEBUG,
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
  fatal: SeverityNumber.FATAL,
};

/**
 * The agent's OpenTelemetry SDK: one meter provider (periodic OTLP reader
 * through the durable sender, plus the Prometheus endpoint), one tracer
 * provider and one logger provider, all with the agent's resource. Also the
 * in-process API other parts of the agent use: custom metrics, task-run
 * metrics, spans and log records, and the latest host values.
 */
export class AgentTelemetry {
  readonly meterProvider: MeterProvider;
  readonly tracerProvider: BasicTracerProvider;
  readonly loggerProvider: LoggerProvider;
  readonly meter: Meter;
  readonly tracer: Tracer;
  readonly otelLogger: OtelLogger;
  readonly customMetrics: CustomMetrics;
  readonly taskMetrics: TaskMetrics;
  readonly system: SystemMetrics;
  private readonly runtime = new RuntimeMetrics();
  private readonly prometheus: MetricsEndpoint | undefined;
  private readonly prometheusPort: number;
  private readonly prometheusHost: string;

  constructor(options: AgentTelemetryOptions) {
    const intervalMillis = options.exportIntervalMillis ?? 10_000;
    const readers: IMetricReader[] = [];
    if (options.sender !== undefined) {
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: new DurableMetricExporter(options.sender),
          exportIntervalMillis: intervalMillis,
          exportTimeoutMillis: Math.min(intervalMillis, 30_000),
        }),
      );
    }
    this.prometheusPort = options.prometheus?.port ?? 0;
    this.prometheusHost = options.prometheus?.host ?? '0.0.0.0';
    if (this.prometheusPort > 0) {
      const agentId = String(options.resource.attributes['service.instance.id'] ?? options.resource.attributes['host.name'] ?? 'unknown');
      const reader = new PrometheusReader(agentId);
      readers.push(reader);
      this.prometheus = new MetricsEndpoint({
        host: this.prometheusHost,
        port: this.prometheusPort,
        render: () => reader.render(),
        portInUseMessage: (port) => `the agent's Prometheus port ${port} is in use; pass --metrics-port with a free port, or 0 to disable it`,
      });
    }
    this.meterProvider = new MeterProvider({ resource: options.resource, readers });
    this.meter = this.meterProvider.getMeter('sloth-agent', version);

    const spanProcessors: SpanProcessor[] =
      options.sender === undefined ? [] : [new BatchSpanProcessor(new DurableSpanExporter(options.sender), { scheduledDelayMillis: Math.min(intervalMillis, 5000) })];
    this.tracerProvider = new BasicTracerProvider({ resource: options.resource, spanProcessors });
    this.tracer = this.tracerProvider.getTracer('sloth-agent', version);

    const logProcessors: LogRecordProcessor[] =
      options.sender === undefined
        ? []
        : [new BatchLogRecordProcessor({ exporter: new DurableLogRecordExporter(options.sender), scheduledDelayMillis: Math.min(intervalMillis, 5000) })];
    this.loggerProvider = new LoggerProvider({ resource: options.resource, processors: logProcessors });
    this.otelLogger = this.loggerProvider.getLogger('sloth-agent', version);

    this.customMetrics = new CustomMetrics(this.meter);
    this.taskMetrics = new TaskMetrics(this.meter);
    this.system = new SystemMetrics();
    if (options.hostMetrics ?? true) this.system.register(this.meter);
    this.runtime.register(this.meter);
    if (options.sender !== undefined) registerSenderMetrics(this.meter, options.sender);
  }

  /** Starts the Prometheus endpoint, if configured (names as on the collector's `/metrics`: see PrometheusReader). */
  async start(): Promise<void> {
    await this.prometheus?.start();
  }

  /** URL of the Prometheus endpoint, if enabled. */
  prometheusUrl(): string | undefined {
    if (this.prometheus === undefined) return undefined;
    const host = this.prometheusHost === '0.0.0.0' ? '127.0.0.1' : this.prometheusHost;
    return `http://${host}:${this.prometheusPort}/metrics`;
  }

  /** Records one finished task or playbook run (runs, failures, duration). */
  recordTaskRun(run: TaskRun): void {
    this.taskMetrics.recordTaskRun(run);
  }

  /** Latest host CPU values. */
  systemCpu(): SystemCpu {
    return this.system.systemCpu();
  }

  /** Latest host memory values. */
  systemMemory(): SystemMemory {
    return this.system.systemMemory();
  }

  /** Emits an OTel log record (exported with the agent's logs). */
  emitLog(severity: LogSeverity, body: string, attributes: Attributes = {}): void {
    this.otelLogger.emit({ severityNumber: severityNumbers[severity], severityText: severity.toUpperCase(), body, attributes, timestamp: Date.now() });
  }

  /**
   * Runs `fn` inside a span named `name`; the span ends when `fn` settles,
   * with an error status if it throws.
   */
  async withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
    return await this.tracer.startActiveSpan(name, { attributes }, async (span) => {
      try {
        const result = await fn(span);
        span.setStatus({ code: SpanStatusCode.OK });
        return result;
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    });
  }

  /** Collects and hands everything buffered to the exporters now. */
  async forceFlush(): Promise<void> {
    await Promise.all([this.meterProvider.forceFlush(), this.tracerProvider.forceFlush(), this.loggerProvider.forceFlush()]);
  }

  /** Flushes and stops every provider (one last collection is exported). */
  async shutdown(): Promise<void> {
    this.runtime.shutdown();
    await this.prometheus?.shutdown();
    await Promise.allSettled([this.tracerProvider.shutdown(), this.loggerProvider.shutdown()]);
    await this.meterProvider.shutdown();
  }
}

function registerSenderMetrics(meter: Meter, sender: DurableSender): void {
  const counter = (spec: MetricSpec): ObservableCounter => {
    const { name, options } = otelInstrument(spec);
    return meter.createObservableCounter(name, options);
  };
  const upDown = (spec: MetricSpec): ObservableUpDownCounter => {
    const { name, options } = otelInstrument(spec);
    return meter.createObservableUpDownCounter(name, options);
  };
  const dropped = counter(metricCatalogue.agentExportDropped);
  const rejected = counter(metricCatalogue.agentExportRejected);
  const retries = counter(metricCatalogue.agentExportRetries);
  const sent = counter(metricCatalogue.agentExportSent);
  const queued = upDown(metricCatalogue.agentExportQueueSize);
  const queuedBatches = upDown(metricCatalogue.agentExportQueueBatches);
  meter.addBatchObservableCallback(
    (r) => {
      const s = sender.stats;
      r.observe(dropped, s.droppedBatches);
      r.observe(rejected, s.rejectedBatches);
      r.observe(retries, s.retries);
      r.observe(sent, s.sentBatches);
      r.observe(queued, s.queuedBytes);
      r.observe(queuedBatches, s.queuedBatches);
    },
    [dropped, rejected, retries, sent, queued, queuedBatches],
  );
}
