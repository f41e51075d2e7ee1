import { prometheusMetricName, type PrometheusType } from './prometheus-text.js';

/**
 * Every metric Sloth exports, by its Prometheus name. Role code and the
 * Grafana dashboards take names from here, never from string literals, and
 * docs/metrics.md is generated from it.
 *
 * Host and agent metrics are OpenTelemetry instruments: the agent sends
 * them over OTLP and the collector's `/metrics` exposes them with an `agent`
 * label; the agent's own endpoint shows the same names. Their Prometheus
 * names are derived from the OpenTelemetry name, unit and instrument by
 * {@link prometheusMetricName}, never written twice.
 */

export type MetricRole = 'agent' | 'collector' | 'analytics' | 'scheduler' | 'alerts' | 'process';

/** OpenTelemetry instrument kinds, as they map to Prometheus types. */
export type OtelInstrument = 'gauge' | 'counter' | 'updowncounter' | 'histogram';

export interface MetricSpec<L extends string = string> {
  /** Prometheus family name (histograms add `_bucket`, `_sum`, `_count`). */
  readonly name: string;
  /** The OpenTelemetry name, for metrics the agent emits through the SDK. */
  readonly otelName?: string;
  readonly type: PrometheusType;
  /** UCUM unit (`s`, `By`, `1`, `{point}`). */
  readonly unit: string;
  readonly help: string;
  /** Labels beyond Prometheus' own `job` and `instance`. */
  readonly labels: readonly L[];
  readonly role: MetricRole;
  readonly buckets?: readonly number[];
  /**
   * `planned`: named here so dashboards and the role that will emit it agree,
   * but no role exports it yet; panels on it must declare `expectEmpty`.
   * @defaultValue 'exported'
   */
  readonly status?: 'exported' | 'planned';
}

const instrumentTypes: Readonly<Record<OtelInstrument, PrometheusType>> = { gauge: 'gauge', counter: 'counter', updowncounter: 'gauge', histogram: 'histogram' };

/** A metric the agent emits through the OpenTelemetry SDK; the collector adds the `agent` label. */
function otel<L extends string>(otelName: string, instrument: OtelInstrument, unit: string, help: string, labels: readonly L[], buckets?: readonly number[]): MetricSpec<'agent' | L> {
  const type = instrumentTypes[instrument];
  return { name: prometheusMetricName(otelName, unit, type), otelName, type, unit, help, labels: ['agent', ...labels], role: 'agent', ...(buckets === undefined ? {} : { buckets }) };
}

function own<L extends string>(role: MetricRole, name: string, type: PrometheusType, unit: string, help: string, labels: readonly L[], extra: Pick<MetricSpec, 'buckets' | 'status'> = {}): MetricSpec<L> {
  return { name, type, unit, help, labels, role, ...extra };
}

/** Request and processing durations in seconds: 1 ms … 5 s. */
export const requestDurationBucketsSeconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;
/** Task and playbook durations in seconds: 1 ms … 10 min. */
export const taskDurationBucketsSeconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600] as const;

/** Forecast horizons (steps after the last sample) `sloth_forecast` exposes: a bounded set, not every step. */
export const forecastHorizonSteps = [1, 6, 12] as const;

