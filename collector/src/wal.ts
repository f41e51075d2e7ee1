import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { crc32 } from 'node:zlib';
import { SlothError, type Logger } from '@sloth/core';

/**
 * A write-ahead log with group commit. `append` assigns a sequence number at
 * once and resolves after the entry is on disk (written and fdatasync'ed).
 * While one fsync runs, new appends queue up and share the next one, so
 * throughput holds with many requests in flight.
 *
 * Layout: segment files `<seq>.wal` (seq = first entry's sequence number,
 * zero-padded); each entry is a 16-byte header (payload length, CRC-32 of
 * the payload, 64-bit sequence number) followed by the payload. A torn entry
 * at the tail of the last segment (a crash during write) is cut off on open.
 */
export class WriteAheadLog {
  private readonly dir: string;
  private readonly segmentBytes: number;
  private readonly logger: Logger;
  private handle: FileHandle | undefined;
  private segmentSize = 0;
  /** First sequence number of every segment, oldest first; the last one is being written. */
  private segments: number[] = [];
  private nextSeq = 1;
  private durable = 0;
  private pending: PendingEntry[] = [];
  /** The segment may hold bytes of a failed append after `segmentSize`: cut them before writing. */
  private tornBytes = false;
  /** Appends are failing (disk full): logged once, and once when they work again. */
  private failing = false;
  private flushing: Promise<void> | undefined;
  /** Deletions of released segments, one after the other. */
  private removing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(options: { dir: string; segmentBytes: number; logger: Logger }) {
    this.dir = options.dir;
    this.segmentBytes = options.segmentBytes;
    this.logger = options.logger;
  }

  /** The directory of the segment files (readers such as remote write follow it). */
  get directory(): string {
    return this.dir;
  }

  /** Highest sequence number known to be on disk. */
  get durableSeq(): number {
    return this.durable;
  }

