import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { catalogueEntryOf } from '@sloth/core';
import { datasource, jobs, metricNames } from '@sloth/grafana';
import { cliPath } from './helpers/agent-processes.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'sloth-deploy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  restart?: string;
  healthcheck?: { test: string[] };
  secrets?: string[];
  depends_on?: Record<string, { condition: string }>;
}

const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service>; secrets: Record<string, { file: string }> };

/**
 * `docker compose config` (the Docker CLI plugin) or `docker-compose config`
 * (Debian package docker-compose): whichever this machine has. No engine is needed.
 */
function composeConfig(dir: string): { status: number | null; output: string } {
  for (const [cmd, args] of [['docker', ['compose', 'config', '--quiet']], ['docker-compose', ['config', '--quiet']]] as const) {
    const result = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8' });
    if (result.error !== undefined) continue;
    // Without the compose plugin, `docker` does not know the command or its flags.
    if (cmd === 'docker' && /not a docker command|unknown command|unknown flag/i.test(result.stderr)) continue;
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }
  throw new Error('neither `docker compose` nor `docker-compose` is installed: install the Debian package docker-compose (or the Docker compose plugin) to validate docker-compose.yml');
}

describe('deployment files', () => {
  it('the Prometheus config of the compose stack passes promtool', () => {
    const out = execFileSync('promtool', ['check', 'config', join(root, 'deploy/prometheus/prometheus.yml')], { encoding: 'utf8' });
    expect(out).toContain('SUCCESS');
  });

  it('Prometheus scrapes every role under the job names the dashboards filter on, and keeps only `up` from the agents', () => {
    const config = parse(readFileSync(join(root, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }>; metric_relabel_configs?: Array<{ action: string; regex: string }> }>;
    };
    const byJob = new Map(config.scrape_configs.map((c) => [c.job_name, c]));
    expect([...byJob.keys()].sort()).toEqual(Object.values(jobs).sort());
    expect(byJob.get(jobs.collector)?.static_configs[0]?.targets).toEqual(['collector:9464']);
    expect(byJob.get(jobs.analytics)?.static_configs[0]?.targets).toEqual(['analytics:9466']);
    expect(byJob.get(jobs.agent)?.static_configs[0]?.targets).toEqual(['agent-1:9465', 'agent-2:9465']);
    expect(byJob.get(jobs.agent)?.metric_relabel_configs).toEqual([{ source_labels: ['__name__'], regex: '.+', action: 'drop' }]);
    expect(config.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);
  });

  it('Prometheus loads the rules `sloth alerts export` writes from the stack’s alerts file: up to date, valid, on metrics Sloth exports', () => {
    const rulesFile = 'deploy/prometheus/rules/sloth.rules.yml';
    const exported = execFileSync(process.execPath, [cliPath, 'alerts', 'export', '--prometheus', '--rules', 'deploy/alerts/alerts.yaml', '--agent-label', 'agent'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(readFileSync(join(root, rulesFile), 'utf8'), `${rulesFile} is out of date: run the command in deploy/alerts/alerts.yaml`).toBe(exported);
    expect(execFileSync('promtool', ['check', 'rules', join(root, rulesFile)], { encoding: 'utf8' })).toContain('SUCCESS: 5 rules found');
    const groups = (parse(exported) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups;
    const outside = groups.flatMap((g) => g.rules.flatMap((r) => metricNames(r.expr).filter((name) => name !== 'up' && catalogueEntryOf(name) === undefined).map((name) => `${r.alert}: ${name}`)));
    expect(outside).toEqual([]);
    const alerts = compose.services.alerts as Service & { volumes: string[] };
    expect(alerts.volumes).toContain('./deploy/alerts/alerts.yaml:/etc/sloth/alerts.yaml:ro');
    expect(alerts.command?.join(' ')).toContain('--rules /etc/sloth/alerts.yaml');
  });

  it('the compose file runs every role from the image, with health checks, restart policies, tokens and loopback ports', () => {
    const services = compose.services;
    expect(Object.keys(services).sort()).toEqual(['agent-1', 'agent-2', 'alerts', 'analytics', 'collector', 'grafana', 'prometheus', 'redis', 'scheduler']);
    for (const [name, service] of Object.entries(services)) {
      expect(service.restart, name).toBe('unless-stopped');
      expect(service.healthcheck?.test.length ?? 0, `${name} has a health check`).toBeGreaterThan(1);
      for (const port of service.ports ?? []) expect(port, `${name} binds ${port} to loopback`).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
      if (service.build === undefined) expect(service.image, `${name} pins its image`).toMatch(/:[^:]*\d+\.\d+\.\d+$/);
    }
    expect(composeText).not.toContain('--insecure-no-auth');
    expect(services.redis?.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    for (const role of ['collector', 'analytics', 'scheduler', 'alerts', 'agent-1', 'agent-2']) {
      const service = services[role] as Service;
      expect(service.build, role).toBe('.');
      expect(service.environment?.REDIS_URL, role).toBe('redis://redis:6379');
      expect(service.depends_on?.redis?.condition ?? service.depends_on?.collector?.condition, role).toBe('service_healthy');
    }
    expect(services.collector?.environment?.SLOTH_COLLECTOR_TOKEN_FILE).toBe('/run/secrets/collector-tokens');
    expect(services['agent-1']?.environment?.SLOTH_AGENT_TOKEN_FILE).toBe('/run/secrets/agent-token');
    expect(services.alerts?.environment?.SLOTH_ALERTS_TOKEN_FILE).toBe('/run/secrets/api-tokens');
    expect(services.alerts?.environment?.SLOTH_ALERTS_COLLECTOR_TOKEN_FILE).toBe('/run/secrets/api-token');
    // Tokens are read from files, never put on a command line (where `ps` shows them).
    for (const [name, service] of Object.entries(services)) {
      expect([...(service.entrypoint ?? []), ...(service.command ?? [])].join(' '), name).not.toMatch(/token|secret/i);
    }
    for (const secret of Object.values(compose.secrets)) expect(secret.file).toMatch(/^\.\/deploy\/secrets\//);
    // The dashboards' schema is the SDK's: the Grafana image is the release the pinned SDK was generated for.
    const sdk = (JSON.parse(readFileSync(join(root, 'grafana/package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies['@grafana/grafana-foundation-sdk'] ?? '';
    expect(sdk, 'the SDK is pinned to one version').toMatch(/^\d+\.\d+\.\d+-cog/);
    expect(services.grafana?.image).toBe(`grafana/grafana:${sdk.split('-')[0]}`);
  });

  it('docker compose config validates the compose file', () => {
    // A copy with the secret files in place (deploy/make-secrets.sh creates them; they are never committed).
    const dir = join(tmp, 'stack');
    cpSync(join(root, 'docker-compose.yml'), join(dir, 'docker-compose.yml'));
    cpSync(join(root, 'deploy'), join(dir, 'deploy'), { recursive: true });
    for (const secret of Object.values(compose.secrets)) {
      const file = join(dir, secret.file);
      writeFileSync(file, 'test-secret-0123456789abcdef\n');
      chmodSync(file, 0o600);
    }
    const { status, output } = composeConfig(dir);
    expect(output).not.toMatch(/error|invalid/i);
    expect(status).toBe(0);
  });

  it('Grafana provisions the data source by the uid the dashboards use, and the dashboards read-only', () => {
    const ds = parse(readFileSync(join(root, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: Array<{ uid: string; type: string; url: string }> };
    expect(ds.datasources).toEqual([expect.objectContaining({ uid: datasource.uid, type: 'prometheus', url: 'http://prometheus:9090' })]);
    const provider = parse(readFileSync(join(root, 'deploy/grafana/provisioning/dashboards/sloth.yml'), 'utf8')) as { providers: Array<{ allowUiUpdates: boolean; options: { path: string } }> };
    expect(provider.providers[0]?.allowUiUpdates).toBe(false);
    expect((compose.services.grafana as Service & { volumes: string[] }).volumes).toContain(`./grafana/dashboards:${provider.providers[0]?.options.path}:ro`);
  });

  it('the Dockerfile builds in one stage and runs as a non-root user in another, and a failed build fails it', () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(froms).toHaveLength(2);
    for (const image of froms) expect(image).toMatch(/^node:20\.\d+\.\d+-bookworm-slim/);
    expect(dockerfile).not.toContain('|| true');
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile.indexOf('USER node')).toBeGreaterThan(dockerfile.lastIndexOf('FROM '));
    expect(dockerfile).toMatch(/COPY --from=build/);
  });
});
