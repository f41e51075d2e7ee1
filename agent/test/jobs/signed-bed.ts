import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ensureJobSigningKey, RedisServer, type JobSigningKey } from '@sloth/core';

/** A test file's own redis-server and job-signing key, in a temporary directory. */
export interface SignedBed {
  dir: string;
  server: RedisServer;
  redis: Redis;
  key: JobSigningKey;
}

/** Starts a redis-server and makes a job-signing key under a new temporary directory named after `name`. */
export async function startSignedBed(name: string): Promise<SignedBed> {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const server = await RedisServer.start({ dir: join(dir, 'redis'), appendOnly: false });
  return { dir, server, redis: new Redis(server.url, { maxRetriesPerRequest: null }), key: ensureJobSigningKey(dir).key };
}

/** Stops what {@link startSignedBed} started and removes its directory. */
export async function stopSignedBed(bed: Pick<SignedBed, 'dir' | 'server' | 'redis'>): Promise<void> {
  bed.redis.disconnect();
  await bed.server.stop();
  rmSync(bed.dir, { recursive: true, force: true });
}
