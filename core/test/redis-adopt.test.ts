import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisServer, resolveRedis, silentLogger, slothRedisMarkerKey } from '../src/index.js';

describe('resolveRedis (sloth up)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-redis-adopt-'));
  const started: RedisServer[] = [];
  afterAll(async () => {
    for (const server of started) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('does not adopt a Redis without the marker key; adopts it once marked; its own data dir is 0700', async () => {
    // Someone else's Redis, standing in for the one on 6379.
    const theirs = await RedisServer.start({ dir: join(dir, 'theirs'), appendOnly: false });
    started.push(theirs);
    const first = await resolveRedis({ dataDir: join(dir, 'data'), localUrl: theirs.url, logger: silentLogger() });
    if (first.server !== undefined) started.push(first.server);
    expect(first.how).toBe('spawned');
    expect(first.url).not.toBe(theirs.url);
    expect(statSync(join(dir, 'data', 'redis')).mode & 0o777).toBe(0o700);

    const client = new Redis(theirs.url);
    await client.set(slothRedisMarkerKey, '1');
    client.disconnect();
    const second = await resolveRedis({ dataDir: join(dir, 'data2'), localUrl: theirs.url, logger: silentLogger() });
    expect(second).toEqual({ url: theirs.url, how: 'local' });
  });
});
