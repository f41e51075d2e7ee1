import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PlaybookRuntime, lintPlaybook, loadPlaybook, matchTriggers, runPlaybook, type Playbook } from '../../../src/playbook/index.js';
import { host, tempDir } from '../helpers.js';

const libraryDir = fileURLToPath(new URL('../../../../playbooks/', import.meta.url));
const runtime = new PlaybookRuntime({ workers: 2 });
const temp = tempDir('library');

async function libraryPlaybook(name: string): Promise<Playbook> {
  const file = join(libraryDir, `${name}.lua`);
  return loadPlaybook(readFileSync(file, 'utf8'), file, runtime);
}

beforeAll(async () => {
  await runtime.start();
});
afterAll(async () => {
  await runtime.shutdown();
  temp.cleanup();
});

test('every library playbook lints clean', async () => {
  const files = readdirSync(libraryDir).filter((f) => f.endsWith('.lua'));
  expect(files.length).toBeGreaterThanOrEqual(6);
  for (const file of files) {
    const report = await lintPlaybook(readFileSync(join(libraryDir, file), 'utf8'), file, runtime);
    expect({ file, problems: report.problems }).toEqual({ file, problems: [] });
  }
});

describe('collect-metrics (the issue example)', () => {
  test('records the metrics, logs CPU and memory, alerts above the threshold', async () => {
    const playbook = await libraryPlaybook('collect-metrics');
    const h = host(temp.dir);
    const result = await runPlaybook(playbook, { host: h, params: { cpu_threshold: -1 }, runtime });
    expect(result).toMatchObject({ ok: true, message: 'Metrics collected successfully' });
    expect(h.metrics.get('task_duration')).toEqual({ kind: 'gauge', value: 45.2 });
    expect(h.metrics.get('deployments_total')).toEqual({ kind: 'counter', value: 1 });
    const usage = result.logs.find((l) => l.message === 'system usage');
    expect(typeof usage?.attrs.cpu_percent).toBe('number');
    expect(usage?.attrs.memory_percent as number).toBeGreaterThan(0);
    expect(usage?.attrs.memory_percent as number).toBeLessThanOrEqual(100);
    expect(h.alerts).toHaveLength(1);
    expect(h.alerts[0]).toMatchObject({ name: 'high_cpu', level: 'warning', runId: expect.any(String) });
  });

  test('no alert under the threshold', async () => {
    const h = host(temp.dir);
    const result = await runPlaybook(await libraryPlaybook('collect-metrics'), { host: h, params: { cpu_threshold: 101 }, runtime });
    expect(result.ok).toBe(true);
    expect(h.alerts).toEqual([]);
  });
});

