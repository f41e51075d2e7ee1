import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '@sloth/core';
import { SlothProcess } from './helpers/agent-processes.js';

/** Issue 10 item 8: roles listen on 127.0.0.1 unless told otherwise, and say which socket they bound. */
describe('listening defaults (built CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-listen-'));
  let redis: RedisServer;
  const running: SlothProcess[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    mkdirSync(join(dir, 'playbooks'));
  });
  afterAll(async () => {
    for (const proc of running) await proc.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const collector = (name: string, extra: string[]): SlothProcess => {
    const proc = SlothProcess.spawn(['collector', '--data-dir', join(dir, name), '--redis-url', redis.url, '--redis-prefix', name, '--port', '0', '--metrics-port', '0', '--token', 'listen-token-123', ...extra]);
    running.push(proc);
    return proc;
  };

  it('the collector binds 127.0.0.1 by default and prints it', async () => {
    const proc = collector('default', []);
    const bound = await proc.waitForOutput(/query API on \S+ \(socket bound to ([\d.:[\]]+):(\d+)\)/);
    expect(bound[1]).toBe('127.0.0.1');
    const metrics = await proc.waitForOutput(/Prometheus exposition: \S+ \(socket bound to ([\d.:[\]]+):\d+/);
    expect(metrics[1]).toBe('127.0.0.1');
  });

  it('the collector prints 0.0.0.0 when told to listen everywhere', async () => {
    const proc = collector('everywhere', ['--host', '0.0.0.0']);
    const bound = await proc.waitForOutput(/query API on (\S+) \(socket bound to ([\d.:[\]]+):(\d+)\)/);
    expect(bound[2]).toBe('0.0.0.0');
    expect(bound[1]).toBe(`http://127.0.0.1:${bound[3]}/api/v1/`);
  });

  const agentSecret = 'up-agent-secret-1';
  // `sloth up` bound 0.0.0.0 while printing 127.0.0.1 (issue 10 item 8); alerts ignored --host. The kernel's socket table is the judge.
  for (const [label, hostArgs, expected] of [['by default', [], '127.0.0.1'], ['with --host 0.0.0.0', ['--host', '0.0.0.0'], '0.0.0.0']] as const) {
    it.skipIf(!existsSync('/proc/net/tcp'))(`sloth up binds every role to ${expected} ${label} and prints the socket bound`, async () => {
      const ports = await Promise.all(Array.from({ length: 7 }, () => freePort()));
      const [collectorPort, metricsPort, schedulerPort, schedulerMetricsPort, alertsPort, alertsMetricsPort, analyticsMetricsPort] = ports as [number, number, number, number, number, number, number];
      const up = SlothProcess.spawn([
        'up', '--data-dir', join(dir, `up-${expected}`), '--redis-url', redis.url, '--redis-prefix', `up${expected.replace(/\./g, '')}`, '--no-agent', '--playbooks', join(dir, 'playbooks'),
        '--collector-port', String(collectorPort), '--metrics-port', String(metricsPort), '--scheduler-port', String(schedulerPort), '--scheduler-metrics-port', String(schedulerMetricsPort),
        '--alerts-port', String(alertsPort), '--alerts-metrics-port', String(alertsMetricsPort), '--analytics-metrics-port', String(analyticsMetricsPort), '--token', `${agentSecret}:web-9`, ...hostArgs,
      ]);
      running.push(up);
      await up.waitForOutput(/Ctrl-C stops everything/, 120_000);
      expect(up.stdout).toContain(`(bound to ${expected}:${collectorPort}, ${expected}:${metricsPort})`);
      for (const port of [schedulerPort, alertsPort, analyticsMetricsPort, alertsMetricsPort]) expect(up.stdout).toContain(`bound to ${expected}:${port}`);
      const listening = listeningIpv4();
      for (const port of ports) expect({ port, address: listening.get(port) }).toEqual({ port, address: expected });
      // An agent-bound --token writes to the collector only: it cannot read remediations nor silence alerts.
      const local = readFileSync(join(dir, `up-${expected}`, 'up-token'), 'utf8').trim();
      const status = async (port: number, path: string, token: string): Promise<number> => (await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } })).status;
      expect(await status(collectorPort, '/api/v1/agents', agentSecret)).toBe(200);
      expect(await status(schedulerPort, '/api/v1/remediations', agentSecret)).toBe(401);
      expect(await status(alertsPort, '/api/v1/silences', agentSecret)).toBe(401);
      expect(await status(alertsPort, '/api/v1/silences', local)).toBe(200);
      expect(await up.stop('SIGINT')).toBe(0);
    }, 180_000);
  }

  it('the scheduler binds 127.0.0.1 by default and prints it', async () => {
    const port = await freePort();
    const proc = SlothProcess.spawn(['scheduler', '--data-dir', join(dir, 'scheduler'), '--redis-url', redis.url, '--redis-prefix', 'sched', '--port', String(port), '--playbooks', join(dir, 'playbooks'), '--token', 'listen-token-123']);
    running.push(proc);
    const bound = await proc.waitForOutput(/remediation API on \S+ \(socket bound to ([\d.:[\]]+):(\d+)\)/);
    expect(bound[1]).toBe('127.0.0.1');
    expect(Number(bound[2])).toBe(port);
  });
});

/** Listening IPv4 TCP sockets from the kernel's table: port → local address. */
function listeningIpv4(): Map<number, string> {
  const sockets = new Map<number, string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, , state] = line.trim().split(/\s+/);
    if (local === undefined || state !== '0A') continue;
    const [hex = '', port = ''] = local.split(':');
    const address = [3, 2, 1, 0].map((i) => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
    sockets.set(Number.parseInt(port, 16), address);
  }
  return sockets;
}
