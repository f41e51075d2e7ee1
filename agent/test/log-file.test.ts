import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RotatingLogFile } from '../src/log-file.js';

describe('RotatingLogFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-logfile-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rotates by size and keeps maxFiles old files, newest first', async () => {
    const path = join(dir, 'logs', 'agent.log');
    const file = new RotatingLogFile({ path, maxBytes: 100, maxFiles: 2 });
    // 10 lines of 40 bytes: 2 lines fit per file → 5 files written, 3 kept.
    for (let i = 0; i < 10; i++) file.write(`${`line ${i}`.padEnd(39, '.')}\n`);
    file.close();
    expect((await readdir(join(dir, 'logs'))).sort()).toEqual(['agent.log', 'agent.log.1', 'agent.log.2']);
    const lines = async (name: string): Promise<string[]> => (await readFile(join(dir, 'logs', name), 'utf8')).trim().split('\n').map((l) => l.slice(0, 6));
    expect(await lines('agent.log')).toEqual(['line 8', 'line 9']);
    expect(await lines('agent.log.1')).toEqual(['line 6', 'line 7']);
    expect(await lines('agent.log.2')).toEqual(['line 4', 'line 5']);
  });

  it('appends to an existing file and counts its size', async () => {
    const path = join(dir, 'agent.log');
    const first = new RotatingLogFile({ path, maxBytes: 50, maxFiles: 1 });
    first.write(`${'a'.repeat(39)}\n`);
    first.close();
    const second = new RotatingLogFile({ path, maxBytes: 50, maxFiles: 1 });
    second.write(`${'b'.repeat(39)}\n`);
    second.close();
    expect(await readFile(`${path}.1`, 'utf8')).toBe(`${'a'.repeat(39)}\n`);
    expect(await readFile(path, 'utf8')).toBe(`${'b'.repeat(39)}\n`);
  });
});
