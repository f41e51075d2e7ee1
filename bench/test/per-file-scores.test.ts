/**
 * bench/detector/per-file-scores.ts reads the per-file NAB scores of a nested run and of the synthetic yardstick;
 * synthetic-nab.ts --per-file-out and paired-bootstrap.ts run as commands (through tsx, on the built packages:
 * `npx tsc -b` first).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { perFileScores } from '../detector/per-file-scores.js';

const f = (name: string, raw: number): { name: string; rawScore: number; nullScore: number; perfectScore: number; fp: number } => ({ name, rawScore: raw, nullScore: -1, perfectScore: 1, fp: 0 });
const cv = (tag: string): unknown => ({
  profiles: [
    { profile: 'standard', folds: [{ heldOut: { files: [f(`a/${tag}1.csv`, 0.5)] } }, { heldOut: { files: [f(`b/${tag}2.csv`, -1)] } }] },
    { profile: 'reward_low_FP_rate', folds: [{ heldOut: { files: [f(`a/${tag}1.csv`, 0.4)] } }, { heldOut: { files: [f(`b/${tag}2.csv`, -1)] } }] },
  ],
});

describe('per-file scores for the paired bootstrap', () => {
  it('takes every fold\'s held-out files of the chosen path of a nested run', () => {
    const nested = { statsOnly: { searches: [], cv: cv('s') }, model: { searches: [], cv: cv('m') }, full: cv('x') };
    expect(perFileScores(nested, 'stats', 'n.json').get('standard')?.map((x) => x.name)).toEqual(['a/s1.csv', 'b/s2.csv']);
    expect(perFileScores(nested, 'model', 'n.json').get('reward_low_FP_rate')?.map((x) => x.rawScore)).toEqual([0.4, -1]);
    expect(perFileScores(nested, 'full', 'n.json').get('standard')?.[0]?.name).toBe('a/x1.csv');
  });

  it('takes the synthetic yardstick\'s profiles as written', () => {
    const synthetic = { source: 'synthetic-nab', profiles: { standard: [f('tweets/seed1-0.csv', 0.2)] } };
    expect(perFileScores(synthetic, 'stats', 's.json').get('standard')).toEqual([f('tweets/seed1-0.csv', 0.2)]);
  });

  it('names the file and what is missing', () => {
    expect(() => perFileScores({ all: {} }, 'stats', 'cv.json')).toThrow(/cv\.json: neither a nested\.json/);
    expect(() => perFileScores({ statsOnly: { cv: cv('s') }, model: null }, 'model', 'n.json')).toThrow(/n\.json: has no model path/);
    const old = { statsOnly: { cv: { profiles: [{ profile: 'standard', folds: [{ heldOut: {} }] }] } } };
    expect(() => perFileScores(old, 'stats', 'old.json')).toThrow(/old\.json: written before per-file scores/);
  });

  it('refuses hand-edited or truncated per-file entries instead of summing them into NaN', () => {
    const synthetic = (entries: unknown): unknown => ({ source: 'synthetic-nab', profiles: { standard: entries } });
    expect(() => perFileScores(synthetic([f('a/1.csv', 0.5), { name: 'a/2.csv', rawScore: 'x', nullScore: -1, perfectScore: 1, fp: 0 }]), 'stats', 's.json')).toThrow(/s\.json: standard, file 2: needs a name and finite rawScore/);
    expect(() => perFileScores(synthetic([{ rawScore: 0, nullScore: -1, perfectScore: 1, fp: 0 }]), 'stats', 's.json')).toThrow(/file 1: needs a name/);
    expect(() => perFileScores(synthetic([null]), 'stats', 's.json')).toThrow(/file 1: needs a name.*got null/);
    expect(() => perFileScores(synthetic('all'), 'stats', 's.json')).toThrow(/s\.json: standard: expected a list of per-file scores, got string/);
    expect(() => perFileScores({ source: 'synthetic-nab', profiles: 'x' }, 'stats', 's.json')).toThrow(/without its profiles object/);
    const nested = { statsOnly: { cv: { profiles: [{ profile: 'standard', folds: [{ heldOut: { files: [f('a/1.csv', Number.NaN)] } }] }] } } };
    expect(() => perFileScores(JSON.parse(JSON.stringify(nested)), 'stats', 'n.json')).toThrow(/n\.json: standard, file 1: .*got \{"name":"a\/1\.csv","rawScore":null/);
  });
});

describe('synthetic-nab.ts --per-file-out and paired-bootstrap.ts, run as commands', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const tool = (name: string, args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'detector', name), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const dir = mkdtempSync(join(tmpdir(), 'sloth-bootstrap-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('compares two variants file by file: the same variant differs by 0, another by its pooled difference', () => {
    const base = join(dir, 'base.json');
    const off = join(dir, 'off.json');
    const one = tool('synthetic-nab.ts', ['--seeds', '1', '--files', '1', '--per-file-out', base]);
    expect(one.status, one.stderr).toBe(0);
    const two = tool('synthetic-nab.ts', ['--seeds', '1', '--files', '1', '--tuning', '{"suppressMaxMillis":0}', '--per-file-out', off]);
    expect(two.status, two.stderr).toBe(0);
    const written = JSON.parse(readFileSync(base, 'utf8')) as { source: string; profiles: Record<string, Array<{ name: string }>> };
    expect(written.source).toBe('synthetic-nab');
    expect(written.profiles.standard?.map((f) => f.name.split('/')[0])).toEqual(['tweets', 'traffic', 'adexchange', 'levelshift', 'aws']);
    // The pooled score the tool recomputes is the one synthetic-nab printed for all files.
    const printed = Number(/\| standard \| \*\*([\d.]+)\*\*/.exec(one.stdout)?.[1]);
    const same = tool('paired-bootstrap.ts', ['--baseline', base, '--candidate', base, '--resamples', '200', '--json']);
    expect(same.status, same.stderr).toBe(0);
    const rows = JSON.parse(same.stdout) as Array<{ profile: string; baseline: number; difference: number; low: number; high: number }>;
    expect(rows.map((r) => r.profile)).toEqual(['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']);
    expect(rows[0]?.baseline).toBeCloseTo(printed, 2);
    for (const r of rows) expect([r.difference, r.low, r.high]).toEqual([0, 0, 0]);
    const other = tool('paired-bootstrap.ts', ['--baseline', off, '--candidate', base, '--resamples', '200']);
    expect(other.status, other.stderr).toBe(0);
    expect(other.stdout).toMatch(/^paired bootstrap over files: .*off\.json → .*base\.json; 200 resamples, seed 1\n\n\| profile \| files \|/);
    expect(other.stdout).toMatch(/\| standard \| 5 \| [\d.]+ \| [\d.]+ \| [+-][\d.]+ \| \[[+-][\d.]+, [+-][\d.]+\] \|/);
  });

  it('refuses a missing file, a file of another kind and a bad flag with its reason (exit 2)', () => {
    const missing = tool('paired-bootstrap.ts', ['--baseline', join(dir, 'nope.json'), '--candidate', join(dir, 'nope.json')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^detector\/paired-bootstrap: --baseline: ENOENT/);
    const wrongKind = join(dir, 'cv.json');
    writeFileSync(wrongKind, '{"all": {}}');
    const wrong = tool('paired-bootstrap.ts', ['--baseline', wrongKind, '--candidate', wrongKind]);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('cv.json: neither a nested.json');
    const path = tool('paired-bootstrap.ts', ['--baseline', wrongKind, '--candidate', wrongKind, '--path', 'best']);
    expect(path.stderr).toMatch(/--path must be stats, model or full, got "best"/);
    expect(tool('paired-bootstrap.ts', ['--candidate', wrongKind]).stderr).toMatch(/give --baseline FILE and --candidate FILE/);
  });
});