describe('restart-unit', () => {
  /** A real `systemctl` stand-in on a private search path: it records its argv and answers like systemd. */
  function fakeSystemctl(dir: string, exitCode = 0): string {
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    const record = join(dir, 'systemctl.calls');
    const script = join(bin, 'systemctl');
    writeFileSync(script, `#!/bin/sh\necho "$@" >> '${record}'\nif [ "$1" = is-active ]; then echo active; fi\nexit ${exitCode}\n`);
    chmodSync(script, 0o755);
    return record;
  }

  test('restarts the unit, verifies it, and refuses a second restart inside min_interval', async () => {
    const { dir, cleanup } = tempDir('systemctl');
    try {
      const record = fakeSystemctl(dir);
      const h = host(dir, { allowExec: ['systemctl'], searchPath: join(dir, 'bin') });
      const playbook = await libraryPlaybook('restart-unit');
      const first = await runPlaybook(playbook, { host: h, params: { unit: 'nginx.service' }, runtime });
      expect(first).toMatchObject({ ok: true, message: 'restarted nginx.service' });
      expect(readFileSync(record, 'utf8')).toBe('restart nginx.service\nis-active nginx.service\n');
      const second = await runPlaybook(playbook, { host: h, params: { unit: 'nginx.service' }, runtime });
      expect(second.ok).toBe(false);
      expect(second.message).toMatch(/not restarting nginx\.service again yet/);
      expect(readFileSync(record, 'utf8')).toBe('restart nginx.service\nis-active nginx.service\n');
    } finally {
      cleanup();
    }
  });

  test('a failing systemctl fails the run; an option-like unit name is refused; dry-run restarts nothing', async () => {
    const { dir, cleanup } = tempDir('systemctl');
    try {
      const record = fakeSystemctl(dir, 5);
      const h = host(dir, { allowExec: ['systemctl'], searchPath: join(dir, 'bin') });
      const playbook = await libraryPlaybook('restart-unit');
      const failed = await runPlaybook(playbook, { host: h, params: { unit: 'db' }, runtime });
      expect(failed).toMatchObject({ ok: false, message: expect.stringMatching(/systemctl restart db failed with code 5/) });
      const option = await runPlaybook(playbook, { host: h, params: { unit: '--force' }, runtime });
      expect(option).toMatchObject({ ok: false, message: 'refusing unit name "--force"' });
      const dry = await runPlaybook(playbook, { host: h, params: { unit: 'web' }, dryRun: true, runtime });
      expect(dry).toMatchObject({ ok: true, message: 'restarted web' });
      expect(dry.actions.filter((a) => a.kind === 'exec')).toEqual([{ kind: 'exec', dryRun: true, detail: { argv: ['systemctl', 'restart', 'web'], env: {}, cwd: expect.stringContaining('sloth-run-') } }]);
      expect(readFileSync(record, 'utf8')).toBe('restart db\n');
    } finally {
      cleanup();
    }
  });

  test('its trigger matches an unhealthy health check event', async () => {
    const playbook = await libraryPlaybook('restart-unit');
    const event = { source: 'event' as const, event: { type: 'health_check', timestampMillis: 1, attributes: { check: 'nginx', state: 'unhealthy' } } };
    expect(matchTriggers(playbook, event)).toHaveLength(1);
    expect(matchTriggers(playbook, { ...event, event: { ...event.event, attributes: { check: 'nginx', state: 'healthy' } } })).toEqual([]);
  });
});

describe('clean-directory', () => {
  test('deletes the oldest files until the directory is under the limit', async () => {
    const { dir, cleanup } = tempDir('clean');
    try {
      const data = join(dir, 'data');
      mkdirSync(data);
      const now = Date.now() / 1000;
      for (let i = 0; i < 5; i++) {
        const file = join(data, `chunk-${i}.log`);
        writeFileSync(file, 'x'.repeat(1000));
        utimesSync(file, now - (10 - i) * 60, now - (10 - i) * 60);
      }
      mkdirSync(join(data, 'subdir'));
      const h = host(dir, { allowFsRoots: [data] });
      const playbook = await libraryPlaybook('clean-directory');

      const dry = await runPlaybook(playbook, { host: h, params: { dir: data, max_bytes: 2500 }, dryRun: true, runtime });
      expect(dry).toMatchObject({ ok: true, message: `would remove 3 file(s), 3000 bytes; ${data} now 2000 bytes` });
      expect(readdirSync(data)).toHaveLength(6);

      const result = await runPlaybook(playbook, { host: h, params: { dir: data, max_bytes: 2500 }, runtime });
      expect(result).toMatchObject({ ok: true, message: `removed 3 file(s), 3000 bytes; ${data} now 2000 bytes` });
      expect(readdirSync(data).sort()).toEqual(['chunk-3.log', 'chunk-4.log', 'subdir']);

      const again = await runPlaybook(playbook, { host: h, params: { dir: data, max_bytes: 2500 }, runtime });
      expect(again.message).toMatch(/under the 2500 byte limit: nothing to do/);
    } finally {
      cleanup();
    }
  });

  test('a directory outside the allowed roots is refused', async () => {
    const { dir, cleanup } = tempDir('clean');
    try {
      const h = host(dir, { allowFsRoots: [join(dir, 'allowed')] });
      mkdirSync(join(dir, 'allowed'));
      const result = await runPlaybook(await libraryPlaybook('clean-directory'), { host: h, params: { dir: join(dir, 'allowed', '..'), max_bytes: 1 }, runtime });
      expect(result.ok).toBe(false);
      expect(result.error?.code).toBe('SLOTH_ERR_PLAYBOOK_FORBIDDEN');
      expect(result.error?.message).toMatch(/fs\.list: .* is outside the allowed roots/);
    } finally {
      cleanup();
    }
  });
});

