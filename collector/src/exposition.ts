import type { LatestValues } from './latest-values.js';
import type { MetricPoint } from './records.js';

/**
 * Prometheus text exposition (format 0.0.4) of the latest value of every
 * series, with the standard OpenTelemetry → Prometheus mapping (OTel spec
 * "Prometheus and OpenMetrics compatibility", as implemented by the
 * OpenTelemetry Collector's translator with name normalisation on).
 */

/** Content-Type of the text format. */
export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

/** UCUM units → Prometheus base-unit words. */
const unitWords: Readonly<Record<string, string>> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '%': 'percent',
};

/** Units after a `/` (“per …”). */
const perUnitWords: Readonly<Record<string, string>> = {
  s: 'second',
  m: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
};

export type PrometheusType = 'gauge' | 'counter' | 'histogram' | 'summary';

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

function unitTokens(unit: string): string[] {
  const trimmed = unit.replace(/\{[^}]*\}/g, '').trim();
  if (trimmed === '' || trimmed === '1') return [];
  const [main = '', per = ''] = trimmed.split('/', 2);
  const tokens: string[] = [];
  const mainWord = unitWords[main] ?? main.replace(/[^A-Za-z0-9]/g, '');
  if (mainWord !== '') tokens.push(mainWord);
  if (per !== '') {
    const perWord = perUnitWords[per] ?? per.replace(/[^A-Za-z0-9]/g, '');
    if (perWord !== '') tokens.push('per', perWord);
  }
  return tokens;
}

/**
 * `system.memory.usage` (By, gauge) → `system_memory_usage_bytes`;
 * `http.server.requests` (monotonic sum) → `http_server_requests_total`;
 * `system.cpu.utilization` (unit `1`, gauge) → `system_cpu_utilization_ratio`.
 */
export function prometheusMetricName(point: Pick<MetricPoint, 'name' | 'unit' | 'kind' | 'monotonic'>): string {
  const type = prometheusType(point);
  let tokens = point.name.split(/[^A-Za-z0-9]+/).filter((t) => t !== '');
  if (type === 'counter') tokens = tokens.filter((t) => t !== 'total');
  for (const unitToken of unitTokens(point.unit)) {
    // Append the unit unless the name already carries it.
    if (!tokens.includes(unitToken)) tokens.push(unitToken);
  }
  if (point.unit === '1' && type === 'gauge') {
    if (!tokens.includes('ratio')) tokens.push('ratio');
  }
  if (type === 'counter') tokens.push('total');
  let name = tokens.join('_');
  if (name === '') name = '_';
  if (/^[0-9]/.test(name)) name = `_${name}`;
  return name;
}