const host = {
  systemCpuUtilization: otel('system.cpu.utilization', 'gauge', '1', 'CPU busy share, total and per core (label cpu).', ['cpu']),
  systemCpuLoadAverage1m: otel('system.cpu.load_average.1m', 'gauge', '{thread}', 'Load average over 1 minute.', []),
  systemCpuLoadAverage5m: otel('system.cpu.load_average.5m', 'gauge', '{thread}', 'Load average over 5 minutes.', []),
  systemCpuLoadAverage15m: otel('system.cpu.load_average.15m', 'gauge', '{thread}', 'Load average over 15 minutes.', []),
  systemMemoryUsage: otel('system.memory.usage', 'updowncounter', 'By', 'Memory in use by state; used = total - available.', ['state']),
  systemMemoryUtilization: otel('system.memory.utilization', 'gauge', '1', 'Memory used / total.', ['state']),
  systemMemoryLimit: otel('system.memory.limit', 'updowncounter', 'By', 'Total physical memory.', []),
  systemPagingUsage: otel('system.paging.usage', 'updowncounter', 'By', 'Swap by state.', ['state']),
  systemPagingUtilization: otel('system.paging.utilization', 'gauge', '1', 'Swap used / total.', ['state']),
  systemFilesystemUsage: otel('system.filesystem.usage', 'updowncounter', 'By', 'Filesystem bytes by state.', ['device', 'mountpoint', 'type', 'state']),
  systemFilesystemUtilization: otel('system.filesystem.utilization', 'gauge', '1', 'Filesystem used / (used + free).', ['device', 'mountpoint', 'type']),
  systemFilesystemLimit: otel('system.filesystem.limit', 'updowncounter', 'By', 'Filesystem size.', ['device', 'mountpoint', 'type']),
  systemDiskIo: otel('system.disk.io', 'counter', 'By', 'Disk bytes transferred.', ['device', 'direction']),
  systemDiskOperations: otel('system.disk.operations', 'counter', '{operation}', 'Disk operations.', ['device', 'direction']),
  systemNetworkIo: otel('system.network.io', 'counter', 'By', 'Network bytes.', ['device', 'direction']),
  systemNetworkPackets: otel('system.network.packets', 'counter', '{packet}', 'Network packets.', ['device', 'direction']),
  systemNetworkErrors: otel('system.network.errors', 'counter', '{error}', 'Network errors.', ['device', 'direction']),
  systemNetworkDropped: otel('system.network.dropped', 'counter', '{packet}', 'Network packets dropped.', ['device', 'direction']),
  systemProcessCount: otel('system.process.count', 'updowncounter', '{process}', 'Processes on the host.', []),
  systemUptime: otel('system.uptime', 'gauge', 's', 'Seconds since boot.', []),
} as const;

const agentRuntime = {
  processCpuTime: otel('process.cpu.time', 'counter', 's', 'CPU time of the agent process.', []),
  processCpuUtilization: otel('process.cpu.utilization', 'gauge', '1', 'Agent CPU time / wall time over the interval (1 = one core).', []),
  processMemoryUsage: otel('process.memory.usage', 'updowncounter', 'By', 'Resident set size of the agent.', []),
  v8jsMemoryHeapUsed: otel('v8js.memory.heap.used', 'updowncounter', 'By', 'V8 heap in use.', []),
  v8jsMemoryHeapLimit: otel('v8js.memory.heap.limit', 'updowncounter', 'By', 'V8 heap size.', []),
  v8jsGcDuration: otel('v8js.gc.duration', 'histogram', 's', 'Garbage collection pauses.', ['v8js_gc_type']),
  nodejsEventloopDelayMean: otel('nodejs.eventloop.delay.mean', 'gauge', 's', 'Event-loop delay, mean over the interval.', []),
  nodejsEventloopDelayP99: otel('nodejs.eventloop.delay.p99', 'gauge', 's', 'Event-loop delay, 99th percentile over the interval.', []),
  nodejsEventloopDelayMax: otel('nodejs.eventloop.delay.max', 'gauge', 's', 'Event-loop delay, max over the interval.', []),
} as const;

