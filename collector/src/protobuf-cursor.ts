import protobufMinimal from 'protobufjs/minimal.js';

/**
 * Reading protobuf wire format straight from request bytes, for the metrics
 * fast path (`otlp-metrics-scan.ts`): a bounds-checked cursor whose every
 * surprise throws {@link notFast}, so the caller falls back to the generated
 * decoder.
 */

/** Not a field of the message (in the per-message wire-type tables). */
export const none = -1;
export const wireVarint = 0;
export const wireFixed64 = 1;
export const wireLength = 2;
export const wireFixed32 = 5;
export const twoTo32 = 4294967296;

/** Thrown inside the scan to give up on the fast path; never leaves the scan. */
export class NotFast extends Error {}
export const notFast = new NotFast('not on the fast path');

/** A cursor over the request bytes; every read checks its bounds. */
export class Cursor {
  pos = 0;
  /** The two little-endian 32-bit words of the last {@link fixed64Words} read (low unsigned, high signed). */
  low = 0;
  high = 0;
  constructor(readonly buf: Uint8Array) {}

  /** A varint of at most 5 bytes as an unsigned 32-bit number (what protobufjs' uint32 gives for these). */
  varint32(end: number): number {
    const b = this.buf;
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= end) throw notFast;
      const byte = b[this.pos++] as number;
      value |= (byte & 0x7f) << shift;
      if (byte < 0x80) return value >>> 0;
    }
    throw notFast;
  }

  /** The end of a length-delimited field whose length comes next. */
  lengthEnd(end: number): number {
    const length = this.varint32(end);
    const fieldEnd = this.pos + length;
    if (fieldEnd > end) throw notFast;
    return fieldEnd;
  }

  /**
   * Skips a field this scan does not read. A field the generated decoder knows (`expected[field]` is
   * its wire type) must come with that wire type: the generated code would read it as its type
   * whatever the wire says, so anything else goes to the generic path to be treated as it treats it.
   */
  skipOther(tag: number, end: number, expected: readonly number[]): void {
    const wanted = expected[tag >>> 3];
    if (wanted !== undefined && wanted !== none && wanted !== (tag & 7)) throw notFast;
    this.skip(tag & 7, end);
  }

  skip(wireType: number, end: number): void {
    switch (wireType) {
      case wireVarint:
        for (let i = 0; i < 10; i++) {
          if (this.pos >= end) throw notFast;
          if ((this.buf[this.pos++] as number) < 0x80) return;
        }
        throw notFast;
      case wireFixed64:
        if (this.pos + 8 > end) throw notFast;
        this.pos += 8;
        return;
      case wireLength:
        this.pos = this.lengthEnd(end);
        return;
      case wireFixed32:
        if (this.pos + 4 > end) throw notFast;
        this.pos += 4;
        return;
      default:
        throw notFast;
    }
  }

  fixed64Words(end: number): void {
    if (this.pos + 8 > end) throw notFast;
    const b = this.buf;
    const at = this.pos;
    this.low = ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16) | ((b[at + 3] as number) << 24)) >>> 0;
    this.high = (b[at + 4] as number) | ((b[at + 5] as number) << 8) | ((b[at + 6] as number) << 16) | ((b[at + 7] as number) << 24);
    this.pos = at + 8;
  }

  string(end: number): string {
    const fieldEnd = this.lengthEnd(end);
    const text = protobufMinimal.util.utf8.read(this.buf, this.pos, fieldEnd);
    this.pos = fieldEnd;
    return text;
  }
}

const doubleView = new DataView(new ArrayBuffer(8));

/** The double in the last fixed64 a cursor read. */
export function fixed64Double(c: Cursor): number {
  doubleView.setUint32(0, c.low, true);
  doubleView.setUint32(4, c.high, true);
  return doubleView.getFloat64(0, true);
}

/** FNV-1a over a byte range. */
export function hashBytes(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  return h >>> 0;
}
