import { catalogueEntries, type MetricRole } from './catalogue.js';

const roleOrder: readonly MetricRole[] = ['agent', 'collector', 'analytics', 'scheduler', 'alerts', 'process'];

const roleTitles: Readonly<Record<MetricRole, string>> = {
  agent: 'Agent (OpenTelemetry; on the collector’s `/metrics` with `agent`, and on the agent’s own endpoint)',
  collector: 'Collector',
  analytics: 'Analytics',
  scheduler: 'Scheduler and remediation',
  alerts: 'Alerts',
  process: 'Every role’s process',
};

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/**
 * The metric tables of docs/metrics.md, generated from the catalogue (a
 * test compares the document with this text; `sloth dashboards build`
 * rewrites it).
 */
export function catalogueMarkdown(): string {
  const entries = catalogueEntries();
  const parts: string[] = [];
  for (const role of roleOrder) {
    const rows = entries.filter((e) => e.role === role);
    if (rows.length === 0) continue;
    parts.push(`### ${roleTitles[role]}\n`, '| Prometheus name | OpenTelemetry name | type | unit | labels | help |', '|---|---|---|---|---|---|');
    for (const e of rows) {
      const status = e.status === 'planned' ? ' *(planned: not exported yet)*' : '';
      const labels = e.labels.map((l) => `\`${l}\``).join(', ');
      parts.push(`| \`${e.name}\` | ${e.otelName === undefined ? '' : `\`${e.otelName}\``} | ${e.type} | ${e.unit === '' ? '' : `\`${cell(e.unit)}\``} | ${labels} | ${cell(e.help)}${status} |`);
    }
    parts.push('');
  }
  return parts.join('\n');
}

/** Markers around the generated part of docs/metrics.md. */
export const catalogueMarkers = { begin: '<!-- BEGIN GENERATED: metric catalogue (sloth dashboards build) -->', end: '<!-- END GENERATED: metric catalogue -->' } as const;

/** `document` with the text between the markers replaced by {@link catalogueMarkdown}. */
export function withCatalogueTables(document: string): string {
  const begin = document.indexOf(catalogueMarkers.begin);
  const end = document.indexOf(catalogueMarkers.end);
  if (begin < 0 || end < begin) throw new Error(`docs/metrics.md has lost its markers "${catalogueMarkers.begin}" … "${catalogueMarkers.end}"; put them back around the tables`);
  return `${document.slice(0, begin + catalogueMarkers.begin.length)}\n\n${catalogueMarkdown()}\n${document.slice(end)}`;
}
