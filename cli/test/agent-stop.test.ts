import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { freePort, redisKeys, remediationJobName, remediationResultsStream, RedisServer, sleep, type RemediationJob } from '@sloth/core';

// Runs the built CLI (`npx tsc -b` first), as a service manager would: start, SIGTERM, wait.
const main = fileURLToPath(new URL('../../cli/dist/src/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sloth-agent-stop-'));
let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
});
afterAll(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('an agent with --redis-url that ran remediations stops on SIGTERM, exit 0, within a bounded time', async () => {
  const prefix = `stop${process.pid}`;
  const agentId = 'stop-test-agent';
  // No collector listens there: the shutdown's export drain is at its bound (2 s), the worst ordinary case.
  const collector = `http://127.0.0.1:${await freePort()}`;
  const child = spawn(
    process.execPath,
    [main, 'agent', '--id', agentId, '--collector', collector, '--insecure-no-auth', '--metrics-port', '0', '--interval', '1', '--data-dir', join(dir, 'agent'), '--redis-url', redis.url, '--redis-prefix', prefix],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    for (let i = 0; i < 300 && !/agent \S+ started/.test(output); i += 1) await sleep(100);
    expect(output).toMatch(/remediation job worker started/);

    // Two remediations through the agent's queue: its Lua worker threads are up and have run code.
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(`agent.${agentId}`, { connection, prefix: redisKeys(prefix).queuePrefix });
    const source = 'return { name = "busy", version = "1", description = "d", run = function() local t = {} for i = 1, 200000 do t[i % 100 + 1] = tostring(i) end return true, "done" end }';
    for (const n of [1, 2]) {
      const job: RemediationJob = {
        remediationId: `stop-${n}`, agentId, playbook: { name: 'busy', version: '1', fileName: 'busy.lua', source },
        params: {}, event: {}, dryRun: false, triggeredAtMillis: Date.now(), enqueuedAtMillis: Date.now(),
      };
      await queue.add(remediationJobName, job);
    }
    const results = remediationResultsStream(redisKeys(prefix));
    let succeeded = 0;
    for (let i = 0; i < 300 && succeeded < 2; i += 1) {
      await sleep(100);
      const entries = await connection.xrange(results, '-', '+');
      succeeded = entries.filter(([, fields]) => fields.join(' ').includes('succeeded')).length;
    }
    expect(succeeded).toBe(2);
    await queue.close();
    connection.disconnect();

    const stoppedAt = Date.now();
    child.kill('SIGTERM');
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const { code, signal } = await exited;
    clearTimeout(watchdog);
    const stopMillis = Date.now() - stoppedAt;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(output).toMatch(/agent stopping/);
    // Generous: the export drain is bounded at 2 s, the job worker and the Lua threads close in well under a second
    // on an idle machine; this catches a shutdown that waits on a connection or a thread without bound.
    expect(stopMillis).toBeLessThan(20_000);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}, 120_000);
