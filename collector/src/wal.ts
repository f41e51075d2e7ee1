import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from '@sloth/core';

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
  private pending: Array<{ header: Buffer; payload: Buffer; seq: number; resolve: () => void; reject: (error: Error) => void }> = [];
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(options: { dir: string; segmentBytes: number; logger: Logger }) {
    this.dir = options.dir;
    this.segmentBytes = options.segmentBytes;
    this.logger = options.logger;
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
      while (offset + 16 <= data.length) {
        const length = data.readUInt32LE(offset);
        const sum = data.readUInt32LE(offset + 4);
        const seq = data.readUInt32LE(offset + 8) + data.readUInt32LE(offset + 12) * 4294967296;
        if (offset + 16 + length > data.length) break;
        const payload = data.subarray(offset + 16, offset + 16 + length);
        if (crc32(payload) !== sum) break;
        if (seq > lastSeq) {
          lastSeq = seq;
          onEntry(seq, payload);
        }
        offset += 16 + length;
      }
      if (offset < data.length) {
        this.logger.warn({ segment: path, offset, size: data.length }, 'write-ahead log: cutting off a torn entry at the tail');
        const fd = openSync(path, 'r+');
        try {
          ftruncateSync(fd, offset);
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

  /** Appends one entry; resolves with its sequence number once it is durable. */
  append(payload: Buffer): { seq: number; durable: Promise<void> } {
    if (this.closed || this.handle === undefined) throw new Error('write-ahead log is not open');
    const seq = this.nextSeq++;
    const header = Buffer.allocUnsafe(16);
    header.writeUInt32LE(payload.length, 0);
    header.writeUInt32LE(crc32(payload), 4);
    header.writeUInt32LE(seq % 4294967296, 8);
    header.writeUInt32LE(Math.floor(seq / 4294967296), 12);
    const durable = new Promise<void>((resolve, reject) => {
      this.pending.push({ header, payload, seq, resolve, reject });
    });
    this.flushing ??= this.flushLoop();
    return { seq, durable };
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const group = this.pending;
        this.pending = [];
        const handle = this.handle;
        try {
          if (handle === undefined) throw new Error('write-ahead log is closed');
          const buffers: Buffer[] = [];
          let bytes = 0;
          for (const entry of group) {
            buffers.push(entry.header, entry.payload);
            bytes += 16 + entry.payload.length;
          }
          let written = 0;
          while (written < bytes) {
            const result = await handle.writev(written === 0 ? buffers : [Buffer.concat(buffers).subarray(written)]);
            written += result.bytesWritten;
            if (result.bytesWritten === 0) throw new Error('write-ahead log: write made no progress');
          }
          await handle.datasync();
          this.segmentSize += bytes;
          this.durable = (group[group.length - 1] as (typeof group)[number]).seq;
          for (const entry of group) entry.resolve();
        } catch (error) {
          this.logger.error({ err: error }, 'write-ahead log: append failed');
          for (const entry of group) entry.reject(error as Error);
        }
        if (this.segmentSize >= this.segmentBytes && !this.closed) await this.startSegment(this.nextSeq);
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private segmentPath(firstSeq: number): string {
    return join(this.dir, `${String(firstSeq).padStart(20, '0')}.wal`);
  }

  private async startSegment(firstSeq: number): Promise<void> {
    const previous = this.handle;
    this.handle = await open(this.segmentPath(firstSeq), 'a');
    this.segmentSize = 0;
    if (this.segments[this.segments.length - 1] !== firstSeq) this.segments.push(firstSeq);
    await previous?.close();
  }

  /** Deletes segments whose every entry is at or below `appliedSeq` (never the one being written). */
  release(appliedSeq: number): void {
    while (this.segments.length > 1) {
      const next = this.segments[1] as number;
      if (next - 1 > appliedSeq) break;
      const first = this.segments.shift() as number;
      try {
        unlinkSync(this.segmentPath(first));
      } catch (error) {
        this.logger.warn({ err: error }, 'write-ahead log: cannot delete an applied segment');
      }
    }
  }

  /** Waits for pending appends, then closes the segment. */
  async close(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    this.closed = true;
    await this.handle?.close();
    this.handle = undefined;
  }
}
