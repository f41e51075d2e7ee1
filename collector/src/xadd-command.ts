import { Command } from 'ioredis';
import type { SampleBatchText } from '@sloth/core';

/**
 * A samples-stream XADD written as the bytes Redis reads (RESP), into a slab the publisher reuses.
 * ioredis would build the same bytes itself, but into a new Buffer per command (`MixedBuffers` in
 * its Command.js copies every Buffer argument), and the entry handed to it would be one more
 * Buffer: two ~100 KB ArrayBuffers per entry on the main thread, which is what starts V8's full
 * collections under load (bench/ingest/decisions.md, rounds 4-6).
 */

/** Slabs are at least this big, so one size class serves the usual entries. @defaultValue 128 KiB */
const minSlabBytes = 128 * 1024;

/**
 * Slabs kept for reuse: what can be in flight at once (two calls of sixteen entries). A slab
 * is given back only once Redis replied to its command: the reply means the socket wrote every
 * byte, so nothing reads it any more.
 */
export class SlabPool {
  private readonly free: Buffer[] = [];
  private readonly maxKept: number;

  constructor(maxKept = 32) {
    this.maxKept = maxKept;
  }

  /** A slab of at least `bytes`: a kept one when one fits, else a new one (a power of two). */
  take(bytes: number): Buffer {
    for (let i = 0; i < this.free.length; i += 1) {
      if ((this.free[i] as Buffer).length >= bytes) return this.free.splice(i, 1)[0] as Buffer;
    }
    let size = minSlabBytes;
    while (size < bytes) size *= 2;
    return Buffer.allocUnsafeSlow(size);
  }

  /** Keeps `slab` for a later `take`, while fewer than `maxKept` are kept. */
  give(slab: Buffer): void {
    if (this.free.length < this.maxKept) this.free.push(slab);
  }

  /** Slabs kept now. */
  get kept(): number {
    return this.free.length;
  }
}

/** A command whose RESP bytes were written by the caller; ioredis writes them to the socket as they are. */
export class WrittenCommand extends Command {
  private readonly bytes: Buffer;

  constructor(name: string, bytes: Buffer) {
    super(name, [], { replyEncoding: 'utf8' });
    this.bytes = bytes;
  }

  override toWritable(): Buffer {
    return this.bytes;
  }
}

/** One XADD of a samples entry, written into a slab from `pool`: `command` is what to send, `slab` goes back once Redis replied. */
export interface XaddBytes {
  readonly slab: Buffer;
  readonly command: Buffer;
}

/**
 * `XADD key MAXLEN ~ maxLength * field <entry>` in RESP, the bytes ioredis sends for
 * `xadd(key, 'MAXLEN', '~', maxLength, '*', field, entryBuffer)`, written into a slab of `pool`.
 */
export function writeXadd(pool: SlabPool, key: string, maxLength: number, field: string, entry: SampleBatchText): XaddBytes {
  const head = `*8\r\n$4\r\nxadd\r\n${bulk(key)}$6\r\nMAXLEN\r\n$1\r\n~\r\n${bulk(String(maxLength))}$1\r\n*\r\n${bulk(field)}$${entry.byteLength}\r\n`;
  const headLength = Buffer.byteLength(head);
  const length = headLength + entry.byteLength + 2;
  const slab = pool.take(length);
  slab.write(head, 0, headLength, 'utf8');
  entry.write(slab, headLength);
  slab[length - 2] = 0x0d; // \r
  slab[length - 1] = 0x0a; // \n
  return { slab, command: slab.subarray(0, length) };
}

function bulk(text: string): string {
  return `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
}
