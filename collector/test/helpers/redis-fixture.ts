import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { Redis } from 'ioredis';
import { RedisServer } from '@sloth/core';

/** A test file's own redis-server (no AOF) in a temp dir, with a client; `dir` also holds what else the file starts. */
export interface RedisFixture {
  readonly dir: string;
  readonly url: string;
  readonly client: Redis;
}

/** Starts the fixture before the file's tests and stops it (and removes its dir) after them. */
export function redisPerFile(dirPrefix: string): RedisFixture {
  let dir: string | undefined;
  let server: RedisServer | undefined;
  let client: Redis | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), dirPrefix));
    server = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
    client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the Redis fixture is used before its beforeAll ran');
    return value;
  };
  return {
    get dir() {
      return started(dir);
    },
    get url() {
      return started(server).url;
    },
    get client() {
      return started(client);
    },
  };
}
