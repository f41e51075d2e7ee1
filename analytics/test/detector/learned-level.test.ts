import { afterEach, describe, expect, it } from 'vitest';
import { applyTuningOverrides, createDetector, restoreDetector } from '../../src/detector/index.js';

afterEach(() => applyTuningOverrides(undefined));

/** Deterministic uniform noise in [−0.5, 0.5). */
function noise(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
}

function learnedErrors(values: readonly number[]): number[] {
  const d = createDetector({ useModel: false, algorithm: 'legacy' });
  values.forEach((v, i) => d.update(Date.UTC(2024, 0, 1) + i * 300_000, v));
  return (d.snapshot().state as { levelErrors: number[] }).levelErrors;
}

const argmin = (xs: readonly number[]): number => xs.indexOf(Math.min(...xs));

describe('self-learned level (levelLearn 1)', () => {
  it('learns a slow level on a noisy stationary series and a fast one on a random walk', () => {
    applyTuningOverrides(JSON.stringify({ levelLearn: 1 }));
    const r = noise(3);
    const stationary = Array.from({ length: 3000 }, () => 100 + 10 * r());
    let walk = 100;
    const randomWalk = Array.from({ length: 3000 }, () => (walk += 5 * r()));
    expect(argmin(learnedErrors(stationary))).toBe(3); // rate 1/128
    expect(argmin(learnedErrors(randomWalk))).toBe(0); // rate 1/2
  });

  it('changes the scores only when switched on, and survives a snapshot', () => {
    const r = noise(5);
    const values = Array.from({ length: 1500 }, (_, i) => 50 + 5 * r() + (i > 1000 ? 30 : 0));
    const run = (): number[] => {
      const d = createDetector({ useModel: false, algorithm: 'legacy' });
      return values.map((v, i) => d.update(Date.UTC(2024, 0, 1) + i * 300_000, v).score);
    };
    applyTuningOverrides(JSON.stringify({ levelLearn: 0 }));
    const off = run();
    applyTuningOverrides(JSON.stringify({ levelLearn: 1 }));
    const on = run();
    expect(on).not.toEqual(off);
    const whole = createDetector({ useModel: false, algorithm: 'legacy' });
    const half = createDetector({ useModel: false, algorithm: 'legacy' });
    const all = values.map((v, i) => whole.update(Date.UTC(2024, 0, 1) + i * 300_000, v).score);
    values.slice(0, 700).forEach((v, i) => half.update(Date.UTC(2024, 0, 1) + i * 300_000, v));
    const restored = restoreDetector(JSON.parse(JSON.stringify(half.snapshot())));
    const rest = values.slice(700).map((v, i) => restored.update(Date.UTC(2024, 0, 1) + (i + 700) * 300_000, v).score);
    expect(rest).toEqual(all.slice(700));
    expect(all).toEqual(on);
  });

  it('takes over a snapshot saved with the fixed-rate level (a service upgraded in place): the next rows learn the levels and score as usual', () => {
    const r = noise(7);
    const values = Array.from({ length: 1600 }, (_, i) => 20 + 2 * r() + (i > 1300 ? 15 : 0));
    const at = (i: number): number => Date.UTC(2024, 0, 1) + i * 300_000;
    applyTuningOverrides(JSON.stringify({ levelLearn: 0 }));
    const old = createDetector({ useModel: false, algorithm: 'legacy' });
    values.slice(0, 1000).forEach((v, i) => old.update(at(i), v));
    const saved = JSON.parse(JSON.stringify(old.snapshot())) as ReturnType<typeof old.snapshot>;
    expect((saved.state as { levels?: number[] }).levels).toBeUndefined();
    applyTuningOverrides(JSON.stringify({ levelLearn: 1 }));
    const upgraded = restoreDetector(saved);
    const rest = values.slice(1000).map((v, i) => upgraded.update(at(i + 1000), v).score);
    expect(rest.every((s) => Number.isFinite(s) && s >= 0 && s < 1)).toBe(true);
    expect((upgraded.snapshot().state as { levels?: number[] }).levels).toHaveLength(4);
    // The step at row 1300 still stands out from the quiet rows before it.
    expect(Math.max(...rest.slice(300, 320))).toBeGreaterThan(Math.max(...rest.slice(50, 300)));
  });
});
