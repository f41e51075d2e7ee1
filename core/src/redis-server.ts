import { redactUrl } from './redact.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Redis as RedisClient } from 'ioredis';
import { SlothError } from './errors.js';
import { canConnect, freePort, sleep } from './net.js';
import type { Logger } from './logger.js';
import { ensureRedisPassword, redisPasswordPath, redisUrlWithPassword } from './redis-password.js';

/** Where a started server's pid and port are kept in its directory, so a later start can find it if it outlived its parent. */
const stateFileName = 'sloth-redis.json';

/** Whether `pid` is a live process (a zombie, dead but not yet reaped, is not). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const fields = statFields(pid);
  return fields === undefined || fields[0] !== 'Z'; // no /proc: signal 0 is all there is
}

/**
 * The pid of a redis-server a previous Sloth process started in `dir` and left running when it died
 * (SIGKILL: its child outlives it): the recorded process is alive, is a redis-server (Linux /proc)
 * whose parent is not this process, the process that started it is gone, and it answers on the
 * recorded port, demanding the password of `dir`. Undefined otherwise.
 */
async function orphanedServer(dir: string, password: string): Promise<{ pid: number; port: number } | undefined> {
  let state: unknown;
  try {
    state = JSON.parse(readFileSync(join(dir, stateFileName), 'utf8'));
  } catch {
    return undefined;
  }
  const { pid, port, owner } = (state ?? {}) as { pid?: unknown; port?: unknown; owner?: unknown };
  if (!Number.isInteger(pid) || !Number.isInteger(port) || (pid as number) <= 1 || (port as number) <= 0 || (port as number) > 65_535) return undefined;
  if (!Number.isInteger(owner) || (owner as number) === process.pid || !processAlive(pid as number)) return undefined;
  // First that the recorded process is still that redis-server (after a reboot both pids may name others).
  const started = startTicks(pid as number);
  try {
    if (started === undefined || !readFileSync(`/proc/${pid as number}/cmdline`, 'utf8').includes('redis-server')) return undefined;
    if (parentPid(pid as number) === process.pid) return undefined;
  } catch {
    return undefined;
  }
  if (!(await canConnect('127.0.0.1', port as number, 300))) return undefined;
  // Its owner lives on (and is not a later process that got the same pid): a second `sloth up` on the same
  // data dir must neither take that Redis (and stop it when it gives up) nor run a second server on its AOF.
  const ownerStarted = startTicks(owner as number);
  if (processAlive(owner as number) && ownerStarted !== undefined && ownerStarted <= started) {
    throw new SlothError(
      'SLOTH_ERR_REDIS_UNAVAILABLE',
      `the redis-server of ${dir} (pid ${pid as number}, port ${port as number}) belongs to process ${owner as number}, which is still running (another sloth up on this data dir?): stop it, or give this one its own --data-dir`,
    );
  }
  // The recorded pid and port could name another user's redis-server by now: only one that demands
  // this directory's password is the one Sloth started here.
  const auth = await probeRedisAuth(`redis://127.0.0.1:${port as number}`, password);
  if (auth.kind !== 'accepted') {
    throw new SlothError(
      'SLOTH_ERR_REDIS_UNAVAILABLE',
      `the redis-server recorded in ${dir} (pid ${pid as number}, port ${port as number}) ${authProblem(auth.kind, redisPasswordPath(dir))}, so it is not one this Sloth started (or it was started before Sloth's Redis had a password): stop it (kill ${pid as number}) and start again`,
    );
  }
  return { pid: pid as number, port: port as number };
}

/** Fields of `/proc/PID/stat` after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** When the process started, in clock ticks since boot (field 22), or undefined. */
function startTicks(pid: number): number | undefined {
  const value = Number(statFields(pid)?.[19]);
  return Number.isFinite(value) ? value : undefined;
}

function parentPid(pid: number): number | undefined {
  const value = Number(statFields(pid)?.[1]);
  return Number.isFinite(value) ? value : undefined;
}

/** Records the server of `dir` and the process that owns it now (its starter, or the one that adopted it). */
function writeState(dir: string, pid: number | undefined, port: number): void {
  writeFileSync(join(dir, stateFileName), JSON.stringify({ pid, port, owner: process.pid, dir: resolve(dir) }), { mode: 0o600 });
}

/** A `redis-server` process Sloth started and owns; it demands the password kept in its directory. */
export class RedisServer {
  /** `redis://:PASSWORD@127.0.0.1:PORT`: a secret, never logged or printed (show `redactUrl(url)`). */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Set when this server was started by an earlier Sloth process that died, and adopted by {@link RedisServer.start}. */
  readonly adoptedPid: number | undefined;
  private child: ChildProcess | undefined;
  private readonly appendOnly: boolean;
  private readonly password: string;