const agentOwn = {
  agentTaskRuns: otel('sloth.agent.task.runs', 'counter', '{run}', 'Task and playbook runs on the agent.', ['kind', 'name']),
  agentTaskFailures: otel('sloth.agent.task.failures', 'counter', '{run}', 'Task and playbook runs that failed.', ['kind', 'name']),
  agentTaskDuration: otel('sloth.agent.task.duration', 'histogram', 's', 'Duration of task and playbook runs.', ['kind', 'name', 'ok'], taskDurationBucketsSeconds),
  agentCheckStatus: otel('sloth.agent.check.status', 'gauge', '1', 'Health check state: 1 healthy, 0 unhealthy, -1 unknown.', ['check', 'type']),
  agentHealth: otel('sloth.agent.health', 'gauge', '1', 'Worst of the agent checks: 1 healthy, 0 unhealthy, -1 unknown.', []),
  agentCheckTransitions: otel('sloth.agent.check.transitions', 'counter', '{transition}', 'Health check state changes.', ['check', 'to']),
  agentCheckDuration: otel('sloth.agent.check.duration', 'histogram', 's', 'Health check run time.', ['check', 'type', 'ok']),
  agentExportSent: otel('sloth.agent.export.sent', 'counter', '{batch}', 'Export batches delivered.', []),
  agentExportDropped: otel('sloth.agent.export.dropped', 'counter', '{batch}', 'Export batches dropped because the spool was full.', []),
  agentExportRejected: otel('sloth.agent.export.rejected', 'counter', '{batch}', 'Export batches the collector refused (400, 401, 413 …).', []),
  agentExportRetries: otel('sloth.agent.export.retries', 'counter', '{attempt}', 'Retryable export attempts.', []),
  agentExportQueueSize: otel('sloth.agent.export.queue.size', 'updowncounter', 'By', 'Bytes waiting to be exported (memory + disk spool).', []),
  agentExportQueueBatches: otel('sloth.agent.export.queue.batches', 'updowncounter', '{batch}', 'Batches waiting to be exported.', []),
} as const;

const processOwn = {
  processResidentMemory: own('process', 'process_resident_memory_bytes', 'gauge', 'By', 'Resident memory of the Sloth process.', []),
  processCpuSeconds: own('process', 'process_cpu_seconds_total', 'counter', 's', 'User and system CPU time of the Sloth process.', []),
  processStartTime: own('process', 'process_start_time_seconds', 'gauge', 's', 'Start time of the Sloth process since the Unix epoch.', []),
} as const;

const collector = {
  collectorPointsReceived: own('collector', 'sloth_collector_points_received_total', 'counter', '{point}', 'Data points, spans and log records accepted, by signal.', ['signal']),
  collectorPointsRejected: own('collector', 'sloth_collector_points_rejected_total', 'counter', '{point}', 'Data points, spans and log records rejected, by reason.', ['reason']),
  collectorTruncatedValues: own(
    'collector',
    'sloth_collector_truncated_values_total',
    'counter',
    '{value}',
    'Span and log record values (attribute values, span names, status messages, severity texts, log bodies) cut to the size limits, by signal (traces, logs); their records were accepted.',
    ['signal'],
  ),
  collectorRequests: own('collector', 'sloth_collector_requests_total', 'counter', '{request}', 'OTLP/HTTP requests answered, by status code.', ['code']),
  collectorRequestDuration: own('collector', 'sloth_collector_request_duration_seconds', 'histogram', 's', 'Time from receiving an OTLP/HTTP request to answering it.', [], { buckets: requestDurationBucketsSeconds }),
  collectorQueueDepth: own('collector', 'sloth_collector_queue_depth', 'gauge', '{point}', 'Accepted data points durable in the write-ahead log but not yet in the store.', []),
  collectorActiveSeries: own('collector', 'sloth_collector_active_series', 'gauge', '{series}', 'Series known to the collector (stored or admitted).', []),
  collectorHeapUsed: own('collector', 'sloth_collector_heap_used_bytes', 'gauge', 'By', 'V8 heap in use.', []),
  collectorStreamBuffered: own('collector', 'sloth_collector_stream_buffered_samples', 'gauge', '{sample}', 'Samples waiting to be published to the Redis samples stream.', []),
  collectorStreamPublished: own('collector', 'sloth_collector_stream_published_total', 'counter', '{sample}', 'Samples published to the Redis samples stream.', []),
  collectorStreamDropped: own('collector', 'sloth_collector_stream_dropped_total', 'counter', '{sample}', 'Samples dropped because the Redis samples stream could not keep up or was unreachable.', []),
  collectorLatencyBudget: own('collector', 'sloth_collector_latency_budget_seconds', 'gauge', 's', 'Latency budget of an OTLP/HTTP request: a request whose estimated wait would exceed it gets 503 with Retry-After.', []),
  collectorEstimatedWait: own('collector', 'sloth_collector_estimated_wait_seconds', 'gauge', 's', 'Estimated time a request arriving now would take (work queued ahead of it, its own decoding, the write-ahead log sync).', []),
  collectorQueueWait: own('collector', 'sloth_collector_queue_wait_seconds', 'histogram', 's', 'Time an admitted OTLP/HTTP request waited between arriving and being decoded.', [], { buckets: requestDurationBucketsSeconds }),
  collectorBudgetRejections: own('collector', 'sloth_collector_budget_rejections_total', 'counter', '{request}', 'OTLP/HTTP requests answered 503 because they would have exceeded the latency budget.', []),
  collectorRemoteWriteSamples: own('collector', 'sloth_collector_remote_write_samples_total', 'counter', '{sample}', 'Samples delivered to a remote-write endpoint.', ['remote']),
  collectorRemoteWriteFailures: own('collector', 'sloth_collector_remote_write_failures_total', 'counter', '{request}', 'Remote-write requests that failed, by kind (retried: 5xx, 429 or network; dropped: other 4xx).', ['remote', 'kind']),
  collectorRemoteWriteDropped: own('collector', 'sloth_collector_remote_write_dropped_samples_total', 'counter', '{sample}', 'Samples a remote-write endpoint refused with a 4xx other than 429 (not retried).', ['remote']),
  collectorRemoteWriteLag: own('collector', 'sloth_collector_remote_write_lag_seconds', 'gauge', 's', 'Age of the oldest accepted request not yet delivered to a remote-write endpoint (0 when caught up).', ['remote']),
} as const;

