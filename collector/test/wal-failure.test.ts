import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@sloth/core';
import { WriteAheadLog } from '../src/wal.js';

/**
 * A failed append must not leave a torn entry that later appends go after. The failure is real: a child
 * process writes the log under a file-size limit (RLIMIT_FSIZE via `ulimit -f`), so a write stops part-way
 * and the next one fails with EFBIG, as a full disk stops it with ENOSPC.
 */

const builtWal = fileURLToPath(new URL('../dist/src/wal.js', import.meta.url));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sloth-wal-fail-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const childScript = `
process.on('SIGXFSZ', () => {});
const { WriteAheadLog } = await import(process.argv[2]);
const quiet = { error() {}, warn() {}, info() {} };
const wal = new WriteAheadLog({ dir: process.argv[3], segmentBytes: 1 << 30, logger: quiet });
await wal.open(0, () => {});
const results = [];
for (const [fill, size] of [[1, 2000], [2, 2000], [3, 2000], [4, 4000], [5, 1000]]) {
  const { seq, durable } = wal.append(Buffer.alloc(size, fill));
  try {
    await durable;
    results.push({ seq, ok: true });
  } catch (error) {
    results.push({ seq, ok: false, code: error.code, errno: error.details?.errno, message: error.message });
  }
}
process.stdout.write(JSON.stringify(results));
process.kill(process.pid, 'SIGKILL');
`;

describe('WriteAheadLog after a failed append', () => {
  it.skipIf(!existsSync(builtWal))('cuts the torn bytes off, so the next acknowledged entry is replayed', async () => {
    const script = join(dir, 'child.mjs');
    writeFileSync(script, childScript);
    const walDir = join(dir, 'wal');
    // dash counts `ulimit -f` in 512-byte blocks: 16 blocks = 8,192 bytes per file.
    const child = spawnSync('sh', ['-c', `ulimit -f 16 && exec "${process.execPath}" "${script}" "${pathToFileURL(builtWal).href}" "${walDir}"`], { encoding: 'utf8' });
    const results = JSON.parse(child.stdout) as Array<{ seq: number; ok: boolean; code?: string; errno?: string; message?: string }>;
    // 3 × (16 + 2,000) = 6,048 bytes fit; the 4,000-byte entry is cut at the limit and fails.
    expect(results.map((r) => [r.seq, r.ok])).toEqual([[1, true], [2, true], [3, true], [4, false], [5, true]]);
    expect(results[3]).toMatchObject({ code: 'SLOTH_ERR_STORAGE', errno: 'EFBIG' });
    expect(results[3]!.message).toMatch(/Nothing was acknowledged; retry later/);

    // No torn bytes were left between entry 3 and entry 5: the file holds exactly the acknowledged entries.
    const segments = readdirSync(walDir);
    expect(segments).toHaveLength(1);
    expect(statSync(join(walDir, segments[0]!)).size).toBe(3 * 2_016 + 1_016);

    const wal = new WriteAheadLog({ dir: walDir, segmentBytes: 1 << 20, logger: silentLogger() });
    const replayed: Array<[number, number, number]> = [];
    await wal.open(0, (seq, payload) => replayed.push([seq, payload.length, payload[0]!]));
    await wal.close();
    expect(replayed).toEqual([[1, 2000, 1], [2, 2000, 2], [3, 2000, 3], [5, 1000, 5]]);
  });
});

describe('WriteAheadLog replay of a damaged segment', () => {
  it('skips corrupt bytes in the middle and replays the good entries after them', async () => {
    const walDir = join(dir, 'wal');
    const wal = new WriteAheadLog({ dir: walDir, segmentBytes: 1 << 20, logger: silentLogger() });
    await wal.open(0, () => undefined);
    for (const text of ['one', 'two', 'three']) await wal.append(Buffer.from(text)).durable;
    await wal.close();
    const [segment] = readdirSync(walDir);
    const path = join(walDir, segment!);
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(path);
    // Damage the payload of entry 2 (16-byte header + 'one' = 19 bytes in, then its header).
    bytes[19 + 16] = bytes[19 + 16]! ^ 0xff;
    // And leave a torn tail (a header promising more bytes than follow).
    const torn = Buffer.alloc(20);
    torn.writeUInt32LE(1000, 0);
    writeFileSync(path, Buffer.concat([bytes, torn]));

    const again = new WriteAheadLog({ dir: walDir, segmentBytes: 1 << 20, logger: silentLogger() });
    const replayed: Array<[number, string]> = [];
    await again.open(0, (seq, payload) => replayed.push([seq, payload.toString()]));
    await again.close();
    expect(replayed).toEqual([[1, 'one'], [3, 'three']]);
    // The torn tail is cut off; the corrupt middle stays (good data follows it).
    expect(statSync(path).size).toBe(bytes.length);
  });
});

describe('WriteAheadLog replay after damage that looks like an empty entry', () => {
  it('does not take zero bytes followed by a sequence-number-like value for an entry, and replays the later segments', async () => {
    const walDir = join(dir, 'wal');
    // One entry per segment (segmentBytes 1): the damage at the end of the first must not hide the next two.
    const wal = new WriteAheadLog({ dir: walDir, segmentBytes: 1, logger: silentLogger() });
    await wal.open(0, () => undefined);
    for (const text of ['one', 'two', 'three']) await wal.append(Buffer.from(text)).durable;
    expect(() => wal.append(Buffer.alloc(0))).toThrow(/an entry needs at least one byte of payload/);
    await wal.close();
    const segments = readdirSync(walDir).sort();
    expect(segments).toHaveLength(4); // three entries and the fresh segment close left empty
    // Damage after entry 1: eight zero bytes, bytes that read as the little-endian number 1,000, zeroes. As a
    // header: length 0, CRC 0 (= crc32 of nothing), sequence number 1,000; taken for an entry, it hid 2 and 3.
    const torn = Buffer.alloc(24);
    torn.writeUInt32LE(1000, 8);
    const { appendFileSync } = await import('node:fs');
    appendFileSync(join(walDir, segments[0]!), torn);

    const again = new WriteAheadLog({ dir: walDir, segmentBytes: 1, logger: silentLogger() });
    const replayed: Array<[number, string]> = [];
    await again.open(0, (seq, payload) => replayed.push([seq, payload.toString()]));
    const next = again.append(Buffer.from('four'));
    await next.durable;
    await again.close();
    expect(replayed).toEqual([[1, 'one'], [2, 'two'], [3, 'three']]);
    expect(next.seq).toBe(4);
    expect(statSync(join(walDir, segments[0]!)).size).toBe(16 + 'one'.length); // the torn bytes are cut off
  });
});
