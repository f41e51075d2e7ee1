import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { withUpEndpoints } from '../src/commands/report.js';
import { localServiceUrl, readUpEndpoints, removeUpEndpoints, upEndpointsPath, writeUpEndpoints, type UpEndpoints } from '../src/up-endpoints.js';

/** Where a running `sloth up` answers, as `sloth report` reads it (the end-to-end case is in test/up.test.ts). */

const main = join(fileURLToPath(new URL('../../', import.meta.url)), 'cli', 'dist', 'src', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'sloth-up-endpoints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const endpoints: UpEndpoints = {
  collector: 'http://127.0.0.1:14318',
  scheduler: 'http://127.0.0.1:18080',
  alerts: 'http://127.0.0.1:18081',
  redisUrl: 'redis://127.0.0.1:16379',
  redisPrefix: 'stack',
};

function dataDir(name: string, content?: string): string {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true });
  if (content !== undefined) writeFileSync(upEndpointsPath(path), content);
  return path;
}

describe('up endpoints file', () => {
  it('round-trips, private to its owner, and is gone when removed', () => {
    const path = dataDir('ok');
    writeUpEndpoints(path, endpoints);
    expect(statSync(upEndpointsPath(path)).mode & 0o777).toBe(0o600);
    expect(readUpEndpoints(path)).toEqual(endpoints);
    removeUpEndpoints(path);
    expect(readUpEndpoints(path)).toBeUndefined();
  });

  it('ignores a file left by a sloth up that no longer runs (killed with SIGKILL), and keeps one whose process runs', () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout);
    const stale = dataDir('stale');
    writeUpEndpoints(stale, { ...endpoints, pid: deadPid });
    expect(readUpEndpoints(stale)).toBeUndefined();
    expect(localServiceUrl(undefined, stale, 'scheduler', 'http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    const live = dataDir('live');
    writeUpEndpoints(live, { ...endpoints, pid: process.pid });
    expect(readUpEndpoints(live)).toEqual({ ...endpoints, pid: process.pid });
  });

  it.each([
    ['not JSON', '{"collector": ', /up-endpoints\.json \(written by sloth up\) is not JSON/],
    ['a URL of another scheme', JSON.stringify({ ...endpoints, scheduler: 'file:///etc/passwd' }), /"scheduler" is not a http or https URL/],
    ['a Redis URL that is not one', JSON.stringify({ ...endpoints, redisUrl: 'http://127.0.0.1:6379' }), /"redisUrl" is not a redis or rediss URL/],
    ['no prefix', JSON.stringify({ ...endpoints, redisPrefix: '' }), /"redisPrefix" is not a non-empty string/],
    ['a pid that is not one', JSON.stringify({ ...endpoints, pid: -1 }), /"pid" is not a process id/],
    ['JSON that is not an object', '[1, 2]', /is not a JSON object/],
  ])('refuses a file with %s, naming it', (name, content, message) => {
    const path = dataDir(name.replace(/\W+/g, '-'), content);
    expect(() => readUpEndpoints(path)).toThrow(message);
  });

  it('fills only the sources the user did not give', () => {
    const defaults = new Set(['collector', 'alertsUrl', 'redisPrefix']);
    const command = { getOptionValueSource: (name: string) => (defaults.has(name) ? ('default' as const) : undefined) };
    const base = { since: '7d', timezone: 'UTC', paper: 'A4' as const, collector: 'http://127.0.0.1:4318', dataDir: '.sloth', alertsUrl: 'http://127.0.0.1:8081', redisPrefix: 'sloth', timeout: 1000, progress: false };
    expect(withUpEndpoints(base, command, endpoints)).toMatchObject({ collector: endpoints.collector, scheduler: endpoints.scheduler, alertsUrl: endpoints.alerts, redisUrl: endpoints.redisUrl, redisPrefix: 'stack' });
    const given = { ...base, scheduler: 'http://other:8080', redisUrl: 'redis://other:6379' };
    expect(withUpEndpoints(given, command, endpoints)).toMatchObject({ scheduler: 'http://other:8080', redisUrl: 'redis://other:6379', redisPrefix: 'sloth' });
    expect(withUpEndpoints(base, command, undefined)).toBe(base);
  });

  it('gives status, remediation, task and alerts their URL: the one given, else the running stack\u2019s, else the default port', () => {
    const running = dataDir('running');
    writeUpEndpoints(running, endpoints);
    expect(localServiceUrl('http://given:1', running, 'scheduler', 'http://127.0.0.1:8080')).toBe('http://given:1');
    expect(localServiceUrl(undefined, running, 'scheduler', 'http://127.0.0.1:8080')).toBe(endpoints.scheduler);
    expect(localServiceUrl(undefined, running, 'collector', 'http://127.0.0.1:4318')).toBe(endpoints.collector);
    expect(localServiceUrl(undefined, running, 'alerts', 'http://127.0.0.1:8081')).toBe(endpoints.alerts);
    expect(localServiceUrl(undefined, dataDir('stopped'), 'scheduler', 'http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    const noAlerts = dataDir('no-alerts');
    writeUpEndpoints(noAlerts, { collector: endpoints.collector, scheduler: endpoints.scheduler, redisUrl: endpoints.redisUrl, redisPrefix: endpoints.redisPrefix });
    expect(localServiceUrl(undefined, noAlerts, 'alerts', 'http://127.0.0.1:8081')).toBe('http://127.0.0.1:8081');
  });

  it('sloth report exits 2 naming a damaged file, before any request', () => {
    const path = dataDir('damaged-cli', 'not json at all');
    const run = spawnSync(process.execPath, [main, 'report', '--format', 'json', '--data-dir', path], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`${upEndpointsPath(path)} (written by sloth up) is not JSON`);
    // With --collector the report is about another collector: the local file is not read.
    const elsewhere = spawnSync(process.execPath, [main, 'report', '--format', 'json', '--data-dir', path, '--collector', 'http://127.0.0.1:9', '--token', 'x', '--timeout', '2000'], { encoding: 'utf8', timeout: 30_000 });
    expect(elsewhere.stderr).not.toContain('written by sloth up');
    expect(elsewhere.status).toBe(1);
  });

  it('a client command without --data-dir looks in $SLOTH_DATA_DIR (as sloth up does), else ./.sloth', () => {
    // A damaged endpoints file in the variable's directory is what the command reads, so it names it.
    const path = dataDir('from-env', 'not json at all');
    const run = spawnSync(process.execPath, [main, 'report', '--format', 'json'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, SLOTH_DATA_DIR: path } });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`${upEndpointsPath(path)} (written by sloth up) is not JSON`);
    const withoutEnv = { ...process.env };
    delete withoutEnv.SLOTH_DATA_DIR;
    const help = spawnSync(process.execPath, [main, 'task', 'list', '--help'], { encoding: 'utf8', env: withoutEnv });
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('(default: "./.sloth")');
  });
});