const analytics = {
  anomalyScore: own('analytics', 'sloth_anomaly_score', 'gauge', '1', 'Latest anomaly score of the series, in [0, 1].', ['series', 'agent', 'metric']),
  scoredValue: own(
    'analytics',
    'sloth_scored_value',
    'gauge',
    '',
    'Latest value of the series as analytics scores and forecasts it (for counters, the rate per second): the value to draw against the forecast band.',
    ['series', 'agent', 'metric'],
  ),
  forecast: own(
    'analytics',
    'sloth_forecast',
    'gauge',
    '',
    `Latest forecast of the series: percentile p10/p50/p90 of the value horizon_steps (${forecastHorizonSteps.join(', ')}) steps after the last sample.`,
    ['series', 'agent', 'metric', 'percentile', 'horizon_steps'],
  ),
  analyticsSamplesScored: own('analytics', 'sloth_analytics_samples_scored_total', 'counter', '{sample}', 'Samples scored by the anomaly detector.', []),
  analyticsBadEntries: own('analytics', 'sloth_analytics_bad_entries_total', 'counter', '{entry}', 'Samples in stream entries that were not valid, and entries that could not be read at all (acknowledged and skipped).', []),
  analyticsOutOfOrderSamples: own('analytics', 'sloth_analytics_out_of_order_samples_total', 'counter', '{sample}', 'Samples not newer than the previous sample of their series (acknowledged and skipped).', []),
  analyticsAnomaliesPublished: own('analytics', 'sloth_analytics_anomalies_published_total', 'counter', '{event}', 'Anomaly events published.', []),
  analyticsLastAnomaly: own('analytics', 'sloth_analytics_last_anomaly_timestamp_seconds', 'gauge', 's', 'When the last anomaly event was published (Unix seconds); the incident annotations read it.', []),
  analyticsForecastsPublished: own('analytics', 'sloth_analytics_forecasts_published_total', 'counter', '{forecast}', 'Forecasts published.', []),
  analyticsForecastFailures: own('analytics', 'sloth_analytics_forecast_failures_total', 'counter', '{forecast}', 'Forecasts that failed.', []),
  analyticsModelsTrained: own('analytics', 'sloth_analytics_models_trained_total', 'counter', '{model}', 'Detector models trained and installed.', []),
  analyticsTrainingFailures: own('analytics', 'sloth_analytics_training_failures_total', 'counter', '{model}', 'Detector trainings that failed.', []),
  analyticsEntriesClaimed: own('analytics', 'sloth_analytics_entries_claimed_total', 'counter', '{entry}', 'Pending stream entries claimed from dead consumers.', []),
  analyticsSeriesEvicted: own('analytics', 'sloth_analytics_series_evicted_total', 'counter', '{series}', 'Series evicted from memory (snapshotted first).', []),
  analyticsSnapshotsWritten: own('analytics', 'sloth_analytics_snapshots_written_total', 'counter', '{snapshot}', 'Detector snapshots written to the model registry.', []),
  analyticsColdStartPoints: own('analytics', 'sloth_analytics_cold_start_points_total', 'counter', '{point}', 'Past points read from the collector to warm up new series.', []),
  analyticsLag: own('analytics', 'sloth_analytics_lag_seconds', 'gauge', 's', 'Age of the newest scored stream entry when it was scored.', []),
  analyticsStreamBacklog: own('analytics', 'sloth_analytics_stream_backlog_entries', 'gauge', '{entry}', 'Samples-stream entries not yet delivered to the consumer group (refreshed every claim interval).', []),
  analyticsPendingEntries: own('analytics', 'sloth_analytics_pending_entries', 'gauge', '{entry}', 'Samples-stream entries delivered to the group but not acknowledged (refreshed every claim interval).', []),
  analyticsTrackedSeries: own('analytics', 'sloth_analytics_tracked_series', 'gauge', '{series}', 'Series held in memory.', []),
  analyticsTrainingBacklog: own('analytics', 'sloth_analytics_training_backlog', 'gauge', '{task}', 'Training and forecast tasks queued or running in the worker threads.', []),
} as const;

