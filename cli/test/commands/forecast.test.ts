import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { maxForecastHistoryPoints } from '@sloth/analytics';
import { maxHistoryFlagPoints, registerForecast } from '../../src/commands/forecast.js';

const run = promisify(execFile);
const mainJs = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

function program(): Command {
  const p = new Command('sloth').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerForecast(p);
  return p;
}

describe('sloth forecast (contract)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloth-cli-forecast-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes exactly N rows timestamp,value after --train-until, in the input timestamp format', async () => {
    const start = Date.UTC(2014, 3, 10, 0, 4);
    const lines = ['timestamp,value'];
    for (let i = 0; i < 400; i++) {
      const t = new Date(start + i * 300_000).toISOString().replace('T', ' ').slice(0, 19);
      lines.push(`${t},${(50 + 10 * Math.sin((2 * Math.PI * i) / 48) + (i % 7) * 0.3).toFixed(3)}`);
    }
    const input = join(dir, 'in.csv');
    const output = join(dir, 'out.csv');
    await writeFile(input, `${lines.join('\n')}\n`);
    const until = lines[300]?.split(',')[0] as string;
    await program().parseAsync(['forecast', '--input', input, '--train-until', until, '--horizon', '12', '--output', output, '--no-mlp'], { from: 'user' });
    const out = (await readFile(output, 'utf8')).trimEnd().split('\n');
    expect(out[0]).toBe('timestamp,value');
    expect(out).toHaveLength(13);
    out.slice(1).forEach((line, k) => {
      expect(line).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},-?\d+(\.\d+)?(e[-+]\d+)?$/);
      expect(line.split(',')[0]).toBe(lines[301 + k]?.split(',')[0]);
    });
  });

  it('rejects a horizon that is not a positive integer', async () => {
    const input = join(dir, 'in.csv');
    await writeFile(input, '2024-01-01 00:00:00,1\n2024-01-01 00:05:00,2\n');
    await expect(program().parseAsync(['forecast', '-i', input, '--train-until', '2024-01-01 00:05:00', '--horizon', 'x', '-o', join(dir, 'o.csv')], { from: 'user' })).rejects.toThrow(
      /--horizon must be an integer, got "x"/,
    );
    await expect(program().parseAsync(['forecast', '-i', input, '--train-until', '2024-01-01 00:05:00', '--horizon', '0', '-o', join(dir, 'o.csv')], { from: 'user' })).rejects.toThrow(
      /--horizon must be at least 1, got "0"/,
    );
    // Above the stated maximum: refused where the flag is parsed, naming the value and the limit (session F, F1).
    await expect(program().parseAsync(['forecast', '-i', input, '--train-until', '2024-01-01 00:05:00', '--horizon', '99999999', '-o', join(dir, 'o.csv')], { from: 'user' })).rejects.toThrow(
      /--horizon 99999999 is more steps than sloth forecast writes \(at most 4,129,776\)/,
    );
  });

  it('refuses more --max-history than a forecast trains on, naming the flag, the limit and why, before reading the input', async () => {
    expect(maxHistoryFlagPoints).toBe(maxForecastHistoryPoints);
    const input = join(dir, 'missing.csv'); // never read: the flag is refused first
    await expect(program().parseAsync(['forecast', '-i', input, '--train-until', '2024-01-01 00:05:00', '--horizon', '12', '--max-history', '1000000', '-o', join(dir, 'o.csv')], { from: 'user' })).rejects.toThrow(
      /--max-history 1000000 is more history than sloth forecast trains on \(at most 50,000 points: fitting time grows with the history.*\); give at most 50000/,
    );
  });

  it('works as a built command: exit 0 and N rows; exit 1 with the error on stderr for a bad --train-until', async () => {
    const input = join(dir, 'in.csv');
    const lines = Array.from({ length: 120 }, (_, i) => `${1_700_000_000 + i * 60},${(i % 10) + 0.5}`);
    await writeFile(input, `${lines.join('\n')}\n`);
    const output = join(dir, 'out.csv');
    const ok = await run(process.execPath, [mainJs, 'forecast', '--input', input, '--train-until', String(1_700_000_000 + 99 * 60), '--horizon', '4', '--output', output]);
    expect(ok.stdout).toBe('');
    expect(await readFile(output, 'utf8')).toMatch(/^timestamp,value\n1700006000,[-\d.e]+\n1700006060,[-\d.e]+\n1700006120,[-\d.e]+\n1700006180,[-\d.e]+\n$/);
    const failed = await run(process.execPath, [mainJs, 'forecast', '--input', input, '--train-until', '1700000030', '--horizon', '4', '--output', output]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/SLOTH_ERR_INPUT.*--train-until "1700000030" is not a timestamp in .*in\.csv; the nearest rows are 1700000000 \(line 1\) and 1700000060 \(line 2\)/);
  });
});