describe('kill-top-cpu', () => {
  let victim: ChildProcess | undefined;
  afterAll(() => {
    victim?.kill('SIGKILL');
  });

  test('kills the top candidate process, and never a guarded one', async () => {
    const { dir, cleanup } = tempDir('kill');
    try {
      // A private copy of sleep with a unique command name, so only our process can match.
      const name = `slothv${process.pid % 100000}`;
      const binary = join(dir, name);
      copyFileSync('/bin/sleep', binary);
      chmodSync(binary, 0o755);
      victim = spawn(binary, ['300'], { stdio: 'ignore' });
      const exited = new Promise<string | null>((resolve) => victim?.on('exit', (_code, signal) => resolve(signal)));
      await new Promise((resolve) => setTimeout(resolve, 200));

      const h = host(dir, { allowExec: ['ps', 'kill'], readOnlyExec: ['ps'] });
      const playbook = await libraryPlaybook('kill-top-cpu');
      const guarded = await runPlaybook(playbook, { host: h, params: { min_cpu: 0, min_age: 0, only: [name], guard: [name] }, runtime });
      expect(guarded).toMatchObject({ ok: true, message: expect.stringMatching(new RegExp(`top CPU process ${name} \\(pid ${victim.pid}, .*\\) is guarded: not killed`)) });
      const dry = await runPlaybook(playbook, { host: h, params: { min_cpu: 0, min_age: 0, only: [name] }, dryRun: true, runtime });
      expect(dry.message).toMatch(new RegExp(`would send SIGTERM to ${name} \\(pid ${victim.pid}`));
      expect(victim.exitCode).toBeNull();
      // By default a process started a moment ago is no candidate: its ps CPU is an average since start.
      const young = await runPlaybook(playbook, { host: h, params: { min_cpu: 0, only: [name] }, dryRun: true, runtime });
      expect(young.message).toBe('no candidate process found');

      const result = await runPlaybook(playbook, { host: h, params: { min_cpu: 0, min_age: 0, only: [name] }, runtime });
      expect(result).toMatchObject({ ok: true, message: expect.stringMatching(new RegExp(`sent SIGTERM to ${name} \\(pid ${victim.pid}`)) });
      expect(await exited).toBe('SIGTERM');
    } finally {
      cleanup();
    }
  });

  test('nothing above min_cpu means nothing is killed', async () => {
    const h = host(temp.dir, { allowExec: ['ps', 'kill'], readOnlyExec: ['ps'] });
    const result = await runPlaybook(await libraryPlaybook('kill-top-cpu'), { host: h, params: { min_cpu: 1000 }, runtime });
    expect(result).toMatchObject({ ok: true, message: expect.stringMatching(/^no process above 1000\.0% CPU/) });
    expect(result.actions.filter((a) => a.kind === 'exec').map((a) => (a.detail.argv as string[])[0])).toEqual(['ps']);
  });
});

describe('report-top-memory', () => {
  test('names the processes holding the most memory, largest first, and alerts with them; dry-run only says so', async () => {
    const h = host(temp.dir, { allowExec: ['ps'], readOnlyExec: ['ps'] });
    const playbook = await libraryPlaybook('report-top-memory');
    const event = { metric: 'system.memory.usage', agentId: 'h1' };
    const result = await runPlaybook(playbook, { host: h, params: { top: 3 }, event, runtime });
    expect(result.ok).toBe(true);
    // Command names may hold spaces ("node (vitest 1)"): read the pid and size of each.
    const named = [...result.message.matchAll(/\(pid (\d+), (\d+) MiB\)/g)];
    expect(named).toHaveLength(3);
    const mib = named.map((m) => Number(m[2]));
    expect([...mib].sort((a, b) => b - a)).toEqual(mib);
    // This test runs in a node process with tens of MiB resident: the largest named is at least that.
    expect(mib[0]!).toBeGreaterThanOrEqual(30);
    expect(result.actions.filter((a) => a.kind === 'alert')).toHaveLength(1);

    const dry = await runPlaybook(playbook, { host: h, params: { top: 1 }, event, dryRun: true, runtime });
    expect(dry.message).toMatch(/^would alert: top memory: .+ \(pid \d+, \d+ MiB\)$/);
    expect(dry.actions.filter((a) => a.kind === 'alert')).toHaveLength(0);

    const bad = await runPlaybook(playbook, { host: h, params: { top: 0 }, event, runtime });
    expect(bad).toMatchObject({ ok: false, message: 'top must be a whole number from 1 to 20, got 0' });
  });
});

