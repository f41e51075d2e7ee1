/**
 * The Prometheus text format (0.0.4) pieces every Sloth exposition shares:
 * escaping, number formatting, and the OpenTelemetry → Prometheus name
 * mapping (OTel specification "Prometheus and OpenMetrics compatibility":
 * unit words appended, `_ratio` for unit `1` gauges, `_total` for monotonic
 * sums). The collector's stored series, the agent's own endpoint and the
 * catalogue all name metrics through {@link prometheusMetricName}, so one
 * OpenTelemetry metric has one Prometheus name wherever it is scraped.
 */

/** Content-Type of the text format. */
export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

export type PrometheusType = 'gauge' | 'counter' | 'histogram' | 'summary';

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

/** The Prometheus unit words of a UCUM unit; annotations such as `{packet}` carry none. */
export function prometheusUnitTokens(unit: string): string[] {
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
 * `http.server.requests` (counter) → `http_server_requests_total`;
 * `system.cpu.utilization` (unit `1`, gauge) → `system_cpu_utilization_ratio`.
 */
export function prometheusMetricName(name: string, unit: string, type: PrometheusType): string {
  let tokens = name.split(/[^A-Za-z0-9]+/).filter((t) => t !== '');
  if (type === 'counter') tokens = tokens.filter((t) => t !== 'total');
  for (const unitToken of prometheusUnitTokens(unit)) {
    // Append the unit unless the name already carries it.
    if (!tokens.includes(unitToken)) tokens.push(unitToken);
  }
  if (unit === '1' && type === 'gauge' && !tokens.includes('ratio')) tokens.push('ratio');
  if (type === 'counter') tokens.push('total');
  let result = tokens.join('_');
  if (result === '') result = '_';
  if (/^[0-9]/.test(result)) result = `_${result}`;
  return result;
}

/** Label names: invalid characters → `_`; a leading digit gets `key_`, a single leading `_` gets `key`. */
export function prometheusLabelName(name: string): string {
  let label = name.replace(/[^A-Za-z0-9_]/g, '_');
  if (label === '') return 'key_';
  if (/^[0-9]/.test(label)) label = `key_${label}`;
  else if (label.startsWith('_') && !label.startsWith('__')) label = `key${label}`;
  return label;
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatPrometheusValue(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/**
 * Sanitised, sorted label pairs; names that collide after sanitising get
 * their values joined with `;`, in order of the original names. `rename`
 * maps a sanitised name to the one exposed (before collisions are merged).
 */
export function prometheusLabels(labels: Readonly<Record<string, string>>, rename?: (name: string) => string): Array<[string, string]> {
  const merged = new Map<string, string>();
  for (const key of Object.keys(labels).sort()) {
    const sanitised = prometheusLabelName(key);
    const name = rename === undefined ? sanitised : rename(sanitised);
    const value = labels[key] ?? '';
    const existing = merged.get(name);
    merged.set(name, existing === undefined ? value : `${existing};${value}`);
  }
  return [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A label name a data point's attribute may take in an exposition: names Prometheus reserves (`__*`,
 * `__name__` among them) and those the exposition adds itself (`le`, `quantile`) become `exported_<name>`,
 * as Prometheus renames scraped labels that collide with its own; left as they were, one attribute would
 * make the whole scrape invalid. For {@link prometheusLabels}' `rename`.
 */
export function exportedLabelName(name: string): string {
  return name.startsWith('__') || name === 'le' || name === 'quantile' ? `exported_${name}` : name;
}

/** `{a="x",b="y"}`, or `''` without labels. */
export function labelText(pairs: ReadonlyArray<readonly [string, string]>): string {
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/** The names a family of `type` takes in the text format: its own (`# HELP`, `# TYPE`) and its samples'. */
export function textNames(name: string, type: PrometheusType): string[] {
  switch (type) {
    case 'histogram':
      return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`];
    case 'summary':
      return [name, `${name}_sum`, `${name}_count`];
    default:
      return [name];
  }
}

/** The `# HELP` and `# TYPE` lines of a family. */
export function familyHeader(name: string, type: PrometheusType, help: string): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}
