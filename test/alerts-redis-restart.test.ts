/**
 * Issue 10 item 5 for the alerts role, with the built CLI: a real `redis-server` without persistence
 * (its streams and the alerts cursor hash are gone) is killed and started again under a running
 * `sloth alerts`; an anomaly written right after the restart still fires its alert (seen through the
 * alerts API), and the role does not loop on NOGROUP or on a lost connection.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { encodeJsonMessage, freePort, redisKeys, RedisServer, sleep, type AnomalyEvent } from '@sloth/core';
import { eventually, SlothProcess } from './helpers/agent-processes.js';

const token = 'alerts-restart-secret-1';
const rules = `
evaluation_interval: 1s
rules:
  - name: HostAnomaly
    type: anomaly
    metric: "system.*"
    min_score: 0.9
    min_duration: 0s
    severity: warning
route: { receiver: ops, group_by: [alertname, agent], group_wait: 0s, group_interval: 1s }
receivers: [{ name: ops }]
`;

interface AlertRow { labels: Record<string, string>; state: string }

describe('alerts role across a Redis restart (built CLI, real redis-server killed)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-alerts-redis-restart-'));
  const prefix = `arr${process.pid}`;
  let redisServer: RedisServer;
  let alerts: SlothProcess;
  let apiUrl: string;

  beforeAll(async () => {
    redisServer = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    writeFileSync(join(dir, 'alerts.yaml'), rules);
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    alerts = SlothProcess.spawn([
      'alerts', '--data-dir', join(dir, 'alerts'), '--redis-url', redisServer.url, '--redis-prefix', prefix, '--port', String(port),
      '--metrics-port', '0', '--host', '127.0.0.1', '--token', token, '--rules', join(dir, 'alerts.yaml'), '--log-level', 'info',
    ]);
    await alerts.waitForOutput(/API and Alertmanager intake on/);
  }, 120_000);

  afterAll(async () => {
    await alerts?.stop();
    await redisServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const list = async (): Promise<AlertRow[]> => {
    const response = await fetch(`${apiUrl}/api/v1/alerts`, { headers: { authorization: `Bearer ${token}` } });
    if (response.status !== 200) throw new Error(`GET /api/v1/alerts: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { alerts: AlertRow[] }).alerts;
  };
  const anomaly = async (agentId: string): Promise<void> => {
    const event: AnomalyEvent = {
      seriesId: `system.cpu.utilization{agent=${agentId}}`, agentId, metric: 'system.cpu.utilization', timestampMillis: Date.now(),
      value: 99, score: 0.97, expectedLow: 0, expectedHigh: 60, modelVersion: 'restart',
    };
    const client = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    try {
      await client.xadd(redisKeys(prefix).anomalies, '*', ...encodeJsonMessage(event));
    } finally {
      client.disconnect();
    }
  };
  const firing = async (agentId: string): Promise<AlertRow> =>
    eventually(async () => (await list()).find((a) => a.labels.alertname === 'HostAnomaly' && JSON.stringify(a.labels).includes(agentId) && a.state === 'firing'), 90_000);

  it('fires for an anomaly written right after the restart and does not loop on NOGROUP', async () => {
    await anomaly('before-1');
    await firing('before-1');
    expect((await list()).some((a) => JSON.stringify(a.labels).includes('after-1'))).toBe(false);

    redisServer.kill();
    await redisServer.restart();
    // Written at once, before the role noticed the restart: a consumer that resumed at the stream's end would skip it.
    await anomaly('after-1');
    const after = await firing('after-1');
    expect(after.labels.alertname).toBe('HostAnomaly');

    const log = (): string => alerts.stdout + alerts.stderr;
    const nogroups = (): number => log().split('NOGROUP').length - 1;
    const settled = nogroups();
    await sleep(3_000);
    expect(nogroups(), log()).toBe(settled);
    expect(settled, log()).toBeLessThanOrEqual(2);
    expect(alerts.running).toBe(true);
  }, 240_000);
});
