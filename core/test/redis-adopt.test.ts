import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { canConnect, freePort, resolveRedis, silentLogger, sleep, slothRedisMarkerKey, type Logger, type RedisServer } from '../src/index.js';
import { ensureRedisPassword } from '../src/redis-server.js';

/**
 * `resolveRedis` as `sloth up` uses it, with the "well-known" Redis (127.0.0.1:6379 in `sloth up`) on a
 * free port (`localUrl`): the machine's own 6379 is never touched. The servers standing in for one
 * another user started there are plain redis-server processes, as an attacker would start them.
 */
describe('resolveRedis (sloth up)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-redis-adopt-'));
  const started: RedisServer[] = [];
  const foreign: ChildProcess[] = [];
  afterAll(async () => {
    for (const server of started) await server.stop();
    for (const child of foreign) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** A redis-server started as any local user could (`requirepass` given only when `password` is), marked as Sloth's. */
  const foreignRedis = async (password?: string): Promise<{ url: string; port: number }> => {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(password === undefined ? [] : ['--requirepass', password])];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    foreign.push(child);
    for (let i = 0; i < 200 && !(await canConnect('127.0.0.1', port, 200)); i += 1) await sleep(25);
    const client = new Redis(port, '127.0.0.1', password === undefined ? {} : { password });
    await client.set(slothRedisMarkerKey, '1');
    client.disconnect();
    return { url: `redis://127.0.0.1:${port}`, port };
  };

  /** A logger whose warnings the test reads. */
  const recordingLogger = (): { logger: Logger; warnings: string[] } => {
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push((JSON.parse(line) as { msg: string }).msg) });
    return { logger, warnings };
  };

  it('does not adopt a Redis without the marker key; its own data dir is 0700', async () => {
    // A server with the data dir's password but no marker: not adopted (the marker is still asked for).
    const dataDir = join(dir, 'data');
    const theirs = await foreignRedis(ensureRedisPassword(join(dataDir, 'redis')));
    const client = new Redis(`redis://:${ensureRedisPassword(join(dataDir, 'redis'))}@127.0.0.1:${theirs.port}`);
    await client.del(slothRedisMarkerKey);
    client.disconnect();
    const first = await resolveRedis({ dataDir, localUrl: theirs.url, logger: silentLogger() });
    if (first.server !== undefined) started.push(first.server);
    expect(first.how).toBe('spawned');
    expect(new URL(first.url).port).not.toBe(String(theirs.port));
    expect(statSync(join(dataDir, 'redis')).mode & 0o777).toBe(0o700);
  });

  it('never adopts a marked Redis that answers without a password (any local user could have started it)', async () => {
    const theirs = await foreignRedis();
    const { logger, warnings } = recordingLogger();
    const resolved = await resolveRedis({ dataDir: join(dir, 'open'), localUrl: theirs.url, logger });
    if (resolved.server !== undefined) started.push(resolved.server);
    expect(resolved.how).toBe('spawned');
    expect(new URL(resolved.url).port).not.toBe(String(theirs.port));
    expect(warnings.join('\n')).toMatch(/answers without a password \(any local user could have started it\), so it is not Sloth's/);
    // Nothing of Sloth's went there but the marker its starter set.
    const client = new Redis(theirs.url);
    expect(await client.keys('*')).toEqual([slothRedisMarkerKey]);
    client.disconnect();
  });

  it('never adopts a marked Redis that demands another password', async () => {
    const theirs = await foreignRedis('a-password-sloth-never-made-0123456789');
    const { logger, warnings } = recordingLogger();
    const resolved = await resolveRedis({ dataDir: join(dir, 'other'), localUrl: theirs.url, logger });
    if (resolved.server !== undefined) started.push(resolved.server);
    expect(resolved.how).toBe('spawned');
    expect(warnings.join('\n')).toMatch(/does not accept the password in \S+sloth-redis\.password, so it is not Sloth's/);
  });

  it("adopts a marked Redis that demands the data dir's password, with the password in the URL it returns", async () => {
    const dataDir = join(dir, 'ours');
    const password = ensureRedisPassword(join(dataDir, 'redis'));
    const theirs = await foreignRedis(password);
    const resolved = await resolveRedis({ dataDir, localUrl: theirs.url, logger: silentLogger() });
    expect(resolved).toEqual({ url: `redis://:${password}@127.0.0.1:${theirs.port}`, how: 'local' });
    const client = new Redis(resolved.url);
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });

  it('uses a configured URL as given, warning once when it is on this host without a password', async () => {
    const open = await foreignRedis();
    const { logger, warnings } = recordingLogger();
    expect(await resolveRedis({ url: open.url, dataDir: join(dir, 'configured'), logger })).toEqual({ url: open.url, how: 'configured' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^the Redis at redis:\/\/127\.0\.0\.1:\d+ has no password in its URL: any user of this host can connect to it and queue playbooks/);

    const guarded = await foreignRedis('a-configured-password-0123456789abcdef');
    const url = `redis://:a-configured-password-0123456789abcdef@localhost:${guarded.port}`;
    const quiet = recordingLogger();
    expect(await resolveRedis({ url, dataDir: join(dir, 'configured'), logger: quiet.logger })).toEqual({ url, how: 'configured' });
    expect(quiet.warnings).toEqual([]);
  });
});
