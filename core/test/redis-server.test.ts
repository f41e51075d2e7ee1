import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

  it('adopts the redis-server a killed process left running in the same directory instead of starting a second one on its AOF', async () => {
    const orphanDir = mkdtempSync(join(tmpdir(), 'sloth-redis-orphan-'));
    const core = fileURLToPath(new URL('../dist/src/index.js', import.meta.url));
    // A process that starts a server and is then killed with SIGKILL, as `sloth up` can be: its redis-server lives on.
    const owner = spawn(process.execPath, ['--input-type=module', '-e', `import { RedisServer } from ${JSON.stringify(core)}; const s = await RedisServer.start({ dir: ${JSON.stringify(orphanDir)} }); process.stdout.write(s.url + '\\n'); setInterval(() => undefined, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const firstUrl = await new Promise<string>((resolve, reject) => {
      owner.stdout.on('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      owner.once('exit', (code) => reject(new Error(`owner exited with ${String(code)}`)));
    });
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
