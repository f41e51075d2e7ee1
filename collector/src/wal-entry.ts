import type { BodyFormat, Signal } from './decode.js';

/**
 * What the collector writes to the write-ahead log for one accepted request:
 * the request body exactly as received (still compressed, which keeps the
 * fsync'ed bytes small) and what is needed to decode it again on replay.
 */
export interface WalEntry {
  readonly signal: Signal;
  readonly format: BodyFormat;
  readonly encoding: 'identity' | 'gzip' | 'deflate';
  readonly principal: string;
  readonly receivedAtMillis: number;
  readonly body: Buffer;
}

const signals: readonly Signal[] = ['metrics', 'traces', 'logs'];
const formats: readonly BodyFormat[] = ['protobuf', 'json'];
const encodings = ['identity', 'gzip', 'deflate'] as const;
const version = 1;

export function encodeWalEntry(entry: WalEntry): Buffer {
  return Buffer.concat(encodeWalEntryParts(entry));
}

/**
 * The bytes of {@link encodeWalEntry} as two parts, the header and the request body itself (not copied):
 * what the collector appends, so that each request allocates its body once (a 72 KB copy per request
 * doubled the external memory that triggers V8's full collections).
 */
export function encodeWalEntryParts(entry: WalEntry): [Buffer, Buffer] {
  const principal = Buffer.from(entry.principal, 'utf8');
  const header = Buffer.allocUnsafe(14 + principal.length);
  header.writeUInt8(version, 0);
  header.writeUInt8(signals.indexOf(entry.signal), 1);
  header.writeUInt8(formats.indexOf(entry.format), 2);
  header.writeUInt8(encodings.indexOf(entry.encoding), 3);
  header.writeDoubleLE(entry.receivedAtMillis, 4);
  header.writeUInt16LE(principal.length, 12);
  principal.copy(header, 14);
  return [header, entry.body];
}

export function decodeWalEntry(payload: Buffer): WalEntry {
  if (payload.length < 14 || payload.readUInt8(0) !== version) throw new Error('unknown write-ahead log entry version');
  const signal = signals[payload.readUInt8(1)];
  const format = formats[payload.readUInt8(2)];
  const encoding = encodings[payload.readUInt8(3)];
  if (signal === undefined || format === undefined || encoding === undefined) throw new Error('corrupt write-ahead log entry header');
  const receivedAtMillis = payload.readDoubleLE(4);
  const principalLength = payload.readUInt16LE(12);
  const principal = payload.subarray(14, 14 + principalLength).toString('utf8');
  return { signal, format, encoding, principal, receivedAtMillis, body: payload.subarray(14 + principalLength) };
}
