import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = new URL('../', import.meta.url);

describe('deployment files', () => {
  it('the Prometheus config of the compose stack passes promtool', () => {
    const out = execFileSync('promtool', ['check', 'config', new URL('deploy/prometheus.yml', root).pathname], { encoding: 'utf8' });
    expect(out).toContain('SUCCESS');
  });

  it('the compose file runs Sloth against the Redis service and scrapes its metrics ports', () => {
    const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8')) as {
      services: Record<string, { environment?: Record<string, string>; ports?: string[] }>;
    };
    expect(Object.keys(compose.services).sort()).toEqual(['grafana', 'prometheus', 'redis', 'sloth']);
    expect(compose.services.sloth?.environment?.REDIS_URL).toBe('redis://redis:6379');
    const prometheus = readFileSync(new URL('deploy/prometheus.yml', root), 'utf8');
    expect(prometheus).toContain('sloth:9464');
  });
});
