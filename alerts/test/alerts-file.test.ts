import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@sloth/core';
import { exportPrometheusRules, parseAlertsFile } from '../src/index.js';

const good = `
rules:
  - name: HighCpu
    type: threshold
    metric: system.cpu.utilization
    prometheus_metric: system_cpu_utilization_ratio
    agent: web-*
    matchers: ['cpu!="total"']
    op: '>'
    threshold: 0.9
    recover: 0.8
    for: 5m
    keep_firing_for: 2m
    severity: critical
    labels: { team: ops }
    summary: "CPU on {{ $labels.agent }} at {{ $value | humanizePercentage }} (over {{ $threshold }})"
    runbook_url: https://runbooks.example/cpu
  - name: MetricsSilent
    type: absence
    metric: system.memory.usage
    silent_for: 10m
  - name: AgentDown
    type: absence
    agent_down: true
    severity: critical
  - name: CpuAnomaly
    type: anomaly
route: { receiver: team }
receivers: [{ name: team }]
`;

describe('alerts file', () => {
  it('reports every problem with file, rule and field', () => {
    const bad = `
rules:
  - name: HighCpu
    type: threshold
    metric: system.cpu.utilization
    op: '>'
    threshold: high
  - name: Disk
    type: forecast
    metric: disk
    op: '>'
    threshold: 1
    within: soon
  - name: Disk
    type: absence
    agent_down: true
route: { receiver: nobody, routes: [{ matchers: ['severity=~"(("'] }] }
receivers: [{ name: team }]
`;
    expect(() => parseAlertsFile(bad, '/etc/sloth/alerts.yaml')).toThrow(ConfigError);
    try {
      parseAlertsFile(bad, '/etc/sloth/alerts.yaml');
    } catch (error) {
      const message = (error as ConfigError).message;
      expect(message).toContain('rules[0] (HighCpu).threshold');
      expect(message).toContain('/etc/sloth/alerts.yaml');
    }
    const semantic = bad.replace('threshold: high', 'threshold: 0.9');
    const problems = (() => {
      try {
        parseAlertsFile(semantic, 'a.yaml');
        return [];
      } catch (error) {
        return (error as ConfigError).problems.map((p) => `${p.key}: ${p.message}`);
      }
    })();
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^rules\[1\] \(Disk\)\.within: .*"soon" is not a duration/),
        expect.stringMatching(/^rules\[2\] \(Disk\)\.name: another rule has this name/),
        expect.stringMatching(/^route\.routes\[0\]\.matchers\[0\]: .*not a valid regular expression/),
        expect.stringMatching(/^route\.receiver: no receiver is named "nobody"/),
      ]),
    );
  });

  it('never shows a receiver secret in a problem', () => {
    const text = `receivers:
  - name: team
    slack: [{ webhook_url: "hooks.slack.com/services/T0/B0/SECRETPART" }]
    webhook: [{ url: "https://hooks.example/x?token=SECRETQUERY", secrets: ["short"] }]
`;
    let message = '';
    try {
      parseAlertsFile(text, 'a.yaml');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('receivers[0] (team).slack[0].webhook_url');
    expect(message).toContain('receivers[0] (team).webhook[0].secrets[0]');
    expect(message).not.toContain('SECRETPART');
    expect(message).not.toContain('"short"');
  });

  it('names Sloth\'s key for an Alertmanager key, and shows no value of the object holding an unknown key (it may hold a secret)', () => {
    const text = `route:
  receiver: team
  match: { severity: critical }
receivers:
  - name: team
    slack_configs: [{ api_url: "https://hooks.slack.com/services/T/B/SECRET" }]
`;
    let message = '';
    try {
      parseAlertsFile(text, 'am.yaml');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(`route (am.yaml): Unrecognized key: "match" (Alertmanager's "match" is matchers (e.g. ['severity="critical"']) here: see docs/alerts.md)`);
    expect(message).toContain(`receivers[0] (team) (am.yaml): Unrecognized key: "slack_configs" (Alertmanager's "slack_configs" is slack here: see docs/alerts.md)`);
    expect(message).not.toContain('hooks.slack.com');
  });

  it('reports a YAML syntax error by line and column, never quoting the line (it may hold a secret)', () => {
    const text = `receivers:
  - name: team
    slack: [{ webhook_url: "http://127.0.0.1:46500/slack/T000/B000/SLACKSECRETPATH" ]
    webhook: [{ url: "http://127.0.0.1:46500/hook?key=URLSECRETQS" }]
`;
    let error: unknown;
    try {
      parseAlertsFile(text, 'a.yaml');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const shown = `${(error as Error).message} ${JSON.stringify((error as ConfigError).toJSON())} ${JSON.stringify((error as ConfigError).problems)}`;
    expect(shown).toContain('not valid YAML at line 3, column 85: Flow map in block collection must be sufficiently indented and end with a }');
    expect(shown).not.toContain('SECRET');
    expect(shown).not.toContain('webhook_url:');
    // An alias without its anchor: the parser's message ends with the alias's own text.
    expect(() => parseAlertsFile('links: { dashboard: *SECRETALIAS }\n', 'a.yaml')).toThrow(/not valid YAML: Unresolved alias \(the anchor must be set before the alias\)$/);
    expect(() => parseAlertsFile('links: { dashboard: *SECRETALIAS }\n', 'a.yaml')).not.toThrow(/SECRETALIAS/);
  });

  it('exports threshold and absence rules as a rule file promtool accepts', () => {
    const out = exportPrometheusRules(parseAlertsFile(good, 'alerts.yaml'));
    expect(out.exported).toEqual(['HighCpu', 'MetricsSilent', 'AgentDown']);
    expect(out.skipped.map((s) => s.rule)).toEqual(['CpuAnomaly']);
    expect(out.text).toContain('expr: system_cpu_utilization_ratio{service_instance_id=~"web-.*",cpu!="total"} > 0.9');
    // Without prometheus_metric, the name the collector exposes (the catalogue's, unit suffix and all).
    expect(out.text).toContain('absent_over_time(system_memory_usage_bytes[10m])');
    expect(out.text).toContain('(over 0.9)');
    const dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-export-'));
    try {
      const path = join(dir, 'sloth.rules.yml');
      writeFileSync(path, out.text);
      const result = execFileSync('promtool', ['check', 'rules', path], { encoding: 'utf8' });
      expect(result).toContain('SUCCESS: 3 rules found');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
