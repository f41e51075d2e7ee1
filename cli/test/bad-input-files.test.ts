import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Hostile and mistaken paths given to the built CLI, as a user or an attacker would (brief E part 2):
 * a FIFO (nothing ever writes it: reading it would block for ever), a directory, a file without
 * read permission, a file over the size a command reads whole, a spec that is JSON but not an
 * object. Each must end quickly with a non-zero exit and an error naming the flag or the path,
 * never a hang, a stack trace or an exit 0. Runs `cli/dist` (`npx tsc -b` first).
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const main = join(root, 'cli', 'dist', 'src', 'main.js');
const playbook = join(root, 'playbooks', 'kill-top-cpu.lua');
const dir = mkdtempSync(join(tmpdir(), 'sloth-bad-input-files-'));
const fifo = join(dir, 'fifo');
const folder = join(dir, 'folder');
const big = join(dir, 'big.csv');
const unreadable = join(dir, 'unreadable.lua');
const trace = join(dir, 'trace.csv');
/** Nobody listens there: a command that gets past its input checks fails fast on the connection. */
const deadUrl = 'http://127.0.0.1:9';

beforeAll(() => {
  const made = spawnSync('mkfifo', [fifo]);
  if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr.toString()}`);
  mkdirSync(folder);
  // Sparse: 200 MiB of size, no disk.
  const fd = openSync(big, 'w');
  closeSync(fd);
  spawnSync('truncate', ['-s', '200M', big]);
  writeFileSync(unreadable, 'return { name = "x" }\n', { mode: 0o000 });
  writeFileSync(trace, ['timestamp,value', ...Array.from({ length: 50 }, (_, i) => `${1_700_000_000 + i * 60},${10 + (i % 7)}`)].join('\n'));
  writeFileSync(join(dir, 'null.json'), 'null\n');
  writeFileSync(join(dir, 'array.json'), '[1, 2]\n');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function sloth(args: readonly string[], options: { uid?: number; gid?: number } = {}): Run {
  const result = spawnSync(process.execPath, [main, ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000, ...options });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** Ended by itself (no hang), non-zero, no stack trace, and the error names `mention`. */
function expectClearError(run: Run, mention: string | RegExp): void {
  const where = `stdout: ${run.stdout}\nstderr: ${run.stderr}`;
  expect(run.signal, `killed after 30 s (a hang)\n${where}`).toBeNull();
  expect(run.code, where).not.toBe(0);
  expect(run.stderr, where).not.toMatch(/\n\s+at /);
  expect(run.stderr, where).toMatch(mention);
}

const traceArgs = ['--capacity-per-replica', '5', '--startup-steps', '1'];

describe('paths that are not readable files', () => {
  const cases: Array<[string, string[], string | RegExp]> = [
    ['playbook run FIFO', ['playbook', 'run', fifo], fifo],
    ['playbook run DIRECTORY', ['playbook', 'run', folder], /is a directory/],
    ['playbook run --event FIFO', ['playbook', 'run', playbook, '--dry-run', '--event', fifo], fifo],
    ['playbook lint FIFO', ['playbook', 'lint', fifo], fifo],
    ['task submit --spec FIFO', ['task', 'submit', '--spec', fifo, '--scheduler', deadUrl], fifo],
    ['task submit --spec DIRECTORY', ['task', 'submit', '--spec', folder, '--scheduler', deadUrl], /is a directory/],
    ['scale plan --trace FIFO', ['scale', 'plan', '--trace', fifo, ...traceArgs, '-o', join(dir, 'plan.csv')], fifo],
    ['scale plan --trace DIRECTORY', ['scale', 'plan', '--trace', folder, ...traceArgs, '-o', join(dir, 'plan.csv')], /--trace .*is a directory/],
    ['scale plan --output DIRECTORY', ['scale', 'plan', '--trace', trace, ...traceArgs, '-o', folder], /--output .*is a directory/],
    ['scale plan --output FIFO', ['scale', 'plan', '--trace', trace, ...traceArgs, '-o', fifo], fifo],
    ['forecast --input FIFO', ['forecast', '-i', fifo, '--train-until', '1700000000', '-n', '3', '-o', join(dir, 'f.csv'), '--no-mlp'], fifo],
    ['forecast --output DIRECTORY', ['forecast', '-i', trace, '--train-until', '1700002940', '-n', '3', '-o', folder, '--no-mlp'], /--output .*is a directory/],
    ['detect --input FIFO', ['detect', '--input', fifo, '--output', join(dir, 'd.csv'), '--stats-only'], fifo],
    ['detect --output DIRECTORY', ['detect', '--input', trace, '--output', folder, '--stats-only'], /--output .*is a directory/],
    ['report --token-file FIFO', ['report', '--format', 'json', '--token-file', fifo, '--collector', deadUrl], fifo],
    ['report --output DIRECTORY', ['report', '--format', 'md', '--output', folder, '--collector', deadUrl, '--token', 'x'], /--output .*is a directory/],
    ['collector --config FIFO', ['collector', '--config', fifo], fifo],
  ];
  for (const [name, args, mention] of cases) {
    it(name, () => {
      expectClearError(sloth(args), mention);
    });
  }
});

describe('JSON that is not an object', () => {
  for (const file of ['null.json', 'array.json']) {
    it(`task submit --spec ${file}`, () => {
      expectClearError(sloth(['task', 'submit', '--spec', join(dir, file), '--scheduler', deadUrl]), /spec .*must be a JSON object/);
    });
  }
});

describe('a file larger than a command reads whole', () => {
  it('playbook run BIG', () => {
    expectClearError(sloth(['playbook', 'run', big]), /200\.0 MiB.*at most 128\.0 MiB/);
  });
  it('scale plan --trace BIG', () => {
    expectClearError(sloth(['scale', 'plan', '--trace', big, ...traceArgs, '-o', join(dir, 'plan.csv')]), /--trace .*200\.0 MiB/);
  });
});

describe('a file without read permission', () => {
  it.skipIf(process.getuid?.() !== 0)('playbook run UNREADABLE, as another user', () => {
    chmodSync(dir, 0o755);
    expectClearError(sloth(['playbook', 'run', unreadable], { uid: 65534, gid: 65534 }), /cannot be read \(EACCES\)/);
  });
});
