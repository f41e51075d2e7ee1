import type { Attributes } from '@opentelemetry/api';
import { DataPointType, MetricReader, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { exportedLabelName, familyHeader, formatPrometheusValue, labelText, prometheusLabels, prometheusMetricName, textNames, type PrometheusType } from '@sloth/core';

/**
 * The agent's own `/metrics`: a pull reader on the agent's meter provider
 * whose text uses the same OpenTelemetry → Prometheus names and labels as
 * the collector's `/metrics` (core's `prometheusMetricName`, an `agent`
 * label, the attributes as labels). The SDK's Prometheus exporter names
 * `system.cpu.utilization` `system_cpu_utilization{otel_scope_name=…}`
 * while the collector says `system_cpu_utilization_ratio{agent=…}`; one
 * dashboard query must match both.
 */
export class PrometheusReader extends MetricReader {
  constructor(private readonly agentId: string) {
    super();
  }

  /** Exposition text of everything the meter provider holds now. */
  async render(): Promise<string> {
    const { resourceMetrics } = await this.collect();
    return renderResourceMetrics(resourceMetrics, this.agentId);
  }

  protected override async onForceFlush(): Promise<void> {
    // Pull only: nothing is buffered between scrapes.
  }

  protected override async onShutdown(): Promise<void> {
    // Pull only: nothing to flush.
  }
}

function typeOf(metric: MetricData): PrometheusType {
  switch (metric.dataPointType) {
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      // Exponential buckets have no classic-histogram form; count and sum are still exact (as in the collector).
      return 'summary';
  }
}

function labelsOf(attributes: Attributes, agentId: string): Array<[string, string]> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) labels[key] = Array.isArray(value) ? JSON.stringify(value) : String(value);
  }
  // Reserved names (`__name__`, `le`, `quantile`) from an attribute would make the whole scrape invalid.
  labels.agent = agentId;
  return prometheusLabels(labels, exportedLabelName);
}

function seriesLines(name: string, metric: MetricData, agentId: string): string {
  let text = '';
  for (const point of metric.dataPoints) {
    const pairs = labelsOf(point.attributes, agentId);
    const labels = labelText(pairs);
    const value = point.value;
    if (typeof value === 'number') {
      text += `${name}${labels} ${formatPrometheusValue(value)}\n`;
    } else if ('buckets' in value && 'boundaries' in value.buckets) {
      let cumulative = 0;
      value.buckets.boundaries.forEach((bound, i) => {
        cumulative += value.buckets.counts[i] ?? 0;
        text += `${name}_bucket${labelText([...pairs, ['le', formatPrometheusValue(bound)]])} ${cumulative}\n`;
      });
      text += `${name}_bucket${labelText([...pairs, ['le', '+Inf']])} ${value.count}\n`;
      text += `${name}_sum${labels} ${formatPrometheusValue(value.sum ?? 0)}\n${name}_count${labels} ${value.count}\n`;
    } else {
      text += `${name}_sum${labels} ${formatPrometheusValue(value.sum ?? 0)}\n${name}_count${labels} ${value.count}\n`;
    }
  }
  return text;
}

/**
 * Families sorted by name; a name claimed by two metrics of different types keeps the first, as Prometheus cannot
 * mix them. So does a name one family's samples take and another's header (a histogram `foo`, whose samples include
 * `foo_count`, and a gauge `foo_count`): in sorted order the histogram, a prefix of the other, is kept.
 */
export function renderResourceMetrics(resourceMetrics: ResourceMetrics, agentId: string): string {
  const families = new Map<string, { type: PrometheusType; help: string; body: string }>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const type = typeOf(metric);
      const name = prometheusMetricName(metric.descriptor.name, metric.descriptor.unit, type);
      const family = families.get(name);
      if (family !== undefined && family.type !== type) continue;
      const body = seriesLines(name, metric, agentId);
      if (family === undefined) families.set(name, { type, help: metric.descriptor.description || metric.descriptor.name, body });
      else family.body += body;
    }
  }
  let text = '';
  const claimed = new Set<string>();
  for (const name of [...families.keys()].sort()) {
    const family = families.get(name) as { type: PrometheusType; help: string; body: string };
    if (family.body === '') continue;
    const names = textNames(name, family.type);
    if (names.some((n) => claimed.has(n))) continue;
    for (const n of names) claimed.add(n);
    text += familyHeader(name, family.type, family.help) + family.body;
  }
  return text;
}
