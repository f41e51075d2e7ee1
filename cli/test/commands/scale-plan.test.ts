import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Runs the built CLI (`npx tsc -b` first) as a user would.
const main = join(fileURLToPath(new URL('../../', import.meta.url)), 'dist', 'src', 'main.js');

function sloth(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Demand with a daily shape and spikes every few hours, 10-minute steps over 6 days. */
function spikyTrace(): string {
  const rows = ['timestamp,value'];
  const start = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 6 * 144; i++) {
    const daily = 100 + 60 * Math.sin((2 * Math.PI * i) / 144);
    const spike = i % 37 < 3 ? 150 : 0;
    rows.push(`${new Date(start + i * 600_000).toISOString()},${(daily + spike).toFixed(1)}`);
  }
  return `${rows.join('\n')}\n`;
}

function replicaHours(path: string): number {
  return readFileSync(path, 'utf8').trim().split('\n').slice(1).reduce((sum, line) => sum + Number(line.split(',')[1]), 0);
}

describe('sloth scale plan', () => {
  let dir: string;
  let trace: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sloth-scale-plan-'));
    trace = join(dir, 'demand.csv');
    writeFileSync(trace, spikyTrace());
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const plan = (output: string, ...extra: string[]) => sloth('scale', 'plan', '--trace', trace, '--capacity-per-replica', '20', '--startup-steps', '2', '--output', join(dir, output), ...extra);

  it('the spend budget sets how far the headroom rises above the cost quantile: off plans the quantile alone, a looser budget holds more, a tighter one less', () => {
    const runs = [
      ['default.csv', []],
      ['off.csv', ['--spend-budget', 'off']],
      ['tight.csv', ['--spend-budget', '0.8']],
      ['loose.csv', ['--spend-budget', '3']],
    ] as const;
    for (const [file, extra] of runs) {
      const run = plan(file, ...extra);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(readFileSync(join(dir, file), 'utf8').startsWith('timestamp,replicas\n')).toBe(true);
    }
    const [defaults, off, tight, loose] = runs.map(([f]) => replicaHours(join(dir, f)));
    expect(off).toBeLessThanOrEqual(defaults as number);
    expect(tight).toBeLessThan(defaults as number);
    expect(loose).toBeGreaterThan(defaults as number);
  });

  it.each([
    [['--spend-budget', '0'], '--spend-budget must be a ratio > 0 or "off", got "0"'],
    [['--spend-budget', 'lots'], '--spend-budget must be a ratio > 0 or "off", got "lots"'],
    [['--headroom-price', '0.2'], "unknown option '--headroom-price'"],
  ])('refuses %j with a message naming the flag and writes nothing', (extra, message) => {
    const run = plan('refused.csv', ...extra);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(message);
    expect(() => readFileSync(join(dir, 'refused.csv'))).toThrow();
  });

  it('-v explains each action and change of mode with the policy\'s reasons, and the output is the same without it', () => {
    const quiet = plan('quiet.csv');
    const verbose = plan('verbose.csv', '-v');
    expect(quiet.code).toBe(0);
    expect(verbose.code).toBe(0);
    expect(readFileSync(join(dir, 'verbose.csv'), 'utf8')).toBe(readFileSync(join(dir, 'quiet.csv'), 'utf8'));
    expect(verbose.stderr).toMatch(/^sloth scale plan: 864 steps, \d+ actions, quantile /m);
    expect(verbose.stderr).toMatch(/^ {2}step 1: scale-out 1 → \d+ \[warming-up\] history 1 < minimum 48 steps: reactive only/m);
    expect(verbose.stderr).toMatch(/^ {2}step \d+: (scale-out|scale-in) \d+ → \d+ \[predictive\] .*plan \d+ = max\(forecast, demand now, one replica\)/m);
  });
});