  private constructor(port: number, dir: string, password: string, appendOnly: boolean, adoptedPid?: number) {
    this.port = port;
    this.dir = dir;
    this.password = password;
    this.url = redisUrlWithPassword(`redis://127.0.0.1:${port}`, password);
    this.appendOnly = appendOnly;
    this.adoptedPid = adoptedPid;
  }

  /**
   * Starts `redis-server` from PATH on `port` (a free one by default), keeping
   * its data (AOF when `appendOnly`) in `dir`. Resolves when it answers PING.
   * It demands the password of `dir` (made there once, mode 0600, see
   * `redis-password.ts`), given to it on stdin so that `ps` never shows it.
   * When a redis-server started in `dir` by an earlier process outlived it (that
   * process was killed), it is adopted instead: a second server on the same AOF
   * would fight the first over its files, and the first holds the newest data.
   */
  static async start(options: { dir: string; port?: number; appendOnly?: boolean; binary?: string }): Promise<RedisServer> {
    // Redis' AOF holds every queued job and stream entry: private to this user (the directory is made 0700).
    const password = ensureRedisPassword(options.dir);
    const orphan = await orphanedServer(options.dir, password);
    if (orphan !== undefined) {
      // Ours now: a later start must see this process as the owner, not the dead one.
      writeState(options.dir, orphan.pid, orphan.port);
      return new RedisServer(orphan.port, options.dir, password, options.appendOnly ?? true, orphan.pid);
    }
    const server = new RedisServer(options.port ?? (await freePort()), options.dir, password, options.appendOnly ?? true);
    await server.spawn(options.binary ?? 'redis-server');
    return server;
  }


