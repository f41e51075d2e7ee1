/**
 * The contextual detector of the CAD study (bench/detector/contextual): its memory learns a repeating
 * sequence until it predicts it, a value the sequence never had scores high, the rest after an alarm
 * silences the output, and the causal range variants never use a row before it comes.
 */
import { describe, expect, test } from 'vitest';
import { ContextMemory } from '../detector/contextual/context-memory.js';
import { ContextualScorer } from '../detector/contextual/contextual-scorer.js';

const limits = { maxLeftFacts: 7, maxActiveContexts: 15, maxContexts: 10_000 };

describe('ContextMemory', () => {
  test('predicts the next facts of a sequence it has seen repeat', () => {
    const memory = new ContextMemory(limits);
    const cycle = [[0, 2], [1, 2], [0, 3], [1, 3]];
    let step = memory.step(cycle[0]!);
    for (let i = 1; i < 100; i += 1) step = memory.step(cycle[i % 4]!);
    // After row 99 (cycle[3]) comes cycle[0]; by then every context of the cycle is known.
    const learnt = memory.size;
    expect([...step.predictions].sort()).toEqual([0, 2]);
    expect(step.activeShare).toBeGreaterThan(0.5);
    expect(step.novelShare).toBe(0);
    for (let i = 100; i < 200; i += 1) memory.step(cycle[i % 4]!);
    expect(memory.size).toBe(learnt);
  });

  test('stops learning at its context limit (bounded state)', () => {
    const memory = new ContextMemory({ ...limits, maxContexts: 50 });
    for (let i = 0; i < 500; i += 1) memory.step([i % 97, 200 + ((i * 7) % 89)]);
    expect(memory.size).toBe(50);
  });
});

describe('ContextualScorer', () => {
  const periodic = (i: number): number => [10, 20, 30, 40, 30, 20][i % 6]!;

  test('a learnt periodic series scores 0 and a value it never had scores high', () => {
    const scorer = new ContextualScorer({ kind: 'running' }, { kind: 'seen' });
    const scores: number[] = [];
    for (let i = 0; i < 603; i += 1) scores.push(scorer.update(periodic(i)));
    expect(Math.max(...scores.slice(300))).toBe(0);
    // Row 603 should be 40; 10 is inside the learnt range but out of sequence.
    expect(scorer.update(10)).toBeGreaterThan(0.5);
  });

  test('after an alarm the output rests at 0 for 3 % of the rows seen', () => {
    const scorer = new ContextualScorer({ kind: 'running' }, { kind: 'seen' });
    for (let i = 0; i < 603; i += 1) scorer.update(periodic(i));
    expect(scorer.update(10)).toBeGreaterThanOrEqual(0.75);
    // 3 % of ~600 rows = 18 rows of rest, whatever comes.
    const after = Array.from({ length: 17 }, (_, k) => scorer.update(k % 2 === 0 ? 0 : 50));
    expect(after.every((s) => s === 0)).toBe(true);
  });

  test('causal variants: a prefix scores the same as the whole', () => {
    const values = Array.from({ length: 900 }, (_, i) => periodic(i) + (i === 700 ? 100 : 0) + ((i * 13) % 7));
    for (const range of [{ kind: 'running' as const }, { kind: 'warmup' as const, rows: 300 }]) {
      const whole = new ContextualScorer(range, { kind: 'seen' });
      const prefix = new ContextualScorer(range, { kind: 'seen' });
      const a = values.map((v) => whole.update(v));
      const b = values.slice(0, 650).map((v) => prefix.update(v));
      expect(b).toEqual(a.slice(0, 650));
    }
  });
});
