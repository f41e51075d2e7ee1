/** bench/detector/per-file-scores.ts: reads the per-file NAB scores of a nested run and of the synthetic yardstick. */
import { describe, expect, it } from 'vitest';
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
});
