import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { canConnect, freePort, RedisServer, pingRedis, redactUrl, sleep } from '../src/index.js';
import { redisPasswordPath } from '../src/redis-server.js';

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

  it('demands a password from a file of its directory (0600, 0700 dir) that ps never shows; its own URL carries it', async () => {
    const guardedDir = join(mkdtempSync(join(tmpdir(), 'sloth-redis-auth-')), 'redis');
    const guarded = await RedisServer.start({ dir: guardedDir, appendOnly: false });
    try {
      const passwordFile = redisPasswordPath(guardedDir);
      const password = readFileSync(passwordFile, 'utf8').trim();
      expect(password).toMatch(/^[0-9a-f]{64}$/); // 32 random bytes
      expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
      expect(statSync(guardedDir).mode & 0o777).toBe(0o700);
      expect(guarded.url).toBe(`redis://:${password}@127.0.0.1:${guarded.port}`);
      expect(redactUrl(guarded.url)).toBe(`redis://:***@127.0.0.1:${guarded.port}`);

      // Any local user without the password is refused every command.
      const stranger = new Redis(guarded.port, '127.0.0.1', { enableReadyCheck: false, maxRetriesPerRequest: 0 });
      stranger.on('error', () => undefined);
      await expect(stranger.ping()).rejects.toThrow(/^NOAUTH/);
      await expect(stranger.set('k', 'v')).rejects.toThrow(/^NOAUTH/);
      stranger.disconnect();
      await expect(pingRedis(`redis://127.0.0.1:${guarded.port}`)).rejects.toThrow(/NOAUTH/);
      const own = new Redis(guarded.url);
      expect(await own.set('k', 'v')).toBe('OK');
      own.disconnect();

      // Not on its command line, not in its environment, not in ps.
      const { pid } = JSON.parse(readFileSync(join(guardedDir, 'sloth-redis.json'), 'utf8')) as { pid: number };
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('redis-server');
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(password);
      expect(readFileSync(`/proc/${pid}/environ`, 'utf8')).not.toContain(password);
      expect(execFileSync('ps', ['-eww', '-o', 'pid=,args='], { encoding: 'utf8' })).not.toContain(password);

      // The same password after a restart and on a later start in the same directory.
      await guarded.restart();
      const again = new Redis(guarded.url);
      expect(await again.ping()).toBe('PONG');
      again.disconnect();
      await guarded.stop();
      const later = await RedisServer.start({ dir: guardedDir, appendOnly: false });
      expect(new URL(later.url).password).toBe(password);
      await later.stop();
    } finally {
      await guarded.stop();
    }
  });

  it('refuses a password file other users may read, naming the fix', async () => {
    const looseDir = mkdtempSync(join(tmpdir(), 'sloth-redis-loose-'));
    writeFileSync(redisPasswordPath(looseDir), `${'ab'.repeat(32)}\n`, { mode: 0o644 });
    chmodSync(redisPasswordPath(looseDir), 0o644);
    await expect(RedisServer.start({ dir: looseDir, appendOnly: false })).rejects.toThrow(/sloth-redis\.password is readable by other users \(mode 0644\); run: chmod 600/);
    writeFileSync(redisPasswordPath(looseDir), 'short\n', { mode: 0o600 });
    chmodSync(redisPasswordPath(looseDir), 0o600);
    await expect(RedisServer.start({ dir: looseDir, appendOnly: false })).rejects.toThrow(/does not hold a password/);
  });

  it('refuses to adopt a recorded orphan that does not demand the password of its directory', async () => {
    const orphanDir = mkdtempSync(join(tmpdir(), 'sloth-redis-impostor-'));
    const port = await freePort();
    // A password-less redis-server that is not this process's child (its shell exits), as another user's would be.
    const pid = Number(execFileSync('sh', ['-c', `redis-server --port ${port} --bind 127.0.0.1 --save '' --appendonly no --dir '${orphanDir}' >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' }).trim());
    try {
      for (let i = 0; i < 200 && !(await canConnect('127.0.0.1', port, 200)); i += 1) await sleep(25);
      const gone = spawnSync('true').pid; // an owner that no longer runs
      writeFileSync(join(orphanDir, 'sloth-redis.json'), JSON.stringify({ pid, port, owner: gone, dir: orphanDir }), { mode: 0o600 });
      await expect(RedisServer.start({ dir: orphanDir, appendOnly: false })).rejects.toThrow(
        new RegExp(`recorded in .* \\(pid ${pid}, port ${port}\\) answers without a password .*: stop it \\(kill ${pid}\\)`),
      );
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });

  it('adopts the redis-server a killed process left running in the same directory instead of starting a second one on its AOF', async () => {
    const orphanDir = mkdtempSync(join(tmpdir(), 'sloth-redis-orphan-'));
    const core = fileURLToPath(new URL('../dist/src/index.js', import.meta.url));
    // A process that starts a server and is then killed with SIGKILL, as `sloth up` can be: its redis-server lives on.
    const owner = spawn(process.execPath, ['--input-type=module', '-e', `import { RedisServer } from ${JSON.stringify(core)}; const s = await RedisServer.start({ dir: ${JSON.stringify(orphanDir)} }); process.stdout.write(s.url + '\\n'); setInterval(() => undefined, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const firstUrl = await new Promise<string>((resolve, reject) => {
      owner.stdout.on('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      owner.once('exit', (code) => reject(new Error(`owner exited with ${String(code)}`)));
    });
    expect(new URL(firstUrl).password).toBe(readFileSync(redisPasswordPath(orphanDir), 'utf8').trim());
    const writer = new Redis(firstUrl);
    await writer.set('written-before-the-crash', 'kept');
    writer.disconnect();
    const { pid } = JSON.parse(readFileSync(join(orphanDir, 'sloth-redis.json'), 'utf8')) as { pid: number };
    // While the process that started it lives, another process's start refuses, naming it (a second `sloth up`
    // on the same data dir must neither adopt, and later stop, the first one's Redis nor run a second on its AOF).
    await expect(RedisServer.start({ dir: orphanDir })).rejects.toThrow(/belongs to process \d+, which is still running \(another sloth up on this data dir\?\)/);
    owner.kill('SIGKILL');
    await new Promise((resolve) => owner.once('exit', resolve));
    // Alive: not gone, not a zombie (an orphan's new parent may be slow to reap it once it exits).
    const alive = (): boolean => existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    expect(alive()).toBe(true); // the orphan

    const adopted = await RedisServer.start({ dir: orphanDir });
    expect(adopted.adoptedPid).toBe(pid);
    expect(adopted.url).toBe(firstUrl);
    // Adopted, it is this process's: a third process is refused as the second was while the first lived.
    const third = spawnSync(process.execPath, ['--input-type=module', '-e', `import { RedisServer } from ${JSON.stringify(core)}; try { await RedisServer.start({ dir: ${JSON.stringify(orphanDir)} }); console.log('started'); } catch (e) { console.log(e.message); }`], { encoding: 'utf8' });
    expect(third.stdout).toContain(`belongs to process ${process.pid}, which is still running`);
    const reader = new Redis(adopted.url);
    expect(await reader.get('written-before-the-crash')).toBe('kept'); // in memory, whatever the AOF had flushed
    reader.disconnect();
    await adopted.stop();
    expect(alive()).toBe(false);
    expect(existsSync(join(orphanDir, 'sloth-redis.json'))).toBe(false);

    // With nothing left running, a start spawns a server of its own again.
    const fresh = await RedisServer.start({ dir: orphanDir });
    expect(fresh.adoptedPid).toBeUndefined();
    await fresh.stop();
  });

  it('names the install command when redis-server is missing', async () => {
    await expect(RedisServer.start({ dir, binary: 'redis-server-that-does-not-exist' })).rejects.toThrow(/apt-get install redis-server/);
  });
});
