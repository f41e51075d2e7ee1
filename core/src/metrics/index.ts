export { metricCatalogue, catalogueEntries, catalogueEntryOf, otelInstrument, forecastHorizonSteps, requestDurationBucketsSeconds, taskDurationBucketsSeconds } from './catalogue.js';
export type { MetricSpec, MetricKey, MetricRole, OtelInstrument } from './catalogue.js';
export { MetricsRegistry } from './registry.js';
export type { GaugeReader } from './registry.js';
export { MetricsEndpoint } from './endpoint.js';
export type { MetricsEndpointOptions } from './endpoint.js';
export { catalogueMarkdown, catalogueMarkers, withCatalogueTables } from './docs-table.js';
export {
  prometheusContentType,
  prometheusMetricName,
  prometheusLabelName,
  prometheusLabels,
  exportedLabelName,
  prometheusUnitTokens,
  escapeLabelValue,
  escapeHelp,
  formatPrometheusValue,
  labelText,
  familyHeader,
  textNames,
} from './prometheus-text.js';
export type { PrometheusType } from './prometheus-text.js';
export type { Counter as MetricCounter, Gauge as MetricGauge, Histogram as MetricHistogram } from 'prom-client';
export { SchedulerMetrics } from './scheduler-metrics.js';
export type { QueueDepthReader } from './scheduler-metrics.js';
