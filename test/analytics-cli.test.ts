import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSampleBatch, freePort, RedisServer, redisKeys, seriesId, sleep } from '@sloth/core';
import { ModelRegistry } from '@sloth/analytics';

const main = fileURLToPath(new URL('../cli/dist/src/main.js', import.meta.url));

let dir: string;
let redis: RedisServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-analytics-cli-'));
  redis = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
});
afterAll(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMillis = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('sloth analytics (built CLI)', () => {
  it('says what it does, scores samples, serves /metrics and saves detector snapshots on SIGTERM', async () => {
    const metricsPort = await freePort();
    const dataDir = join(dir, 'data');
    const child = spawn(
      process.execPath,
      [main, 'analytics', '--redis-url', redis.url, '--redis-prefix', 'cli', '--data-dir', dataDir, '--metrics-port', String(metricsPort), '--group', 'g1', '--consumer', 'one', '--log-level', 'warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const client = new Redis(redis.url);
    try {
      await until('the start-up lines', () => stdout.includes('metrics: http://'));
      expect(stdout).toContain('consuming cli:samples');
      expect(stdout).toContain('group "g1", consumer "one"');
      expect(stdout).toContain(join(dataDir, 'analytics', 'models.db'));

      const id = seriesId('system.memory.usage', { host: 'cli-1' });
      // Ten batch entries of ten samples, as the collector writes them.
      const pipeline = client.pipeline();
      const samples = Array.from({ length: 100 }, (_, i) => ({ seriesId: id, agentId: 'cli-1', timestampMillis: 1_000 * (i + 1), value: 100 + (i % 5) }));
      for (let i = 0; i < 100; i += 10) pipeline.xadd(redisKeys('cli').samples, '*', ...encodeSampleBatch(samples.slice(i, i + 10)));
      await pipeline.exec();
      await until('samples scored', async () => (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).includes('sloth_analytics_samples_scored_total 100'));

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stdout).toContain('SIGTERM: saving detector snapshots');
      expect(stdout).toContain('sloth analytics: stopped');
      const registry = new ModelRegistry(join(dataDir, 'analytics', 'models.db'));
      try {
        const snapshot = registry.loadSnapshot(id);
        expect((snapshot?.snapshot as { lastTimestampMillis: number }).lastTimestampMillis).toBe(100_000);
      } finally {
        registry.close();
      }
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${String(error)}\nstdout: ${stdout}\nstderr: ${stderr}`);
    } finally {
      client.disconnect();
    }
  });

  it('rejects a bad flag value with a message naming it', async () => {
    const child = spawn(process.execPath, [main, 'analytics', '--metrics-port', 'many'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).not.toBe(0);
    expect(stderr).toContain('--metrics-port must be an integer, got "many"');
  });
});