  private async spawn(binary: string): Promise<void> {
    // `-` first: the configuration is read from stdin (requirepass), then the arguments; the password is never in argv.
    const args = [
      '-',
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
    // Its own process group: a Ctrl-C in the terminal (SIGINT to the whole foreground group) must not stop Redis
    // under the roles that are still flushing to it; whoever started it stops it, last (and a server left behind by
    // a killed parent is adopted by the next start in this directory).
    const child = spawn(binary, args, { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    this.child = child;
    // A binary that is missing or exits at once closes stdin unread: that shows as the spawn error or the exit code below.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(`requirepass ${this.password}\n`);
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
      if (await canConnect('127.0.0.1', this.port, 200)) {
        writeState(this.dir, child.pid, this.port);
        return;
      }
    }
    child.kill('SIGKILL');
    throw new SlothError('SLOTH_ERR_REDIS_UNAVAILABLE', `redis-server did not accept connections on port ${this.port} within 10 s: ${stderr.trim()}`);
  }

  /** Kills the server at once (SIGKILL), as a crash would. */
  kill(): void {
    if (this.child !== undefined) this.child.kill('SIGKILL');
    else if (this.adoptedPid !== undefined && processAlive(this.adoptedPid)) process.kill(this.adoptedPid, 'SIGKILL');
  }

  /** Starts the same server again on the same port and directory. */
  async restart(binary = 'redis-server'): Promise<void> {
    await this.stop();
    await this.spawn(binary);
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) {
      await this.stopAdopted();
      return;
    }
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    rmSync(join(this.dir, stateFileName), { force: true });
  }

  /** An adopted server is not our child: no exit event, so its end is polled. */
  private async stopAdopted(): Promise<void> {
    const pid = this.adoptedPid;
    if (pid === undefined || !processAlive(pid)) return;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 5_000;
    while (processAlive(pid) && Date.now() < deadline) await sleep(50);
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && processAlive(pid); i += 1) await sleep(20);
    rmSync(join(this.dir, stateFileName), { force: true });
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
 * not start only when this key exists there (`redis-cli SET sloth:marker 1`)
 * and it demands the password of the data dir (see {@link resolveRedis}).
 */
export const slothRedisMarkerKey = 'sloth:marker';

/**
 * The Redis rule of `sloth up`: the configured URL (`REDIS_URL` / `--redis-url`), used as given (with a
 * warning when it is on this host and has no password: every local user can reach it); else
 * `redis://127.0.0.1:6379` (`localUrl`) when it demands the password kept in `dataDir/redis`, accepts it and
 * carries {@link slothRedisMarkerKey} (a Redis without that password could have been started by any
 * local user: never adopted); else `redis-server` from PATH on a free port, demanding that password,
 * with AOF in `dataDir/redis` (0700); else a clear error. The URL returned carries the password.
 */
export async function resolveRedis(options: { url?: string | undefined; dataDir: string; logger?: Logger; localUrl?: string }): Promise<ResolvedRedis> {
  if (options.url !== undefined) {
    await pingRedis(options.url);
    if (openOnThisHost(options.url)) {
      options.logger?.warn(`the Redis at ${redactUrl(options.url)} has no password in its URL: any user of this host can connect to it and queue playbooks that the agents using it run; give it a password (requirepass) and put it in the URL (redis://:PASSWORD@host:port), or leave out --redis-url / REDIS_URL and let sloth up start its own`);
    }
    return { url: options.url, how: 'configured' };
  }
  const dir = `${options.dataDir}/redis`;
  const password = ensureRedisPassword(dir);
  const localUrl = options.localUrl ?? defaultRedisUrl;
  const local = new URL(localUrl);
  if (await canConnect(local.hostname, Number(local.port || 6379), 300)) {
    const auth = await probeRedisAuth(localUrl, password);
    if (auth.kind === 'accepted' && auth.marked) return { url: redisUrlWithPassword(localUrl, password), how: 'local' };
    const why = auth.kind === 'accepted' ? `demands Sloth's password but has no "${slothRedisMarkerKey}" key (mark it: redis-cli SET ${slothRedisMarkerKey} 1)` : authProblem(auth.kind, redisPasswordPath(dir));
    options.logger?.warn(`${redactUrl(localUrl)} ${why}, so it is not Sloth's Redis: not adopted; starting a private redis-server (to use that Redis anyway, pass it with --redis-url)`);
  }
  const server = await RedisServer.start({ dir, appendOnly: true });
  return { url: server.url, server, how: 'spawned' };
}

/** Whether `url` names a Redis on this host (loopback) without a password: every local user reaches it. */
function openOnThisHost(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return loopback && parsed.password === '';
}

/** How a Redis answered a client without credentials and then `password`. */
type RedisAuth =
  | { kind: 'accepted'; marked: boolean }
  /** PING answered without AUTH: anyone can use it. */
  | { kind: 'open' }
  /** It demands a password, not this one. */
  | { kind: 'other-password' }
  /** No Redis answer (not Redis, or it hung up). */
  | { kind: 'no-answer' };

function authProblem(kind: Exclude<RedisAuth['kind'], 'accepted'>, passwordPath: string): string {
  switch (kind) {
    case 'open':
      return 'answers without a password (any local user could have started it)';
    case 'other-password':
      return `does not accept the password in ${passwordPath}`;
    case 'no-answer':
      return 'does not answer as Redis does';
  }
}

/**
 * Whether the Redis at `url` (its credentials ignored) refuses a client without credentials (NOAUTH)
 * and accepts `password`, and then whether it carries {@link slothRedisMarkerKey}. AUTH is sent by
 * hand, not by ioredis on connect: ioredis prints a warning to the console when a server has no password.
 */
async function probeRedisAuth(url: string, password: string): Promise<RedisAuth> {
  const bare = new URL(url);
  bare.username = '';
  bare.password = '';
  const { Redis } = await import('ioredis');
  // No ready check: its INFO would fail with NOAUTH before this probe could authenticate.
  const client = new Redis(bare.toString(), { lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, connectTimeout: 3_000, retryStrategy: () => null, enableOfflineQueue: false });
  client.on('error', () => undefined);
  try {
    await client.connect();
    try {
      await client.ping();
      return { kind: 'open' };
    } catch (error) {
      if (!(error as Error).message.startsWith('NOAUTH')) return { kind: 'no-answer' };
    }
    try {
      await client.call('AUTH', password);
    } catch {
      return { kind: 'other-password' };
    }
    // A server still loading its AOF refuses EXISTS for a moment: it is still the one with this password.
    const marked = await client.exists(slothRedisMarkerKey).then((n) => n === 1, () => false);
    return { kind: 'accepted', marked };
  } catch {
    return { kind: 'no-answer' };
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
  // A failed ready check (NOAUTH, WRONGPASS) surfaces as "Connection is closed."; the reason is the last error emitted.
  let emitted: Error | undefined;
  client.on('error', (error: Error) => {
    emitted = error;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    const reason = /NOAUTH|WRONGPASS/.test(emitted?.message ?? '') ? (emitted as Error).message : (error as Error).message;
    const hint = /NOAUTH/.test(reason) ? ' (it requires a password: put it in the URL, redis://:PASSWORD@host:port)' : /WRONGPASS/.test(reason) ? ' (the password in the URL is not its password)' : '';
    throw new SlothError('SLOTH_ERR_REDIS_UNAVAILABLE', `Redis at ${redactUrl(url)} does not answer: ${reason}${hint}`, { cause: error });
  } finally {
    client.disconnect();
  }
}

export { redactUrl };
export { ensureRedisPassword, readRedisPassword, redisPasswordPath } from './redis-password.js';
