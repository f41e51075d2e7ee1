import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built replay script (bench/live/recorded.ts, run `npx tsc -b` first), run as a user runs it.
const script = fileURLToPath(new URL('../../../dist/bench/live/recorded.js', import.meta.url));

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-recorded-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function run(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { timeout: 150_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

/** A data dir whose collector store file holds `content`. */
function dataDirWith(name: string, content: string | Buffer): string {
  const dataDir = join(dir, name);
  mkdirSync(join(dataDir, 'collector'), { recursive: true });
  writeFileSync(join(dataDir, 'collector', 'sloth.db'), content);
  return dataDir;
}

// Each run loads the analytics package (TensorFlow.js included): 10–25 s on a loaded 2-core machine.
describe('bench/live/recorded.js refuses bad input with a clear error (exit 2, no stack)', { timeout: 180_000 }, () => {
  it('a data dir that does not exist', async () => {
    const missing = join(dir, 'nowhere');
    const { code, stdout, stderr } = await run(['--data-dir', missing]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`--data-dir ${missing}: no such directory`);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('a directory without a collector store', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const { code, stderr } = await run(['--data-dir', empty]);
    expect(code).toBe(2);
    expect(stderr).toContain(`no collector store in ${empty}`);
  });

  it('a store file that is not a collector store: garbage bytes, an empty SQLite file', async () => {
    for (const [name, content] of [
      ['garbage', Buffer.from('this is not a database, just text that happens to sit where the store should be\n'.repeat(100))],
      ['zero-bytes', ''],
    ] as const) {
      const dataDir = dataDirWith(name, content);
      const { code, stderr } = await run(['--data-dir', dataDir]);
      expect(code, name).toBe(2);
      expect(stderr, name).toContain(`${join(dataDir, 'collector', 'sloth.db')} is not a readable collector store (`);
      expect(stderr, name).not.toMatch(/\n\s+at /);
    }
  });

  it('--set whose value is not JSON, names the key and says strings need quotes', async () => {
    const { code, stderr } = await run(['--data-dir', dir, '--set', 'incidentHold=midway']);
    expect(code).toBe(2);
    expect(stderr).toContain('--set incidentHold: the value must be JSON');
    expect(stderr).toContain(`incidentHold='"text"'`);
  });

  it('--set with a key analytics does not have (a typo would silently replay the defaults)', async () => {
    const { code, stderr } = await run(['--data-dir', dir, '--set', 'anomalyThresold=0.7']);
    expect(code).toBe(2);
    expect(stderr).toContain('--set anomalyThresold: unknown analytics setting; expected one of');
    expect(stderr).toContain('anomalyThreshold');
  });

  it('--set with a value the setting refuses, naming the setting', async () => {
    const dataDir = dataDirWith('for-value', '');
    const { code, stderr } = await run(['--data-dir', dataDir, '--set', 'anomalyThreshold=2']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--set: invalid configuration[^]*anomalyThreshold = 2/);
  });

  it('--set without "="', async () => {
    const { code, stderr } = await run(['--data-dir', dir, '--set', 'anomalyThreshold']);
    expect(code).toBe(2);
    expect(stderr).toContain('--set takes key=JSON');
  });
});
