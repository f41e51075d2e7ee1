import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisServer, pingRedis, redactUrl } from '../src/index.js';

describe('RedisServer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-redis-'));
  let server: RedisServer | undefined;
  afterAll(async () => server?.stop());

  it('starts a private redis-server with AOF that keeps data across a crash', async () => {
    server = await RedisServer.start({ dir });
    const client = new Redis(server.url);
    await client.config('SET', 'appendfsync', 'always');
    await client.set('k', 'v');
    client.disconnect();
    server.kill();
    await server.restart();
    const again = new Redis(server.url);
    expect(await again.get('k')).toBe('v');
    again.disconnect();
  });

  it('reports an unreachable Redis clearly and hides passwords', async () => {
    await expect(pingRedis('redis://127.0.0.1:1')).rejects.toThrow(/does not answer/);
    expect(redactUrl('redis://user:secret@host:6379')).not.toContain('secret');
  });

  it('names the install command when redis-server is missing', async () => {
    await expect(RedisServer.start({ dir, binary: 'redis-server-that-does-not-exist' })).rejects.toThrow(/apt-get install redis-server/);
  });
});
