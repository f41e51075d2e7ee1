/**
 * Issue 10 item 5 with the built CLI: the remediation loop survives a Redis
 * restart. A real `redis-server` (no persistence, so streams, consumer groups
 * and BullMQ queues are gone) is killed and started again under a running
 * `sloth scheduler` and `sloth remediation worker` (the agent's job worker); an
 * anomaly written right after the restart still runs its playbook on the agent
 * once, and the scheduler does not loop on NOGROUP.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { encodeJsonMessage, freePort, redisKeys, RedisServer, type AnomalyEvent } from '@sloth/core';
import { eventually, SlothProcess } from './helpers/agent-processes.js';

const token = 'restart-ops-secret-1';
const playbook = `
return {
  name = "note-cpu",
  version = "1.0.0",
  description = "notes a CPU anomaly",
  triggers = { { anomaly = { metric = "system.cpu.utilization", min_score = 0.9 } } },
  run = function(ctx)
    state.incr("runs", 1)
    return true, "noted " .. ctx.event.seriesId
  end,
}`;

interface RecordRow { id: string; state: string; agentId: string; message: string | null }

describe('remediation loop across a Redis restart (built CLI, real redis-server killed)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-redis-restart-loop-'));
  const prefix = `rrl${process.pid}`;
  let redisServer: RedisServer;
  let collector: SlothProcess;
  let scheduler: SlothProcess;
  let worker: SlothProcess;
  let apiUrl: string;

  beforeAll(async () => {
    redisServer = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    mkdirSync(join(dir, 'playbooks'));
    writeFileSync(join(dir, 'playbooks', 'note.lua'), playbook);
    collector = SlothProcess.spawn(['collector', '--data-dir', join(dir, 'collector'), '--redis-url', redisServer.url, '--redis-prefix', prefix, '--port', '0', '--metrics-port', '0', '--token', token, '--log-level', 'warn']);
    const collectorUrl = (await collector.waitForOutput(/OTLP\/HTTP on (\S+)\/v1\//))[1] as string;
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    scheduler = SlothProcess.spawn([
      'scheduler', '--data-dir', join(dir, 'scheduler'), '--redis-url', redisServer.url, '--redis-prefix', prefix, '--port', String(port), '--metrics-port', '0',
      '--playbooks', join(dir, 'playbooks'), '--token', `${token}:ops`, '--cooldown', '0', '--log-level', 'info',
    ]);
    await scheduler.waitForOutput(/remediation API on/);
    worker = SlothProcess.spawn([
      'remediation', 'worker', '--agent-id', 'web-1', '--redis-url', redisServer.url, '--redis-prefix', prefix, '--state-dir', join(dir, 'agent-state'),
      '--collector', collectorUrl, '--token', token, '--log-level', 'warn',
    ]);
    await worker.waitForOutput(/serving queue/);
  });

  afterAll(async () => {
    await worker?.stop();
    await scheduler?.stop();
    await collector?.stop();
    await redisServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const records = async (): Promise<RecordRow[]> =>
    ((await (await fetch(`${apiUrl}/api/v1/remediations`, { headers: { authorization: `Bearer ${token}` } })).json()) as { remediations: RecordRow[] }).remediations;
  const anomaly = async (series: string): Promise<void> => {
    const event: AnomalyEvent = { seriesId: series, agentId: 'web-1', metric: 'system.cpu.utilization', timestampMillis: Date.now(), value: 99, score: 0.97, expectedLow: 0, expectedHigh: 60, modelVersion: 'restart' };
    const client = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    try {
      await client.xadd(redisKeys(prefix).anomalies, '*', ...encodeJsonMessage(event));
    } finally {
      client.disconnect();
    }
  };
  const succeeded = async (series: string): Promise<RecordRow> =>
    eventually(async () => (await records()).find((r) => r.message === `noted ${series}` && r.state === 'succeeded'), 90_000);

  it('runs the playbook for an anomaly written right after the restart, once, and stops complaining', async () => {
    await anomaly('before{}');
    await succeeded('before{}');

    redisServer.kill();
    await redisServer.restart();
    // Written at once, before the scheduler noticed: a group recreated at '$' would skip it.
    await anomaly('after{}');
    const after = await succeeded('after{}');
    expect(after.agentId).toBe('web-1');
    expect((await records()).filter((r) => r.message === 'noted after{}')).toHaveLength(1);

    // No NOGROUP loop: the count stops growing once the group is back.
    const nogroups = (): number => (scheduler.stdout + scheduler.stderr).split('NOGROUP').length - 1;
    const settled = nogroups();
    await new Promise((r) => setTimeout(r, 3_000));
    expect(nogroups()).toBe(settled);
    expect([collector.running, scheduler.running, worker.running]).toEqual([true, true, true]);
  }, 240_000);
});
