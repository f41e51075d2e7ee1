import { redactUrl } from './redact.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import type { Redis as RedisClient } from 'ioredis';
import { SlothError } from './errors.js';
import { canConnect, freePort, sleep } from './net.js';
import type { Logger } from './logger.js';

/** A `redis-server` process Sloth started and owns. */
export class RedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  private child: ChildProcess | undefined;
  private readonly appendOnly: boolean;

  private constructor(port: number, dir: string, appendOnly: boolean) {
    this.port = port;
    this.dir = dir;
    this.url = `redis://127.0.0.1:${port}`;
    this.appendOnly = appendOnly;
  }

  /**
   * Starts `redis-server` from PATH on `port` (a free one by default), keeping
   * its data (AOF when `appendOnly`) in `dir`. Resolves when it answers PING.
   */
  static async start(options: { dir: string; port?: number; appendOnly?: boolean; binary?: string }): Promise<RedisServer> {
    // Redis' AOF holds every queued job and stream entry: private to this user.
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    chmodSync(options.dir, 0o700);
    const server = new RedisServer(options.port ?? (await freePort()), options.dir, options.appendOnly ?? true);
    await server.spawn(options.binary ?? 'redis-server');
    return server;
  }

  private async spawn(binary: string): Promise<void> {
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--dir', this.dir,
      '--save', '',
      '--appendonly', this.appendOnly ? 'yes' : 'no',
      '--appendfsync', 'everysec',
      '--daemonize', 'no',
      '--loglevel', 'warning',
      '--protected-mode', 'yes',
    ];
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const spawnError = new Promise<Error>((resolveError) => child.once('error', resolveError));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const failed = await Promise.race([spawnError, sleep(50).then(() => undefined)]);
      if (failed !== undefined) throw redisMissingError(failed);
      if (child.exitCode !== null) throw new SlothError('SLOTH_ERR_REDIS_UNAVAILABLE', `redis-server exited with code ${child.exitCode}: ${stderr.trim()}`);
      if (await canConnect('127.0.0.1', this.port, 200)) return;
    }
    child.kill('SIGKILL');
    throw new SlothError('SLOTH_ERR_REDIS_UNAVAILABLE', `redis-server did not accept connections on port ${this.port} within 10 s: ${stderr.trim()}`);
  }

  /** Kills the server at once (SIGKILL), as a crash would. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /** Starts the same server again on the same port and directory. */
  async restart(binary = 'redis-server'): Promise<void> {
    await this.stop();
    await this.spawn(binary);
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

function redisMissingError(cause: Error): SlothError {
  return new SlothError(
    'SLOTH_ERR_REDIS_UNAVAILABLE',
    'no Redis is reachable and redis-server is not installed: install it (Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`) or set REDIS_URL / --redis-url to a running Redis',
    { cause },
  );
}

export interface ResolvedRedis {
  url: string;
  /** Set when Sloth started the server itself; stop it on shutdown. */
  server?: RedisServer;
  how: 'configured' | 'local' | 'spawned';
}

/**
 * The key that marks a Redis as Sloth's: `sloth up` adopts a Redis it did
 * not start only when this key exists there (`redis-cli SET sloth:marker 1`).
 */
export const slothRedisMarkerKey = 'sloth:marker';

/**
 * The Redis rule of `sloth up`: the configured URL (`REDIS_URL` / `--redis-url`);
 * else `redis://127.0.0.1:6379` when it answers and carries
 * {@link slothRedisMarkerKey} (never someone else's Redis by accident); else
 * `redis-server` from PATH on a free port with AOF in `dataDir/redis` (0700);
 * else a clear error.
 */
export async function resolveRedis(options: { url?: string | undefined; dataDir: string; logger?: Logger; localUrl?: string }): Promise<ResolvedRedis> {
  if (options.url !== undefined) {
    await pingRedis(options.url);
    return { url: options.url, how: 'configured' };
  }
  const localUrl = options.localUrl ?? defaultRedisUrl;
  const local = new URL(localUrl);
  if (await canConnect(local.hostname, Number(local.port || 6379), 300)) {
    try {
      await pingRedis(localUrl);
      if (await hasMarker(localUrl)) return { url: localUrl, how: 'local' };
      options.logger?.warn(`a Redis answers on ${redactUrl(localUrl)} but has no "${slothRedisMarkerKey}" key, so it is not Sloth's; starting a private redis-server (use it with --redis-url, or mark it: redis-cli SET ${slothRedisMarkerKey} 1)`);
    } catch (error) {
      options.logger?.warn({ err: error }, `something listens on ${redactUrl(localUrl)} but does not answer; starting a private redis-server`);
    }
  }
  const server = await RedisServer.start({ dir: `${options.dataDir}/redis`, appendOnly: true });
  return { url: server.url, server, how: 'spawned' };
}

async function hasMarker(url: string): Promise<boolean> {
  const client = await probeClient(url);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.exists(slothRedisMarkerKey)) === 1;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * A one-shot client for probing a Redis. ioredis is loaded on first use, not with this module: the CLI
 * imports this module for `redactUrl`, and loading ioredis costs a few hundred milliseconds of start-up.
 */
async function probeClient(url: string): Promise<RedisClient> {
  const { Redis } = await import('ioredis');
  return new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3_000, retryStrategy: () => null, enableOfflineQueue: false });
}

/** Throws a SlothError unless the Redis at `url` answers PING within 3 s. */
/** The Redis a role uses when neither its config, `REDIS_URL` nor `--redis-url` names one. */
export const defaultRedisUrl = 'redis://127.0.0.1:6379';

/** A role's Redis (as configured, else {@link defaultRedisUrl}), checked to answer before the role starts. */
export async function reachableRedis(configured: string | undefined): Promise<string> {
  const url = configured ?? defaultRedisUrl;
  await pingRedis(url);
  return url;
}

export async function pingRedis(url: string): Promise<void> {
  const client = await probeClient(url);
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new SlothError('SLOTH_ERR_REDIS_UNAVAILABLE', `Redis at ${redactUrl(url)} does not answer: ${(error as Error).message}`, { cause: error });
  } finally {
    client.disconnect();
  }
}

export { redactUrl };
