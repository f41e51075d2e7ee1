/**
 * The bench tools' command line (bench/tool-args.ts), run as a user runs them (`node --import tsx`):
 * `--help` prints the usage and exits 0; an unknown flag or a bad value prints the problem and the usage
 * and exits 2, with no stack trace. None of these calls gets as far as starting any work.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));

function run(tool: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', `bench/${tool}`, ...args], { cwd: repo, timeout: 50_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

const noStackTrace = (text: string): void => expect(text).not.toMatch(/^\s+at /m);

describe('bench tools answer on their command line', () => {
  test('--help: the usage with each option and its default, exit 0', async () => {
    const { code, stdout, stderr } = await run('scaling/tune.ts', '--help');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^usage: npx tsx bench\/scaling\/tune\.ts /);
    for (const option of ['--data DIR', '--set tuning|validation', '--quantile', '--max-headroom', '--spend-budget', '--stabilization', '--periodic', '--keep-plans']) expect(stdout).toContain(option);
    expect(stdout).toContain('(default tuning)');
  });

  test('an unknown flag: the problem and the usage, exit 2, no stack trace', async () => {
    const { code, stdout, stderr } = await run('detector/false-alarms.ts', '--no-such-flag');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^detector\/false-alarms: Unknown option '--no-such-flag'/);
    expect(stderr).toContain('usage: node --import tsx bench/detector/false-alarms.ts');
    expect(stderr).toContain('--days N              days per series (default 60)');
    noStackTrace(stderr);
  });

  test('a bad value: what was wrong with it and the usage, exit 2', async () => {
    const { code, stderr } = await run('scaling/run.ts', '--keep-plans', 'maybe');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^scaling\/run: --keep-plans takes on or off, got "maybe"\nusage: npx tsx bench\/scaling\/run\.ts /);
    noStackTrace(stderr);
  });

  test('a value checked inside the tool (before any process starts): the same answer', async () => {
    const { code, stderr } = await run('live/calibrate.ts', '--seed', 'seven');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^calibrate: --seed must be an integer ≥ 0, got "seven"\nusage: node dist\/bench\/live\/calibrate\.js /);
    noStackTrace(stderr);
  });

  test('a value a tool checks against another (remote write: a rate of 0, an outage longer than the run): the same answer', async () => {
    const zero = await run('remote-write/run.ts', '--rate', '0');
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/^remote-write\/run: --rate must be above 0: this bench offers a fixed rate\nusage: npx tsx bench\/remote-write\/run\.ts /);
    const short = await run('remote-write/run.ts', '--duration', '30', '--outage', '60');
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/^remote-write\/run: --duration 30 is too short for --outage 60 at 15 s: use at least 90\n/);
    noStackTrace(short.stderr);
  });
});
