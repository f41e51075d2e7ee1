import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readEntry, walHeaderBytes, walSegmentPath, walSegments } from '../wal.js';

export interface TailEntry {
  readonly seq: number;
  readonly payload: Buffer;
}

/**
 * Reads write-ahead log entries in order from the segment files, behind
 * the writer: only entries up to the durable sequence number are returned
 * (anything after it may still be torn). Remembers where it stopped, so
 * following a growing segment reads each byte once.
 */
export class WalTail {
  private segment: number | undefined;
  private offset = 0;
  private lastSeq = -1;

  constructor(private readonly dir: string) {}

  /**
   * Entries with `afterSeq < seq <= durableSeq`, about `maxBytes` of them
   * (at least one when there is one). `skipped` is true when entries after
   * `afterSeq` were already deleted (the oldest segment left starts later).
   */
  read(afterSeq: number, durableSeq: number, maxBytes: number): { entries: TailEntry[]; skipped: boolean } {
    const entries: TailEntry[] = [];
    if (afterSeq >= durableSeq) return { entries, skipped: false };
    const segments = walSegments(this.dir);
    let skipped = false;
    if (this.segment === undefined || this.lastSeq !== afterSeq || !segments.includes(this.segment)) {
      // Start over: the segment holding afterSeq + 1 (the last one starting at or before it).
      let index = -1;
      for (let i = 0; i < segments.length; i++) if ((segments[i] as number) <= afterSeq + 1) index = i;
      if (index < 0) {
        if (segments.length === 0) return { entries, skipped: false };
        index = 0;
        skipped = (segments[0] as number) > afterSeq + 1;
      }
      this.segment = segments[index];
      this.offset = 0;
      this.lastSeq = afterSeq;
    }
    let bytes = 0;
    while (bytes < maxBytes && this.segment !== undefined) {
      // Read at least the whole next entry (its length is in its header), else about what is left of maxBytes.
      const header = this.readSegment(this.segment, this.offset, walHeaderBytes);
      const nextEntryBytes = header.length === walHeaderBytes ? header.readUInt32LE(0) + walHeaderBytes : 0;
      const chunk = this.readSegment(this.segment, this.offset, Math.max(maxBytes - bytes, 1 << 20, nextEntryBytes));
      let position = 0;
      let progressed = false;
      while (position + walHeaderBytes <= chunk.length) {
        const entry = readEntry(chunk, position);
        if (entry === undefined || entry.seq > durableSeq) break;
        position = entry.end;
        progressed = true;
        if (entry.seq <= this.lastSeq) continue;
        entries.push({ seq: entry.seq, payload: Buffer.from(entry.payload) });
        this.lastSeq = entry.seq;
        bytes += entry.payload.length;
        if (bytes >= maxBytes) break;
      }
      this.offset += position;
      if (this.lastSeq >= durableSeq || bytes >= maxBytes) break;
      if (!progressed) {
        // The end of this segment: go on with the next one, if the writer has moved there.
        const next = segments.find((s) => s > (this.segment as number));
        if (next === undefined) break;
        this.segment = next;
        this.offset = 0;
      }
    }
    return { entries, skipped };
  }

  private readSegment(segment: number, offset: number, length: number): Buffer {
    let fd: number;
    try {
      fd = openSync(walSegmentPath(this.dir, segment), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
      throw error;
    }
    try {
      const size = fstatSync(fd).size;
      const want = Math.max(0, Math.min(length, size - offset));
      const buffer = Buffer.allocUnsafe(want);
      let read = 0;
      while (read < want) {
        const n = readSync(fd, buffer, read, want - read, offset + read);
        if (n === 0) break;
        read += n;
      }
      return buffer.subarray(0, read);
    } finally {
      closeSync(fd);
    }
  }
}
