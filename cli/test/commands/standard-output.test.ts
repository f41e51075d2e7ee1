import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const mainJs = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

/** `rows` rows of epoch seconds, 5 minutes apart, a weekly-ish pattern with a little noise. */
function series(rows: number): string {
  const lines = ['timestamp,value'];
  for (let i = 0; i < rows; i += 1) lines.push(`${1_700_000_000 + i * 300},${(50 + 10 * Math.sin((2 * Math.PI * i) / 288) + (i % 7) * 0.3).toFixed(3)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Runs the CLI with its standard output read only until the first `keepBytes` bytes, then closed (as
 * `| head -c` does). Resolves with the exit code and everything written to standard error.
 */
async function runClosingStdout(args: readonly string[], keepBytes: number): Promise<{ code: number | null; stderr: string; kept: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mainJs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let kept = '';
    let stderr = '';
    if (keepBytes === 0) child.stdout.destroy();
    child.stdout.on('data', (chunk: Buffer) => {
      kept += chunk.toString('utf8');
      if (kept.length >= keepBytes) child.stdout.destroy();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, kept }));
  });
}

describe('sloth detect, sloth forecast and sloth scale plan write to standard output without --output', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-cli-stdout-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sloth detect: the same CSV on standard output (no --output, or --output -) as in a file; the summary on standard error', async () => {
    const input = join(dir, 'in.csv');
    const output = join(dir, 'scores.csv');
    await writeFile(input, series(1200));
    await run(process.execPath, [mainJs, 'detect', '--input', input, '--output', output]);
    const file = await readFile(output, 'utf8');
    const bare = await run(process.execPath, [mainJs, 'detect', '--input', input], { maxBuffer: 1 << 24 });
    const dash = await run(process.execPath, [mainJs, 'detect', '--input', input, '--output', '-'], { maxBuffer: 1 << 24 });
    expect(file.split('\n')[0]).toBe('timestamp,value,anomaly_score');
    expect(file.trim().split('\n')).toHaveLength(1201);
    expect(bare.stdout).toBe(file);
    expect(dash.stdout).toBe(file);
    expect(bare.stderr).toContain('1200 rows scored');
    expect(bare.stderr).toContain('→ standard output');
    expect(bare.stderr).not.toContain('warm-up');
    // A series no longer than the warm-up scores 0 throughout: said, not left to be guessed.
    await writeFile(input, series(30));
    const short = await run(process.execPath, [mainJs, 'detect', '--input', input]);
    expect(short.stderr).toContain("sloth detect: warning: 30 rows, all within the detector's warm-up of 150: every score is 0");
    expect(short.stderr).not.toContain('repeat');
    // Duplicate timestamps are scored in file order, and said.
    await writeFile(input, 'timestamp,value\n1700000000,1\n1700000300,2\n1700000300,3\n1700000600,4\n');
    const repeated = await run(process.execPath, [mainJs, 'detect', '--input', input]);
    expect(repeated.stderr).toContain("sloth detect: warning: 1 row(s) repeat the previous row's timestamp (line 4); scored in file order, each as a sample of its own");
  });

  it('sloth forecast: timestamp,value (and with --quantiles p10,p50,p90) on standard output, the same as in a file', async () => {
    const input = join(dir, 'in.csv');
    const output = join(dir, 'forecast.csv');
    await writeFile(input, series(600));
    const args = ['forecast', '--input', input, '--train-until', String(1_700_000_000 + 499 * 300), '--horizon', '6', '--no-mlp'];
    await run(process.execPath, [mainJs, ...args, '--output', output]);
    const bare = await run(process.execPath, [mainJs, ...args]);
    expect(bare.stdout).toBe(await readFile(output, 'utf8'));
    expect(bare.stdout.trim().split('\n')).toHaveLength(7);
    const quantiles = await run(process.execPath, [mainJs, ...args, '--quantiles', '--output', '-']);
    expect(quantiles.stdout.split('\n')[0]).toBe('timestamp,value,p10,p50,p90');
  });

  it('sloth scale plan: timestamp,replicas on standard output, the same as in a file', async () => {
    const input = join(dir, 'demand.csv');
    const output = join(dir, 'plan.csv');
    await writeFile(input, series(400));
    const args = ['scale', 'plan', '--trace', input, '--capacity-per-replica', '10', '--startup-steps', '2'];
    await run(process.execPath, [mainJs, ...args, '--output', output]);
    const bare = await run(process.execPath, [mainJs, ...args]);
    expect(bare.stdout.split('\n')[0]).toBe('timestamp,replicas');
    expect(bare.stdout.trim().split('\n')).toHaveLength(401);
    expect(bare.stdout).toBe(await readFile(output, 'utf8'));
  });

  it('a reader that stops early (| head) ends the command quietly, exit 0, without scoring the rest', async () => {
    const input = join(dir, 'big.csv');
    await writeFile(input, series(200_000));
    const detect = await runClosingStdout(['detect', '--input', input], 200);
    expect(detect.kept.startsWith('timestamp,value,anomaly_score\n')).toBe(true);
    expect(detect.stderr).not.toMatch(/EPIPE|Unhandled|error/i);
    expect(detect.stderr).not.toContain('rows scored');
    expect(detect.code).toBe(0);
    const forecast = await runClosingStdout(['forecast', '--input', input, '--train-until', String(1_700_000_000 + 199_999 * 300), '--horizon', '400000', '--no-mlp', '--max-history', '2000'], 100);
    expect(forecast.stderr).not.toMatch(/EPIPE|Unhandled|error/i);
    expect(forecast.code).toBe(0);
  });

  it('any command whose standard output is closed before it writes ends without a stack trace (sloth playbook lint … | true)', async () => {
    const shipped = fileURLToPath(new URL('../../../playbooks/', import.meta.url));
    const files = (await readdir(shipped)).filter((name) => name.endsWith('.lua')).map((name) => join(shipped, name));
    expect(files.length).toBeGreaterThan(1);
    const lint = await runClosingStdout(['playbook', 'lint', ...files], 0);
    expect(lint.stderr).not.toMatch(/EPIPE|Unhandled|\bat /);
    expect(lint.code).toBe(0);
  });

  it('an empty --output is refused naming the flag (it is not standard output)', async () => {
    const input = join(dir, 'in.csv');
    await writeFile(input, series(100));
    for (const args of [
      ['detect', '--input', input, '--output', ''],
      ['forecast', '--input', input, '--train-until', '1700000000', '--horizon', '2', '--output', ''],
    ]) {
      const failed = await run(process.execPath, [mainJs, ...args]).then(
        () => undefined,
        (error: { code: number; stderr: string; stdout: string }) => error,
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stderr).toContain('--output is empty; give a file name');
      expect(failed?.stdout).toBe('');
    }
  });
});
