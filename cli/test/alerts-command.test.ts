import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer, sleep } from '@sloth/core';

// Runs the built CLI (`npx tsc -b` first) as a user would: the role as one process, each command as another.
const root = fileURLToPath(new URL('../../', import.meta.url));
const main = join(root, 'cli', 'dist', 'src', 'main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `sloth …` without blocking this process (the stand-in webhook receiver answers meanwhile). */
function sloth(cwd: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, SLOTH_ALERTS_TOKEN: '' } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

describe('sloth alerts commands against a running `sloth alerts` role', () => {
  const alice = 'alice-secret-0123456789';
  const bob = 'bob-secret-9876543210';
  let dir: string;
  let redis: RedisServer;
  let role: ChildProcess | undefined;
  let roleOutput = '';
  let port: number;
  let api: string;
  const rules = (): string => join(dir, 'alerts.yaml');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-cli-'));
    redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    port = await freePort();
    api = `http://127.0.0.1:${port}`;
    writeFileSync(
      rules(),
      `evaluation_interval: 1s
rules:
  - name: HighCpu
    type: threshold
    metric: system.cpu.utilization
    op: '>'
    threshold: 0.9
    for: 5m
    severity: critical
    prometheus_metric: system_cpu_utilization_ratio
    summary: "CPU on {{ $labels.agent }} at {{ $value }}"
    no_data: ok
    on_error: ok
  - name: MemorySilent
    type: absence
    metric: system.memory.usage
    silent_for: 10m
    on_error: ok
route:
  receiver: team
  group_by: [alertname, agent]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      mute_time_intervals: [weekend]
time_intervals:
  - name: weekend
    time_intervals: [{ weekdays: [saturday, sunday] }]
receivers:
  - name: team
  - name: pager
`,
    );
    role = spawn(
      process.execPath,
      [main, 'alerts', '--rules', rules(), '--token', `${alice}:alice`, '--token', `${bob}:bob`, '--port', String(port), '--metrics-port', '0', '--redis-url', redis.url, '--redis-prefix', 'clitest', '--data-dir', join(dir, 'data'), '--collector', 'http://127.0.0.1:9', '--log-level', 'error'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    role.stdout?.on('data', (chunk: Buffer) => (roleOutput += chunk.toString()));
    role.stderr?.on('data', (chunk: Buffer) => (roleOutput += chunk.toString()));
    const deadline = Date.now() + 60_000;
    while (!roleOutput.includes('API and Alertmanager intake on')) {
      if (Date.now() > deadline || role.exitCode !== null) throw new Error(`sloth alerts did not start:\n${roleOutput}`);
      await sleep(100);
    }
    // An alert arrives the Alertmanager way (the intake itself is tested in alerts/test/service.test.ts).
    const intake = await fetch(`${api}/api/v1/intake/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}` },
      body: JSON.stringify({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'DiskFull', agent: 'db-2', severity: 'warning' }, annotations: { summary: 'disk full' }, startsAt: new Date().toISOString() }] }),
    });
    expect(intake.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    if (role !== undefined && role.exitCode === null) {
      const exited = new Promise((resolve) => role?.once('exit', resolve));
      role.kill('SIGTERM');
      await exited;
    }
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('silence records the token name as author; list shows the alert silenced; unsilence expires it', async () => {
    const created = await sloth(dir, 'alerts', 'silence', 'agent="db-2"', '--duration', '2h', '--comment', 'disk swap', '--alerts', api, '--token', bob);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const id = /silence (\S+) by bob until /.exec(created.stdout)?.[1];
    expect(id).toBeDefined();

    const listed = await sloth(dir, 'alerts', 'silence', '--list', '--json', '--alerts', api, '--token', alice);
    const { silences } = JSON.parse(listed.stdout) as { silences: Array<{ id: string; createdBy: string; comment: string; state: string; matchers: string[] }> };
    expect(silences).toEqual([expect.objectContaining({ id, createdBy: 'bob', comment: 'disk swap', state: 'active', matchers: ['agent="db-2"'] })]);

    // The role marks the alert silenced at its next evaluation (1 s).
    let table = '';
    for (let i = 0; i < 50 && !table.includes(`silence ${id?.slice(0, 8)}`); i += 1) {
      table = (await sloth(dir, 'alerts', 'list', '--alerts', api, '--token', alice)).stdout;
      if (!table.includes(`silence ${id?.slice(0, 8)}`)) await sleep(200);
    }
    expect(table).toMatch(new RegExp(`DiskFull\\s+firing\\s+.*silence ${id?.slice(0, 8)}\\s+agent=db-2,severity=warning`));
    expect(table).toContain('1 alert(s)');

    const ended = await sloth(dir, 'alerts', 'unsilence', id ?? '', '--alerts', api, '--token', alice);
    expect(ended.code).toBe(0);
    expect(ended.stdout).toContain(`silence ${id} expired`);
    const after = JSON.parse((await sloth(dir, 'alerts', 'silence', '--list', '--json', '--alerts', api, '--token', alice)).stdout) as { silences: Array<{ id: string; state: string }> };
    expect(after.silences.find((s) => s.id === id)?.state).toBe('expired');
  }, 120_000);

  it('refuses a wrong token and a silence without a comment, saying what was wrong', async () => {
    const wrong = await sloth(dir, 'alerts', 'silence', 'agent="db-2"', '--comment', 'x', '--alerts', api, '--token', 'not-a-token-at-all');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/error \[SLOTH_ERR_AUTH\]/);
    const bare = await sloth(dir, 'alerts', 'silence', 'agent="db-2"', '--alerts', api, '--token', alice);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('a silence needs --comment saying why');
    const down = await sloth(dir, 'alerts', 'list', '--alerts', 'http://127.0.0.1:9', '--token', alice);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('the alerts API at http://127.0.0.1:9 did not answer');
  }, 120_000);

  it('history lists the notification sent for the intake alert; score answers with no forecast rule', async () => {
    let history: { notifications: Array<{ receiver: string; groupLabels: Record<string, string>; firing: string[] }> } = { notifications: [] };
    for (let i = 0; i < 50 && history.notifications.length === 0; i += 1) {
      history = JSON.parse((await sloth(dir, 'alerts', 'history', '--json', '--alerts', api, '--token', alice)).stdout) as typeof history;
      if (history.notifications.length === 0) await sleep(200);
    }
    expect(history.notifications[0]).toMatchObject({ receiver: 'team', groupLabels: { alertname: 'DiskFull', agent: 'db-2' } });
    const text = await sloth(dir, 'alerts', 'history', '--alerts', api, '--token', alice);
    expect(text.stdout).toMatch(/team\s+agent=db-2\s+1\s+0\s+/);
    const score = await sloth(dir, 'alerts', 'score', '--alerts', api, '--token', alice);
    expect(score.code).toBe(0);
    expect(score.stdout).toContain('no forecast rule has fired yet');
  }, 120_000);

  it('routes test reads the alerts file and shows a mute time interval at --at', async () => {
    const saturday = await sloth(dir, 'alerts', 'routes', 'test', '--labels', 'alertname=HighCpu,severity=critical,agent=web-1', '--at', '2026-01-10T09:00:00Z', '--rules', rules());
    expect(saturday.code).toBe(0);
    expect(saturday.stdout).toMatch(/^pager {2}\(route .*group agent=web-1\) {2}HELD at 2026-01-10T09:00:00Z: mute time interval weekend/m);
    const monday = await sloth(dir, 'alerts', 'routes', 'test', '--labels', 'alertname=HighCpu', '--labels', 'severity=critical', '--at', '2026-01-12T09:00:00Z', '--rules', rules());
    expect(monday.stdout.trim()).toMatch(/^pager {2}\(route [^)]*\)$/);
    const warning = await sloth(dir, 'alerts', 'routes', 'test', '--labels', 'alertname=HighCpu,severity=warning', '--rules', rules());
    expect(warning.stdout).toMatch(/^team /);
    const badTime = await sloth(dir, 'alerts', 'routes', 'test', '--labels', 'alertname=X', '--at', 'tomorrow', '--rules', rules());
    expect(badTime.code).toBe(1);
    expect(badTime.stderr).toContain('--at "tomorrow" is not a time');
  }, 120_000);

  it('export --prometheus writes threshold and absence rules that promtool check rules accepts', async () => {
    const output = join(dir, 'sloth.rules.yml');
    const exported = await sloth(dir, 'alerts', 'export', '--prometheus', '--rules', rules(), '--output', output);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain(`wrote 2 rule(s) to ${output}`);
    const text = readFileSync(output, 'utf8');
    expect(text).toContain('system_cpu_utilization_ratio');
    expect(text).toContain('absent_over_time(system_memory_usage_bytes[10m])');
    const check = spawnSync('promtool', ['check', 'rules', output], { encoding: 'utf8' });
    expect(check.stdout + check.stderr).toMatch(/SUCCESS: 2 rules found/);
    expect(check.status).toBe(0);
  }, 120_000);
});

