import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@sloth/core';
import { WriteAheadLog } from '../src/wal.js';
import { decodeWalEntry, encodeWalEntry } from '../src/wal-entry.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-wal-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function replay(afterSeq: number, segmentBytes = 1 << 20): Promise<{ wal: WriteAheadLog; entries: Array<[number, string]> }> {
  const wal = new WriteAheadLog({ dir, segmentBytes, logger: silentLogger() });
  const entries: Array<[number, string]> = [];
  await wal.open(afterSeq, (seq, payload) => entries.push([seq, payload.toString()]));
  return { wal, entries };
}

describe('WriteAheadLog', () => {
  it('makes concurrent appends durable with shared fsyncs and replays them in order', async () => {
    const { wal } = await replay(0);
    const appended = Array.from({ length: 100 }, (_, i) => wal.append(Buffer.from(`entry-${i}`)));
    await Promise.all(appended.map((a) => a.durable));
    expect(appended.map((a) => a.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(wal.durableSeq).toBe(100);
    await wal.close();

    const again = await replay(40);
    expect(again.entries.length).toBe(60);
    expect(again.entries[0]).toEqual([41, 'entry-40']);
    // new appends continue the sequence
    const next = again.wal.append(Buffer.from('after-restart'));
    await next.durable;
    expect(next.seq).toBe(101);
    await again.wal.close();
  });

  it('cuts off a torn entry at the tail and keeps everything before it', async () => {
    const { wal } = await replay(0);
    for (let i = 0; i < 5; i++) await wal.append(Buffer.from(`e${i}`)).durable;
    await wal.close();
    const segment = readdirSync(dir).map((f) => join(dir, f)).find((f) => statSync(f).size > 0) as string;
    appendFileSync(segment, Buffer.from([200, 0, 0, 0, 1, 2, 3])); // a header cut short by a crash
    const again = await replay(0);
    expect(again.entries.map(([, p]) => p)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    await again.wal.close();
  });

  it('rotates segments and deletes the ones already applied', async () => {
    const { wal } = await replay(0, 256);
    for (let i = 0; i < 40; i++) await wal.append(Buffer.alloc(64, i)).durable;
    const before = readdirSync(dir).length;
    expect(before).toBeGreaterThan(5);
    await wal.release(30);
    const after = readdirSync(dir).length;
    expect(after).toBeLessThan(before);
    await wal.close();
    const again = await replay(30, 256);
    expect(again.entries.map(([seq]) => seq)).toEqual(Array.from({ length: 10 }, (_, i) => 31 + i));
    await again.wal.close();
  });

  it('round-trips the entry format', () => {
    const entry = { signal: 'logs', format: 'json', encoding: 'gzip', principal: 'tenant-ü', receivedAtMillis: 1_700_000_000_123, body: Buffer.from('xyz') } as const;
    const decoded = decodeWalEntry(encodeWalEntry(entry));
    expect({ ...decoded, body: decoded.body.toString() }).toEqual({ ...entry, body: 'xyz' });
  });
});
