import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notRegularFileProblem, readConfigFile, readRegularFile, specialFileKind } from '../src/index.js';

describe('readRegularFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sloth-regular-file-'));
  const fifo = join(dir, 'fifo');
  const socketPath = join(dir, 'socket');
  let socket: Server;

  beforeAll(async () => {
    expect(spawnSync('mkfifo', ['-m', '600', fifo]).status).toBe(0);
    socket = createServer();
    await new Promise<void>((resolve) => socket.listen(socketPath, resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a regular file whole', () => {
    const path = join(dir, 'plain');
    writeFileSync(path, 'hello\n');
    const read = readRegularFile(path, { maxBytes: 100 });
    expect(read.ok && read.bytes.toString('utf8')).toBe('hello\n');
  });

  it('names what a path is when it is not a regular file, without blocking on a FIFO', () => {
    const cases: Array<[string, string]> = [
      [fifo, 'is not a regular file (a FIFO)'],
      [dir, 'is not a regular file (a directory)'],
      ['/dev/zero', 'is not a regular file (a character device)'],
      [socketPath, 'is not a regular file (a socket)'],
      [join(dir, 'missing'), 'does not exist'],
    ];
    for (const [path, problem] of cases) {
      const read = readRegularFile(path, { maxBytes: 1024 });
      expect({ path, problem: read.ok ? 'read' : read.problem }).toEqual({ path, problem });
    }
    expect(specialFileKind(statSync(fifo))).toBe('a FIFO');
    expect(notRegularFileProblem(statSync(join(dir, 'plain')))).toBeUndefined();
  });

  it('refuses a file over the limit by its size, before reading it', () => {
    const path = join(dir, 'sparse');
    writeFileSync(path, '');
    truncateSync(path, 3 * 1024 * 1024);
    const read = readRegularFile(path, { maxBytes: 1024 * 1024 });
    expect(read.ok ? 'read' : read.problem).toBe('is 3.0 MiB, more than the 1.0 MiB it may hold; is it the right file?');
  });

  it("runs the caller's check on the opened file", () => {
    const path = join(dir, 'checked');
    writeFileSync(path, 'x', { mode: 0o644 });
    const read = readRegularFile(path, { maxBytes: 10, check: (stats) => ((stats.mode & 0o077) === 0 ? undefined : 'is readable by others') });
    expect(read.ok ? 'read' : read.problem).toBe('is readable by others');
  });

  it('refuses a config file that is a FIFO or a socket by what it is (--config)', () => {
    expect(() => readConfigFile(fifo)).toThrow(`config file ${fifo} is not a regular file (a FIFO); give a YAML file`);
    expect(() => readConfigFile(socketPath)).toThrow(`config file ${socketPath} is not a regular file (a socket); give a YAML file`);
  });
});