describe('sloth alerts --token-file and --collector-token-file', () => {
  const apiToken = 'file-api-token-0123456789';
  const collectorToken = 'file-collector-token-0123456789';
  let dir: string;
  let redis: RedisServer;
  let role: ChildProcess | undefined;
  let collector: Server;
  const collectorRequests: IncomingHttpHeaders[] = [];

  const secretFile = (name: string, text: string, mode = 0o600): string => {
    const path = join(dir, name);
    writeFileSync(path, `${text}\n`, { mode });
    chmodSync(path, mode);
    return path;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-cli-files-'));
    redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    // The collector's query API, as far as a threshold rule reads it: records who asked.
    collector = createServer((req, res) => {
      collectorRequests.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ points: [] }));
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    writeFileSync(
      join(dir, 'alerts.yaml'),
      `evaluation_interval: 1s
rules: [{ name: HighCpu, type: threshold, metric: system.cpu.utilization, op: '>', threshold: 0.9, no_data: ok, on_error: ok }]
receivers: [{ name: default }]
`,
    );
  }, 60_000);

  afterAll(async () => {
    if (role !== undefined && role.exitCode === null) {
      const exited = new Promise((resolve) => role?.once('exit', resolve));
      role.kill('SIGTERM');
      await exited;
    }
    await new Promise((resolve) => collector?.close(resolve));
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the API and collector tokens from files, which keeps them out of the command line', async () => {
    const tokenFile = secretFile('api-token', `# the alerts API\n${apiToken}:carol`);
    const collectorTokenFile = secretFile('collector-token', collectorToken);
    const port = await freePort();
    const api = `http://127.0.0.1:${port}`;
    const collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    let output = '';
    role = spawn(
      process.execPath,
      [main, 'alerts', '--rules', join(dir, 'alerts.yaml'), '--token-file', tokenFile, '--collector-token-file', collectorTokenFile, '--collector', collectorUrl, '--port', String(port), '--metrics-port', '0', '--redis-url', redis.url, '--redis-prefix', 'clifiles', '--data-dir', join(dir, 'data'), '--log-level', 'error'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    role.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    role.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 60_000;
    while (!output.includes('API and Alertmanager intake on')) {
      if (Date.now() > deadline || role.exitCode !== null) throw new Error(`sloth alerts did not start:\n${output}`);
      await sleep(100);
    }
    expect(output).toContain(`auth: 1 bearer token(s) (some from ${tokenFile})`);
    // What `ps` shows every user: the paths, not the secrets.
    const commandLine = readFileSync(`/proc/${role.pid}/cmdline`, 'utf8');
    expect(commandLine).toContain(tokenFile);
    expect(commandLine).not.toContain(apiToken);
    expect(commandLine).not.toContain(collectorToken);

    // The API takes the token from the file; the silence author is its name.
    const created = await sloth(dir, 'alerts', 'silence', 'agent="web-1"', '--comment', 'file token', '--json', '--alerts', api, '--token-file', tokenFile);
    expect(created.stderr).toBe('');
    expect((JSON.parse(created.stdout) as { silence: { createdBy: string } }).silence.createdBy).toBe('carol');
    const refused = await sloth(dir, 'alerts', 'list', '--alerts', api, '--token', 'not-the-file-token-0123');
    expect(refused.stderr).toMatch(/SLOTH_ERR_AUTH/);
    // The threshold rule queries the collector with the token from its file.
    for (let i = 0; i < 100 && collectorRequests.length === 0; i += 1) await sleep(100);
    expect(collectorRequests[0]?.authorization).toBe(`Bearer ${collectorToken}`);
    expect(output).not.toContain(apiToken);
    expect(output).not.toContain(collectorToken);
  }, 120_000);

  it('refuses token files others can read, and a missing one, naming the path and never the token', async () => {
    const loose = secretFile('loose-token', `${apiToken}:carol`, 0o644);
    const looseCollector = secretFile('loose-collector-token', collectorToken, 0o604);
    const run = await sloth(dir, 'alerts', '--rules', join(dir, 'alerts.yaml'), '--token-file', loose, '--collector-token-file', looseCollector, '--redis-url', 'redis://127.0.0.1:9', '--metrics-port', '0');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`token file ${loose} is readable by other users (mode 0644); run: chmod 600 ${loose}`);
    expect(run.stderr).toContain(`token file ${looseCollector} is readable by other users (mode 0604)`);
    expect(run.stderr).not.toContain(apiToken);
    expect(run.stderr).not.toContain(collectorToken);
    const missing = await sloth(dir, 'alerts', '--rules', join(dir, 'alerts.yaml'), '--token-file', join(dir, 'nope'), '--redis-url', 'redis://127.0.0.1:9', '--metrics-port', '0');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`alerts.tokenFile (--token-file, alerts.tokenFile or SLOTH_ALERTS_TOKEN_FILE): token file ${join(dir, 'nope')} does not exist`);
    const client = await sloth(dir, 'alerts', 'list', '--alerts', 'http://127.0.0.1:9', '--token-file', loose);
    expect(client.code).toBe(1);
    expect(client.stderr).toContain(`token file ${loose} is readable by other users`);
    expect(client.stderr).not.toContain(apiToken);
  }, 120_000);
});