/** The scheduler's metrics, on its `/metrics` port (default 9467). */
const scheduler = {
  schedulerQueueDepth: own('scheduler', 'sloth_scheduler_queue_depth', 'gauge', '{job}', 'Jobs in a scheduler queue (tasks, agent.<id>, remediation, scaling), by state (waiting, prioritized, delayed, active), refreshed on a timer.', ['queue', 'state']),
  schedulerPlacements: own('scheduler', 'sloth_scheduler_placements_total', 'counter', '{placement}', 'Task placement decisions, by outcome (placed, no_capacity); agent is empty when nothing fitted.', ['agent', 'outcome']),
  schedulerScalingDecisions: own('scheduler', 'sloth_scheduler_scaling_decisions_total', 'counter', '{decision}', 'Predictive-scaling decisions, by direction (up, down, hold).', ['target', 'direction']),
  schedulerDesiredReplicas: own('scheduler', 'sloth_scheduler_desired_replicas', 'gauge', '{replica}', 'Replicas the scaling policy asks for.', ['target']),
  schedulerForecastDemand: own('scheduler', 'sloth_scheduler_forecast_demand', 'gauge', '', 'Demand the scaling policy planned for (forecast p90 at the startup horizon).', ['target']),
  schedulerScalingMode: own('scheduler', 'sloth_scheduler_scaling_mode', 'gauge', '', 'The scaling policy\'s mode per target at its last decision: 1 for the current mode (warming-up, predictive, forecast-only: it stopped trusting its forecasts, reactive), 0 for the others.', ['target', 'mode']),
  schedulerDemand: own('scheduler', 'sloth_scheduler_demand', 'gauge', '', 'Demand of the scaling target at its last decision (the latest value of its demand series).', ['target']),
  remediationRuns: own('scheduler', 'sloth_remediation_runs_total', 'counter', '{run}', 'Remediations that reached a final state, by playbook and outcome (succeeded, failed, timed_out, refused: rejected or expired approval, skipped: cooldown).', ['playbook', 'outcome']),
  remediationDuration: own('scheduler', 'sloth_remediation_duration_seconds', 'histogram', 's', 'Remediation time from admission to its final state.', ['playbook'], { buckets: taskDurationBucketsSeconds }),
  remediationLastRun: own('scheduler', 'sloth_remediation_last_run_timestamp_seconds', 'gauge', 's', 'When a remediation of the playbook last reached a final state (Unix seconds); the remediation annotations read it.', ['playbook', 'outcome']),
} as const;

