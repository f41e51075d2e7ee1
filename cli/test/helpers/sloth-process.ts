import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** The repository root and the built CLI these tests spawn (`npx tsc -b` first). */
export const root = fileURLToPath(new URL('../../../', import.meta.url));
/** `SLOTH_TEST_CLI` runs another build instead (a copy of the old one, to see a new test fail before its fix). */
export const main = process.env.SLOTH_TEST_CLI ?? join(root, 'cli', 'dist', 'src', 'main.js');

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI; a run still going after `killAfterMillis` is killed, so a hang fails the test instead of the suite. */
export async function sloth(args: readonly string[], options: { cwd: string; killAfterMillis?: number }): Promise<Run> {
  // Asynchronous: a test's own HTTP server must keep answering while the CLI runs.
  const child = spawn(process.execPath, [main, ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMillis ?? 30_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  return { code, signal, stdout, stderr };
}

/** Ended by itself (no hang), non-zero, no stack trace, and stderr names every `mention`. */
export function expectClearError(run: Run, ...mentions: Array<string | RegExp>): void {
  const where = `stdout: ${run.stdout}\nstderr: ${run.stderr}`;
  expect(run.signal, `killed (a hang)\n${where}`).toBeNull();
  expect(run.code, where).not.toBe(0);
  expect(run.stderr, where).not.toMatch(/\n\s+at /);
  expect(run.stderr, where).not.toMatch(/unexpected error/);
  for (const mention of mentions) expect(run.stderr, where).toMatch(mention);
}
