import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { catalogueMarkdown, catalogueMarkers } from '@sloth/core';
import { buildDashboards, dashboardFiles, dashboardUids, datasource } from '@sloth/grafana';
import { loadAnalyticsConfig } from '@sloth/analytics';
import { parseAlertsFile } from '@sloth/alerts';
import { cliPath } from './helpers/agent-processes.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const committedDir = join(root, 'grafana', 'dashboards');
const tmp = mkdtempSync(join(tmpdir(), 'sloth-dashboards-build-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface PanelJson {
  type: string;
  title: string;
  id?: number;
  datasource?: { uid?: string };
  targets?: Array<{ expr?: string; datasource?: { uid?: string } }>;
  fieldConfig?: { defaults?: { unit?: string; thresholds?: { steps?: Array<{ value: number | null; color: string }> } } };
}

describe('dashboards as code', () => {
  it('the committed grafana/dashboards/*.json is what the code generates (run `sloth dashboards build` when this fails)', () => {
    const files = dashboardFiles();
    expect(readdirSync(committedDir).filter((f) => f.endsWith('.json')).sort()).toEqual([...files.keys()].sort());
    for (const [name, text] of files) expect(readFileSync(join(committedDir, name), 'utf8'), name).toBe(text);
  });

  it('docs/metrics.md carries the tables generated from the catalogue', () => {
    const doc = readFileSync(join(root, 'docs', 'metrics.md'), 'utf8');
    const begin = doc.indexOf(catalogueMarkers.begin) + catalogueMarkers.begin.length;
    const end = doc.indexOf(catalogueMarkers.end);
    expect(doc.slice(begin, end).trim()).toBe(catalogueMarkdown().trim());
  });

  it('sloth dashboards build writes the same files, and --check exits 1 naming a file that drifted', () => {
    const out = join(tmp, 'out');
    const docs = join(tmp, 'metrics.md');
    copyFileSync(join(root, 'docs', 'metrics.md'), docs);
    const written = execFileSync(process.execPath, [cliPath, 'dashboards', 'build', '--out', out, '--docs', docs], { encoding: 'utf8' });
    expect(written).toContain(`wrote ${buildDashboards().length} dashboards`);
    for (const name of readdirSync(committedDir)) expect(readFileSync(join(out, name), 'utf8')).toBe(readFileSync(join(committedDir, name), 'utf8'));
    expect(spawnSync(process.execPath, [cliPath, 'dashboards', 'build', '--check', '--out', out, '--docs', docs]).status).toBe(0);

    const fleet = join(out, `${dashboardUids.fleet}.json`);
    writeFileSync(fleet, readFileSync(fleet, 'utf8').replace('"Agents reporting"', '"Agents reportin"'));
    const check = spawnSync(process.execPath, [cliPath, 'dashboards', 'build', '--check', '--out', out, '--docs', docs], { encoding: 'utf8' });
    expect(check.status).toBe(1);
    expect(check.stderr).toContain(fleet);
    expect(check.stderr).toContain('run `sloth dashboards build`');
  });

  it('every dashboard has a stable uid, the fixed data source, units on every panel and $__rate_interval in every rate', () => {
    const dashboards = buildDashboards();
    expect(dashboards.map((d) => d.uid).sort()).toEqual(Object.values(dashboardUids).sort());
    for (const d of dashboards) {
      const text = JSON.stringify(d.json);
      expect(text, d.uid).not.toContain('${DS_');
      expect(d.json.uid).toBe(d.uid);
      const panels = (d.json.panels ?? []) as PanelJson[];
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size, `${d.uid}: panel ids are unique`).toBe(ids.length);
      for (const panel of panels.filter((p) => p.type !== 'row')) {
        expect(panel.datasource?.uid, `${d.uid} / ${panel.title}`).toBe(datasource.uid);
        for (const t of panel.targets ?? []) {
          expect(t.datasource?.uid).toBe(datasource.uid);
          for (const range of (t.expr ?? '').matchAll(/(rate|increase)\([^[]*\[([^\]]+)\]/g)) expect(range[2], `${d.uid} / ${panel.title}`).toBe('$__rate_interval');
        }
        if (panel.type !== 'table') expect(panel.fieldConfig?.defaults?.unit, `${d.uid} / ${panel.title} has a unit`).toBeDefined();
      }
      // Links between the dashboards: the Sloth dropdown on every dashboard.
      expect(d.json.links?.some((l) => String(l.type) === 'dashboards' && l.tags.includes('sloth'))).toBe(true);
    }
  });

  it('every anomaly-score panel draws its lines where the analytics service opens an incident and where an anomaly alert rule pages, at their defaults', () => {
    const opensAt = loadAnalyticsConfig({ env: {}, flags: { dataDir: '.' } }).anomalyThreshold;
    const rule = parseAlertsFile('rules:\n  - name: A\n    type: anomaly\nroute: { receiver: team }\nreceivers: [{ name: team }]\n').rules[0]?.spec;
    const pagesAt = rule?.type === 'anomaly' ? rule.min_score : undefined;
    let panels = 0;
    for (const d of buildDashboards()) {
      for (const panel of ((d.json.panels ?? []) as PanelJson[]).filter((p) => (p.targets ?? []).some((t) => (t.expr ?? '').includes('sloth_anomaly_score')))) {
        panels += 1;
        const exprs = (panel.targets ?? []).map((t) => t.expr ?? '').join(' ');
        const lines = (panel.fieldConfig?.defaults?.thresholds?.steps ?? []).map((step) => step.value).filter((v): v is number => v !== null);
        if (panel.type === 'stat') expect(exprs, `${d.uid} / ${panel.title}`).toContain(`>= ${opensAt}`);
        else expect(lines, `${d.uid} / ${panel.title}`).toEqual([opensAt, pagesAt]);
      }
    }
    expect(panels).toBeGreaterThanOrEqual(3);
  });
});
