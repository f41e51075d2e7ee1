import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@sloth/core';
import { WriteAheadLog } from '../src/wal.js';
import { decodeWalEntry, encodeWalEntry, encodeWalEntryParts, type WalEntry } from '../src/wal-entry.js';

/**
 * An entry appended in parts (the collector's header and request body, not joined into one buffer) is
 * written as the same bytes as one joined payload: same segment file, same replayed payload, same entry.
 */

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-wal-parts-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const entry = (body: string): WalEntry => ({ signal: 'metrics', format: 'protobuf', encoding: 'identity', principal: 'agent-ä', receivedAtMillis: 1_700_000_000_123, body: Buffer.from(body) });

async function writeAll(sub: string, payloads: ReadonlyArray<Buffer | readonly Buffer[]>): Promise<{ bytes: Buffer; replayed: Buffer[] }> {
  const path = join(dir, sub);
  const wal = new WriteAheadLog({ dir: path, segmentBytes: 1 << 20, logger: silentLogger() });
  await wal.open(0, () => undefined);
  await Promise.all(payloads.map((p) => wal.append(p).durable));
  await wal.close();
  const files = readdirSync(path).filter((f) => f.endsWith('.wal'));
  const bytes = Buffer.concat(files.sort().map((f) => readFileSync(join(path, f))));
  const again = new WriteAheadLog({ dir: path, segmentBytes: 1 << 20, logger: silentLogger() });
  const replayed: Buffer[] = [];
  await again.open(0, (_seq, payload) => replayed.push(Buffer.from(payload)));
  await again.close();
  return { bytes, replayed };
}

describe('WriteAheadLog entries in parts', () => {
  it('writes the same bytes as the joined payload and replays the joined payload', async () => {
    const entries = [entry('first body'), entry(''), entry('x'.repeat(70_000))];
    const joined = await writeAll('joined', entries.map((e) => encodeWalEntry(e)));
    const parts = await writeAll('parts', entries.map((e) => encodeWalEntryParts(e)));
    expect(parts.bytes.equals(joined.bytes)).toBe(true);
    expect(parts.replayed.map((p) => p.toString('hex'))).toEqual(entries.map((e) => encodeWalEntry(e).toString('hex')));
    expect(parts.replayed.map((p) => decodeWalEntry(p))).toEqual(entries);
  });

  it('refuses an entry whose parts are all empty, naming why', async () => {
    const wal = new WriteAheadLog({ dir, segmentBytes: 1 << 20, logger: silentLogger() });
    await wal.open(0, () => undefined);
    expect(() => wal.append([Buffer.alloc(0), Buffer.alloc(0)])).toThrow(/at least one byte of payload/);
    expect(wal.append([Buffer.alloc(0), Buffer.from('y')]).seq).toBe(1);
    await wal.close();
  });
});
