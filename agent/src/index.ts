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

// The agent process.
export { Agent } from './agent.js';
export type { AgentOptions } from './agent.js';
export { runAgent } from './run-agent.js';
export type { AgentFlags } from './run-agent.js';
export { agentConfigShape, loadAgentConfig, parseLabelFlags, agentPaths, resolveAgentStateDir } from './config.js';
export type { AgentConfig } from './config.js';
export { RotatingLogFile } from './log-file.js';
export type { RotatingLogFileOptions } from './log-file.js';

// Health checks.
export { HealthMonitor, readHealthReport, formatHealthReport } from './health/health-monitor.js';
export type { HealthReport, CheckReport, HealthMonitorOptions, TransitionListener } from './health/health-monitor.js';
export { CheckState, worstState, stateValue } from './health/check-state.js';
export type { HealthState, CheckResult, Transition } from './health/check-state.js';
export { healthCheckSchema, healthChecksSchema, checkTypes } from './health/check-config.js';
export type { HealthCheckConfig, HealthCheckInput } from './health/check-config.js';
export { probeCommand } from './health/probes.js';

// Remediation jobs (BullMQ worker on agent.<id>).
export * from './jobs/index.js';

// Lua playbooks: runtime, sandbox, triggers.
export * from './playbook/index.js';
