import { catalogueEntries, escapeHelp, exportedLabelName, formatPrometheusValue, labelText, prometheusLabels, prometheusMetricName as metricName, textNames, type PrometheusType } from '@sloth/core';
import type { LatestPoint, LatestValues } from './latest-values.js';
import type { MetricPoint } from './records.js';

/**
 * Prometheus text exposition (format 0.0.4) of the latest value of every
 * series, with the standard OpenTelemetry → Prometheus mapping (OTel spec
 * "Prometheus and OpenMetrics compatibility", as implemented by the
 * OpenTelemetry Collector's translator with name normalisation on).
 */

export { prometheusContentType, prometheusLabelName, formatPrometheusValue } from '@sloth/core';
export type { PrometheusType } from '@sloth/core';

/** The Prometheus metric type of an OpenTelemetry point. */
export function prometheusType(point: Pick<MetricPoint, 'kind' | 'monotonic'>): PrometheusType {
  switch (point.kind) {
    case 'gauge':
      return 'gauge';
    case 'sum':
      return point.monotonic ? 'counter' : 'gauge';
    case 'histogram':
      return 'histogram';
    case 'summary':
    case 'exponential_histogram':
      // Exponential buckets have no classic-histogram form; count and sum are still exact.
      return 'summary';
  }
}

/**
 * Every name the collector's own metrics take on `/metrics` (the catalogue's `collector` and `process`
 * entries, configured or not), so that an agent's metric that would take one of them is renamed
 * whatever the collector's configuration: the name of a series must not change when remote write is
 * turned on.
 */
const ownNames: ReadonlySet<string> = new Set(catalogueEntries().flatMap((e) => (e.role === 'collector' || e.role === 'process' ? textNames(e.name, e.type) : [])));

/**
 * `system.memory.usage` (By, gauge) → `system_memory_usage_bytes`;
 * `http.server.requests` (monotonic sum) → `http_server_requests_total`;
 * `system.cpu.utilization` (unit `1`, gauge) → `system_cpu_utilization_ratio`.
 *
 * An agent's metric that would take a name of the collector's own metrics (`sloth_collector_requests_total`
 * relayed by another collector, a `process_resident_memory_bytes` of another process), its `_bucket`,
 * `_sum` or `_count` included, is named `exported_<name>`, as Prometheus renames scraped labels that
 * collide with its own: a second `# HELP` and `# TYPE` for one name makes the whole scrape invalid.
 */
export function prometheusMetricName(point: Pick<MetricPoint, 'name' | 'unit' | 'kind' | 'monotonic'>): string {
  const type = prometheusType(point);
  const name = metricName(point.name, point.unit, type);
  return textNames(name, type).some((n) => ownNames.has(n)) ? `exported_${name}` : name;
}

/**
 * A series' label pairs as exposed (here and in remote write): sanitised and merged as core's
 * `prometheusLabels` does, with the names a point attribute may not take renamed `exported_…`, as
 * Prometheus renames scraped labels that collide with its own: names starting with `__` (reserved,
 * `__name__` among them), and `le` and `quantile`, which the exposition adds to histogram and summary
 * samples (on other types promtool warns about them). Left as they were, one agent's attribute would
 * make the whole scrape invalid. (`agent`, the one label the collector adds to every series,
 * overwrites a point attribute of that name when the point is normalised.)
 */
export function seriesLabelPairs(labels: Readonly<Record<string, string>>): Array<[string, string]> {
  return prometheusLabels(labels, exportedLabelName);
}

/** A Prometheus family name and type, shared by all series of one OpenTelemetry metric. */
interface FamilyName {
  readonly name: string;
  readonly type: PrometheusType;
}

/**
 * What a series needs on every scrape, derived once: its family and its
 * label text. It is kept on the series' latest-value entry (`exposition`),
 * so it lives exactly as long as the series and costs no map of its own.
 */
export interface ExpositionShape {
  readonly family: FamilyName;
  readonly labels: string;
}

interface Family extends FamilyName {
  readonly help: string;
  readonly points: LatestPoint[];
}

/** Family names by metric identity; few entries (one per metric, not per series). */
const familyNames = new Map<string, FamilyName>();

function familyOf(point: MetricPoint): FamilyName {
  const key = `${point.name}\u0000${point.unit}\u0000${point.kind}\u0000${point.monotonic ? 1 : 0}`;
  let family = familyNames.get(key);
  if (family === undefined) {
    if (familyNames.size > 100_000) familyNames.clear();
    family = { name: prometheusMetricName(point), type: prometheusType(point) };
    familyNames.set(key, family);
  }
  return family;
}

