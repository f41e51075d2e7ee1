import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort, silentLogger } from '@sloth/core';
import { HealthMonitor, formatHealthReport, readHealthReport, type Transition } from '../../src/index.js';
import { healthChecksSchema, type HealthCheckInput } from '../../src/health/check-config.js';
import { probeCommand } from '../../src/health/probes.js';
import { isAlive } from '../process-helpers.js';

function monitor(inputs: HealthCheckInput[], stateFile?: string): HealthMonitor {
  return new HealthMonitor({ checks: healthChecksSchema.parse(inputs), agentId: 'a1', logger: silentLogger(), stateFile });
}

describe('health checks', () => {
  let dir: string;
  let server: Server;
  let httpUrl: string;
  let status = 200;
  let body = 'all good';

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-health-'));
    status = 200;
    body = 'all good';
    server = createServer((_req, res) => {
      res.writeHead(status);
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    httpUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  it('http: status and body match drive the thresholds, and every transition is announced', async () => {
    const m = monitor([{ name: 'web', type: 'http', target: httpUrl, bodyMatch: 'good', successThreshold: 2, failureThreshold: 2 }]);
    const seen: Transition[] = [];
    m.onTransition((t) => seen.push(t));
    expect((await m.runNow('web')).ok).toBe(true);
    expect(m.overall()).toBe('unknown');
    await m.runNow('web');
    expect(m.overall()).toBe('healthy');
    body = 'degraded';
    const r = await m.runNow('web');
    expect(r.ok).toBe(false);
    expect(r.message).toContain('body does not match');
    status = 503;
    body = 'all good';
    expect((await m.runNow('web')).message).toBe('HTTP 503');
    expect(m.overall()).toBe('unhealthy');
    expect(seen.map((t) => `${t.from}→${t.to}`)).toEqual(['unknown→healthy', 'healthy→unhealthy']);
  });

  it('tcp: a listening port passes, a closed one fails', async () => {
    const closed = await freePort();
    const m = monitor([
      { name: 'open', type: 'tcp', target: `127.0.0.1:${(server.address() as AddressInfo).port}`, failureThreshold: 1 },
      { name: 'closed', type: 'tcp', target: `127.0.0.1:${closed}`, failureThreshold: 1, timeout: 1 },
    ]);
    expect((await m.runNow('open')).ok).toBe(true);
    const r = await m.runNow('closed');
    expect(r.ok).toBe(false);
    expect(r.message).toBe('ECONNREFUSED');
    expect(m.report().checks.map((c) => [c.name, c.state])).toEqual([
      ['open', 'healthy'],
      ['closed', 'unhealthy'],
    ]);
    expect(m.overall()).toBe('unhealthy');
  });

  it('command: argv without a shell; exit status decides; retries are attempts within one run', async () => {
    const marker = join(dir, 'marker');
    const m = monitor([
      { name: 'ok', type: 'command', argv: [process.execPath, '-e', 'process.stdout.write("fine")'] },
      { name: 'no-shell', type: 'command', argv: ['/bin/echo', '$HOME; touch ' + marker], failureThreshold: 1 },
      { name: 'fails', type: 'command', argv: [process.execPath, '-e', 'process.exit(3)'], failureThreshold: 1, retries: 2 },
    ]);
    const ok = await m.runNow('ok');
    expect(ok).toMatchObject({ ok: true, message: 'exit 0: fine' });
    // The argument is printed literally: no variable expansion, no second command.
    expect((await m.runNow('no-shell')).message).toBe(`exit 0: $HOME; touch ${marker}`);
    expect(existsSync(marker)).toBe(false);
    const failed = await m.runNow('fails');
    expect(failed.ok).toBe(false);
    expect(failed.message).toBe('exit 3');
    expect(m.report().checks.find((c) => c.name === 'fails')!.state).toBe('unhealthy');
  });

  it('command: a hanging command is killed at its timeout, with its children', async () => {
    const pidFile = join(dir, 'child.pid');
    // The command starts a grandchild that would outlive a plain kill of the direct child.
    const script = `const { spawn } = require('node:child_process');
      const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(c.pid));
      setInterval(() => {}, 1000);`;
    // Returning at all proves the kill: the script never exits on its own.
    const outcome = await probeCommand([process.execPath, '-e', script], 1500);
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toBe('killed after 1500 ms timeout');
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 300));
    expect(isAlive(grandchild)).toBe(false);
  });

  it('disk, memory and cpu thresholds', async () => {
    const m = monitor([
      { name: 'disk-ok', type: 'disk', target: dir, maxUtilization: 1, failureThreshold: 1 },
      { name: 'disk-tight', type: 'disk', target: dir, maxUtilization: 0, failureThreshold: 1 },
      { name: 'mem-ok', type: 'memory', maxUtilization: 1, failureThreshold: 1 },
      { name: 'mem-tight', type: 'memory', maxUtilization: 0, failureThreshold: 1 },
      { name: 'cpu-ok', type: 'cpu', maxUtilization: 1, failureThreshold: 1 },
      { name: 'disk-missing', type: 'disk', target: join(dir, 'nope'), failureThreshold: 1 },
    ]);
    for (const name of ['disk-ok', 'disk-tight', 'mem-ok', 'mem-tight', 'cpu-ok', 'disk-missing']) await m.runNow(name);
    const states = Object.fromEntries(m.report().checks.map((c) => [c.name, c.state]));
    expect(states).toEqual({ 'disk-ok': 'healthy', 'disk-tight': 'unhealthy', 'mem-ok': 'healthy', 'mem-tight': 'unhealthy', 'cpu-ok': 'healthy', 'disk-missing': 'unhealthy' });
    expect(m.report().checks.find((c) => c.name === 'disk-missing')!.history[0]!.message).toContain('ENOENT');
  });

  it('runs on its interval once started and writes the state file that `sloth agent checks` prints', async () => {
    const stateFile = join(dir, 'checks.json');
    const m = monitor([{ name: 'web', type: 'http', target: httpUrl, interval: 0.1 }], stateFile);
    await m.start();
    await new Promise((r) => setTimeout(r, 800));
    await m.shutdown();
    const report = (await readHealthReport(stateFile))!;
    expect(report.overall).toBe('healthy');
    expect(report.checks[0]!.history.length).toBeGreaterThanOrEqual(2);
    const text = formatHealthReport(report);
    expect(text).toContain('agent a1: HEALTHY');
    expect(text).toMatch(/web\s+http\s+healthy\s+\+\+/);
  });

  it('rejects bad check configuration naming each problem', () => {
    const result = healthChecksSchema.safeParse([
      { name: 'x', type: 'ping' },
      { name: 'y', type: 'command', argv: 'rm -rf /' },
      { name: 'z', type: 'http', target: 'ftp://host', interval: -1 },
      { name: 'z', type: 'memory' },
    ]);
    expect(result.success).toBe(false);
    const messages = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^0\.type: unknown check type/),
        expect.stringMatching(/^1\.argv: must be an argv array/),
        expect.stringMatching(/^2\.target: must be an http/),
        expect.stringMatching(/^2\.interval: must be > 0/),
      ]),
    );
  });
});
