import { describe, expect, it } from 'vitest';
import { decodeSampleColumns, encodeSampleBatch, encodeSampleBatchBytes, prepareSampleBatch, sampleBatchField, type SampleColumns, type SampleKind } from '../src/index.js';

/**
 * The wire format, written independently of the encoder: the JSON of `{s, a, t, k?, v}` with `a`
 * and `t` collapsed when every sample shares them and `v` the values as little-endian doubles in base64.
 */
function reference(columns: SampleColumns): Buffer {
  const { length } = columns;
  const uniform = <T>(column: readonly T[]): T | readonly T[] => (length > 0 && column.every((x) => x === column[0]) ? (column[0] as T) : column);
  const doubles = Buffer.alloc(8 * length);
  columns.values.forEach((v, i) => doubles.writeDoubleLE(v, 8 * i));
  const codes: Record<SampleKind, string> = { gauge: 'g', cumulative: 'c', delta: 'd' };
  const k = columns.kinds === undefined ? undefined : (uniform(columns.kinds.map((kind) => codes[kind])) as string | string[]);
  const payload = {
    s: columns.seriesIds,
    a: uniform(columns.agentIds),
    t: uniform(columns.timestampsMillis),
    ...(k === undefined ? {} : { k: typeof k === 'string' ? k : k.join('') }),
    v: doubles.toString('base64'),
  };
  return Buffer.from(JSON.stringify(payload));
}

/** A small seeded generator, so a failure replays. */
function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const oddLabelValues = ['0', '', 'C:\\tmp\\x', 'say "hi"', 'tab\there', 'line\nbreak', 'naïve', 'ü→€', '日本語', '🦥 sloth', 'ctl\u0001\u001f', 'lone\ud800', '</script>', '\u2028\u2029'];
const oddValues = [0, -0, 1, -1, 0.1, 1 / 3, 5e-324, -1e300, 1.7976931348623157e308, 2 ** 53 + 2, 123456.789];
const kinds: readonly SampleKind[] = ['gauge', 'cumulative', 'delta'];

function randomBatch(random: () => number, length: number, withJson: boolean): SampleColumns {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const sharedAgent = random() < 0.5 ? pick(oddLabelValues) : undefined;
  const sharedTime = random() < 0.5 ? 1_765_000_000_000 + Math.floor(random() * 1e6) : undefined;
  const kindMode = random();
  const seriesIds = Array.from({ length }, (_, i) => `m.${i % 7}{agent="${pick(oddLabelValues)}",v="${pick(oddLabelValues)}"}`);
  const columns: SampleColumns = {
    length,
    seriesIds,
    agentIds: Array.from({ length }, () => sharedAgent ?? pick(oddLabelValues)),
    timestampsMillis: Array.from({ length }, () => sharedTime ?? (random() < 0.9 ? 1_765_000_000_000 + Math.floor(random() * 1e6) : random() * 1e12)),
    values: Array.from({ length }, () => (random() < 0.5 ? pick(oddValues) : (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20))),
    ...(kindMode < 0.3 ? {} : { kinds: Array.from({ length }, () => (kindMode < 0.6 ? 'cumulative' : pick(kinds))) }),
  };
  return withJson ? { ...columns, seriesIdsJson: seriesIds.map((id) => Buffer.from(JSON.stringify(id))) } : columns;
}

describe('prepareSampleBatch (a samples entry written into a caller’s buffer)', () => {
  it('writes the wire format byte for byte, for random batches with odd label values, unicode and odd doubles, with and without encoded ids', () => {
    const random = rng(18);
    const target = Buffer.alloc(1 << 20, 0xee);
    for (let n = 0; n < 300; n += 1) {
      const length = n % 50 === 0 ? 5_000 : Math.floor(random() * 60);
      const columns = randomBatch(random, length, n % 2 === 0);
      const expected = reference(columns);
      const text = prepareSampleBatch(columns);
      expect(text.byteLength).toBe(expected.length);
      const offset = Math.floor(random() * 100);
      expect(text.write(target, offset)).toBe(expected.length);
      expect(target.subarray(offset, offset + expected.length).equals(expected)).toBe(true);
      expect(encodeSampleBatchBytes(columns).equals(expected)).toBe(true);
      expect(Buffer.from(encodeSampleBatch(columns)[1] as string).equals(expected)).toBe(true);
      const decoded = decodeSampleColumns([sampleBatchField, target.toString('utf8', offset, offset + expected.length)]);
      expect(decoded.seriesIds).toEqual(columns.seriesIds);
      expect(decoded.values.map((v) => Object.is(v, -0) ? 'minus zero' : v)).toEqual(columns.values.map((v) => Object.is(v, -0) ? 'minus zero' : v));
    }
  });

  it('writes only its own bytes into a reused buffer: a shorter batch after a longer one leaves nothing of the first in its range', () => {
    const random = rng(7);
    const target = Buffer.alloc(1 << 18);
    const long = randomBatch(random, 900, true);
    const short = randomBatch(random, 3, true);
    prepareSampleBatch(long).write(target, 10);
    const text = prepareSampleBatch(short);
    text.write(target, 10);
    expect(target.subarray(10, 10 + text.byteLength).equals(reference(short))).toBe(true);
  });

  it('keeps each prepared batch’s values when another batch is prepared before it is written (the doubles’ scratch array is shared)', () => {
    const random = rng(3);
    const a = randomBatch(random, 40, false);
    const b = randomBatch(random, 40, true);
    const textA = prepareSampleBatch(a);
    const textB = prepareSampleBatch(b);
    const target = Buffer.alloc(textA.byteLength + textB.byteLength);
    textB.write(target, textA.byteLength);
    textA.write(target, 0);
    expect(target.subarray(0, textA.byteLength).equals(reference(a))).toBe(true);
    expect(target.subarray(textA.byteLength).equals(reference(b))).toBe(true);
  });

  it('refuses non-finite values and timestamps as encodeSampleBatch does, and a target too short to hold the entry', () => {
    const base = { length: 2, seriesIds: ['a{}', 'b{}'], agentIds: ['x', 'x'], timestampsMillis: [1, 2], values: [1, 2] };
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(() => prepareSampleBatch({ ...base, values: [1, bad] })).toThrow(/sample 1 .* its value .* is not a finite number/);
      expect(() => prepareSampleBatch({ ...base, timestampsMillis: [bad, 2] })).toThrow(/sample 0 .* its timestamp .* is not a finite number/);
      expect(() => encodeSampleBatch({ ...base, values: [1, bad] })).toThrow(/is not a finite number/);
    }
    const text = prepareSampleBatch(base);
    const target = Buffer.alloc(text.byteLength + 4, 0x41);
    expect(() => text.write(target, 5)).toThrow(RangeError);
    expect(() => prepareSampleBatch({ ...base, seriesIdsJson: [Buffer.from('"a{}"'), Buffer.from('"b{}"')] }).write(target, 5)).toThrow(RangeError);
    expect(target.every((byte) => byte === 0x41)).toBe(true);
  });
});