/** Label names: invalid characters → `_`; a leading digit gets `key_`, a single leading `_` gets `key`. */
export function prometheusLabelName(name: string): string {
  let label = name.replace(/[^A-Za-z0-9_]/g, '_');
  if (label === '') return 'key_';
  if (/^[0-9]/.test(label)) label = `key_${label}`;
  else if (label.startsWith('_') && !label.startsWith('__')) label = `key${label}`;
  return label;
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatPrometheusValue(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** Sanitised labels; names that collide after sanitising get their values joined with `;`, in order of the original names. */
function prometheusLabels(labels: Readonly<Record<string, string>>): Array<[string, string]> {
  const merged = new Map<string, string>();
  for (const key of Object.keys(labels).sort()) {
    const name = prometheusLabelName(key);
    const value = labels[key] ?? '';
    const existing = merged.get(name);
    merged.set(name, existing === undefined ? value : `${existing};${value}`);
  }
  return [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function labelText(pairs: ReadonlyArray<readonly [string, string]>): string {
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

interface Family {
  readonly name: string;
  readonly type: PrometheusType;
  readonly help: string;
  readonly samples: Array<{ labels: ReadonlyArray<readonly [string, string]>; text: string; point: MetricPoint }>;
}

interface SeriesShape {
  readonly labels: ReadonlyArray<readonly [string, string]>;
  readonly text: string;
}

/**
 * Per-LatestValues caches: metric names and label texts are derived once per
 * series, not on every scrape (a scrape of 50,000 series would otherwise
 * spend most of its time re-sanitising the same strings).
 */
interface RenderCache {
  readonly families: Map<string, { name: string; type: PrometheusType }>;
  readonly series: Map<string, SeriesShape>;
}

const caches = new WeakMap<LatestValues, RenderCache>();

function cacheFor(latest: LatestValues): RenderCache {
  let cache = caches.get(latest);
  if (cache === undefined) {
    cache = { families: new Map(), series: new Map() };
    caches.set(latest, cache);
  }
  // Series can disappear (retention): keep the cache from growing without bound.
  if (cache.series.size > 2 * latest.size + 1024) cache.series.clear();
  if (cache.families.size > 100_000) cache.families.clear();
  return cache;
}

function familyOf(point: MetricPoint, cache: RenderCache): { name: string; type: PrometheusType } {
  const key = `${point.name}\u0000${point.unit}\u0000${point.kind}\u0000${point.monotonic ? 1 : 0}`;
  let family = cache.families.get(key);
  if (family === undefined) {
    family = { name: prometheusMetricName(point), type: prometheusType(point) };
    cache.families.set(key, family);
  }
  return family;
}

function shapeOf(point: MetricPoint, cache: RenderCache): SeriesShape {
  let shape = cache.series.get(point.seriesKey);
  if (shape === undefined) {
    const labels = prometheusLabels(point.labels);
    shape = { labels, text: labelText(labels) };
    cache.series.set(point.seriesKey, shape);
  }
  return shape;
}

function renderFamily(family: Family, lines: string[]): void {
  lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
  const sorted = family.samples.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  let previousText: string | undefined;
  for (const { labels, point, text } of sorted) {
    // Two OpenTelemetry names can map to one Prometheus series: a duplicate would make the whole scrape invalid.
    if (text === previousText) continue;
    previousText = text;
    if (family.type === 'histogram') {
      const bounds = point.bounds ?? [];
      const counts = point.bucketCounts ?? [];
      let cumulative = 0;
      for (let i = 0; i < bounds.length; i += 1) {
        cumulative += counts[i] ?? 0;
        lines.push(`${family.name}_bucket${labelText([...labels, ['le', formatPrometheusValue(bounds[i])]])} ${cumulative}`);
      }
      const total = point.count ?? cumulative + (counts[bounds.length] ?? 0);
      lines.push(`${family.name}_bucket${labelText([...labels, ['le', '+Inf']])} ${total}`);
      lines.push(`${family.name}_sum${text} ${formatPrometheusValue(point.sum ?? 0)}`);
      lines.push(`${family.name}_count${text} ${total}`);
    } else if (family.type === 'summary') {
      lines.push(`${family.name}_sum${text} ${formatPrometheusValue(point.sum ?? 0)}`);
      lines.push(`${family.name}_count${text} ${formatPrometheusValue(point.count ?? 0)}`);
    } else {
      lines.push(`${family.name}${text} ${formatPrometheusValue(point.value)}`);
    }
  }
}

/** Renders every series in `latest`, one `# HELP`/`# TYPE` per family, families and series sorted. */
export function renderSeriesExposition(latest: LatestValues): string {
  const cache = cacheFor(latest);
  const families = new Map<string, Family>();
  for (const point of latest.entries()) {
    const { name, type } = familyOf(point, cache);
    let family = families.get(name);
    if (family === undefined) {
      family = { name, type, help: point.description === '' ? point.name : point.description, samples: [] };
      families.set(name, family);
    } else if (family.type !== type) {
      // Two OpenTelemetry metrics of different types map to one Prometheus name: keep the first, as Prometheus cannot mix them.
      continue;
    }
    const shape = shapeOf(point, cache);
    family.samples.push({ labels: shape.labels, text: shape.text, point });
  }
  const lines: string[] = [];
  for (const name of [...families.keys()].sort()) renderFamily(families.get(name) as Family, lines);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