function shapeOf(point: LatestPoint): ExpositionShape {
  return (point.exposition ??= { family: familyOf(point), labels: labelText(seriesLabelPairs(point.labels)) });
}

function byLabels(a: LatestPoint, b: LatestPoint): number {
  const x = (a.exposition as ExpositionShape).labels;
  const y = (b.exposition as ExpositionShape).labels;
  return x < y ? -1 : x > y ? 1 : 0;
}

function seriesLines(family: Family, point: LatestPoint, labels: string): string {
  if (family.type === 'histogram') {
    const pairs = seriesLabelPairs(point.labels);
    const bounds = point.bounds ?? [];
    const counts = point.bucketCounts ?? [];
    let text = '';
    let cumulative = 0;
    for (let i = 0; i < bounds.length; i += 1) {
      cumulative += counts[i] ?? 0;
      text += `${family.name}_bucket${labelText([...pairs, ['le', formatPrometheusValue(bounds[i])]])} ${cumulative}\n`;
    }
    const total = point.count ?? cumulative + (counts[bounds.length] ?? 0);
    text += `${family.name}_bucket${labelText([...pairs, ['le', '+Inf']])} ${total}\n`;
    text += `${family.name}_sum${labels} ${formatPrometheusValue(point.sum ?? 0)}\n`;
    return `${text}${family.name}_count${labels} ${total}\n`;
  }
  if (family.type === 'summary') {
    return `${family.name}_sum${labels} ${formatPrometheusValue(point.sum ?? 0)}\n${family.name}_count${labels} ${formatPrometheusValue(point.count ?? 0)}\n`;
  }
  return `${family.name}${labels} ${formatPrometheusValue(point.value)}\n`;
}

/**
 * Every series in `latest` as exposition text, one `# HELP`/`# TYPE` per
 * family, families and series sorted, in pieces of about `chunkChars`
 * characters. Sent as a stream, a scrape of many series neither builds the
 * whole text in memory nor holds the event loop while it renders: the next
 * piece is made when the socket has taken the last one.
 *
 * Between steps of the work before the first piece (every `sliceSize`
 * series, and after sorting each family) it yields `''`, a point where the
 * caller can let other work run; joined, those add nothing to the text.
 * Entries updated meanwhile show their newest value. Series whose newest
 * point is older than `notBeforeMillis` are left out (a stopped agent's).
 */
export function* seriesExposition(latest: LatestValues, chunkChars = 64 * 1024, sliceSize = 2_000, notBeforeMillis = Number.NEGATIVE_INFINITY): Generator<string> {
  const families = new Map<string, Family>();
  let seen = 0;
  for (const point of latest.entries()) {
    if (++seen % sliceSize === 0) yield '';
    if (point.timestampMillis < notBeforeMillis) continue;
    const { family: name } = shapeOf(point);
    let family = families.get(name.name);
    if (family === undefined) {
      family = { name: name.name, type: name.type, help: point.description === '' ? point.name : point.description, points: [] };
      families.set(name.name, family);
    } else if (family.type !== name.type) {
      // Two OpenTelemetry metrics of different types map to one Prometheus name: keep the first, as Prometheus cannot mix them.
      continue;
    }
    family.points.push(point);
  }
  let chunk = '';
  // Every name a family's samples take: a gauge `foo_count` and a histogram `foo` (whose samples include
  // `foo_count`) cannot both be exposed, as Prometheus rejects the scrape. In sorted order the histogram,
  // a prefix of the other, comes first and is kept; the other stays in the query API.
  const claimed = new Set<string>();
  for (const name of [...families.keys()].sort()) {
    const family = families.get(name) as Family;
    const names = textNames(family.name, family.type);
    if (names.some((n) => claimed.has(n))) continue;
    for (const n of names) claimed.add(n);
    family.points.sort(byLabels);
    if (family.points.length > sliceSize) yield '';
    chunk += `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} ${family.type}\n`;
    let previous: string | undefined;
    for (const point of family.points) {
      const labels = (point.exposition as ExpositionShape).labels;
      // Two OpenTelemetry names can map to one Prometheus series: a duplicate would make the whole scrape invalid.
      if (labels === previous) continue;
      previous = labels;
      chunk += seriesLines(family, point, labels);
      if (chunk.length >= chunkChars) {
        yield chunk;
        chunk = '';
      }
    }
  }
  if (chunk !== '') yield chunk;
}

/** {@link seriesExposition} as one string; series whose newest point is older than `notBeforeMillis` left out. */
export function renderSeriesExposition(latest: LatestValues, notBeforeMillis?: number): string {
  return [...seriesExposition(latest, undefined, undefined, notBeforeMillis)].join('');
}
