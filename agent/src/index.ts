// Telemetry: the in-process API other parts of the agent (playbooks, jobs) use.
export { AgentTelemetry } from './telemetry.js';
export type { AgentTelemetryOptions, LogSeverity } from './telemetry.js';
export { CustomMetrics } from './metrics/custom-metrics.js';
export type { MetricAttributes } from './metrics/custom-metrics.js';
export { TaskMetrics } from './metrics/task-metrics.js';
export type { TaskRun } from './metrics/task-metrics.js';
export { SystemMetrics } from './metrics/system-metrics.js';
export type { SystemCpu, SystemMemory } from './metrics/system-metrics.js';
export { HostSampler } from './metrics/host-sampler.js';
export type { HostSnapshot, CpuSnapshot, MemorySnapshot } from './metrics/host-sampler.js';
export { RuntimeMetrics } from './metrics/runtime-metrics.js';

// Durable OTLP export.
export { DurableSender } from './export/durable-sender.js';
export type { DurableSenderOptions, DurableSenderStats, BatchTransport } from './export/durable-sender.js';
export { OtlpTransport, signalPaths } from './export/otlp-transport.js';
export type { Signal, OtlpTransportOptions } from './export/otlp-transport.js';
export { parseRetryAfter, retryableStatuses } from './export/export-result.js';
export type { SendResult } from './export/export-result.js';
export { DurableMetricExporter, DurableSpanExporter, DurableLogRecordExporter } from './export/durable-exporters.js';

// Identity and resource.
export { loadIdentity } from './identity.js';
export type { AgentIdentity } from './identity.js';
export { agentResource, agentResourceAttributes } from './resource.js';
export type { AgentResourceInput } from './resource.js';