  /** Opens the log, repairing a torn tail, and calls `onEntry` for every entry after `afterSeq`, in order. */
  async open(afterSeq: number, onEntry: (seq: number, payload: Buffer) => void): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    this.segments = readdirSync(this.dir)
      .filter((f) => /^\d{20}\.wal$/.test(f))
      .map((f) => Number(f.slice(0, 20)))
      .sort((a, b) => a - b);
    let lastSeq = afterSeq;
    for (let s = 0; s < this.segments.length; s++) {
      const first = this.segments[s] as number;
      const next = this.segments[s + 1];
      if (next !== undefined && next - 1 <= afterSeq) continue; // fully applied
      const path = this.segmentPath(first);
      const data = readFileSync(path);
      let offset = 0;
      let goodEnd = 0;
      while (offset + headerBytes <= data.length) {
        const entry = readEntry(data, offset);
        if (entry === undefined) {
          // Corrupt bytes: later good entries (of this segment) are still replayed, never silently dropped.
          const next = findNextEntry(data, offset + 1, lastSeq);
          if (next === undefined) break;
          this.logger.error({ segment: path, offset, skippedBytes: next - offset }, 'write-ahead log: skipping corrupt bytes in the middle of a segment; the entries after them are replayed');
          offset = next;
          continue;
        }
        if (entry.seq > lastSeq) {
          lastSeq = entry.seq;
          onEntry(entry.seq, entry.payload);
        }
        offset = entry.end;
        goodEnd = offset;
      }
      if (goodEnd < data.length) {
        this.logger.warn({ segment: path, offset: goodEnd, size: data.length }, 'write-ahead log: cutting off a torn entry at the tail');
        const fd = openSync(path, 'r+');
        try {
          ftruncateSync(fd, goodEnd);
        } finally {
          closeSync(fd);
        }
      }
    }
    this.nextSeq = lastSeq + 1;
    this.durable = lastSeq;
    // Always start a fresh segment: simpler than appending after a repaired tail.
    await this.startSegment(this.nextSeq);
  }

  /**
   * Appends one entry; `durable` resolves once it is on disk, with the timing of the group commit that
   * wrote it (shared by every entry of the group). The payload may come in parts, written one after the
   * other as one entry (no copy to join them); the parts must not change until `durable` settles.
   */
  append(payload: Buffer | readonly Buffer[]): { seq: number; durable: Promise<WalGroupTiming> } {
    if (this.closed || this.handle === undefined) throw new Error('write-ahead log is not open');
    const parts: readonly Buffer[] = Buffer.isBuffer(payload) ? [payload] : payload;
    let length = 0;
    let crc = 0;
    for (const part of parts) {
      length += part.length;
      crc = crc32(part, crc);
    }
    if (length === 0) throw new Error('write-ahead log: an entry needs at least one byte of payload (a zero length is never read back as an entry)');
    const seq = this.nextSeq++;
    const header = Buffer.allocUnsafe(headerBytes);
    header.writeUInt32LE(length, 0);
    header.writeUInt32LE(crc, 4);
    header.writeUInt32LE(seq % 4294967296, 8);
    header.writeUInt32LE(Math.floor(seq / 4294967296), 12);
    const durable = new Promise<WalGroupTiming>((resolve, reject) => {
      this.pending.push({ header, parts, length, seq, resolve, reject });
    });
    this.flushing ??= this.flushLoop();
    return { seq, durable };
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const group = this.pending;
        this.pending = [];
        const writeStartedAt = performance.now();
        try {
          await this.writeGroup(group);
          const timing: WalGroupTiming = { writeStartedAt, syncedAt: performance.now(), entries: group.length };
          this.durable = (group[group.length - 1] as PendingEntry).seq;
          if (this.failing) {
            this.failing = false;
            this.logger.info({ dir: this.dir }, 'write-ahead log: appends succeed again');
          }
          for (const entry of group) entry.resolve(timing);
        } catch (error) {
          const failure = walWriteError(this.dir, error);
          // One line when appends start failing (a full disk fails every request), not one per request.
          if (!this.failing) this.logger.error({ err: error, dir: this.dir }, failure.message);
          this.failing = true;
          for (const entry of group) entry.reject(failure);
        }
        if (this.segmentSize >= this.segmentBytes && !this.closed) {
          try {
            await this.startSegment(this.nextSeq);
          } catch (error) {
            this.logger.warn({ err: error }, 'write-ahead log: cannot start a new segment; appending to the current one');
          }
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /**
   * Writes and syncs one group. A failure part-way (ENOSPC, EIO) leaves torn bytes after the last good
   * entry: they are cut off before anything else is written, so no later entry is ever acknowledged
   * behind a torn one (replay would stop there). Until the cut succeeds every append fails.
   */
  private async writeGroup(group: readonly PendingEntry[]): Promise<void> {
    const handle = this.handle;
    if (handle === undefined) throw new Error('write-ahead log is closed');
    if (this.tornBytes) await this.repair(handle);
    const buffers: Buffer[] = [];
    let bytes = 0;
    for (const entry of group) {
      buffers.push(entry.header, ...entry.parts);
      bytes += headerBytes + entry.length;
    }
    this.tornBytes = true;
    try {
      let written = 0;
      while (written < bytes) {
        const result = await handle.writev(written === 0 ? buffers : [Buffer.concat(buffers).subarray(written)]);
        written += result.bytesWritten;
        if (result.bytesWritten === 0) throw new Error('write-ahead log: write made no progress');
      }
      await handle.datasync();
    } catch (error) {
      await this.repair(handle).catch((repairError: unknown) => {
        this.logger.warn({ err: repairError }, 'write-ahead log: cannot cut off a failed append yet; retrying before the next one');
      });
      throw error;
    }
    this.tornBytes = false;
    this.segmentSize += bytes;
  }

  /** Truncates the segment back to its last good entry (the file is opened for append: writes go on from there). */
  private async repair(handle: FileHandle): Promise<void> {
    await handle.truncate(this.segmentSize);
    await handle.datasync();
    this.tornBytes = false;
  }

  private segmentPath(firstSeq: number): string {
    return join(this.dir, `${String(firstSeq).padStart(20, '0')}.wal`);
  }

  private async startSegment(firstSeq: number): Promise<void> {
    const previous = this.handle;
    this.handle = await open(this.segmentPath(firstSeq), 'a');
    this.segmentSize = 0;
    this.tornBytes = false;
    if (this.segments[this.segments.length - 1] !== firstSeq) this.segments.push(firstSeq);
    await previous?.close();
  }

  /**
   * Deletes segments whose every entry is at or below `appliedSeq` (never the one being written). The
   * files go off the event loop: deleting a large file waits for the file system's journal, which a busy
   * disk makes slow, and every request would wait with it. Resolves once they are gone; a segment left
   * behind by a crash before that is skipped on open (it is fully applied) and deleted by the next release.
   */
  release(appliedSeq: number): Promise<void> {
    const paths: string[] = [];
    while (this.segments.length > 1) {
      const next = this.segments[1] as number;
      if (next - 1 > appliedSeq) break;
      paths.push(this.segmentPath(this.segments.shift() as number));
    }
    if (paths.length === 0) return this.removing;
    this.removing = this.removing.then(async () => {
      for (const path of paths) {
        try {
          await unlink(path);
        } catch (error) {
          this.logger.warn({ err: error }, 'write-ahead log: cannot delete an applied segment');
        }
      }
    });
    return this.removing;
  }

  /** Waits for pending appends and segment deletions, then closes the segment. */
  async close(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    await this.removing;
    this.closed = true;
    await this.handle?.close();
    this.handle = undefined;
  }
}

/** When the group commit that made an entry durable started writing and finished its fdatasync (`performance.now()`). */
export interface WalGroupTiming {
  readonly writeStartedAt: number;
  readonly syncedAt: number;
  /** Entries the group wrote. */
  readonly entries: number;
}

interface PendingEntry {
  header: Buffer;
  parts: readonly Buffer[];
  /** Bytes of the payload (all parts). */
  length: number;
  seq: number;
  resolve: (timing: WalGroupTiming) => void;
  reject: (error: Error) => void;
}

/** Bytes before each entry's payload. */
export const walHeaderBytes = 16;
const headerBytes = walHeaderBytes;

/** First sequence numbers of the segment files in `dir`, oldest first. */
export function walSegments(dir: string): number[] {
  return readdirSync(dir)
    .filter((f) => /^\d{20}\.wal$/.test(f))
    .map((f) => Number(f.slice(0, 20)))
    .sort((a, b) => a - b);
}

/** The file of the segment starting at `firstSeq`. */
export function walSegmentPath(dir: string, firstSeq: number): string {
  return join(dir, `${String(firstSeq).padStart(20, '0')}.wal`);
}

/**
 * The entry at `offset` when it is whole and its checksum matches. Never an empty one (none is written):
 * `crc32(empty) === 0`, so eight zero bytes followed by anything that reads as a sequence number would
 * pass: replay would take that phantom for an entry (at a torn tail, or when looking for the next entry
 * after corrupt bytes) and, with its sequence number, skip every real entry below it.
 */
export function readEntry(data: Buffer, offset: number): { seq: number; payload: Buffer; end: number } | undefined {
  if (offset + headerBytes > data.length) return undefined;
  const length = data.readUInt32LE(offset);
  if (length === 0) return undefined;
  const end = offset + headerBytes + length;
  if (end > data.length) return undefined;
  const payload = data.subarray(offset + headerBytes, end);
  if (crc32(payload) !== data.readUInt32LE(offset + 4)) return undefined;
  const seq = data.readUInt32LE(offset + 8) + data.readUInt32LE(offset + 12) * 4294967296;
  return { seq, payload, end };
}

/**
 * The offset of the next whole entry after corrupt bytes. Its sequence number must follow `lastSeq`
 * (and be in the same 2^32 range), which rejects almost every false start before the CRC is computed.
 */
function findNextEntry(data: Buffer, from: number, lastSeq: number): number | undefined {
  const high = Math.floor(lastSeq / 4294967296);
  for (let offset = from; offset + headerBytes <= data.length; offset++) {
    const seqHigh = data.readUInt32LE(offset + 12);
    if (seqHigh !== high && seqHigh !== high + 1) continue;
    const seq = data.readUInt32LE(offset + 8) + seqHigh * 4294967296;
    if (seq <= lastSeq) continue;
    if (readEntry(data, offset) !== undefined) return offset;
  }
  return undefined;
}

function walWriteError(dir: string, error: unknown): SlothError {
  const code = (error as NodeJS.ErrnoException).code;
  const why = code === 'ENOSPC' || code === 'EDQUOT' ? `the disk holding ${dir} is full (${code}): free space there` : `${(error as Error).message}: check the disk holding ${dir}`;
  return new SlothError('SLOTH_ERR_STORAGE', `write-ahead log: cannot make the request durable; ${why}. Nothing was acknowledged; retry later`, {
    cause: error,
    details: { dir, errno: code },
  });
}
