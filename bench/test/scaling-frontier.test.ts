/**
 * bench/scaling/frontier.ts against bench/scaling/run.ts, both run as the commands they are (through tsx, on the
 * built packages: `npx tsc -b` first) on a small generated trace written under the `tuning` set's file names: the
 * frontier's HPA at 70 % must reproduce run.ts's HPA figures trace by trace, and its Sloth at budget 1.1 run.ts's
 * Sloth. It also refuses a held-out set.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sets } from '../scaling/sets.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tool = (name: string, args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'scaling', name), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
};

/** Two days at 5-minute steps: a daily cycle, noise from a fixed generator and, per trace, a few sudden rises. */
function generatedTrace(seed: number): string {
  let state = seed;
  const random = (): number => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const lines = ['timestamp,value'];
  const start = Date.UTC(2014, 1, 14, 0, 0);
  for (let i = 0; i < 576; i += 1) {
    const daily = 50 + 30 * Math.sin((2 * Math.PI * i) / 288);
    const rise = i % (97 + seed) < 6 ? 40 : 0;
    const value = Math.max(0, daily + rise + 12 * (random() - 0.5));
    lines.push(`${new Date(start + i * 300_000).toISOString().slice(0, 19).replace('T', ' ')},${value.toFixed(3)}`);
  }
  return `${lines.join('\n')}\n`;
}

type Figures = { underProvisionedMinutes: number; unservedShare: number; replicaHours: number; actions: number; steps: number };
const pick = ({ underProvisionedMinutes, unservedShare, replicaHours, actions, steps }: Figures): Figures => ({ underProvisionedMinutes, unservedShare, replicaHours, actions, steps });

describe('bench/scaling/frontier.ts', () => {
  let data: string;
  beforeAll(() => {
    data = mkdtempSync(join(tmpdir(), 'sloth-frontier-'));
    (sets.tuning as string[]).forEach((file, index) => {
      mkdirSync(join(data, dirname(file)), { recursive: true });
      writeFileSync(join(data, file), generatedTrace(index + 1));
    });
  });
  afterAll(() => rmSync(data, { recursive: true, force: true }));

  test("its HPA at 0.7 and its Sloth at budget 1.1 reproduce run.ts's figures, trace by trace", () => {
    const run = tool('run.ts', ['--data', data, '--set', 'tuning', '--json']);
    expect(run.status, run.stderr).toBe(0);
    const frontier = tool('frontier.ts', ['--data', data, '--set', 'tuning', '--utilizations', '0.5,0.7', '--budgets', '1.1', '--json']);
    expect(frontier.status, frontier.stderr).toBe(0);
    const expected = (JSON.parse(run.stdout) as { results: Array<{ trace: string; policies: Record<string, Figures> }> }).results;
    const got = (JSON.parse(frontier.stdout) as { results: Array<{ trace: string; reference: Figures; policies: Record<string, Figures> }> }).results;
    expect(got.map((r) => r.trace)).toEqual(expected.map((r) => r.trace));
    got.forEach((trace, i) => {
      const want = expected[i] as { policies: Record<string, Figures> };
      expect(pick(trace.policies['hpa@0.7'] as Figures)).toEqual(pick(want.policies.hpa as Figures));
      expect(pick(trace.reference)).toEqual(pick(want.policies.hpa as Figures));
      expect(pick(trace.policies['sloth@1.1'] as Figures)).toEqual(pick(want.policies.sloth as Figures));
    });
    // The generated traces make HPA at 70 % miss (so the comparison is of something), and a lower aim miss less.
    const hpa70 = got.reduce((sum, r) => sum + (r.policies['hpa@0.7'] as Figures).underProvisionedMinutes, 0);
    const hpa50 = got.reduce((sum, r) => sum + (r.policies['hpa@0.5'] as Figures).underProvisionedMinutes, 0);
    expect(hpa70).toBeGreaterThan(0);
    expect(hpa50).toBeLessThan(hpa70);
  }, 120_000);

  test('refuses a held-out set and a bad utilisation, naming the value', () => {
    const held = tool('frontier.ts', ['--data', data, '--set', 'holdout3']);
    expect(held.status).toBe(2);
    expect(held.stderr).toContain('"holdout3" (a held-out set');
    const bad = tool('frontier.ts', ['--data', data, '--set', 'tuning', '--utilizations', '0.7,1.5']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--utilizations must be a number');
    expect(bad.stderr).toContain('"1.5"');
  }, 60_000);
});
