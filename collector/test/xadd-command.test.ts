import { describe, expect, it } from 'vitest';
import { Command } from 'ioredis';
import { decodeSampleColumns, encodeSampleBatchBytes, prepareSampleBatch, sampleBatchField, type SampleColumns } from '@sloth/core';
import { SlabPool, WrittenCommand, writeXadd } from '../src/xadd-command.js';
import { redisPerFile } from './helpers/redis-fixture.js';

const redis = redisPerFile('sloth-xadd-');

/** `length` samples whose ids, agents and values vary with `seed` (unicode and escapes included). */
function batch(length: number, seed: number): SampleColumns {
  const seriesIds = Array.from({ length }, (_, i) => `disk.used{agent="ü-${seed}",path="C:\\\\d${i}",q="\\"🦥\\""}`);
  return {
    length,
    seriesIds,
    seriesIdsJson: seriesIds.map((id) => Buffer.from(JSON.stringify(id))),
    agentIds: Array.from({ length }, (_, i) => (i % 3 === 0 ? `agent-${seed}` : 'naïve')),
    timestampsMillis: Array.from({ length }, () => 1_765_000_000_000 + seed),
    values: Array.from({ length }, (_, i) => seed * 1_000 + i / 7),
    kinds: Array.from({ length }, (_, i) => (i % 2 === 0 ? 'gauge' : 'cumulative')),
  };
}

describe('XADD written into a reused slab', () => {
  it('is the same bytes ioredis writes for xadd(key, MAXLEN, ~, n, *, b, entry)', () => {
    const pool = new SlabPool();
    for (const [key, maxLength, length] of [['sloth:samples', 1_000, 1_000], ['ключ:{x}', 7, 0], ['s', 123_456_789, 37]] as const) {
      const columns = batch(length, maxLength);
      const ours = writeXadd(pool, key, maxLength, sampleBatchField, prepareSampleBatch(columns));
      const theirs = new Command('xadd', [key, 'MAXLEN', '~', maxLength, '*', sampleBatchField, encodeSampleBatchBytes(columns)]).toWritable({});
      expect(ours.command.equals(theirs as Buffer)).toBe(true);
      pool.give(ours.slab);
    }
  });

  it('reuses a slab given back, sizes new ones as powers of two from 128 KiB, and keeps at most maxKept', () => {
    const pool = new SlabPool(2);
    const a = pool.take(1_000);
    expect(a.length).toBe(128 * 1024);
    expect(pool.take(300_000).length).toBe(512 * 1024);
    pool.give(a);
    expect(pool.take(100_000)).toBe(a);
    pool.give(a);
    pool.give(Buffer.alloc(10));
    pool.give(Buffer.alloc(20));
    expect(pool.kept).toBe(2);
    expect(pool.take(200_000).length).toBe(256 * 1024);
  });

  it('sends what analytics decodes: a short entry in a slab that held a long one stores exactly its own bytes in a real Redis', async () => {
    const pool = new SlabPool(1);
    const key = 'xadd-test:reuse';
    const sent: Buffer[] = [];
    let previous: Buffer | undefined;
    for (const [length, seed] of [[1_000, 1], [2, 2], [500, 3], [0, 4], [1, 5]] as const) {
      const columns = batch(length, seed);
      const { slab, command } = writeXadd(pool, key, 1_000, sampleBatchField, prepareSampleBatch(columns));
      if (previous !== undefined) expect(slab).toBe(previous);
      const written = new WrittenCommand('xadd', command);
      redis.client.sendCommand(written);
      expect(typeof (await written.promise)).toBe('string');
      pool.give(slab);
      previous = slab;
      sent.push(encodeSampleBatchBytes(columns));
    }
    const rows = (await redis.client.xrangeBuffer(key, '-', '+')) as Array<[Buffer, Buffer[]]>;
    expect(rows.map(([, fields]) => fields.length)).toEqual([2, 2, 2, 2, 2]);
    rows.forEach(([, fields], i) => {
      expect(fields[0]?.toString()).toBe(sampleBatchField);
      expect(fields[1]?.equals(sent[i] as Buffer)).toBe(true);
    });
    const stringRows = (await redis.client.xrange(key, '-', '+')) as Array<[string, string[]]>;
    const decoded = stringRows.map(([, fields]) => decodeSampleColumns(fields));
    expect(decoded.map((c) => c.length)).toEqual([1_000, 2, 500, 0, 1]);
    expect(decoded[1]?.seriesIds).toEqual(batch(2, 2).seriesIds);
    expect(decoded[4]?.values).toEqual([5_000]);
    expect(decoded[2]?.kinds?.slice(0, 3)).toEqual(['gauge', 'cumulative', 'gauge']);
  });
});
