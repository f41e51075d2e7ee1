import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const mainJs = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));
// As in a CI job's log or a pipe: standard error is not a terminal (and CI is not what keeps it quiet here).
const env = { ...process.env, CI: undefined };

let dir: string;
let input: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sloth-cli-progress-'));
  input = join(dir, 'in.csv');
  const lines = Array.from({ length: 5000 }, (_, i) => `${1_700_000_000 + i * 60},${(50 + 10 * Math.sin((2 * Math.PI * i) / 60) + (i % 7) * 0.3).toFixed(3)}`);
  await writeFile(input, `timestamp,value\n${lines.join('\n')}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A progress line redraws with a carriage return and erases with ESC [K: neither may reach a pipe. */
function expectNoProgress(stderr: string): void {
  expect(stderr).not.toContain('\r');
  expect(stderr).not.toContain('\u001b');
  expect(stderr).not.toMatch(/ rows \(| parts \(/);
}

describe('progress of sloth detect and sloth forecast off a terminal', () => {
  it('sloth detect writes no progress to a piped standard error, and the same scores as with --no-progress', async () => {
    const [a, b] = [join(dir, 'a.csv'), join(dir, 'b.csv')];
    const piped = await run(process.execPath, [mainJs, 'detect', '--input', input, '--output', a], { env });
    const quiet = await run(process.execPath, [mainJs, 'detect', '--input', input, '--output', b, '--no-progress'], { env });
    expectNoProgress(piped.stderr);
    expect(piped.stderr).toBe(quiet.stderr.replace(b, a));
    expect(await readFile(a, 'utf8')).toBe(await readFile(b, 'utf8'));
  });

  it('sloth forecast writes no progress to a piped standard error, and the same forecast on standard output as with --no-progress', async () => {
    const args = ['forecast', '--input', input, '--train-until', String(1_700_000_000 + 4999 * 60), '--horizon', '6', '--no-mlp'];
    const piped = await run(process.execPath, [mainJs, ...args], { env });
    const quiet = await run(process.execPath, [mainJs, ...args, '--no-progress'], { env });
    expectNoProgress(piped.stderr);
    expect(piped.stderr).toBe(quiet.stderr);
    expect(piped.stdout).toBe(quiet.stdout);
    expect(piped.stdout.trim().split('\n')).toHaveLength(7);
  });
});