/** The alerts role's metrics, on its `/metrics` port (default 9468). */
const alerts = {
  alertsActive: own('alerts', 'sloth_alerts_active', 'gauge', '{alert}', 'Alerts pending or firing now, by rule (alertname), severity and state; Alertmanager intake alerts included.', ['rule', 'severity', 'state']),
  alertsNotifications: own('alerts', 'sloth_alerts_notifications_total', 'counter', '{notification}', 'Notification deliveries, by receiver, integration (ops/slack[0], ops/webhook[1]: never a URL) and outcome (sent, dead_letter, skipped).', ['receiver', 'integration', 'outcome']),
  alertsDeadLetters: own('alerts', 'sloth_alerts_dead_letters_total', 'counter', '{notification}', 'Notifications given up on and written to the dead-letter list, by receiver and integration.', ['receiver', 'integration']),
  alertsEvaluationDuration: own('alerts', 'sloth_alerts_evaluation_duration_seconds', 'histogram', 's', 'Time to evaluate every rule once.', [], { buckets: requestDurationBucketsSeconds }),
  alertsLastEvaluation: own('alerts', 'sloth_alerts_last_evaluation_timestamp_seconds', 'gauge', 's', 'When the rules were last evaluated (Unix seconds).', []),
  alertsForecastPredictions: own('alerts', 'sloth_alerts_forecast_predictions', 'gauge', '{prediction}', 'Predictions of forecast rules (each firing predicts a breach within the rule\'s horizon), by rule and outcome: hit (the breach happened in time), miss, pending (not graded yet); graded ones are kept in Redis across restarts.', ['rule', 'outcome']),
  alertsForecastPrecision: own('alerts', 'sloth_alerts_forecast_precision_ratio', 'gauge', '1', 'Hits over graded predictions of a forecast rule (absent before its first grade).', ['rule']),
  alertsForecastMedianLead: own('alerts', 'sloth_alerts_forecast_median_lead_seconds', 'gauge', 's', 'Median time from a forecast rule\'s alert to the breach it predicted, over its hits (absent before the first hit).', ['rule']),
} as const;

/** Every metric Sloth exports, keyed by a stable identifier. */
export const metricCatalogue = { ...host, ...agentRuntime, ...agentOwn, ...processOwn, ...collector, ...analytics, ...scheduler, ...alerts } as const;

export type MetricKey = keyof typeof metricCatalogue;

/** Every entry of {@link metricCatalogue}, in catalogue order. */
export function catalogueEntries(): Array<MetricSpec & { readonly key: MetricKey }> {
  return (Object.keys(metricCatalogue) as MetricKey[]).map((key) => ({ key, ...(metricCatalogue[key] as MetricSpec) }));
}

/** The catalogue entry whose family owns `seriesName` (`x_bucket`, `x_sum` and `x_count` belong to histogram `x`). */
export function catalogueEntryOf(seriesName: string): MetricSpec | undefined {
  for (const spec of Object.values(metricCatalogue) as MetricSpec[]) {
    if (spec.name === seriesName) return spec;
    if ((spec.type === 'histogram' || spec.type === 'summary') && /_(bucket|sum|count)$/.test(seriesName) && seriesName.replace(/_(bucket|sum|count)$/, '') === spec.name) return spec;
  }
  return undefined;
}

/** The OpenTelemetry name and instrument options of a catalogue entry the agent creates through the SDK. */
export function otelInstrument(spec: MetricSpec): { readonly name: string; readonly options: { readonly unit: string; readonly description: string } } {
  if (spec.otelName === undefined) throw new Error(`metric ${spec.name} is not an OpenTelemetry instrument in the catalogue`);
  return { name: spec.otelName, options: { unit: spec.unit, description: spec.help } };
}
