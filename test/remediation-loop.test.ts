/**
 * The scheduler and the agent's job worker in one process, with the real Lua
 * runtime and a real redis-server: dry run end to end, and per-agent
 * concurrency with real runs.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadPlaybookDirectory, startRemediationWorker, type RemediationWorker } from '@sloth/agent';
import { encodeJsonMessage, freePort, RedisServer, silentLogger, type AnomalyEvent } from '@sloth/core';
import { loadSchedulerConfig, Scheduler, type RemediationRecord } from '@sloth/scheduler';

let dir: string;
let server: RedisServer;
let redis: Redis;
let scheduler: Scheduler | undefined;
let worker: RemediationWorker | undefined;
const prefix = 'loop';

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-loop-'));
  server = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  redis = new Redis(server.url);
});

afterEach(async () => {
  await worker?.shutdown();
  await scheduler?.shutdown();
  worker = undefined;
  scheduler = undefined;
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function setUp(playbooks: Record<string, string>, flags: Record<string, unknown>, allowExec: string[] = []): Promise<void> {
  const playbookDir = join(dir, 'playbooks');
  mkdirSync(playbookDir);
  for (const [file, source] of Object.entries(playbooks)) writeFileSync(join(playbookDir, file), source);
  const config = loadSchedulerConfig({
    env: {},
    flags: { dataDir: join(dir, 'data'), redisPrefix: prefix, port: await freePort(), host: '127.0.0.1', insecureNoAuth: true, playbooks: playbookDir, ...flags },
  });
  scheduler = new Scheduler({ config, redisUrl: server.url, loadPlaybooks: loadPlaybookDirectory, logger: silentLogger(), tickMillis: 100 });
  await scheduler.start();
  worker = await startRemediationWorker({ agentId: 'web-1', redisUrl: server.url, prefix, stateDir: join(dir, 'state'), exec: { allow: allowExec }, concurrency: 4 });
}

function anomaly(metric: string): AnomalyEvent {
  return { seriesId: metric, agentId: 'web-1', metric, timestampMillis: Date.now(), value: 1, score: 0.99, expectedLow: 0, expectedHigh: 0, modelVersion: 't' };
}

async function finished(count: number): Promise<RemediationRecord[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const records = scheduler!.auditStore.list().filter((r) => r.state === 'succeeded' || r.state === 'failed');
    if (records.length >= count) return records;
    if (Date.now() > deadline) throw new Error(`only ${records.length} of ${count} remediations finished: ${JSON.stringify(scheduler!.auditStore.list().map((r) => r.state))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('remediation loop in one process (real Lua runtime)', () => {
  it('dry run: the playbook runs, reports what it would do, and changes nothing', async () => {
    const marker = join(dir, 'touched');
    const touch = `
return {
  name = "touch-marker",
  description = "touches a file",
  triggers = { { anomaly = { metric = "app.errors" } } },
  run = function(ctx)
    local r = exec({ "touch", "${marker}" })
    state.set("touched", true)
    return true, "touched (dry run: " .. tostring(ctx.dry_run) .. ")"
  end,
}`;
    await setUp({ 'touch.lua': touch }, { dryRun: true }, ['touch']);
    await redis.xadd(`${prefix}:anomalies`, '*', ...encodeJsonMessage(anomaly('app.errors')));
    const [record] = await finished(1);
    expect(record).toMatchObject({ state: 'succeeded', dryRun: true, message: 'touched (dry run: true)' });
    const actions = (record!.output as { actions: Array<{ kind: string; dryRun: boolean }> }).actions;
    expect(actions.map((a) => [a.kind, a.dryRun])).toEqual([
      ['exec', true],
      ['state.set', true],
    ]);
    expect(existsSync(marker)).toBe(false);
  });

  it('per-agent concurrency 1: three matching playbooks all run, one at a time', async () => {
    const playbook = (name: string): string => `
return {
  name = "${name}",
  description = "counts overlapping runs",
  triggers = { { anomaly = { metric = "app.latency" } } },
  run = function(ctx)
    local now = state.incr("running", 1)
    if now > (state.get("max_running") or 0) then state.set("max_running", now) end
    sleep(300)
    state.incr("running", -1)
    return true, "${name} done"
  end,
}`;
    await setUp({ 'a.lua': playbook('a'), 'b.lua': playbook('b'), 'c.lua': playbook('c') }, { maxConcurrentPerAgent: 1 });
    await redis.xadd(`${prefix}:anomalies`, '*', ...encodeJsonMessage(anomaly('app.latency')));
    const records = await finished(3);
    expect(records.map((r) => r.message).sort()).toEqual(['a done', 'b done', 'c done']);
    expect(records.every((r) => r.state === 'succeeded')).toBe(true);
    const state = JSON.parse(readFileSync(join(dir, 'state', 'playbook-state.json'), 'utf8')) as Record<string, number>;
    expect(state.max_running).toBe(1);
    expect(state.running).toBe(0);
  });
});
