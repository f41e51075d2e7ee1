import { describe, expect, it } from 'vitest';
import { catalogueEntries, catalogueEntryOf, metricCatalogue } from '../../src/metrics/catalogue.js';
import { catalogueMarkdown, catalogueMarkers, withCatalogueTables } from '../../src/metrics/docs-table.js';
import { prometheusMetricName } from '../../src/metrics/prometheus-text.js';

describe('metric catalogue', () => {
  const entries = catalogueEntries();

  it('names every metric once, with valid Prometheus metric and label names', () => {
    const names = entries.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    for (const e of entries) {
      expect(e.name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
      expect(e.help.length, e.name).toBeGreaterThan(10);
      for (const label of e.labels) expect(label, e.name).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
      expect(new Set(e.labels).size, e.name).toBe(e.labels.length);
    }
  });

  it('derives the name of every OpenTelemetry metric by the one mapping, and follows its suffix rules everywhere', () => {
    for (const e of entries) {
      if (e.otelName !== undefined) expect(e.name).toBe(prometheusMetricName(e.otelName, e.unit, e.type));
      if (e.type === 'counter') expect(e.name, e.name).toMatch(/_total$/);
      else expect(e.name, e.name).not.toMatch(/_total$/);
      if (e.unit === 's') expect(e.name, e.name).toMatch(/_seconds(_total)?$/);
      if (e.unit === 'By') expect(e.name, e.name).toMatch(/_bytes(_total)?$/);
      if (e.otelName !== undefined && e.unit === '1' && e.type === 'gauge') expect(e.name).toMatch(/_ratio$/);
    }
    expect(metricCatalogue.systemCpuUtilization.name).toBe('system_cpu_utilization_ratio');
    expect(metricCatalogue.systemCpuUtilization.labels).toEqual(['agent', 'cpu']);
  });

  it('finds the family of histogram series, and nothing for names it does not hold', () => {
    expect(catalogueEntryOf('sloth_collector_request_duration_seconds_bucket')?.name).toBe('sloth_collector_request_duration_seconds');
    expect(catalogueEntryOf('sloth_collector_request_duration_seconds_count')?.name).toBe('sloth_collector_request_duration_seconds');
    expect(catalogueEntryOf('system_uptime_seconds')?.otelName).toBe('system.uptime');
    expect(catalogueEntryOf('system_cpu_utilization')).toBeUndefined();
    expect(catalogueEntryOf('sloth_collector_active_series_count')).toBeUndefined();
  });

  it('generates the docs tables between the markers, and refuses a document without them', () => {
    const doc = `# x\n\n${catalogueMarkers.begin}\nold\n${catalogueMarkers.end}\ntail\n`;
    const updated = withCatalogueTables(doc);
    expect(updated).toContain(catalogueMarkdown());
    expect(updated).not.toContain('\nold\n');
    expect(updated.endsWith(`${catalogueMarkers.end}\ntail\n`)).toBe(true);
    expect(withCatalogueTables(updated)).toBe(updated);
    for (const e of entries) expect(catalogueMarkdown()).toContain(`| \`${e.name}\` |`);
    expect(() => withCatalogueTables('# no markers')).toThrow(/lost its markers/);
  });
});