describe('rotate-log', () => {
  test('rotates file -> file.1 -> file.2, keeps N, and creates a fresh file', async () => {
    const { dir, cleanup } = tempDir('rotate');
    try {
      const logs = join(dir, 'logs');
      mkdirSync(logs);
      const file = join(logs, 'app.log');
      const h = host(dir, { allowFsRoots: [logs] });
      const playbook = await libraryPlaybook('rotate-log');
      for (const content of ['one', 'two', 'three']) {
        writeFileSync(file, content);
        const result = await runPlaybook(playbook, { host: h, params: { path: file, keep: 2 }, runtime });
        expect(result).toMatchObject({ ok: true, message: `rotated ${file} (${content.length} bytes), keeping 2` });
      }
      expect(readdirSync(logs).sort()).toEqual(['app.log', 'app.log.1', 'app.log.2']);
      expect(statSync(file).size).toBe(0);
      expect(readFileSync(`${file}.1`, 'utf8')).toBe('three');
      expect(readFileSync(`${file}.2`, 'utf8')).toBe('two');

      writeFileSync(file, 'small');
      const skipped = await runPlaybook(playbook, { host: h, params: { path: file, keep: 2, max_bytes: 100 }, runtime });
      expect(skipped.message).toMatch(/is 5 bytes, not over 100: not rotated/);
      const missing = await runPlaybook(playbook, { host: h, params: { path: join(logs, 'nope.log') }, runtime });
      expect(missing).toMatchObject({ ok: false, message: `${join(logs, 'nope.log')} does not exist` });
      expect(existsSync(join(logs, 'nope.log'))).toBe(false);
    } finally {
      cleanup();
    }
  });
});

describe('notify-webhook', () => {
  let server: Server;
  let port = 0;
  const bodies: Array<{ url: string; body: unknown }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        bodies.push({ url: req.url ?? '', body: JSON.parse(body) as unknown });
        res.statusCode = req.url?.includes('broken') === true ? 500 : 200;
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  test('posts the event summary to the webhook and never reveals the URL', async () => {
    const secretPath = '/hooks/T000/B000/very-secret-token';
    const url = `http://127.0.0.1:${port}${secretPath}`;
    const h = host(temp.dir, { allowHttp: [`127.0.0.1:${port}`] });
    const event = { type: 'alert', timestampMillis: 1, attributes: { name: 'DiskWillFill', level: 'critical', message: '/var fills in 3h' } };
    const playbook = await libraryPlaybook('notify-webhook');
    expect(matchTriggers(playbook, { source: 'event', event })).toHaveLength(1);
    const result = await runPlaybook(playbook, { host: h, params: { url }, event, runtime });
    expect(result).toMatchObject({ ok: true, message: 'notified: Alert DiskWillFill (critical): /var fills in 3h' });
    expect(bodies.at(-1)).toMatchObject({ url: secretPath, body: { text: 'Alert DiskWillFill (critical): /var fills in 3h', source: 'sloth', playbook: 'notify-webhook', event: { kind: 'alert' } } });
    expect(JSON.stringify(result)).not.toContain('very-secret-token');

    const broken = await runPlaybook(playbook, { host: h, params: { url: `http://127.0.0.1:${port}/broken/very-secret-token` }, event, runtime });
    expect(broken).toMatchObject({ ok: false, message: 'webhook answered HTTP 500' });
    expect(JSON.stringify(broken)).not.toContain('very-secret-token');
  });

  test('a webhook host off the allow-list is refused', async () => {
    const h = host(temp.dir, { allowHttp: ['hooks.example.com'] });
    const result = await runPlaybook(await libraryPlaybook('notify-webhook'), { host: h, params: { url: `http://127.0.0.1:${port}/x/very-secret-token` }, runtime });
    expect(result.ok).toBe(false);
    expect(result.error?.message).toMatch(/not on the http allow-list/);
    expect(JSON.stringify(result)).not.toContain('very-secret-token');
  });
});
