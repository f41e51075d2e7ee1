import { describe, expect, it } from 'vitest';
import { HistoryBuffer } from '../../src/service/history-buffer.js';

describe('HistoryBuffer', () => {
  it('keeps the newest points in order, growing then wrapping around', () => {
    const buffer = new HistoryBuffer(100, 4);
    const base = 1_767_225_600_123;
    for (let i = 0; i < 250; i += 1) buffer.push(base + i * 60_000 + (i % 3), i / 4);
    expect(buffer.length).toBe(100);
    const { timestampsMillis, values } = buffer.toArrays();
    expect(timestampsMillis).toEqual(Array.from({ length: 100 }, (_, k) => base + (150 + k) * 60_000 + ((150 + k) % 3)));
    expect(values).toEqual(Array.from({ length: 100 }, (_, k) => (150 + k) / 4));
    expect(buffer.byteLength).toBe(800);
  });

  it('keeps exact millisecond timestamps across irregular gaps, and order across gaps beyond 49 days', () => {
    const buffer = new HistoryBuffer(10);
    const times = [1_000, 1_001, 4_000_000_000, 4_000_000_017, 4_086_400_000];
    for (const t of times) buffer.push(t, 1);
    expect(buffer.toArrays().timestampsMillis).toEqual(times);
    buffer.push(1e13, 2);
    const after = buffer.toArrays().timestampsMillis;
    expect(after.at(-1)).toBe(1e13);
    for (let i = 1; i < after.length; i += 1) expect(after[i]!).toBeGreaterThan(after[i - 1]!);
  });

  it('round-trips through its serialized form, keeping the newest points when the capacity shrinks', () => {
    const buffer = new HistoryBuffer(50);
    for (let i = 0; i < 80; i += 1) buffer.push(1_000_000 + i * 1_500, i * 0.5);
    const data = JSON.parse(JSON.stringify(buffer.serialize())) as ReturnType<HistoryBuffer['serialize']>;
    expect(HistoryBuffer.deserialize(50, data).toArrays()).toEqual(buffer.toArrays());
    const smaller = HistoryBuffer.deserialize(10, data);
    expect(smaller.toArrays().timestampsMillis).toEqual(buffer.toArrays().timestampsMillis.slice(-10));
    smaller.push(2_000_000, 1);
    expect(smaller.length).toBe(10);
    expect(smaller.toArrays().timestampsMillis.at(-1)).toBe(2_000_000);
  });
});
