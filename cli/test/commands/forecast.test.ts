import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerForecast } from '../../src/commands/forecast.js';

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
    await expect(program().parseAsync(['forecast', '-i', input, '--train-until', '2024-01-01 00:05:00', '--horizon', '0', '-o', join(dir, 'o.csv')], { from: 'user' })).rejects.toMatchObject({
      code: 'SLOTH_ERR_INPUT',
    });
  });
});
